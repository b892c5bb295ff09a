"""Benchmark: batched blur + AWGN on the device vs per-image scipy.ndimage, on the same images.

Prints images/s for both and, on the last line, their ratio measured in this one run; writes
bench/out/distortions.json. Usage: python bench/bench_distortions.py [--images N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import ndimage

from deepcorrect import distortions as D
from deepcorrect.data import make_embedded

from deepcorrect.runtime import keep_freed_memory
from _report import save  # bench/ is on sys.path when a benchmark runs as a script


def per_image_reference(images: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    sigma_b = D.sigma_for("blur", level, "cifar")
    sigma_n = D.sigma_for("awgn", level, "cifar")
    out = np.empty_like(images)
    for i, img in enumerate(images):
        blurred = np.stack([ndimage.gaussian_filter(c, sigma_b, mode="constant", truncate=2.0) for c in img])
        out[i] = blurred + sigma_n * rng.standard_normal(img.shape, dtype=np.float32)
    return out


def main() -> None:
    keep_freed_memory()  # both sides of the comparison run with the same allocator settings
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    x, _ = make_embedded(max(1, args.images // 10), seed=0)
    x = x.float()
    level = 4

    t0 = time.perf_counter()
    per_image_reference(x.numpy(), level, np.random.default_rng(0))
    ref_s = time.perf_counter() - t0

    dev = torch.device(args.device)
    xd = x.to(dev)
    g = torch.Generator(dev).manual_seed(0)
    D.awgn(D.gaussian_blur(xd[:64], 2.0), 20.0, g)  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    D.distort(D.distort(xd, "blur", level), "awgn", level, generator=g)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    fast_s = time.perf_counter() - t0

    n = x.shape[0]
    result = {"images": n, "device": str(dev), "per_image_scipy_images_per_s": n / ref_s,
              "batched_images_per_s": n / fast_s, "ratio": ref_s / fast_s}
    save("distortions", result)
    print(f"per-image scipy: {result['per_image_scipy_images_per_s']:.0f} images/s")
    print(f"batched on {dev}: {result['batched_images_per_s']:.0f} images/s")
    print(f"ratio batched/per-image: {result['ratio']:.1f}x")


if __name__ == "__main__":
    main()
