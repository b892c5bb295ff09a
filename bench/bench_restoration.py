"""Benchmark: the cost per image of restoring before classifying vs correcting inside the network, one run.

Restoration (BM3D for AWGN, Richardson–Lucy for blur, with σ / the kernel known) runs per image on the CPU
over every core; DeepCorrect classifies the distorted image directly, its cost being one forward pass of
Deepcorr-5 (the units included) in batches on the device. Prints seconds per image for each and, on the last
line, restoration (BM3D) seconds per image / Deepcorr-5 seconds per image; writes bench/out/restoration.json.

Usage: python bench/bench_restoration.py [--size 227] [--alexnet-width 1.0] [--images 8] [--device cpu]
"""

from __future__ import annotations

import time

import torch
from _report import embedded_images, save
from _report import parser as bench_parser  # bench/ is on sys.path when a benchmark runs as a script

from deepcorrect.config import RestoreConfig
from deepcorrect.correction import deepcorrect_model
from deepcorrect.distortions import distort, sigma_for
from deepcorrect.models import CaffeAlexNet
from deepcorrect.paper import TABLE_10_FILTERS
from deepcorrect.restoration import restore_batch
from deepcorrect.runtime import keep_freed_memory


@torch.inference_mode()
def forward_seconds_per_image(model: torch.nn.Module, x: torch.Tensor, repeats: int = 3) -> float:
    model(x[:2])  # warm-up
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        model(x)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (repeats * len(x))


def main() -> None:
    keep_freed_memory()
    parser = bench_parser(__doc__)
    parser.add_argument("--size", type=int, default=227, help="image size in pixels (default 227, the paper's)")
    parser.add_argument("--alexnet-width", type=float, default=1.0, help="Caffe AlexNet width (default 1.0)")
    parser.add_argument("--images", type=int, default=8, help="images restored per kind (default 8)")
    parser.add_argument("--batch", type=int, default=32, help="Deepcorr-5 forward batch (default 32)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = CaffeAlexNet(1000, width=args.alexnet_width)
    scale = args.alexnet_width
    sel = {f"conv{i}": range(max(1, round(n * scale))) for i, n in enumerate(TABLE_10_FILTERS, start=1)}
    deepcorr5 = deepcorrect_model(net, sel, "cw").eval().to(device)
    images = embedded_images(10 * args.images).images[:args.images].float()
    images = torch.nn.functional.interpolate(images, size=args.size, mode="bilinear", align_corners=False)

    level = 3
    costs = {}
    for kind, name in (("awgn", "BM3D"), ("blur", "Richardson–Lucy")):
        sigma = sigma_for(kind, level, "imagenet")
        x = distort(images, kind, level, "imagenet", generator=torch.Generator().manual_seed(0))
        t0 = time.perf_counter()
        _, cpu_per_image = restore_batch(x, kind, sigma, RestoreConfig())
        costs[name] = (time.perf_counter() - t0) / len(x)
        print(f"{name:16s}: {costs[name]:8.3f} s per image (wall, {args.images} images at {args.size} px, "
              f"σ = {sigma:g}; {cpu_per_image:.3f} s of worker time each)")
    batch = images.repeat((args.batch + len(images) - 1) // len(images), 1, 1, 1)[:args.batch].to(device)
    dc = forward_seconds_per_image(deepcorr5, batch)
    print(f"{'Deepcorr-5':16s}: {dc:8.4f} s per image (forward, batch {args.batch}, {device})")
    result = {"device": str(device), "size": args.size, "alexnet_width": args.alexnet_width, "images": args.images,
              "level": level, "bm3d_s_per_image": costs["BM3D"], "rl_s_per_image": costs["Richardson–Lucy"],
              "deepcorr5_s_per_image": dc, "ratio": costs["BM3D"] / dc}
    save("restoration", result)
    print(f"ratio BM3D / Deepcorr-5 seconds per image: {result['ratio']:.0f}x")


if __name__ == "__main__":
    main()
