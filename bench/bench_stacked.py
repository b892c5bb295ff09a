"""Benchmark: the four Finetune-k models of Tables 3–4 (k = 1, 3, 6 and every layer) trained one after another
with ``fit`` against all four in one stacked run (``deepcorrect.stacked.fit_stacked``: one vmapped forward and
backward per step), on the same All-Conv-BN, images, batch and epochs, as §5.1 trains them (half of every
batch blurred, frozen BNs, Eq. 5's regulariser, plain momentum). Each way first trains one warm-up epoch on
copies of the models. Prints the images/s of each way (model-images: four models on a batch count four
times), their ratio, and the largest difference between the weights the two ways end with (float rounding);
writes bench/out/stacked.json.

Usage: python bench/bench_stacked.py [--width 0.25] [--images 1000] [--batch 250] [--epochs 2] [--device cpu]
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from _report import embedded_images, save, training_options
from _report import parser as bench_parser  # bench/ is on sys.path when a benchmark runs as a script
from torch import nn

from deepcorrect.config import resolve
from deepcorrect.correction import finetune_model, regulariser, set_training_mode
from deepcorrect.distortions import half_distorted
from deepcorrect.models import AllConvBN
from deepcorrect.runtime import keep_freed_memory
from deepcorrect.stacked import fit_stacked
from deepcorrect.train import fit


def one_after_another(models: list[nn.Module], data, cfg, device, l1: float, l2: float) -> float:
    """Model-images per second of ``fit`` run for each model in turn (each run's last epoch)."""
    images = seconds = 0.0
    for model in models:
        row = fit(model, data, cfg, device=device, progress=False, set_train_mode=set_training_mode,
                  batch_transform=blurred, regularizer=regulariser(model, l1, l2))[-1]
        images, seconds = images + row["images_per_s"] * row["seconds"], seconds + row["seconds"]
    return images / seconds


def together(models: list[nn.Module], data, cfg, device, l1: float, l2: float) -> float:
    """Model-images per second of one stacked run (its last epoch)."""
    histories = fit_stacked(models, data, cfg, device=device, set_train_mode=set_training_mode,
                            batch_transform=blurred, regularizers=[regulariser(m, l1, l2) for m in models])
    return histories[0][-1]["images_per_s"]


def blurred(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return half_distorted(x, "blur", "cifar", g)


def main() -> None:
    keep_freed_memory()
    args = training_options(bench_parser(__doc__)).parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    profile = resolve("smoke", width=args.width)
    c = profile.correct
    cfg = replace(profile.train, epochs=args.epochs, batch_size=args.batch, lr=c.finetune_lr, weight_decay=0.0,
                  nesterov=False)
    data = embedded_images(args.images)
    net = AllConvBN(10, width=args.width).eval()
    models = [finetune_model(net, k) for k in (1, 3, 6)] + [finetune_model(net)]
    rates, weights = {}, {}
    for name, way in (("one after another", one_after_another), ("stacked", together)):
        way([copy.deepcopy(m) for m in models], data, replace(cfg, epochs=1), device, c.l1, c.l2)  # warm-up
        trained = [copy.deepcopy(m) for m in models]
        rates[name] = way(trained, data, cfg, device, c.l1, c.l2)
        weights[name] = trained
    gap = max((a - b).abs().max().item() for ma, mb in zip(*weights.values())
              for a, b in zip(ma.state_dict().values(), mb.state_dict().values()) if a.is_floating_point())
    ratio = rates["stacked"] / rates["one after another"]
    save("stacked", {"device": str(device), "width": args.width, "images": len(data), "batch": args.batch,
                     "models": 4, "model_images_per_s": rates, "ratio": ratio, "max_weight_difference": gap})
    print(f"Finetune-1/3/6/9 of All-Conv-BN width {args.width:g}, {len(data)} images, batch {args.batch}, {device}")
    for name, rate in rates.items():
        print(f"{name:18s}: {rate:8.0f} model-images/s")
    print(f"stacked / one after another: {ratio:.2f}x; largest weight difference {gap:.2e}")


if __name__ == "__main__":
    main()
