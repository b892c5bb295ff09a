# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Ranking filters by correction priority (§4.1)
#
# Are all filters of a network equally hurt by blur and noise? The paper answers with a **correction
# priority** per filter (Eq. 1):
#
# $$\tau(i, j) = p_{swp}(i, j) - p_b,$$
#
# the gain in top-1 accuracy on a small ranking set when the output of filter *j* of conv layer *i* is
# replaced by its value for the clean image, while the rest of the network sees the distorted image
# (Algorithm 1). Filters are then ranked within each layer (*local*) or across layers (*global*).
#
# This page regenerates **Figure 4** (ideal correction of a growing share of the first layer), **Figure 5**
# (ideal correction of a fixed share of one layer at a time), **Figure 6** (the first-layer kernels and the
# most susceptible ones), the spread of τ per layer, and the "# corrected per layer" rows of **Tables 5 and 9**.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect import claims, plots
from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.editions import render as editions
from deepcorrect.metrics import save_metrics
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.priorities import filter_priorities
from deepcorrect.report import provenance, summary
from deepcorrect.sections import correction_priority as priority
from deepcorrect.splits import datasets, describe_splits
from deepcorrect.store import Store
from deepcorrect.tables import show

# %% tags=["parameters", "hide-cell"]
profile = "smoke"  # named profile: smoke | cifar10-jpg | resnet20-cifar10 | resnet56-cifar10 | cifar10 | cifar100
device = None  # cpu | cuda | auto (None: from the profile)
width = None  # All-Conv-BN width multiplier (None: from the profile)
epochs = None  # baseline training epochs (None: from the profile)
train_per_class = None  # training images per class (None: from the profile)
test_per_class = None  # test images per class (None: from the profile)
val_per_class = None  # validation images per class held out of training (None: from the profile)
data_root = None  # dataset folder or .tar.gz (None: from the profile)
per_class = None  # ranking-set images per class (None: from the profile; the paper uses 10 for CIFAR)
ideal_per_class = None  # test images per class for Figures 4 and 5 (None: from the profile)
results_dir = "results"  # artifact store (cached weights, rankings, curves)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above
cfg = resolve(profile, device=device, width=width, epochs=epochs, train_per_class=train_per_class,
              test_per_class=test_per_class, val_per_class=val_per_class, root=data_root, per_class=per_class,
              ideal_per_class=ideal_per_class)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %%
data = datasets(cfg)
model, _ = baseline_model(run, data.train)
Markdown(describe_splits(data))

# %% [markdown]
# ## Algorithm 1 — computed exactly and fast
#
# For every distortion kind and level 1–6, the library runs the network once on the clean and once on the
# distorted ranking set up to layer *i*, then stacks many copies of that layer's output — each with one
# filter swapped to its clean value — and runs only the rest of the network on them. The counts of correct
# predictions are identical to a literal loop that runs the whole network per filter (the test suite checks
# this on All-Conv-BN, both AlexNets and a ResNet). τ̄ is τ averaged over the six levels.

# %%
priorities = filter_priorities(run, model, data)
ranked = sum(priorities.counts[layer].shape[-1] for layer in priorities.layers)
Markdown(f"Ranked {ranked} filters in {len(priorities.layers)} layers "
         f"on {priorities.n_images} images ({cfg.rank.per_class} per class from the {cfg.rank.split} split), "
         f"{len(priorities.kinds)} kinds × {len(priorities.levels)} levels, in {priorities.seconds:.0f} s "
         f"({priorities.meta['method']} path, {priorities.meta['device']}).")

# %%
show(priority.top_filters(priorities), "The five highest-priority filters of each layer")

# %% [markdown]
# ### How τ spreads within each layer
#
# If only some filters matter, τ̄ is large for a few filters and near zero for most — the premise of
# correcting only the top-ranked ones.

# %%
plots.tau_distribution(priorities.to_frame())

# %% [markdown]
# ## Figure 4 — correcting a share β₁ of the first layer
#
# The paper finds that for CIFAR-100, ideally correcting only the top 25 % of first-layer filters recovers
# a large part of the lost accuracy, for blur and for AWGN alike.

# %%
fig4 = priority.ideal_correction(run, model, data, priorities, "figure4", priority.first_layer_fractions(priorities))
plots.ideal_curves(fig4, "Figure 4 — ideal correction of the top β₁ filters of the first layer")

# %%
show(fig4.set_index(["kind", "selection"]), "Figure 4 as a table")

# %%
Markdown(claims.guard(cfg.name, priority.describe_first_layer(fig4, cfg.data.family)))

# %% [markdown]
# ## Figure 5 — correcting β = 50 % of one layer at a time
#
# The paper: correcting early layers helps most (conv-1 for CIFAR-100), and accuracy falls as the corrected
# layer lies deeper. A residual network ranks every conv (19 for ResNet-20), in forward order.

# %%
fig5 = priority.ideal_correction(run, model, data, priorities, "figure5",
                                 priority.single_layer_fractions(priorities, cfg.data.family))
plots.ideal_curves(fig5, "Figure 5 — ideal correction of 50 % of the filters of a single layer")

# %% [markdown]
# The claim read off Figure 5: each layer's gain over the uncorrected network (mean over levels 1–6) against
# its depth, with the rank correlation that decides whether the gain falls as the layer lies deeper.

# %%
plots.gain_by_depth(priority.depth_trends(fig5, fig4), "Figure 5 — the gain of correcting one layer, by depth")

# %%
Markdown(claims.guard(cfg.name, priority.describe_layers(fig5, fig4, priorities, cfg.data.family)))

# %% [markdown]
# ## Figure 6 — which first-layer filters are most susceptible
#
# The paper (AlexNet) finds blur-susceptible filters are mostly colour-agnostic edge and frequency detectors,
# while AWGN-susceptible ones mix colour blobs and edge detectors. The first-layer kernels of All-Conv-BN
# and of the CIFAR ResNets are 3×3, so this view is coarser than the paper's 11×11 AlexNet kernels.

# %%
plots.figure_6(priority.first_layer_weights(model, priorities),
               {kind: priorities.order(priorities.layers[0], kind).tolist() for kind in priorities.kinds})

# %% [markdown]
# ## Tables 5 and 9 — filters corrected per layer, local vs global
#
# Local ranking keeps the top β_i·N_i filters of each layer; global ranking keeps the same total K across
# all ranked layers. The paper's counts are for the full-width network; at other widths compare the shares.

# %%
show(priority.selection_counts(cfg, priorities), "Filters corrected per layer")

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "02_ranking", priority.metrics(cfg, priorities, fig4, fig5))

# %% [markdown]
# ## What this page found

# %%
Markdown(editions.findings("ranking", saved, priority.findings(fig4, fig5, priorities, cfg.data.family)))

# %% [markdown]
# ## At scale — the recorded editions
#
# This page's tables and figures as recorded by `deepcorrect record` on profiles worth reading — a
# well-trained network on real photographs — drawn by the same functions as above, each with the claims it
# decides. Each edition says which commit, code, data and machine made it.

# %% tags=["remove-input"]
for part in editions.at_scale("ranking"):
    display(part)

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
