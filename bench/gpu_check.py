"""GPU check: the paper-scale CIFAR pipeline on one GPU, in one run that fits in 10 minutes.

Unpacks and decodes the CIFAR-10 JPEG archive given as the argument, then runs, timing each stage:

1. bf16 and float32 (no TF32) matrix multiplies (8192³, CUDA events) — the reference rates of training
   (bf16 autocast) and of the ranking (float32, exact);
2. the full-width All-Conv-BN baseline (1.37 M parameters at 10 classes), trained on the whole training split
   (4,900 per class; 100 per class held out as the validation split the ranking set comes from);
3. the ranking of conv1–conv6 (864 filters) for blur and AWGN, levels 1–6, 10 images per class (Algorithm 1,
   fast path, float32 so counts are exact);
4. Deepcorr-6c and Finetune-9 for blur and for AWGN (the paper's schedule scaled by ``--correct-epochs``);
5. Tables 3–4 on the 10,000 test images, next to the paper's CIFAR-100 rows.

For the training and ranking stages it prints images/s (or filter-evaluations/s) and the achieved TFLOP/s
(2 × multiply-accumulates counted by hooks; ×3 for a training step) against the matmul rate. Resumable: the
artifact store keeps what finished. Needs torch, torchvision, numpy, pandas, scipy, tqdm and Pillow; not
papermill or jupyter-book.

Usage: python bench/gpu_check.py [ARCHIVE] [--epochs 30] [--correct-epochs 8] [--results gpu-check/results]
Outputs stay in gpu-check/ (ignored by git), so a local try leaves nothing the device tool would carry.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch


def matmul_tflops(device: torch.device, dtype: torch.dtype = torch.bfloat16, n: int = 8192, reps: int = 20) -> float:
    """n×n matrix multiplies per second in ``dtype`` (float32 without TF32, as the ranking computes), timed
    with CUDA events; a small float32 one on the CPU."""
    if device.type != "cuda":
        n, reps, dtype = 1024, 5, torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        for _ in range(3):
            a @ b
        if device.type != "cuda":
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            a @ b
        end.record()
        torch.cuda.synchronize()
        return 2 * n**3 * reps / (start.elapsed_time(end) / 1e3) / 1e12
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved


class Stages:
    def __init__(self, device: torch.device):
        self.rows, self.cuda = [], device.type == "cuda"

    def run(self, name: str, fn):
        if self.cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if self.cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        self.rows.append({"stage": name, "seconds": round(seconds, 2)})
        print(f"== {name}: {seconds:.1f} s", flush=True)
        return out, seconds


def device_and_archive(device_name: str, archive: str, what: str) -> tuple[torch.device, Path] | None:
    """The device and archive a check was given, or ``None`` after saying on stderr why they cannot be used;
    also turns cuDNN's autotuner on and puts the repository on ``sys.path``."""
    device = torch.device(device_name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here; this script measures a GPU (--device cpu only tries the script)",
              file=sys.stderr)
        return None
    path = Path(archive)
    if not path.is_file():
        print(f"error: {path} is not a file; pass {what}", file=sys.stderr)
        return None
    torch.backends.cudnn.benchmark = True
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    return device, path


def start(device: torch.device) -> tuple[Stages, str, float, float]:
    """The stage timer, the device's name and the two reference rates (bf16, float32 without TF32),
    measured first and printed."""
    stages = Stages(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}", flush=True)
    peak, _ = stages.run("bf16 matmul 8192^3", lambda: matmul_tflops(device))
    peak32, _ = stages.run("float32 matmul 8192^3 (no TF32)", lambda: matmul_tflops(device, torch.float32))
    print(f"matmul: {peak:.1f} TFLOP/s bf16 (training's autocast), {peak32:.1f} TFLOP/s float32 (the ranking's)")
    return stages, name, peak, peak32


def paper_tables(stages: Stages, label: str, evaluate, numbers: dict[str, str], measured_on: str, paper_table,
                 paper_on: str) -> dict[str, dict]:
    """Per kind, one timed stage that trains (or reads) and measures the models (``evaluate(kind)`` → (table,
    records)), printed beside the paper's rows; returns the tables as dicts for the report."""
    tables = {}
    for kind, number in numbers.items():
        (table, _), _ = stages.run(f"{label}, {kind}", lambda kind=kind: evaluate(kind))
        tables[kind] = table.to_dict()
        print(f"\n{number} ({kind}, {measured_on}, measured):")
        print(table.round(4).to_string())
        print(f"the paper ({paper_on}):")
        print(paper_table(kind).reindex(table.index).dropna(how="all").round(4).to_string())
    return tables


