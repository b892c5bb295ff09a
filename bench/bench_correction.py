"""Benchmark: training images/s of Deepcorr-6 vs Finetune-9 on the same network, data and batches, one run.

Both go through the library's one training loop (half of every batch distorted, frozen BN in eval mode,
Eq. 5's regulariser for the units). Deepcorr-6 trains only its units, but its forward pass also runs them and
its backward pass still has to go through every frozen layer above the first unit; Finetune-9 trains every
weight. Prints images/s for both and the ratio Deepcorr-6 / Finetune-9 on the last line (≥ 1: correction is
no dearer per image than fine-tuning everything); writes bench/out/correction.json.

Usage: python bench/bench_correction.py [--width 0.25] [--images 1000] [--batch 125] [--device cpu]
"""

from __future__ import annotations

import torch
from _report import embedded_images, save
from _report import (
    parser as bench_parser,  # bench/ is on sys.path when a benchmark runs as a script
)

from deepcorrect.config import TrainConfig, resolve
from deepcorrect.corrected_models import unit_width
from deepcorrect.correction import (
    deepcorrect_model,
    finetune_model,
    regulariser,
    set_training_mode,
)
from deepcorrect.distortions import half_distorted
from deepcorrect.models import AllConvBN, count_params
from deepcorrect.ranking import n_selected
from deepcorrect.runtime import keep_freed_memory
from deepcorrect.train import fit


def images_per_s(model, data, cfg, device, units: bool) -> float:
    history = fit(model, data, cfg, device=device, set_train_mode=set_training_mode,
                  batch_transform=lambda x, g: half_distorted(x, "blur", "cifar", g),
                  regularizer=regulariser(model, 1e-5, 0.0) if units else None, progress=False)
    return history[-1]["images_per_s"]  # the last epoch: warm allocator and kernels


def main() -> None:
    keep_freed_memory()  # both sides of the comparison run with the same allocator settings
    parser = bench_parser(__doc__)
    parser.add_argument("--images", type=int, default=1000, help="training images per epoch (default 1000)")
    parser.add_argument("--batch", type=int, default=125, help="batch size (default 125)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = AllConvBN(10, width=args.width)
    data = embedded_images(args.images)
    cfg = TrainConfig(epochs=2, batch_size=args.batch, lr=0.01, channels_last=device.type == "cuda")
    width = unit_width(resolve("smoke", width=args.width))
    sel = {f"conv{i}": range(n_selected(0.5, net.get_submodule(f"conv{i}").out_channels)) for i in range(1, 7)}
    deepcorr = deepcorrect_model(net, sel, "release", width=width)
    finetune = finetune_model(net, 9)
    dc = images_per_s(deepcorr, data, cfg, device, units=True)
    ft = images_per_s(finetune, data, cfg, device, units=False)
    result = {"device": str(device), "width": args.width, "unit_width": width, "images": len(data),
              "batch": args.batch, "deepcorr6_images_per_s": dc, "finetune9_images_per_s": ft,
              "deepcorr6_trainable": count_params(deepcorr, True), "finetune9_trainable": count_params(finetune, True),
              "ratio": dc / ft}
    save("correction", result)
    print(f"All-Conv-BN width {args.width:g}, units of width {width}, {len(data)} images, batch {args.batch}, {device}")
    print(f"Deepcorr-6 : {dc:8.0f} images/s ({result['deepcorr6_trainable']:,} trainable parameters)")
    print(f"Finetune-9 : {ft:8.0f} images/s ({result['finetune9_trainable']:,} trainable parameters)")
    print(f"ratio Deepcorr-6 / Finetune-9 images/s: {result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
