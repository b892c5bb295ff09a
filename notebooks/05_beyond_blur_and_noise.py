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
# # Beyond blur and noise: the 15-corruption benchmark
#
# The paper corrects two distortions. The field measures robustness on the 15 corruptions × 5 severities of
# CIFAR-10-C / ImageNet-C (Hendrycks & Dietterich, 2019) — noise (Gaussian, shot, impulse), blur (defocus,
# glass, motion, zoom), weather (snow, frost, fog) and digital (brightness, contrast, elastic, pixelate, JPEG) —
# and test-time adaptation reports its numbers there. This page regenerates that benchmark, seeded, on the
# profile's test images (`deepcorrect.corruptions`, with CIFAR-10-C's parameters) and measures:
#
# - the baseline's error per corruption and severity;
# - **BN adaptation** (each test batch's BN statistics, no step) and **TENT** (one Adam step at 1e-3 per test
#   batch of 200 on the prediction entropy w.r.t. the BN γ, β), both reset for every corruption, as TENT's
#   protocol is, at one severity;
# - the paper's blur- and AWGN-trained models (Deepcorr-6c and the full fine-tune of Tables 3–4) on all 15:
#   does a correction for Gaussian blur carry over to defocus, motion, zoom and glass blur, one for AWGN to
#   shot and impulse noise, and what do they cost on weather and digital corruptions;
# - the mean error over the 15 beside the published row for CIFAR-10-C at severity 5 — another network
#   (WRN-28-10) on the full official test set, so a reference point, not a comparison of networks.
#
# The released CIFAR-10-C arrays can stand in for the regenerated images: `deepcorrect.data.released_c`.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect import claims
from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.corrected_models import describe_training
from deepcorrect.editions import render as editions
from deepcorrect.metrics import save_metrics
from deepcorrect.priorities import filter_priorities
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.report import provenance, summary
from deepcorrect.sections import beyond_blur_and_noise as beyond
from deepcorrect.splits import datasets
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
per_class = None  # ranking-set images per class of page 03's models (None: from the profile)
correct_epochs = None  # epochs of page 03's Finetune and Deepcorr models (None: from the profile)
correct_train_per_class = None  # their training images per class (None: from the profile; 0 means all)
variant = None  # their correction unit: identity | release | cw | lite | bottleneck | nobn (None: from the profile)
corrupt_per_class = 6  # test images per class corrupted 15 × 5 (≤ the profile's test_per_class; editions: 20)
transfer = True  # measure page 03's blur- and AWGN-trained Deepcorr-6c and full fine-tune on all 15
held_out = True  # train Deepcorr-6c and the full fine-tune on 4 corruptions, test them on the other 11
adapt_severity = 5  # the severity of the BN adaptation and TENT runs (the published row: 5)
adapt_per_class = None  # their test images per class (None: corrupt_per_class; TENT's first step comes after its
#                         first batch of 200, so it needs several batches to differ; editions: 1000, the test set)
corrupt_seed = 0  # seed of the image order and of every corruption's random draws
results_dir = "results"  # artifact store (shared with pages 01–03: the baseline is reused)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above

# %%
cfg = resolve(profile, device=device, width=width, epochs=epochs, train_per_class=train_per_class,
              test_per_class=test_per_class, val_per_class=val_per_class, root=data_root, per_class=per_class,
              correct_epochs=correct_epochs, correct_train_per_class=correct_train_per_class, variant=variant)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
display(show(summary(cfg), "The profile these numbers come from"), Markdown(claims.banner(cfg.name)))

# %%
data = datasets(cfg)
model, _ = baseline_model(run, data.train)
paper_trained = beyond.transfer_models(run, model, data, filter_priorities(run, model, data)) if transfer else {}
mix_trained = beyond.mix_models(run, model, data) if held_out else {}
test = beyond.test_images(data.test, corrupt_per_class, corrupt_seed)
clean = beyond.clean_error(model, test, device=run.device)
hits = beyond.hit_grids({"Baseline": model, **paper_trained, **mix_trained}, test, "cifar", seed=corrupt_seed,
                        device=run.device)
