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
# # DeepCorrect against fine-tuning on CIFAR (§4.2, §5.1)
#
# The obvious way to make a pretrained network robust to blur and noise is to **fine-tune** some of its
# layers on a mix of clean and distorted images (*Finetune-k*: the first *k* conv layers train). DeepCorrect
# instead keeps every pretrained weight frozen and trains small residual **correction units** on the outputs
# of the filters that Algorithm 1 ranked most susceptible (*Deepcorr-k*: units in the first *k* layers on
# β = 50 % of their filters; *Deepcorr-kc*: the last three conv layers train as well).
#
# This page regenerates **Tables 3–4** (every model, per level, with its trainable parameters), **Table 5**
# (local vs global ranking), **Figure 9** and **Table 6** (ranked vs random vs least-susceptible filters,
# with paired t-tests), and the training curves of every model.

# %% tags=["hide-cell"]
import pandas as pd
from IPython.display import Markdown, display

from deepcorrect import claims, corrected_models as corrected, diagrams, plots
from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.correction import corrected_layers
from deepcorrect.editions import render as editions
from deepcorrect.metrics import save_metrics
from deepcorrect.model_names import full_finetune_name, parse_model
from deepcorrect.paper import TABLE_5_P, comparability, correction_table
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.priorities import filter_priorities
from deepcorrect.report import provenance, summary
from deepcorrect.sections import cifar_analysis as cifar
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
per_class = None  # ranking-set images per class (None: from the profile)
correct_epochs = None  # epochs of every Finetune and Deepcorr model (None: from the profile; the paper 40)
correct_train_per_class = None  # their training images per class (None: from the profile; 0 means all)
correct_test_per_class = None  # test images per class of their tables (None: from the profile; 0 means all)
draws = None  # random draws per size in Figure 9 (None: from the profile; the paper 10)
figure9 = True  # train Figure 9's ranked / random / least Deepcorr-1 models (False: skip them and Table 6)
variant = None  # correction unit: identity | release | cw | lite | bottleneck | nobn (None: from the profile)
results_dir = "results"  # artifact store (cached weights, rankings, tables)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above
cfg = resolve(profile, device=device, width=width, epochs=epochs, train_per_class=train_per_class,
              test_per_class=test_per_class, val_per_class=val_per_class, root=data_root, per_class=per_class,
              correct_epochs=correct_epochs, correct_train_per_class=correct_train_per_class,
              correct_test_per_class=correct_test_per_class, draws=draws, variant=variant)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %%
show(cifar.describe_setup(cfg), "How every model of this page is trained")

# %%
data = datasets(cfg)
model, _ = baseline_model(run, data.train)
priorities = filter_priorities(run, model, data)
Markdown(describe_splits(data) + " " + corrected.describe_training(run, data))

# %% [markdown]
# ## Figures 3, 7 and 8 — the networks and the unit, drawn from the built modules
#
# Figure 3a is this profile's baseline, Figure 8a the Deepcorr-3 built on it for blur (units on the top β·N
# blur-ranked filters of conv1–conv3; grey frozen, blue trains, orange the units), Figure 7 the unit of its
# first corrected layer. Every box is read from the modules that produce this page's numbers.

# %%
diagrams.network_figure(model, f"Figure 3a — the baseline ({cfg.model.arch}, width {cfg.model.width:g})",
                        show_training=False)

# %%
deepcorr3, _ = corrected.build(cfg, model, priorities, "blur", parse_model("Deepcorr-3"))
diagrams.network_figure(deepcorr3, "Figure 8a — Deepcorr-3 (blur ranking)")

# %%
diagrams.unit_figure(next(iter(corrected_layers(deepcorr3).values())), "Figure 7 — the correction unit, as built")

# %% [markdown]
# ## Table 10 and the parameter counts — the correction unit, counted exactly
#
# A unit is a residual block *y ← y + F(y)* on the selected filters' outputs, right after the conv and
# before its BN. The tables of this page use the project's `identity` unit: the release's layer sizes,
# BN → 1×1 conv to 64 → BN → 3×3 → BN → 3×3 → BN → 1×1 back → BN, the last BN starting at zero so attaching it
# changes nothing until it trains, the network's own BN frozen. The authors' release wires it differently — no
# last BN, no identity start, the sum through the network's own BN whose γ, β train for the corrected
# channels — with the same parameter count; page 04 sets the two side by side (`Deepcorr-6-release`).
# Counted on the built full-width networks, every trainable-parameter figure of Tables 3–4 and Deepcorr-5c's
# is reproduced exactly — with the release's 50 / 100 corrected filters of 96 / 192 (round(β·N·1.0417))
# the paper's text and Table 5 say 48 / 96, which is what this project corrects by default.

# %%
show(cifar.parameter_counts(), "Trainable parameters, counted on the built networks")

# %% [markdown]
# Table 10's units for the Caffe AlexNet (critically wide, lite, bottleneck), built and measured: parameters
# exactly, multiply-accumulates at 227 px against the paper's "FLOPs" column.

# %%
show(cifar.unit_counts(), "Table 10 — the AlexNet units, built and counted")

# %% [markdown]
# ## Tables 3 and 4 — every model, per distortion level
#
# Each Finetune and Deepcorr model is trained for one distortion kind (half of every batch distorted at a
# random level, one model for all levels) and measured on the same distorted test images as the baseline.
# "# Params" counts trainable parameters: the measured row's on this profile's network, the paper's on the
# full-width All-Conv-BN.

