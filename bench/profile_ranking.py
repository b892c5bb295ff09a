"""Where the ranking's time goes: Algorithm 1 (fast path) on the full-width All-Conv-BN under torch.profiler.

The ranking ran at 5 % of an H200's float32 matmul rate in the CIFAR GPU check (2026-11-29). This ranks
conv1–conv6 of a randomly initialised full-width network (the time does not depend on the weights) on
``--images`` random CIFAR-sized images for blur and AWGN at ``--levels`` levels, and prints the wall time,
the device time the kernels account for (their share of the wall time says whether launches or kernels
bound it) and the operators that take the most device time.

Under the profiler the ranking runs several times slower than alone: all six layers at two levels did not
finish in 100 s on an H200, hence the defaults (one level, two layers).

Usage: python bench/profile_ranking.py [--device cuda] [--width 1] [--images 100] [--levels 1] [--layers conv1 conv4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--levels", type=int, default=1, help="levels per kind (default 1 of the 6)")
    p.add_argument("--layers", nargs="+", default=["conv1", "conv4"],
                   help="layers ranked (default conv1 conv4: the longest and a middle suffix)")
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from torch.profiler import ProfilerActivity, profile

    from deepcorrect.config import RankingConfig
    from deepcorrect.data import TensorData
    from deepcorrect.models import AllConvBN
    from deepcorrect.ranking import rank_filters

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = AllConvBN(10, width=args.width).eval()
    images = (torch.rand(args.images, 3, 32, 32) * 255).to(torch.uint8)
    data = TensorData(images, torch.arange(args.images) % 10, tuple(map(str, range(10))))
    cfg = RankingConfig(levels=tuple(range(1, args.levels + 1)), layers=tuple(args.layers), chunk_images=args.images)
    rank_filters(model, data, "cifar", RankingConfig(levels=(1,), layers=("conv6",)), device=device, progress=False)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        ranking = rank_filters(model, data, "cifar", cfg, device=device, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = prof.key_averages()
    busy = sum(getattr(e, key) for e in events) / 1e6
    filters = sum(c.shape[-1] for c in ranking.counts.values())
    print(f"{filters} filters × {len(cfg.kinds)} kinds × {len(cfg.levels)} levels on {args.images} images: "
          f"{wall:.2f} s wall (profiled), {busy:.2f} s in {'kernels' if device.type == 'cuda' else 'operators'} "
          f"({100 * busy / wall:.0f} % of the wall time)")
    print(events.table(sort_by=key, row_limit=15, max_name_column_width=50))
    return 0


if __name__ == "__main__":
    sys.exit(main())