def write_report(stages: Stages, path: Path, report: dict) -> None:
    """Print the total wall time and write ``report`` with the stage times as JSON."""
    total = sum(r["seconds"] for r in stages.rows)
    print(f"\ntotal {total:.0f} s ({total / 60:.1f} min; target 10 min)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**report, "stages": stages.rows}, indent=2, default=str))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", nargs="?", default="gpu-check/data/cifar10-jpg.tar.gz",
                        help="cifar10-jpg.tar.gz (an ImageFolder tree cifar10/{train,test}/<class>/); default "
                             "gpu-check/data/cifar10-jpg.tar.gz, the ignored folder the device tool carries")
    parser.add_argument("--epochs", type=int, default=30, help="baseline epochs (default 30)")
    parser.add_argument("--correct-epochs", type=int, default=8, help="Deepcorr/Finetune epochs (paper: 40)")
    parser.add_argument("--results", default="gpu-check/results", help="artifact store (default gpu-check/results)")
    parser.add_argument("--work", default="gpu-check/cache",
                        help="where the archive is unpacked and decoded (default gpu-check/cache)")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to try the script itself")
    parser.add_argument("--width", type=float, default=1.0, help="All-Conv-BN width (default 1: the paper's)")
    parser.add_argument("--train-per-class", type=int, default=5000, help="training images per class (5000)")
    parser.add_argument("--test-per-class", type=int, default=1000, help="test images per class (1000)")
    args = parser.parse_args()
    checked = device_and_archive(args.device, args.archive, "the CIFAR-10 JPEG archive")
    if checked is None:
        return 2
    device, archive = checked
    from deepcorrect import corrected_models
    from deepcorrect.baseline import baseline_model
    from deepcorrect.config import resolve
    from deepcorrect.context import Run
    from deepcorrect.paper import correction_table
    from deepcorrect.priorities import filter_priorities
    from deepcorrect.ranking.cost import layer_macs, ranking_macs
    from deepcorrect.splits import datasets
    from deepcorrect.store import Store

    stages, name, peak, peak32 = start(device)

    cfg = resolve("cifar10-jpg", root=str(archive.resolve()), cache_dir=args.work, device=str(device),
                  width=args.width, train_per_class=args.train_per_class,
                  val_per_class=min(100, args.train_per_class // 2), test_per_class=args.test_per_class, epochs=args.epochs, train_batch_size=256, lr=0.1,
                  lr_step=0, per_class=10, correct_epochs=args.correct_epochs,
                  correct_lr_step=max(1, args.correct_epochs // 4), correct_batch_size=250,
                  correct_train_per_class=0, correct_test_per_class=0)
    run = Run.of(cfg, Store(args.results))
    data, _ = stages.run("unpack and decode the archive", lambda: datasets(cfg))
    n_train = len(data.train)
    (model, history), t_base = stages.run("baseline training", lambda: baseline_model(run, data.train))
    x1 = data.test.images[:1].float().to(device)
    macs = sum(layer_macs(model, x1).values())
    if history:
        rate = n_train * len(history) / sum(h["seconds"] for h in history)
        tflops = 3 * 2 * macs * rate / 1e12
        print(f"baseline: {macs / 1e6:.0f} M MACs/image, {rate:.0f} images/s, {tflops:.1f} TFLOP/s "
              f"({100 * tflops / peak:.0f} % of the matmul rate)")

    priorities, t_rank = stages.run("ranking (blur + AWGN, 6 levels)", lambda: filter_priorities(run, model, data))
    filters = sum(c.shape[-1] for c in priorities.counts.values())
    evaluations = filters * len(priorities.kinds) * len(priorities.levels)
    suffix_macs = ranking_macs(model, priorities.layers, x1)
    rank_tflops = 2 * suffix_macs * priorities.n_images * len(priorities.kinds) * len(priorities.levels) / max(priorities.seconds, 1e-9) / 1e12
    print(f"ranking: {evaluations} filter-evaluations on {priorities.n_images} images in {priorities.seconds:.1f} s "
          f"({evaluations / max(priorities.seconds, 1e-9):.0f}/s), {rank_tflops:.1f} TFLOP/s "
          f"({100 * rank_tflops / peak32:.0f} % of the float32 matmul rate; target 30 %)")

    tables = paper_tables(stages, "Deepcorr-6c + Finetune-9", lambda kind: corrected_models.evaluate_models(
        run, model, data, priorities, kind, ["Baseline", "Finetune-9", "Deepcorr-6c"]),
        {"blur": "Table 3", "awgn": "Table 4"}, "CIFAR-10 JPEG", correction_table, "CIFAR-100")
    write_report(stages, Path(args.results) / "gpu_check.json",
                 {"device": name, "matmul_tflops": peak, "matmul_tflops_float32": peak32, "tables": tables})
    return 0


if __name__ == "__main__":
    sys.exit(main())
