"""ImageFolder trees too large to hold decoded (ILSVRC2012's 1.28 M training images): JPEGs decoded batch by
batch in ``DataLoader`` worker processes, into pinned memory, then moved to the device, where distortion,
cropping and augmentation run as for in-memory data. Memory stays bounded by the batches in flight, whatever
the dataset's size.

:class:`StreamedData` answers what the pipeline asks of :class:`~deepcorrect.data.TensorData` — labels, classes,
subsets, per-class draws, the network's crop, and :meth:`batches` of uint8 images for lists of indices — and
decodes each file exactly as the in-memory path does, so the same seed gives the same batches on both paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Dataset

from .folders import _decode
from .split import Split

if TYPE_CHECKING:
    from . import TensorData


class _Files(Dataset):
    """One decoded image per file, as the in-memory path decodes it; an unreadable file is an error naming it."""

    def __init__(self, files: tuple[str, ...], size: int, resize: int, stretch: bool):
        self.files, self.size, self.resize, self.stretch = files, size, resize, stretch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        img = _decode(Path(self.files[i]), self.size, self.resize, self.stretch)
        if img is None:
            raise ValueError(f"image file {self.files[i]} cannot be decoded; remove or replace it (the in-memory "
                             "path, stream=false, skips a few such files with a warning)")
        return img


def default_workers() -> int:
    """Decoding processes: every core but one, at most 16."""
    return max(1, min(16, (os.cpu_count() or 2) - 1))


@dataclass(frozen=True)
class StreamedData(Split):
    """A split of an ImageFolder tree read from disk batch by batch (see the module docstring)."""

    files: tuple[str, ...]
    labels: torch.Tensor
    classes: tuple[str, ...]
    size: int  # decoded side (image_size)
    resize: int = 0
    stretch: bool = False
    crop: int = 0
    workers: int = field(default_factory=default_workers)

    def __post_init__(self):
        if self.labels.shape != (len(self.files),):
            raise ValueError(f"{len(self.files)} files but {self.labels.numel()} labels")
        if self.crop < 0 or self.crop > self.size:
            raise ValueError(f"crop must be 0 (none) or at most the image size {self.size}, got {self.crop}")

    @property
    def input_size(self) -> int:
        return self.crop or self.size

    def subset(self, index: torch.Tensor) -> StreamedData:
        index = index.cpu()
        return StreamedData(tuple(self.files[i] for i in index.tolist()), self.labels[index], self.classes,
                            self.size, self.resize, self.stretch, self.crop, self.workers)

    def to(self, device: torch.device | str) -> StreamedData:
        """Streamed data stays on disk; batches go to the device as they are read."""
        return self

    def batches(self, index_batches: Iterable[torch.Tensor], device: torch.device | str
                ) -> Iterator[torch.Tensor]:
        """uint8 (B, 3, S, S) images of each index batch, in order, on ``device``: decoded ahead by the worker
        processes into pinned memory and copied without blocking the host."""
        device = torch.device(device)
        order = [idx.cpu().tolist() for idx in index_batches]
        if not order:
            return
        loader = DataLoader(_Files(self.files, self.size, self.resize, self.stretch), batch_sampler=order,
                            num_workers=self.workers, pin_memory=device.type == "cuda",
                            prefetch_factor=4 if self.workers else None, persistent_workers=False)
        for batch in loader:
            yield batch.to(device, non_blocking=True)

    def materialize(self) -> TensorData:
        """The decoded images held in memory (for small splits: a validation or ranking set)."""
        from . import TensorData

        images = torch.cat(list(self.batches(torch.arange(len(self)).split(256), "cpu"))) if len(self) else \
            torch.zeros(0, 3, self.size, self.size, dtype=torch.uint8)
        return TensorData(images, self.labels.clone(), self.classes, self.crop)