# %%
rows = cifar.table3_models(model)  # Finetune-9 is the full fine-tune of All-Conv-BN; Finetune-20 of ResNet-20
names = [*rows, "Deepcorr-6c-global"]
tables, records = {}, {}
for kind in ("blur", "awgn"):
    tables[kind], records[kind] = corrected.evaluate_models(run, model, data, priorities, kind, names, progress=False)
main = {kind: t.loc[list(rows)] for kind, t in tables.items()}
as_measured = {paper: name for name, paper in cifar.paper_row_names(rows).items()}  # Finetune-9 → the full fine-tune
plots.correction_tables(main, {kind: correction_table(kind).rename(index=as_measured) for kind in main})

# %% [markdown]
# ### Table 3 — Gaussian blur, measured beside the paper
#
# Each model's measured row with the paper's CIFAR-100 row beneath it, per level.

# %%
show(cifar.compare_table(main["blur"], "blur", data.test.num_classes), "Table 3 — Gaussian blur")

# %% [markdown]
# ### Table 4 — AWGN, measured beside the paper

# %%
show(cifar.compare_table(main["awgn"], "awgn", data.test.num_classes), "Table 4 — AWGN")

# %%
Markdown(comparability(cfg.data.family, data.test.num_classes))

# %% [markdown]
# ### Deepcorr-k against Finetune-k, with statistics
#
# At equal k: the gain in Avg; the exact sign test over test images of the two models' paired predictions
# (`images … ahead`: images one model gets right in more of the seven columns than the other; `p (images)`),
# the test for two single trained models on the same images; beside it the paper's own test, a paired t-test
# over the seven columns of one run (`t`, `p-value`), whose "samples" are levels, not replicates; and what the
# gain costs in trainable parameters and training time (the sum of the epochs' wall times on this machine).

# %%
versus = cifar.deepcorr_vs_finetune(main, records)
show(versus, "Deepcorr-k against Finetune-k",
     formats={"relative gain": "{:+.1%}", "paper relative gain": "{:+.1%}"})

# %%
Markdown(claims.guard(cfg.name, cifar.describe_deepcorr_vs_finetune(versus)))

# %% [markdown]
# ## Table 5 — local vs global ranking for Deepcorr-6c
#
# Global ranking picks the same total number of filters across the six layers by their priority. The
# paper finds global marginally better and the difference not significant (paired t-test p = 0.2151).

# %%
table5 = cifar.local_vs_global(tables, records)
show(table5, "Table 5 — local vs global ranking")

# %%
lg = cifar.ttest_local_vs_global(tables)
Markdown(claims.guard(cfg.name, f"Paired t-test, global vs local, over the clean column and six levels of both kinds "
         f"({lg['pairs']} pairs): mean difference {lg['global − local (mean)']:+.4f}, p = {lg['p-value']:.4f} "
         f"(the paper: p = {TABLE_5_P}). " + cifar.describe_local_global(lg)))

# %% [markdown]
# ## Figure 9 and Table 6 — ranked vs random vs least-susceptible filters
#
# Deepcorr-1 with units on the *l* top-ranked first-layer filters (ranked.*l*), on *l* filters drawn at
# random (random.*l*, several draws), and on the *l* least susceptible (least.*l*). The paper: ranked beats
# random at every *l* (p < 0.05) and least is far worse — the ranking, not the extra parameters, matters.

# %%
fig9 = cifar.figure9(run, model, data, priorities) if figure9 else {}
plots.figure_9(fig9) if fig9 else Markdown("Not measured in this run (`figure9 = False`).")

# %%
first = cifar.first_layer_size(priorities)
Markdown(f"Sizes l = {cifar.figure9_sizes(cfg, first)} of {first} first-layer filters (the paper's 6, 12, 24, 48 "
         f"of 96, scaled), {cfg.correct.draws} random draws each.")

# %%
table6 = cifar.table_6(cfg, fig9, first) if fig9 else pd.DataFrame(columns=["p-value"])
show(table6, "Table 6 — ranked vs random filters, paired t-tests") if fig9 else Markdown("")

# %%
Markdown(claims.guard(cfg.name, cifar.describe_ranked_random(fig9, table6)) if fig9 else "")

# %% [markdown]
# ## Training curves
#
# Validation top-1 (the validation split, half of it distorted once at random levels) after every epoch of
# every trained model — the CIFAR counterpart of Figure 12.

# %%
plots.validation_curves({kind: {n: records[kind][n] for n in names if n != "Baseline"} for kind in records})

# %%
Markdown(cifar.describe_convergence({kind: {n: records[kind][n] for n in names} for kind in records}))

# %% tags=["hide-cell"]
paired = cifar.paired_comparisons(tables, records, full_finetune_name(model))
saved = save_metrics(results_dir, "03_deepcorrect_cifar", cifar.metrics(
    cfg, tables, versus, table6, lg, fig9, paired, corrected.training_budget(run, data)))

# %% [markdown]
# ## What this page found

# %%
Markdown(editions.findings("deepcorrect_cifar", saved))

# %% [markdown]
# ## At scale — the recorded editions
#
# This page's tables and figures as recorded by `deepcorrect record` on profiles worth reading — a
# well-trained network on real photographs — drawn by the same functions as above, each with the claims it
# decides. Each edition says which commit, code, data and machine made it.

# %% tags=["remove-input"]
for part in editions.at_scale("deepcorrect_cifar"):
    display(part)

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
