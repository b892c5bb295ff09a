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
# # ImageNet with AlexNet: DeepCorrect, fine-tuning and restoration (§5.2)
#
# On ImageNet the paper corrects the Caffe AlexNet: **Deepcorr-5** puts critically wide correction units on
# 75 % of the ranked filters of conv1–conv2 and 50 % of conv3–conv5, trains only those units (2.81 M
# parameters) and beats **Finetune-8** (all 60.96 M parameters retrained) at every level of blur and noise.
# The alternative of *restoring the image first* — NCSR deblurring, BM3D denoising — and classifying it with
# the untouched network is the other baseline.
#
# This page regenerates **Tables 7–8** (every model and the restoration rows, per level, with trainable
# parameters), **Table 9** (local vs global ranking), **Tables 10–12** (unit variants: parameters, MACs,
# accuracy), **Figure 10** (t-SNE of Deepcorr-5 features), **Figure 11** (per-class difference Deepcorr-5 −
# Finetune-8) and **Figure 12** (validation accuracy against training iterations) — and, since the paper draws
# them for AlexNet on ImageNet, **Figures 1–2** and **4–5** on this network, and **Figures 3b and 8b**.
#
# Images are prepared as the authors' release prepares them: resized to a square (256×256 for ImageNet),
# distorted there, and only then cropped to the network's input (the centre 227×227; a random crop in
# training), so the blur's zero border falls outside what the network sees. The release's Caffe AlexNet takes
# RGB inputs with the ImageNet mean subtracted (no division by a standard deviation) and its LRN is
# x / (2 + 10⁻⁴·Σ₅x²)^0.75; the `imagenet` profile loads its `alexnet_weights.h5` exactly. Networks trained here
# from scratch (the CPU profiles) divide by the standard deviation too, without which they do not train.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect import claims, corrected_models as corrected, diagrams, plots
from deepcorrect.baseline import baseline_model
from deepcorrect.config import alexnet_profile, resolve
from deepcorrect.context import Run
from deepcorrect.metrics import save_metrics
from deepcorrect.model_names import parse_model, ALEXNET_MODELS, TABLE_7_MODELS
from deepcorrect.paper import TABLE_9, TABLE_9_P, comparability
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.priorities import filter_priorities
from deepcorrect.report import provenance, summary
from deepcorrect.sections import (cifar_analysis as cifar, correction_priority as priority,
                                  distortion_effects as effects, imagenet_analysis as imagenet)
from deepcorrect.splits import datasets, describe_splits
from deepcorrect.store import Store
from deepcorrect.tables import show

# %% tags=["parameters", "hide-cell"]
profile = "smoke"  # a named profile; CIFAR-style ones map to their AlexNet counterpart (smoke to smoke-alexnet)
device = None  # cpu | cuda | auto (None: from the profile)
alexnet_width = None  # Caffe AlexNet width multiplier (None: from the profile; the paper 1.0)
alexnet_epochs = None  # epochs of the baseline when it is trained here (None: from the profile)
alexnet_train_per_class = None  # training images per class (None: from the profile)
alexnet_test_per_class = None  # validation images per class for the tables (None: from the profile)
imagenet_root = None  # ImageFolder tree with train/ and val/ or a .tar.gz of one (None: from the profile)
model_weights = None  # local state-dict file of a pretrained AlexNet (None: from the profile, else trained here)
tsne_per_class = None  # images per class in Figures 2 and 10 (None: from the profile)
ideal_per_class = None  # test images per class for Figures 4 and 5 (None: from the profile)
correct_epochs = None  # epochs of every Finetune and Deepcorr model (None: from the profile)
correct_train_per_class = None  # their training images per class (None: from the profile; 0 means all)
correct_test_per_class = None  # test images per class of their tables (None: from the profile; 0 means all)
restore_per_class = None  # test images per class restored by BM3D or deconvolution (None: from the profile)
restore_max = None  # cap on restored images in all (None: from the profile; 0 means no cap)
results_dir = "results"  # artifact store (cached weights, rankings, tables)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above
cfg = resolve(alexnet_profile(profile), device=device, width=alexnet_width, epochs=alexnet_epochs,
              train_per_class=alexnet_train_per_class, test_per_class=alexnet_test_per_class, root=imagenet_root,
              weights=model_weights, correct_epochs=correct_epochs, correct_train_per_class=correct_train_per_class,
              correct_test_per_class=correct_test_per_class, restore_per_class=restore_per_class,
              restore_max=restore_max, tsne_per_class=tsne_per_class, ideal_per_class=ideal_per_class)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %%
