"""Benchmark: literal Algorithm 1 vs the batched fast path, same filters, same images, one run.

The literal path runs, for every filter, the clean network and the whole distorted network with that one
channel swapped (Algorithm 1 as written); the fast path runs the prefix once and only the suffix for stacked
swaps. Prints filter evaluations per second for both, checks the counts are identical, reports peak memory,
and prints the ratio fast/literal on the last line; writes bench/out/ranking.json.

Usage: python bench/bench_ranking.py [--images 50] [--width 0.25] [--device cpu]
"""

from __future__ import annotations

import resource
import time
from dataclasses import replace

import torch

from deepcorrect.config import RankingConfig
from deepcorrect.models import AllConvBN
from deepcorrect.ranking import rank_filters

from deepcorrect.runtime import keep_freed_memory
from _report import embedded_images, save
from _report import parser as bench_parser  # bench/ is on sys.path when a benchmark runs as a script


def timed(model, data, cfg, method, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    ranking = rank_filters(model, data, "cifar", cfg, device=device, method=method, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return ranking, time.perf_counter() - t0


def main() -> None:
    keep_freed_memory()  # both sides of the comparison run with the same allocator settings
    parser = bench_parser(__doc__)
    parser.add_argument("--images", type=int, default=50, help="ranking-set size (default 50)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = AllConvBN(10, width=args.width).eval().to(device)
    data = embedded_images(args.images)
    cfg = RankingConfig(kinds=("awgn",), levels=(3,))  # default chunking and shortcut
    warm = data.subset(torch.arange(10))
    for method in ("fast", "literal"):  # warm-up: allocator, oneDNN kernels, fx tracing
        rank_filters(model, warm, "cifar", replace(cfg, layers=("conv6",)), device=device, method=method,
                     progress=False)
    fast, fast_s = timed(model, data, cfg, "fast", device)
    literal, literal_s = timed(model, data, cfg, "literal", device)
    filters = sum(c.shape[-1] for c in fast.counts.values())
    identical = all(torch.equal(fast.counts[l], literal.counts[l]) for l in fast.layers)
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    result = {"device": str(device), "images": len(data), "filters": filters, "width": args.width,
              "literal_filters_per_s": filters / literal_s, "fast_filters_per_s": filters / fast_s,
              "identical_counts": identical, "peak_memory_bytes": peak, "ratio": literal_s / fast_s}
    save("ranking", result)
    print(f"{filters} filters x {len(data)} images, one distortion level, on {device}")
    print(f"literal Algorithm 1: {result['literal_filters_per_s']:.1f} filter-evaluations/s ({literal_s:.1f} s)")
    print(f"fast path:           {result['fast_filters_per_s']:.1f} filter-evaluations/s ({fast_s:.1f} s)")
    print(f"identical counts: {identical}; peak memory {peak / 2**20:.0f} MiB "
          f"({'CUDA allocated' if device.type == 'cuda' else 'process max RSS'})")
    print(f"ratio fast/literal: {result['ratio']:.1f}x")
    if not identical:
        raise SystemExit("counts differ between the fast path and the literal algorithm")


if __name__ == "__main__":
    main()
