"""Benchmark: Imagenette's training images read by the streamed path (JPEGs decoded batch by batch in
DataLoader workers) vs the in-memory path (every image decoded once, held as one uint8 tensor), one run.

Each path runs in a fresh process, from a cold decode cache, and reads every training image once in shuffled
batches of 128 (the pass a training epoch makes): images/s including the decoding, and the process's peak
RSS (children included). The in-memory path then reads a second pass from memory (what its later epochs
cost). Needs ../shared/data/imagenette160.tar.gz (or --archive). Prints both and, on the last line, streamed /
in-memory for the first pass and the ratio of peak memory; writes bench/out/streaming.json.

Usage: python bench/bench_streaming.py [--archive PATH] [--workers 1] [--per-class 500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _report import save

PASS = """
import json, resource, sys, time, torch
from deepcorrect.config import DataConfig
from deepcorrect.data import load_dataset
archive, cache, stream, workers, per_class = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
cfg = DataConfig(source="folder", root=archive, family="imagenet", image_size=160, stretch=True, crop=144,
                 train_per_class=per_class, test_per_class=1, cache_dir=cache, stream=stream, decode_workers=workers)
from deepcorrect.data.folders import resolve_tree
resolve_tree(archive, cache)  # the archive's extraction is not what is measured
t0 = time.perf_counter()
train, _ = load_dataset(cfg)
order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).split(128)
n = sum(int(x.shape[0]) for x in train.batches(order, "cpu"))
first = time.perf_counter() - t0
t0 = time.perf_counter()
sum(int(x.shape[0]) for x in train.batches(order, "cpu"))
second = time.perf_counter() - t0
peak = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
print(json.dumps({"images": n, "first_pass_s": first, "second_pass_s": second, "peak_rss_mb": peak}))
"""


def run(archive: str, stream: bool, workers: int, per_class: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", PASS, archive, cache, str(int(stream)), str(workers),
                              str(per_class)], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archive", default=str(Path(__file__).resolve().parents[2] / "shared/data/imagenette160.tar.gz"))
    p.add_argument("--workers", type=int, default=1, help="decoding processes of the streamed path (default 1)")
    p.add_argument("--per-class", type=int, default=500, help="training images per class (default 500: all)")
    args = p.parse_args()
    if not Path(args.archive).is_file():
        sys.exit(f"error: {args.archive} is not a file; pass --archive imagenette160.tar.gz (../shared/data)")
    memory = run(args.archive, False, 0, args.per_class)
    streamed = run(args.archive, True, args.workers, args.per_class)
    for name, r in (("in memory", memory), (f"streamed ({args.workers} worker(s))", streamed)):
        print(f"{name:>22}: {r['images'] / r['first_pass_s']:7.0f} images/s first pass, "
              f"{r['images'] / r['second_pass_s']:7.0f} images/s second pass, peak RSS {r['peak_rss_mb']:.0f} MB")
    speed = memory["first_pass_s"] / streamed["first_pass_s"]
    ratio = streamed["peak_rss_mb"] / memory["peak_rss_mb"]
    save("streaming", {"in_memory": memory, "streamed": streamed, "workers": args.workers,
                       "first_pass_speed_ratio": speed, "peak_rss_ratio": ratio})
    print(f"streamed / in-memory: first pass {speed:.2f}x the speed, {ratio:.2f}x the peak memory")


if __name__ == "__main__":
    main()