data = datasets(cfg)
model, history = baseline_model(run, data.train)
Markdown(f"{describe_splits(data)} The baseline AlexNet ({cfg.model.arch}, width {cfg.model.width:g}, "
         f"{cfg.data.describe_input()}) is {imagenet.describe_baseline(cfg)}. "
         + corrected.describe_training(run, data))

# %% [markdown]
# ## Tables 1–2 on AlexNet — the baseline under the ImageNet levels

# %%
baseline = effects.baseline_tables(run, model, data.test)
imagenet_rows = {k: effects.compare_with_paper(baseline, k, cfg.data.family, data.test.num_classes)
                 for k in baseline.index}
plots.accuracy_curves(baseline, {k: rows.iloc[1] for k, rows in imagenet_rows.items()})

# %%
display(show(imagenet_rows["blur"], "Table 1 — Gaussian blur, ImageNet row"))
display(show(imagenet_rows["awgn"], "Table 2 — AWGN, ImageNet row"))
Markdown(comparability(cfg.data.family, data.test.num_classes))

# %% [markdown]
# ## Figure 1 on AlexNet — predictions as distortion grows
#
# The paper's Figure 1 is this network on ILSVRC2012 validation images: test images the baseline gets right
# when clean, at every level, titled with the predicted class and its confidence (green right, red wrong).
# Images are shown as the network sees them (the crop of the image distorted whole).

# %%
plots.figure_1(effects.example_predictions(run, model, data.test), data.test.classes, cfg.data.family)

# %% [markdown]
# ## Figure 2 on AlexNet — t-SNE of the baseline's fc7 features
#
# The paper's Figure 2: clean images form tight, separate class clusters that widen and merge as blur or
# noise grows. Figure 10 below shows the same classes through Deepcorr-5.

# %%
base_emb = effects.tsne_embeddings(run, model, data.test)
plots.figure_2(base_emb)

# %%
Markdown(effects.describe_tsne(base_emb))

# %% [markdown]
# ## Algorithm 1 on AlexNet — ranking the five conv layers
#
# Algorithm 1 on the ImageNet-style ranking set (5 training images per class). Deepcorr-5 corrects the top
# β = 75, 75, 50, 50, 50 % of conv1–conv5; global ranking picks the same total across layers (Table 9's rows).

# %%
priorities = filter_priorities(run, model, data, progress=False)
show(priority.selection_counts(cfg, priorities), "Filters corrected per layer")

# %% [markdown]
# ## Figures 4 and 5 on AlexNet — ideal correction
#
# Replacing the ranked filters' distorted outputs by their clean ones (the ideal correction Algorithm 1
# measures). Figure 4: a growing share β₁ of conv1; the paper finds AlexNet needs more of its first layer than
# the CIFAR network (a jump from 50 % to 75 % under blur). Figure 5: 75 % of one layer at a time; the paper
# finds conv-2 best for AlexNet and accuracy falling as the layer lies deeper.

# %%
fig4 = priority.ideal_correction(run, model, data, priorities, "figure4", priority.first_layer_fractions(priorities))
plots.ideal_curves(fig4, "Figure 4 (AlexNet) — ideal correction of the top β₁ filters of conv1")

# %%
fig5 = priority.ideal_correction(run, model, data, priorities, "figure5",
                                 priority.single_layer_fractions(priorities, cfg.data.family))
