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
# # Transfer: DeepCorrect features on other datasets (§5.3)
#
# Are the distortion-robust features DeepCorrect learns on ImageNet useful elsewhere? The paper takes fc6
# features (fc7 for SUN-397) of the Baseline, Finetune-8 and Deepcorr-5 AlexNets as fixed feature extractors,
# trains linear SVMs on Caltech-101, Caltech-256 and SUN-397, and reports the mean per-class accuracy:
# **Table 13** on clean images (Baseline), **Tables 14–15** averaged over the blur and AWGN levels. As in the
# paper (footnote 8), for each kind one set of SVMs is trained on training images at every level and clean.
#
# Protocol (Donahue et al., as the paper): random splits of 25 training and 5 validation images per class,
# every other image for testing; C chosen on the validation images, then refitted on both; the mean over splits.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect import claims, corrected_models as corrected, plots
from deepcorrect.baseline import baseline_model
from deepcorrect.config import alexnet_profile, resolve
from deepcorrect.context import Run
from deepcorrect.data import load_transfer
from deepcorrect.metrics import save_metrics
from deepcorrect.paper import TRANSFER_MODELS
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.priorities import filter_priorities
from deepcorrect.report import provenance, summary
from deepcorrect.sections import generalization
from deepcorrect.splits import datasets
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
correct_epochs = None  # epochs of Finetune-8 and Deepcorr-5 (None: from the profile)
correct_train_per_class = None  # their training images per class (None: from the profile; 0 means all)
correct_test_per_class = None  # test images per class of their tables (None: from the profile; 0 means all)
transfer_root = None  # folder of class folders or a .tar.gz (Caltech-101, Caltech-256, SUN-397; None: the profile)
transfer_name = None  # name of the transfer dataset in the tables (None: Caltech-101 for folders, else embedded)
feature_layer = None  # fc6 or fc7 (None: from the profile; the paper fc7 for SUN-397 only)
splits = None  # random splits averaged over (None: from the profile; the paper 5)
svm_test_per_class = None  # cap on test images per class (None: from the profile; 0 means every other image)
svm_solver = None  # liblinear (scikit-learn LinearSVC) or lbfgs (the same objective in torch; None: from the profile)
results_dir = "results"  # artifact store (cached weights, rankings, tables)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above
cfg = resolve(alexnet_profile(profile), device=device, width=alexnet_width, epochs=alexnet_epochs,
              train_per_class=alexnet_train_per_class, test_per_class=alexnet_test_per_class, root=imagenet_root,
              weights=model_weights, correct_epochs=correct_epochs, correct_train_per_class=correct_train_per_class,
              correct_test_per_class=correct_test_per_class, transfer_root=transfer_root,
              transfer_source="folder" if transfer_root else None, feature_layer=feature_layer, splits=splits,
              svm_test_per_class=svm_test_per_class, svm_solver=svm_solver)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
dataset = generalization.dataset_name(cfg, transfer_name)
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %% [markdown]
# The feature extractors are the networks of the §5.2 page (same profile and store: trained there, loaded
# here): the baseline and, for each kind, the Finetune-8 and Deepcorr-5 trained on that kind.

# %%
data = datasets(cfg)
model, _ = baseline_model(run, data.train)
priorities = filter_priorities(run, model, data, progress=False)
extractors = {kind: {"Baseline": model, **{name: corrected.corrected_model(run, model, data, priorities, kind, name,
                                                                      progress=False)[0]
                                           for name in TRANSFER_MODELS[1:]}} for kind in ("blur", "awgn")}
target = load_transfer(cfg.transfer, cfg.data)
Markdown(generalization.describe_setup(cfg, dataset, target))

# %% [markdown]
# ## Tables 13–15 — linear SVMs on each network's features
#
# For every extractor and distortion: one SVM per split trained on its features of clean images and of every
# level, tested per level; mean per-class accuracy averaged over the splits.

# %%
results = {"clean": {"Baseline": generalization.transfer_accuracy(run, model, "Baseline", target, "clean",
                                                                  progress=False)}}
for kind, nets in extractors.items():
    results[kind] = {name: generalization.transfer_accuracy(run, net, name, target, kind, progress=False)
                     for name, net in nets.items()}
table = generalization.transfer_table(results)
reference = generalization.paper_reference(dataset)
plots.transfer_bars(table.drop(index="clean", level="kind"))

# %% [markdown]
# ## Table 13 — clean images, baseline features
#
# The paper's Table 13 is clean images only: one accuracy per dataset, so no average over levels. The paper's
# row for the same dataset stands beside the measurement (Caltech-101 when this page ran on it; for the
# embedded code path the Caltech-101 row is shown only as a reference).

# %%
comparable = generalization.transfer_comparable(dataset, data.test.num_classes)
show(generalization.paper_table(table, 13, reference, comparable), "Table 13 — clean images")

# %% [markdown]
# ## Tables 14 and 15 — distorted images
#
# Per level, with Avg over the six levels beside the paper's (the paper prints only the average).
#
# ### Table 14 — Gaussian blur

# %%
show(generalization.paper_table(table, 14, reference, comparable), "Table 14 — Gaussian blur")

# %% [markdown]
# ### Table 15 — AWGN

# %%
show(generalization.paper_table(table, 15, reference, comparable), "Table 15 — AWGN")

# %%
Markdown(generalization.transfer_comparability(dataset, reference, data.test.num_classes))

# %% [markdown]
# ## What this page found

# %%
Markdown(generalization.describe_transfer(table, reference))

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "07_transfer", generalization.metrics(cfg, dataset, table, results))

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
