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
# # Distortions and the baseline networks (§1–3)
#
# The paper's starting point: a network trained on clean images loses most of its accuracy when the same
# images are blurred or noisy. This page regenerates **Figure 1** (predictions as distortion grows),
# **Tables 1–2** (top-1 per distortion level, next to the paper's values) and **Figure 2** (t-SNE of the
# penultimate features, clean and at every level).
#
# Distortions follow §3.2 and the authors' release: Gaussian blur with a 4σ+1 window and a zero border,
# AWGN added on the 0–255 scale and not clipped. Levels for CIFAR-like 32×32 data: σ_b ∈ {0.5, …, 3.0},
# σ_n ∈ {5, …, 30}.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect import claims, plots
from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.editions import render as editions
from deepcorrect.metrics import save_metrics
from deepcorrect.paper import comparability
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.report import provenance, summary, training_log
from deepcorrect.sections import distortion_effects as effects
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
tsne_per_class = None  # images per class in Figure 2 (None: from the profile)
results_dir = "results"  # artifact store (cached weights, tables, embeddings)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above
cfg = resolve(profile, device=device, width=width, epochs=epochs, train_per_class=train_per_class,
              test_per_class=test_per_class, val_per_class=val_per_class, root=data_root,
              tsne_per_class=tsne_per_class)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %% [markdown]
# ## Data
#
# The default profile uses the **embedded synthetic dataset**, generated in code from a seed (no download):
# ten classes of shapes with fine textures and colours on backgrounds cropped from natural photographs.
# It is there so every page of this book can be rebuilt on a laptop in minutes; its numbers show the code
# path and the qualitative effect, *not* CIFAR-100's values. The `cifar10-jpg`, `cifar10` and `cifar100`
# profiles run the same cells on real photographs.

# %%
data = datasets(cfg)
train, test = data.train, data.test
display(Markdown(describe_splits(data)))

# %% [markdown]
# ## The baseline network
#
# All-Conv-BN (Fig. 3a), trained on clean images only; cached in the artifact store and resumed if a run
# was interrupted. The `resnet*-cifar10` profiles instead load a well-trained CIFAR-10 ResNet of He et al.
# (2016) from its published weights: nothing is trained here.

# %%
model, history = baseline_model(run, train, progress=False)
plots.training_curve(history, f"baseline on {cfg.data.source} data") if history else None

# %%
show(training_log(history), "The baseline's training, epoch by epoch",
     formats={"seconds": "{:.1f}"}) if history else None

# %% [markdown]
# ## Figure 1 — predictions as distortion grows
#
# Test images the baseline classifies correctly when clean, at every level. Titles give the predicted class
# and its softmax confidence, green when right and red when wrong. The paper shows the same for AlexNet on
# ImageNet: confident, correct predictions on clean images turn into confident mistakes under blur and noise.

# %%
examples = effects.example_predictions(run, model, test)
plots.figure_1(examples, test.classes, cfg.data.family)

# %% [markdown]
# ## Tables 1–2 — top-1 per distortion level
#
# Each table shows the measured row, the paper's CIFAR-100 row and, where the data are comparable (CIFAR-100
# itself), their difference. *Avg* is the mean over the clean column and the six levels, as in the paper.

# %%
measured = effects.baseline_tables(run, model, test)
table_1 = effects.compare_with_paper(measured, "blur", cfg.data.family, test.num_classes)
show(table_1, "Table 1 — Gaussian blur")

# %%
table_2 = effects.compare_with_paper(measured, "awgn", cfg.data.family, test.num_classes)
show(table_2, "Table 2 — AWGN")

# %%
Markdown(comparability(cfg.data.family, test.num_classes))

# %%
plots.accuracy_curves(measured, {"blur": table_1.iloc[1], "awgn": table_2.iloc[1]})

# %%
Markdown(effects.describe_pretrained(cfg, measured, len(test)) + "\n\n" + effects.describe_degradation(measured, cfg))

# %% [markdown]
# ## Figure 2 — t-SNE of penultimate features
#
# Each point is a test image, each colour a class; columns go from clean to the most severe level. The
# paper observes tight, well-separated clusters on clean images that widen and merge as distortion grows.

# %%
tsne = effects.tsne_embeddings(run, model, test)
plots.figure_2(tsne)

# %%
Markdown(effects.describe_tsne(tsne))

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "01_distortions_baselines", effects.metrics(cfg, measured, tsne, len(test)))

# %% [markdown]
# ## What this page found

# %%
Markdown(editions.findings("distortions_baselines", saved, effects.findings(measured, tsne, cfg.data.family)))

# %% [markdown]
# ## At scale — the recorded editions
#
# This page's tables and figures as recorded by `deepcorrect record` on profiles worth reading — a
# well-trained network on real photographs — drawn by the same functions as above, each with the claims it
# decides. Each edition says which commit, code, data and machine made it.

# %% tags=["remove-input"]
for part in editions.at_scale("distortions_baselines"):
    display(part)

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
