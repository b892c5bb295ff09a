"""Benchmark: the 15 corruptions × 5 severities batched on the device vs a per-image path, on the same images.

The per-image path is ``imagecorruptions`` (ImageNet-C's parameters, numpy, one image at a time) when it is
installed, else this library's own ``corrupt`` called on one image at a time. Prints images/s for both over
the whole set (every corruption at every severity) and, on the last line, their ratio measured in this one
run; writes bench/out/corruptions.json.
Usage: python bench/bench_corruptions.py [--images N] [--reference-images M] [--family cifar|imagenet]
"""

from __future__ import annotations

import time

import torch

from deepcorrect.corruptions import CORRUPTIONS, NUM_SEVERITIES, corrupt
from deepcorrect.runtime import keep_freed_memory
from _report import embedded_images, parser, save  # bench/ is on sys.path when a benchmark runs as a script

try:
    import imagecorruptions
except ImportError:  # optional: the library's own per-image path stands in
    imagecorruptions = None


def per_image_seconds(x: torch.Tensor, family: str) -> tuple[float, str]:
    """Seconds for every corruption × severity on each image of ``x``, one image per call."""
    t0 = time.perf_counter()
    if imagecorruptions is not None:
        pixels = x.permute(0, 2, 3, 1).to(torch.uint8).numpy()
        for name in CORRUPTIONS:
            for s in range(1, NUM_SEVERITIES + 1):
                for image in pixels:
                    imagecorruptions.corrupt(image, corruption_name=name, severity=s)
        return time.perf_counter() - t0, "imagecorruptions, per image"
    g = torch.Generator().manual_seed(0)
    for name in CORRUPTIONS:  # warm-up, as the batched path has: the first call of each pays its set-up
        corrupt(x[:1], name, 1, family, g)
    t0 = time.perf_counter()
    for name in CORRUPTIONS:
        for s in range(1, NUM_SEVERITIES + 1):
            for image in x:
                corrupt(image[None], name, s, family, g)
    return time.perf_counter() - t0, "this library, one image per call"


def batched_seconds(x: torch.Tensor, family: str, device: torch.device) -> dict[str, float]:
    """Seconds per corruption (all severities) for the whole batch on ``device``."""
    xd = x.to(device)
    g = torch.Generator().manual_seed(0)
    for name in CORRUPTIONS:  # warm-up: caches, kernels
        corrupt(xd[:2], name, 1, family, g)
    seconds = {}
    for name in CORRUPTIONS:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(1, NUM_SEVERITIES + 1):
            corrupt(xd, name, s, family, g)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds[name] = time.perf_counter() - t0
    return seconds


def main() -> None:
    keep_freed_memory()  # both sides of the comparison run with the same allocator settings
    p = parser(__doc__)
    p.add_argument("--images", type=int, default=1000, help="images corrupted in one batch (default 1000)")
    p.add_argument("--reference-images", type=int, default=20, help="images for the per-image path (default 20)")
    p.add_argument("--family", default="cifar", choices=("cifar", "imagenet"))
    args = p.parse_args()
    x = embedded_images(args.images).images.float()
    ref_n = min(args.reference_images, x.shape[0])
    ref_s, ref_name = per_image_seconds(x[:ref_n], args.family)
    dev = torch.device(args.device)
    per_name = batched_seconds(x, args.family, dev)
    fast_s = sum(per_name.values())
    n, sets = x.shape[0], len(CORRUPTIONS) * NUM_SEVERITIES
    result = {"images": n, "reference_images": ref_n, "device": str(dev), "family": args.family,
              "reference": ref_name, "per_image_images_per_s": ref_n * sets / ref_s,
              "batched_images_per_s": n * sets / fast_s, "ratio": (ref_s / ref_n) / (fast_s / n),
              "batched_seconds_per_corruption": per_name}
    save("corruptions", result)
    for name, s in per_name.items():
        print(f"  {name:18s} {n * NUM_SEVERITIES / s:10.0f} images/s batched")
    print(f"per-image ({ref_name}): {result['per_image_images_per_s']:.0f} images/s")
    print(f"batched on {dev}: {result['batched_images_per_s']:.0f} images/s (15 corruptions × 5 severities)")
    print(f"ratio batched/per-image: {result['ratio']:.1f}x")


if __name__ == "__main__":
    main()