plots.ideal_curves(fig5, "Figure 5 (AlexNet) — ideal correction of 75 % of the filters of a single layer")

# %%
plots.gain_by_depth(priority.depth_trends(fig5, fig4),
                    "Figure 5 (AlexNet) — the gain of correcting one layer, by depth")

# %%
Markdown(claims.guard(cfg.name, priority.describe_first_layer(fig4, cfg.data.family) + " "
                     + priority.describe_layers(fig5, fig4, priorities, cfg.data.family)))

# %% [markdown]
# ## Figures 3b and 8b — AlexNet and Deepcorr-5, drawn from the built modules
#
# The baseline as this profile built it, and the Deepcorr-5 built on it for blur: units on the top 75, 75,
# 50, 50, 50 % of conv1–conv5 (grey frozen, orange the units, which alone train).

# %%
diagrams.network_figure(model, f"Figure 3b — the Caffe AlexNet (width {cfg.model.width:g})", show_training=False)

# %%
deepcorr5_blur, _ = corrected.build(cfg, model, priorities, "blur", parse_model("Deepcorr-5"))
diagrams.network_figure(deepcorr5_blur, "Figure 8b — Deepcorr-5 (blur ranking)")

# %% [markdown]
# ## Tables 7 and 8 — every model and the restoration baselines
#
# Finetune-8 retrains every layer at the paper's learning rate 0.001; the Deepcorr-5 models train their
# units at 0.1 (Deepcorr-5c also fc6–fc8). Restoration rows classify restored images with the baseline; BM3D
# knows σ, and the deblurring stand-in for NCSR (which has no Python implementation) knows the kernel.

# %%
tables, records, restoration = {}, {}, {}
for kind in ("blur", "awgn"):
    tables[kind], records[kind] = corrected.evaluate_models(run, model, data, priorities, kind, ALEXNET_MODELS,
                                                      progress=False)
    restoration[kind] = imagenet.restoration_rows(run, model, data, kind, progress=False)
main = {kind: t.loc[list(TABLE_7_MODELS)] for kind, t in tables.items()}
plots.correction_tables(main)

# %% [markdown]
# ### Table 7 — Gaussian blur, measured beside the paper
#
# Each model's measured row with the paper's row beneath it (ImageNet validation set, the ImageNet-pretrained
# Caffe AlexNet; its trainable parameters in millions as printed), per level; the restoration row beside the
# paper's NCSR. First the restoration rows themselves: the baseline on the distorted and on the restored
# versions of the same test images.

# %%
show(restoration["blur"], imagenet.describe_restoration_rows(restoration["blur"]))

# %%
show(imagenet.compare_alexnet(main["blur"], "blur", restoration["blur"], data.test.num_classes),
     "Table 7 — Gaussian blur")

# %% [markdown]
# ### Table 8 — AWGN, measured beside the paper
#
# The same for AWGN; the restoration row beside the paper's BM3D.

# %%
show(restoration["awgn"], imagenet.describe_restoration_rows(restoration["awgn"]))

# %%
show(imagenet.compare_alexnet(main["awgn"], "awgn", restoration["awgn"], data.test.num_classes),
     "Table 8 — AWGN")

# %%
Markdown(comparability(cfg.data.family, data.test.num_classes))

# %%
Markdown(claims.guard(cfg.name, imagenet.describe_alexnet_claims(main, restoration)))

# %% [markdown]
# ## Table 9 — local vs global ranking for Deepcorr-5
#
# The paper finds the two within 0.001 of each other and the difference not significant (p = 0.8662).

# %%
show(cifar.local_vs_global(tables, records, "Deepcorr-5", "Deepcorr-5-global", paper=TABLE_9),
     "Table 9 — local vs global ranking")

# %%
lg = cifar.ttest_local_vs_global(tables, "Deepcorr-5", "Deepcorr-5-global")
Markdown(claims.guard(cfg.name, f"Paired t-test, global vs local, over the clean column and six levels of both kinds "
         f"({lg['pairs']} pairs): mean difference {lg['global − local (mean)']:+.4f}, p = {lg['p-value']:.4f} "
         f"(the paper: p = {TABLE_9_P}). " + cifar.describe_local_global(lg)))