grid = beyond.grid_of(hits["Baseline"])
adapt_test = test if adapt_per_class in (None, corrupt_per_class) else beyond.test_images(
    data.test, adapt_per_class, corrupt_seed)
adapted = beyond.adaptation_errors(model, adapt_test, "cifar", adapt_severity, seed=corrupt_seed, device=run.device,
                                   source=grid[adapt_severity] if adapt_test is test else None)
tests = beyond.contrasts(adapted)
Markdown(f"{len(test):,} test images ({len(test) // len(test.classes)} per class), each corrupted 15 × 5 times; "
         f"clean error {clean:.1f} %. "
         f"{beyond.describe_adaptation_set(len(adapt_test), adapt_severity, len(test.classes))}")

# %% [markdown]
# ## The baseline's error per corruption and severity

# %%
beyond.heatmap(grid, f"{cfg.name}: top-1 error (%)")

# %% [markdown]
# ## BN adaptation and TENT, reset per corruption

# %%
show(adapted, f"Top-1 error (%) at severity {adapt_severity}, per corruption ({len(adapt_test):,} images)",
     formats=beyond.percent_formats(adapted))

# %% [markdown]
# ## Corrected for blur or noise, tested on all 15
#
# The models of Tables 3–4 were trained for one of the paper's distortions (Gaussian blur or AWGN at its six
# levels). Here they meet the 15 corruptions on the same corrupted test images as the baseline: each cell is
# the error averaged over the five severities; the families' rows average their corruptions. The change
# against the baseline is tested per family by the exact sign test over the test images (each image's number
# of right answers over the family's corruptions × severities), with the standard error over images.

# %%
if paper_trained:
    transfer_table, transfer_tests = beyond.against_baseline(hits, paper_trained)
    display(Markdown(describe_training(run, data)),
            *beyond.comparison_parts(transfer_table, transfer_tests, "on all 15"),
            Markdown(claims.guard(cfg.name, beyond.describe_transfer(transfer_tests))))
else:
    transfer_table = transfer_tests = None
    display(Markdown("Not measured in this run (`transfer = False`)."))

# %% [markdown]
# ## Trained on four corruptions, tested on the other eleven
#
# DeepCorrect need not be trained for one distortion. Here Deepcorr-6c (units on the filters Algorithm 1 ranks
# for the mix) and the full fine-tune train on one corruption of each family — Gaussian noise, defocus blur,
# snow, contrast — half of every batch corrupted by one of them at a random severity, and are tested on the
# eleven corruptions they never saw, against the baseline on the same images.

# %%
if mix_trained:
    held_table, held_tests = beyond.against_baseline(hits, mix_trained, beyond.HELD_OUT)
    display(*beyond.comparison_parts(held_table, held_tests, "on the 11 held out"),
            Markdown(claims.guard(cfg.name, beyond.describe_transfer(held_tests))))
else:
    held_table = held_tests = None
    display(Markdown("Not measured in this run (`held_out = False`)."))

# %% [markdown]
# ## Mean error over the 15, beside the published row

# %%
published = beyond.beside_published(adapted, cfg.name, adapt_severity)
show(published, "Mean error over the 15 corruptions (%), beside the published row",
     formats=beyond.percent_formats(published))

# %% [markdown]
# ## What the measurement says

# %%
show(tests, "Paired tests over the 15 corruptions", formats=beyond.CONTRAST_FORMATS)

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "05_beyond_blur_and_noise",
                     beyond.metrics(cfg.name, grid, adapted, tests, len(test), adapt_severity,
                                    adapt_images=len(adapt_test), transfer=transfer_table,
                                    transfer_tests=transfer_tests, held_out=held_table, held_out_tests=held_tests))

# %%
Markdown(editions.findings("beyond_blur_and_noise", saved, beyond.verdict(grid, adapted, tests, clean)))

# %% [markdown]
# ## At scale — the recorded editions
#
# This page's tables and figures as recorded by `deepcorrect record` on profiles worth reading — a
# well-trained network on real photographs — drawn by the same functions as above, each with the claims it
# decides. Each edition says which commit, code, data and machine made it.

# %% tags=["remove-input"]
for part in editions.at_scale("beyond_blur_and_noise"):
    display(part)

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
