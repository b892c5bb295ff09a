"""GPU check for §5.2: the Imagenette pipeline (Caffe AlexNet baseline, ranking, Deepcorr-5 and Finetune-8,
Tables 7–8) on one GPU, in one run that fits in 10 minutes, with stage times and images/s.

Imagenette160 (10 ImageNet classes, 500 training images per class, 3,925 validation images) through the
``imagenette`` profile's pipeline at the release's preprocessing (160×160 images distorted whole, seen as
144 px crops): the images stream from disk through DataLoader workers (``--stream``, the ``imagenet``
profile's path; ``--no-stream`` decodes them once into memory). Stages, each timed:

1. bf16 and float32 (no TF32) matrix multiplies — the reference rates;
2. the baseline Caffe AlexNet (width ``--width``, 1 = the paper's 61 M parameters at 1000 classes) trained
   from scratch on the training split (50 images per class held out for validation);
3. the ranking of conv1–conv5 for blur and AWGN, levels 1–6, 5 training images per class (the release's);
4. Finetune-8 and Deepcorr-5 for blur and for AWGN on the paper's per-step recipe, ``--correct-epochs``
   passes, with validation after every epoch (Figure 12);
5. Tables 7–8 on the validation split, next to the paper's ILSVRC2012 rows.

Resumable (the artifact store keeps what finished). Needs torch, torchvision, numpy, pandas, scipy, tqdm,
Pillow; not papermill or jupyter-book.

Usage: python bench/gpu_check_imagenet.py [ARCHIVE] [--epochs 30] [--correct-epochs 6] [--results DIR]
Outputs stay in gpu-check/ (ignored by git).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from gpu_check import (  # bench/ is on sys.path when a benchmark runs as a script
    device_and_archive,
    paper_tables,
    start,
    write_report,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", nargs="?", default="gpu-check/data/imagenette160.tar.gz",
                        help="imagenette160.tar.gz (an ImageFolder tree imagenette160/{train,val}/<wnid>/); default "
                             "gpu-check/data/imagenette160.tar.gz, the ignored folder the device tool carries")
    parser.add_argument("--epochs", type=int, default=30, help="baseline epochs (default 30)")
    parser.add_argument("--correct-epochs", type=int, default=6, help="Finetune-8 / Deepcorr-5 epochs (default 6)")
    parser.add_argument("--results", default="gpu-check/results-imagenette", help="artifact store")
    parser.add_argument("--work", default="gpu-check/cache", help="where the archive is unpacked")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to try the script itself")
    parser.add_argument("--width", type=float, default=1.0, help="Caffe AlexNet width (default 1: the paper's)")
    parser.add_argument("--train-per-class", type=int, default=0, help="training images per class (0: all 500)")
    parser.add_argument("--test-per-class", type=int, default=0, help="validation images per class (0: all)")
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True,
                        help="decode JPEGs batch by batch in DataLoader workers (default) or once into memory")
    args = parser.parse_args()
    checked = device_and_archive(args.device, args.archive, "the Imagenette160 archive")
    if checked is None:
        return 2
    device, archive = checked
    from deepcorrect import corrected_models
    from deepcorrect.baseline import baseline_model
    from deepcorrect.config import resolve
    from deepcorrect.context import Run
    from deepcorrect.paper import alexnet_table
    from deepcorrect.priorities import filter_priorities
    from deepcorrect.ranking.cost import layer_macs
    from deepcorrect.splits import datasets
    from deepcorrect.store import Store

    stages, name, peak, peak32 = start(device)

    cfg = resolve("imagenette", root=str(archive.resolve()), cache_dir=args.work, device=str(device),
                  width=args.width, epochs=args.epochs, train_batch_size=128, lr=0.01, lr_step=0,
                  train_per_class=args.train_per_class, test_per_class=args.test_per_class,
                  val_per_class=min(50, max(1, args.train_per_class // 4)) if args.train_per_class else 50,
                  stream=args.stream, correct_epochs=args.correct_epochs,
                  correct_lr_step=max(1, args.correct_epochs // 3), correct_batch_size=256,
                  correct_train_per_class=0, correct_test_per_class=0)
    run = Run.of(cfg, Store(args.results))
    data, _ = stages.run("list (stream) or decode the archive", lambda: datasets(cfg))
    print(f"{len(data.train):,} training, {len(data.val):,} validation, {len(data.test):,} test images; "
          f"{cfg.data.describe_input()}; {'streamed' if args.stream else 'in memory'}")
    (model, history), _ = stages.run("baseline training", lambda: baseline_model(run, data.train))
    x1 = torch.zeros(1, 3, data.train.input_size, data.train.input_size, device=device)
    macs = sum(layer_macs(model, x1).values())
    if history:
        rate = len(data.train) * len(history) / sum(h["seconds"] for h in history)
        tflops = 3 * 2 * macs * rate / 1e12
        print(f"baseline: {macs / 1e6:.0f} M MACs/image, {rate:.0f} images/s, {tflops:.1f} TFLOP/s "
              f"({100 * tflops / peak:.1f} % of the bf16 matmul rate)")
    priorities, _ = stages.run("ranking (blur + AWGN, 6 levels)", lambda: filter_priorities(run, model, data))
    filters = sum(c.shape[-1] for c in priorities.counts.values())
    print(f"ranking: {filters * len(priorities.kinds) * len(priorities.levels)} filter-evaluations on {priorities.n_images} images "
          f"in {priorities.seconds:.1f} s")

    tables = paper_tables(stages, "Finetune-8 + Deepcorr-5", lambda kind: corrected_models.evaluate_models(
        run, model, data, priorities, kind, ["Baseline", "Finetune-8", "Deepcorr-5"]),
        {"blur": "Table 7", "awgn": "Table 8"}, "Imagenette val", alexnet_table, "ILSVRC2012 val, 1000 classes")
    write_report(stages, Path(args.results) / "gpu_check_imagenet.json",
                 {"device": name, "matmul_tflops": peak, "matmul_tflops_float32": peak32, "stream": args.stream,
                  "baseline_history": history, "tables": tables})
    return 0


if __name__ == "__main__":
    sys.exit(main())
