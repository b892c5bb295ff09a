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
# # What the gain consists of: BN statistics, test-time adaptation and the release's training
#
# Reading the authors' public release (Keras 1) shows two things the paper's text does not say: its Keras 1
# BatchNorms keep re-estimating their statistics while the base network is
# "frozen", so every Deepcorr and Finetune model of the release also adapts its BN statistics to the distorted
# data; and its CIFAR unit ends in the network's own pretrained BN, whose γ, β train, with no identity start.
# Re-estimating BN statistics alone is a strong corruption baseline (BN adaptation, Schneider et al. 2020), and
# test-time entropy minimisation (TENT, Wang et al. 2021) came after the paper. This page measures all of them
# side by side, over several training seeds, with paired tests, on the network of the profile:
#
# - **BN-adapt**: every BN's running mean and variance re-estimated on half-distorted training images, no
#   gradient step. **TENT**: one Adam step per test batch on the prediction entropy w.r.t. the BN γ, β, batch
#   statistics, reset at every level; its row is the online accuracy. **Finetune-BN**: only the BN γ, β train,
#   with the Finetune recipe.
# - **Deepcorr-6** (the project's identity-start unit, base BNs frozen: the paper's reading), **-adapt** (base
#   BNs adapt, as in the release), **-release** (the release's exact unit), **-release-adapt** (both: the
#   release's training), and Deepcorr-6c, Finetune-1 and the full fine-tune as in Tables 3–4.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect import claims, corrected_models as corrected, plots
from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.distortions import kind_label
from deepcorrect.editions import render as editions
from deepcorrect.metrics import save_metrics
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.priorities import filter_priorities
from deepcorrect.report import provenance, summary
from deepcorrect.sections import what_the_gain_consists_of as gain
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
correct_epochs = None  # epochs of every trained model (None: from the profile; the paper 40)
correct_train_per_class = None  # their training images per class (None: from the profile; 0 means all)
correct_test_per_class = None  # test images per class of their tables (None: from the profile; 0 means all)
seeds = 3  # training seeds each trained model is repeated over (mean ± std, paired tests)
results_dir = "results"  # artifact store (shared with pages 01–03: the baseline and ranking are reused)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above
cfg = resolve(profile, device=device, width=width, epochs=epochs, train_per_class=train_per_class,
              test_per_class=test_per_class, val_per_class=val_per_class, root=data_root, per_class=per_class,
              correct_epochs=correct_epochs, correct_train_per_class=correct_train_per_class,
              correct_test_per_class=correct_test_per_class)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %%
data = datasets(cfg)
model, _ = baseline_model(run, data.train)
priorities = filter_priorities(run, model, data, progress=False)
names = gain.page_models(model)
runs = {kind: gain.seeded_tables(run, model, data, priorities, kind, names, range(seeds))
        for kind in ("blur", "awgn")}
summaries = {kind: gain.summary(*run) for kind, run in runs.items()}
tests = {kind: gain.contrasts(run[0]) for kind, run in runs.items()}
Markdown(f"{describe_splits(data)} {corrected.describe_training(run, data)} Every trained model is repeated over "
         f"{seeds} training seeds on the same baseline, ranking and test images; tables show the mean over seeds.")

# %% [markdown]
# ## At a glance

# %%
plots.gain_bars(summaries)

# %% [markdown]
# ## Gaussian blur — every model, per level (mean over seeds)

# %%
show(summaries["blur"], "Gaussian blur, mean over seeds", formats={"train s": "{:.1f}"})

# %% [markdown]
# ## AWGN — every model, per level (mean over seeds)

# %%
show(summaries["awgn"], "AWGN, mean over seeds", formats={"train s": "{:.1f}"})

# %% [markdown]
# ## The contrasts that matter, with paired tests
#
# Each test pairs the two models' Avg (clean and six levels, on the same distorted test images) trained with
# the same seed, over the training seeds: the seeds are the replicates of a method.

# %%
for kind, t in tests.items():
    display(show(t, kind_label(kind, full=True)))

# %% [markdown]
# ## What the measurement says

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "04_what_the_gain_consists_of", gain.metrics(cfg, seeds, summaries, tests, runs))

# %%
Markdown(editions.findings("what_the_gain_consists_of", saved, gain.verdict(summaries, tests)))

# %% [markdown]
# ## At scale — the recorded editions
#
# This page's tables and figures as recorded by `deepcorrect record` on profiles worth reading — a
# well-trained network on real photographs — drawn by the same functions as above, each with the claims it
# decides. Each edition says which commit, code, data and machine made it.

# %% tags=["remove-input"]
for part in editions.at_scale("what_the_gain_consists_of"):
    display(part)

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