# %% [markdown]
# ## Tables 10–12 — correction-unit variants
#
# Table 10's units on the full-size Caffe AlexNet, built and counted: parameters exactly, multiply-accumulates
# at 227 px against the paper's "FLOPs".

# %%
show(cifar.unit_counts(), "Table 10 — the AlexNet units, built and counted")

# %% [markdown]
# The same variants on this profile's network and selection (blur ranking), relative to Deepcorr-5, next to
# the paper's ratios (lite: 41 % fewer parameters and 17 % fewer FLOPs; bottleneck: 63 % and 73 % fewer).

# %%
example = data.test.cropped(data.test.images[:1].float())  # what the network sees (cropped after distortion)
show(imagenet.variant_costs(cfg, model, priorities, "blur", example), "Tables 10–12 — cost of each variant")

# %% [markdown]
# Tables 11–12: accuracy of the three unit variants per level, each beside the paper's row.

# %%
variants = {kind: t.loc[list(imagenet.VARIANT_MODELS)] for kind, t in tables.items()}
for kind, t in variants.items():
    display(show(imagenet.compare_alexnet(t, kind, num_classes=data.test.num_classes),
                 "Table 11 — Gaussian blur" if kind == "blur" else "Table 12 — AWGN"))

# %% [markdown]
# ## Figure 10 — t-SNE of Deepcorr-5 features
#
# Penultimate (fc7) features of the Deepcorr-5 trained for each kind, for the classes of Figure 2, clean and
# at every level. The paper: the clusters stay compact and separate as distortion grows, unlike the
# baseline's in Figure 2.

# %%
deepcorr5 = {kind: corrected.corrected_model(run, model, data, priorities, kind, "Deepcorr-5", progress=False)[0]
             for kind in ("blur", "awgn")}
fig10 = imagenet.figure10(run, deepcorr5, data.test)
plots.figure_2(fig10, "Figure 10 — t-SNE of Deepcorr-5 penultimate features (top: blur model, bottom: AWGN model)")

# %%
Markdown(imagenet.describe_figure10(base_emb, fig10))

# %% [markdown]
# ## Figure 11 — per-class accuracy difference, Deepcorr-5 − Finetune-8
#
# Per-class top-1 averaged over clean and the six levels. The paper (1,000 classes): Deepcorr-5 better for
# 865 (blur) and 707 (AWGN) classes.

# %%
diffs = {}
for kind in ("blur", "awgn"):
    finetune8 = corrected.corrected_model(run, model, data, priorities, kind, "Finetune-8", progress=False)[0]
    diffs[kind] = imagenet.per_class_difference(run, {"Deepcorr-5": deepcorr5[kind], "Finetune-8": finetune8},
                                            data, kind)
plots.figure_11(diffs)

# %%
show(imagenet.figure11_counts(diffs), "Figure 11 — classes better, worse and equal")

# %% [markdown]
# ## Figure 12 — validation accuracy against training iterations
#
# Validation top-1 (half of the held-out images distorted) after every epoch, for the Deepcorr-5 variants
# and Finetune-8. The paper: every Deepcorr-5 variant ends higher and gets there in fewer iterations.

# %%
fig12 = ["Finetune-8", "Deepcorr-5", "Deepcorr-5-lite", "Deepcorr-5-bottleneck", "Deepcorr-5-no-bn"]
plots.validation_curves({kind: {n: records[kind][n] for n in fig12} for kind in records})

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "06_imagenet_alexnet", imagenet.metrics(cfg, tables, restoration, lg, diffs))

# %% [markdown]
# ## What this page found

# %%
tables_test = run.subsets(data).test  # the test images of Tables 7–8
Markdown(claims.guard(cfg.name, imagenet.findings(main, diffs, records, len(tables_test))))

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
