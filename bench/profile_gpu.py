"""Where the time goes, in well under a minute on a GPU: the ranking of one layer at one level, and a few
training steps each of the baseline, Finetune-9 and Deepcorr-6c on the same All-Conv-BN and batch, each
under torch.profiler after a warm-up run of the same work (cuDNN autotuning, allocator, fx tracing).

For every stage it prints the wall time, the operators that take the most self time (device time on a GPU,
CPU time on the CPU), how many kernels were launched, how many times the host waited for the device
(cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize) and how many copies ran (cudaMemcpy*,
device memcpy / memset) — per training step where it is one. On the CPU the same summary with CPU operators
(their count stands in for the launches). Writes the summary as JSON to ``--out``.

Usage: python bench/profile_gpu.py [--device cuda] [--width 1] [--batch 250] [--steps 5] [--images 100]
                                   [--layer conv2] [--top 8] [--out bench/out/profile_gpu.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx")
SYNCS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize")


def summarise(prof, device: torch.device, wall: float, steps: int, top: int) -> dict:
    """The profile's totals: launches, host waits and copies (per step), and the ``top`` operators."""
    events = prof.key_averages()
    count = {e.key: e.count for e in events}
    cuda = device.type == "cuda"
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    ops = [e for e in events if e.key.startswith("aten::")] if not cuda else [
        e for e in events if getattr(e, key) > 0 and not e.key.startswith("cuda")]
    ops.sort(key=lambda e: getattr(e, key), reverse=True)
    busy = sum(getattr(e, key) for e in ops) / 1e6
    copies = sum(n for k, n in count.items() if k.startswith("cudaMemcpy") or k.startswith("Memcpy")
                 or k.startswith("Memset"))
    launches = sum(count.get(k, 0) for k in LAUNCHES) if cuda else sum(e.count for e in ops)
    return {"wall_s": wall, "busy_s": busy, "steps": steps, "launches_per_step": launches / steps,
            "syncs_per_step": sum(count.get(k, 0) for k in SYNCS) / steps, "copies_per_step": copies / steps,
            "top": [{"op": e.key, "self_ms": getattr(e, key) / 1e3, "calls": e.count} for e in ops[:top]]}


def profiled(device: torch.device, work, steps: int, top: int) -> dict:
    work()  # warm-up: the same work once, outside the profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        work()
        if device.type == "cuda":
            torch.cuda.synchronize()
    return summarise(prof, device, time.perf_counter() - t0, steps, top)


def report(name: str, s: dict, unit: str) -> None:
    what = "kernel launches" if unit == "cuda" else "CPU operators"
    print(f"== {name}: {s['wall_s']:.2f} s wall, {s['busy_s']:.2f} s busy ({100 * s['busy_s'] / s['wall_s']:.0f} %); "
          f"per {'step' if s['steps'] > 1 else 'run'}: {s['launches_per_step']:.0f} {what}, "
          f"{s['syncs_per_step']:.1f} host syncs, {s['copies_per_step']:.1f} copies")
    for row in s["top"]:
        print(f"   {row['self_ms']:10.2f} ms  {row['calls']:6d}x  {row['op'][:70]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--width", type=float, default=1.0, help="All-Conv-BN width (default 1: the paper's)")
    p.add_argument("--batch", type=int, default=250, help="training batch of all three models (default 250)")
    p.add_argument("--steps", type=int, default=5, help="training steps profiled per model (default 5)")
    p.add_argument("--images", type=int, default=100, help="ranking-set images (default 100: 10 per class)")
    p.add_argument("--layer", default="conv2", help="the ranked layer (default conv2)")
    p.add_argument("--top", type=int, default=8, help="operators listed per stage (default 8)")
    p.add_argument("--out", default=str(Path(__file__).parent / "out" / "profile_gpu.json"))
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here; pass --device cpu to profile the CPU", file=sys.stderr)
        return 2
    from bench_finetune import MODELS, training_runs

    from deepcorrect.config import RankingConfig, resolve
    from deepcorrect.data import TensorData
    from deepcorrect.models import AllConvBN
    from deepcorrect.ranking import rank_filters
    from deepcorrect.runtime import cudnn_benchmark, keep_freed_memory
    from deepcorrect.train import fit

    keep_freed_memory()
    torch.manual_seed(0)
    net = AllConvBN(10, width=args.width)
    g = torch.Generator().manual_seed(0)
    n = max(args.images, args.batch * args.steps)
    data = TensorData((torch.rand(n, 3, 32, 32, generator=g) * 255).to(torch.uint8), torch.arange(n) % 10,
                      tuple(map(str, range(10))))
    ranking_set = data.subset(torch.arange(args.images))
    cfg = RankingConfig(kinds=("blur",), levels=(3,), layers=(args.layer,), chunk_images=args.images)
    summary = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "CPU", "width": args.width}
    with cudnn_benchmark(device.type == "cuda"):
        summary["ranking"] = profiled(device, lambda: rank_filters(net, ranking_set, "cifar", cfg, device=device,
                                                                   progress=False), 1, args.top)
        report(f"ranking {args.layer}, blur level 3, {args.images} images", summary["ranking"], device.type)
        profile_cfg = resolve("smoke", width=args.width)
        train = replace(profile_cfg.train, epochs=1, batch_size=args.batch, steps_per_epoch=args.steps)
        for name, (model, model_cfg, extra) in training_runs(net, profile_cfg, train).items():
            model = model.to(device)
            summary[name] = profiled(device, lambda m=model, c=model_cfg, e=extra: fit(
                m, data, c, device=device, progress=False, **e), args.steps, args.top)
            report(f"{name}, {args.steps} steps of {args.batch}", summary[name], device.type)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    base = summary["Baseline"]["wall_s"]
    print("wall time per step relative to the baseline's: " + "; ".join(
        f"{m} {summary[m]['wall_s'] / base:.2f}x" for m in MODELS[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
