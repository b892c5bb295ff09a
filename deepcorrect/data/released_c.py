"""The published CIFAR-10-C / CIFAR-100-C arrays (Hendrycks & Dietterich, ICLR 2019) read from a local folder,
so results on the library's own corruptions can be set beside the official set's.

The release holds one ``<corruption>.npy`` per corruption, uint8 (50,000, 32, 32, 3): the 10,000 test images
at severity 1, then at 2, … 5, in the test set's order; and ``labels.npy`` (50,000,), the test labels five
times over. Only the requested severity's slice is read (memory-mapped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..corruptions import NUM_SEVERITIES
from ..corruptions.tables import check_name, check_severity
from . import TensorData

#: CIFAR-10's class names in label order (the names of the release's labels 0–9).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
LABELS_FILE = "labels.npy"


def released_files(folder: str | Path, corruptions: tuple[str, ...]) -> list[Path]:
    """The files that ``corruptions`` need in ``folder``; a FileNotFoundError names the folder and every
    missing file."""
    folder = Path(folder)
    wanted = [folder / f"{check_name(c)}.npy" for c in corruptions] + [folder / LABELS_FILE]
    missing = [p.name for p in wanted if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{str(folder)!r} lacks {', '.join(missing)}: a CIFAR-10-C / CIFAR-100-C folder holds "
            f"<corruption>.npy (5 severities × the test images, in order) and {LABELS_FILE}")
    return wanted


def load_released(folder: str | Path, corruption: str, severity: int,
                  classes: tuple[str, ...] | None = None) -> TensorData:
    """The release's images of ``corruption`` at ``severity`` (1–5) as uint8 (N, 3, 32, 32) TensorData.
    ``classes``: the label names (None: CIFAR-10's for ten classes, else the label numbers)."""
    check_severity(severity)
    images_path, labels_path = released_files(folder, (corruption,))
    images = np.load(images_path, mmap_mode="r")
    labels = np.load(labels_path, mmap_mode="r")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or len(images) % NUM_SEVERITIES:
        raise ValueError(f"{images_path} must hold uint8 images (5 × N, H, W, 3), got {images.dtype} "
                         f"{images.shape}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"{labels_path} holds {labels.shape[0]} labels for {images.shape[0]} images in "
                         f"{images_path.name}; expected one label per image")
    n = len(images) // NUM_SEVERITIES
    part = slice((severity - 1) * n, severity * n)
    x = torch.from_numpy(np.array(images[part])).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.asarray(labels[part], dtype=np.int64))
    if classes is None:
        count = int(labels.max()) + 1 if len(labels) else 0
        classes = CIFAR10_CLASSES if count <= 10 else tuple(str(i) for i in range(count))
    return TensorData(x, y, tuple(classes))
