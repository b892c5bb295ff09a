"""Benchmark: training images/s of the baseline step, a Finetune-9 step and a Deepcorr-6c step on the same
All-Conv-BN, the same images and the same batch size, one run.

Each goes through the library's one training loop as the pipeline runs it: the baseline with clean batches,
Nesterov momentum and weight decay; Finetune-9 and Deepcorr-6c as §5.1 trains them (half of every batch
blurred, frozen BNs in eval mode, Eq. 5's regulariser with the profile's λs, plain momentum). Deepcorr-6c's
units sit on the profile's β share of conv1–conv6's filters. Before any is timed, each trains one warm-up
epoch on a copy of its model at the same batch size and images — cuDNN's autotuning of every conv shape
(forward and backward: the three differ in which weight gradients they need), the allocator's pool and lazy
initialisation are then paid outside the timing by every model alike, not by whichever model first meets a
shape. The rate of each is its last timed epoch's. Prints images/s for the three, then, last, Finetune-9 / baseline and Deepcorr-6c /
baseline (the target for Finetune-9: ≥ 0.8 on any device); writes bench/out/finetune.json.

Usage: python bench/bench_finetune.py [--width 0.25] [--images 1000] [--batch 250] [--epochs 2] [--device cpu]
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from _report import embedded_images, save, training_options
from _report import (
    parser as bench_parser,  # bench/ is on sys.path when a benchmark runs as a script
)
from torch import nn

from deepcorrect.config import Profile, TrainConfig, resolve
from deepcorrect.corrected_models import unit_width
from deepcorrect.correction import (
    deepcorrect_model,
    finetune_model,
    regulariser,
    set_training_mode,
)
from deepcorrect.distortions import half_distorted
from deepcorrect.models import AllConvBN
from deepcorrect.priorities import paper_betas
from deepcorrect.ranking import n_selected
from deepcorrect.runtime import keep_freed_memory
from deepcorrect.train import fit

MODELS = ("Baseline", "Finetune-9", "Deepcorr-6c")


def training_runs(net: nn.Module, profile: Profile, cfg: TrainConfig) -> dict[str, tuple[nn.Module, TrainConfig, dict]]:
    """Per model kind: the model to train, its config and the other arguments of ``fit``, as the pipeline
    trains it (``cfg`` gives the batch size, epochs and speed flags shared by all three)."""
    c = profile.correct
    corrected = replace(cfg, lr=c.finetune_lr, weight_decay=0.0, nesterov=False)
    layers = [f"conv{i}" for i in range(1, 7)]
    betas = paper_betas(profile, layers)
    selection = {la: range(n_selected(betas[la], net.get_submodule(la).out_channels)) for la in layers}
    finetune = finetune_model(net)
    deepcorr = deepcorrect_model(net, selection, c.variant, width=unit_width(profile), train_last=3)

    def corrected_args(model: nn.Module) -> dict:
        return {"set_train_mode": set_training_mode, "regularizer": regulariser(model, c.l1, c.l2),
                "batch_transform": lambda x, g: half_distorted(x, "blur", profile.data.family, g)}

    return {"Baseline": (net, cfg, {}), "Finetune-9": (finetune, corrected, corrected_args(finetune)),
            "Deepcorr-6c": (deepcorr, replace(corrected, lr=c.deepcorr_lr), corrected_args(deepcorr))}


def warm_up(runs: dict[str, tuple[nn.Module, TrainConfig, dict]], data, device: torch.device) -> None:
    """One epoch of every run (copies of the timed models, the timed batch size and images): the first
    calls of each batch shape — cuDNN autotuning, allocator growth — happen here, for all three alike."""
    for model, model_cfg, extra in runs.values():
        fit(model, data, model_cfg, device=device, progress=False, **extra)


def main() -> None:
    keep_freed_memory()  # every model runs with the same allocator settings
    args = training_options(bench_parser(__doc__)).parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    profile = resolve("smoke", width=args.width)
    data = embedded_images(args.images)
    cfg = replace(profile.train, epochs=args.epochs, batch_size=args.batch)
    net = AllConvBN(10, width=args.width)
    warm_up(training_runs(copy.deepcopy(net), profile, replace(cfg, epochs=1)), data, device)
    rates = {}
    for name, (model, model_cfg, extra) in training_runs(net, profile, cfg).items():
        rates[name] = fit(model, data, model_cfg, device=device, progress=False, **extra)[-1]["images_per_s"]
    ratios = {name: rates[name] / rates["Baseline"] for name in MODELS[1:]}
    save("finetune", {"device": str(device), "width": args.width, "images": len(data), "batch": args.batch,
                      "images_per_s": rates, "ratio_to_baseline": ratios})
    print(f"All-Conv-BN width {args.width:g}, {len(data)} images, batch {args.batch}, {device}")
    for name in MODELS:
        print(f"{name:12s}: {rates[name]:8.0f} images/s")
    print("ratio to the baseline's images/s: " + "; ".join(f"{n} {r:.2f}x" for n, r in ratios.items())
          + " (target for Finetune-9: >= 0.8x)")


if __name__ == "__main__":
    main()
