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
# - the mean error over the 15 beside the published row for CIFAR-10-C at severity 5 — another network
#   (WRN-28-10) on the full official test set, so a reference point, not a comparison of networks.
#
# The released CIFAR-10-C arrays can stand in for the regenerated images: `deepcorrect.data.released_c`.

# %% tags=["hide-cell"]
from IPython.display import Markdown, display

from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.metrics import save_metrics
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
corrupt_per_class = 20  # test images per class corrupted 15 × 5 (at most the profile's test_per_class)
adapt_severity = 5  # the severity of the BN adaptation and TENT runs (the published row: 5)
corrupt_seed = 0  # seed of the image order and of every corruption's random draws
results_dir = "results"  # artifact store (shared with pages 01–03: the baseline is reused)
fresh = False  # recompute every cached artifact

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above

# %%
cfg = resolve(profile, device=device, width=width, epochs=epochs, train_per_class=train_per_class,
              test_per_class=test_per_class, val_per_class=val_per_class, root=data_root)
run = Run.of(cfg, Store(results_dir, fresh=fresh))
summary(cfg)

# %%
data = datasets(cfg)
model, _ = baseline_model(run, data.train)
test = beyond.test_images(data.test, corrupt_per_class, corrupt_seed)
clean = beyond.clean_error(model, test, device=run.device)
grid = beyond.error_grid(model, test, "cifar", seed=corrupt_seed, device=run.device)
adapted = beyond.adaptation_errors(model, test, "cifar", adapt_severity, seed=corrupt_seed, device=run.device,
                                   source=grid[adapt_severity])
tests = beyond.contrasts(adapted)
Markdown(f"{len(test):,} test images ({len(test) // len(test.classes)} per class), each corrupted 15 × 5 times; "
         f"clean error {clean:.1f} %.")

# %% [markdown]
# ## The baseline's error per corruption and severity

# %%
beyond.heatmap(grid, f"{cfg.name}: top-1 error (%)")

# %% [markdown]
# ## BN adaptation and TENT, reset per corruption

# %%
show(adapted, f"Top-1 error (%) at severity {adapt_severity}, per corruption",
     formats=beyond.percent_formats(adapted))

# %% [markdown]
# ## Mean error over the 15, beside the published row

# %%
published = beyond.beside_published(adapted, cfg.name, adapt_severity)
show(published, "Mean error over the 15 corruptions (%), beside the published row",
     formats=beyond.percent_formats(published))

# %% [markdown]
# ## What the measurement says

# %%
display(show(tests, "Paired tests over the 15 corruptions", formats={"mean difference (points)": "{:+.2f}",
                                                                      "std. error": "{:.2f}"}))
Markdown(beyond.verdict(grid, adapted, tests, clean))

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "05_beyond_blur_and_noise",
                          beyond.metrics(grid, adapted, tests, len(test), adapt_severity))

# %% [markdown]
# ## Provenance
#
# Every cached artifact this page used: its key (kind/hash), the keys of the artifacts it was computed from,
# the fingerprint of the library code that made it, its wall time, and whether this run computed it.

# %% tags=["hide-input"]
show(provenance(run.store), "Provenance: every cached artifact of this page", collapsed=True)
