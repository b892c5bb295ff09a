"""Benchmark: a whole Table 1-2 evaluation (clean + 6 levels × blur and AWGN) the library's way vs a
torchvision DataLoader with per-image distortion, same network, same images, same batch size, one run.

The library keeps the uint8 test set on the device and distorts each batch there
(:func:`deepcorrect.evaluate.accuracy_table`); the reference is the usual pipeline — a ``Dataset`` that
distorts one image at a time (the library's own ``distort`` on a batch of one: the same maths) batched by a
``DataLoader``. Blur is deterministic, so both must give the same blur accuracies (checked). Prints images/s
for both and, on the last line, library / DataLoader; writes bench/out/evaluation.json.

Usage: python bench/bench_evaluation.py [--width 0.25] [--images 1000] [--batch 500] [--workers 0] [--device cpu]
"""

from __future__ import annotations

import time

import torch
from _report import dataloader_options, embedded_images, save
from _report import parser as bench_parser  # bench/ is on sys.path when a benchmark runs as a script
from torch.utils.data import DataLoader, Dataset

from deepcorrect.distortions import KINDS, NUM_LEVELS, distort
from deepcorrect.evaluate import accuracy_table
from deepcorrect.models import AllConvBN
from deepcorrect.runtime import keep_freed_memory


class PerImage(Dataset):
    """uint8 images → one float image distorted by ``kind`` at ``level``."""

    def __init__(self, data, kind: str, level: int):
        self.data, self.kind, self.level = data, kind, level

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        return distort(self.data.images[i][None].float(), self.kind, self.level, "cifar")[0], self.data.labels[i]


@torch.inference_mode()
def dataloader_table(model, data, batch: int, workers: int, device: torch.device) -> dict[str, list[float]]:
    model.to(device).eval()
    table = {}
    for kind in KINDS:
        row = []
        for level in range(NUM_LEVELS + 1):
            loader = DataLoader(PerImage(data, kind, level), batch_size=batch, num_workers=workers)
            correct = sum(int((model(x.to(device)).argmax(1) == y.to(device)).sum()) for x, y in loader)
            row.append(correct / len(data))
        table[kind] = row
    return table


def main() -> None:
    keep_freed_memory()
    args = dataloader_options(bench_parser(__doc__), images=1000, batch=500).parse_args()
    device = torch.device(args.device)
    data = embedded_images(args.images)
    torch.manual_seed(0)
    model = AllConvBN(10, width=args.width).eval()
    evaluations = len(data) * len(KINDS) * (NUM_LEVELS + 1)
    accuracy_table(model, data.subset(torch.arange(20)), "cifar", device=device)  # warm-up

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t0

    ours, ours_s = timed(lambda: accuracy_table(model, data, "cifar", device=device, batch_size=args.batch))
    ref, ref_s = timed(lambda: dataloader_table(model, data, args.batch, args.workers, device))
    same_blur = all(abs(a - b) < 1e-9 for a, b in zip(ours.loc["blur"].iloc[:NUM_LEVELS + 1], ref["blur"]))
    result = {"device": str(device), "width": args.width, "images": len(data), "batch": args.batch,
              "workers": args.workers, "library_images_per_s": evaluations / ours_s,
              "dataloader_images_per_s": evaluations / ref_s, "same_blur_accuracies": same_blur,
              "ratio": ref_s / ours_s}
    save("evaluation", result)
    print(f"All-Conv-BN width {args.width:g}: {len(data)} images x {len(KINDS)} kinds x {NUM_LEVELS + 1} levels "
          f"= {evaluations} image evaluations, batch {args.batch}, {device}")
    print(f"library (device-resident, batched distortion): {result['library_images_per_s']:8.0f} images/s "
          f"({ours_s:.1f} s)")
    print(f"DataLoader ({args.workers} workers, per-image distortion): {result['dataloader_images_per_s']:8.0f} "
          f"images/s ({ref_s:.1f} s)")
    print(f"blur accuracies identical: {same_blur}")
    print(f"ratio library / DataLoader images/s: {result['ratio']:.2f}x")
    if not same_blur:
        raise SystemExit("the two pipelines disagree on the deterministic blur accuracies")


if __name__ == "__main__":
    main()
