"""What the benchmarks share: their command line (network width, device), the embedded images they run on,
and what every benchmark does last — write its result as bench/out/NAME.json, with the machine it ran on."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch


def save(name: str, result: dict) -> Path:
    """Add machine details to ``result`` and write it to ``bench/out/<name>.json``."""
    result = {**result, "machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(),
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path


def parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's parser with the options they all take: ``--width`` (All-Conv-BN) and ``--device``."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=float, default=0.25, help="All-Conv-BN width (the smoke profile: 0.25)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def dataloader_options(p: argparse.ArgumentParser, images: int, batch: int) -> argparse.ArgumentParser:
    """The options of the benchmarks that race a torchvision ``DataLoader``: set size, batch, workers."""
    p.add_argument("--images", type=int, default=images, help=f"embedded images (default {images})")
    p.add_argument("--batch", type=int, default=batch, help=f"batch size (default {batch})")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    return p


def training_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of the benchmarks that time training: images per epoch, batch (§5.1's 250), epochs."""
    p.add_argument("--images", type=int, default=1000, help="training images per epoch (default 1000)")
    p.add_argument("--batch", type=int, default=250, help="batch size (default 250: §5.1's)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs; the last one's rate counts (default 2)")
    return p


def embedded_images(n: int):
    """About ``n`` images of the embedded set (``n // 10`` per class, at least one), as TensorData."""
    from deepcorrect.data import TensorData, make_embedded
    from deepcorrect.data.embedded import CLASSES

    x, y = make_embedded(max(1, n // 10), seed=0)
    return TensorData(x, y, CLASSES)
