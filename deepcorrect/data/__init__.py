"""Datasets as device-ready uint8 tensors: the embedded default, CIFAR through torchvision, ImageFolder trees."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from ..config import DataConfig, TransferConfig
from .embedded import CLASSES as EMBEDDED_CLASSES
from .embedded import load_embedded, make_embedded
from .folders import (list_class_files, load_class_folders, load_folder_split, resolve_class_folders, resolve_tree,
                      split_folder)
from .split import Split, centre_crop, per_class_index
from .streaming import StreamedData, default_workers


@dataclass(frozen=True)
class TensorData(Split):
    """Images as uint8 (N, 3, H, W) and int64 labels; small enough to live on the device whole. ``crop``: what
    the network sees of each image after its distortion (:class:`~deepcorrect.data.split.Split`)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    crop: int = 0

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.numel()} labels")
        if self.crop < 0 or self.crop > min(self.images.shape[2:]):
            raise ValueError(f"crop must be 0 (none) or at most the image size {tuple(self.images.shape[2:])}, "
                             f"got {self.crop}")

    @property
    def input_size(self) -> int:
        """The side of the network's input."""
        return self.crop or int(self.images.shape[-1])

    def batches(self, index_batches: Iterable[torch.Tensor], device: torch.device | str) -> Iterator[torch.Tensor]:
        """uint8 images of each index batch on ``device`` (the interface :class:`StreamedData` shares): data
        already there (``to(device)`` once) is indexed in place; data elsewhere is copied batch by batch."""
        for idx in index_batches:
            yield self.images[idx.to(self.images.device)].to(device, non_blocking=True)

    def materialize(self) -> TensorData:
        return self

    def to(self, device: torch.device | str) -> TensorData:
        return TensorData(self.images.to(device), self.labels.to(device), self.classes, self.crop)

    def subset(self, index: torch.Tensor) -> TensorData:
        index = index.to(self.labels.device)
        return TensorData(self.images[index], self.labels[index], self.classes, self.crop)


def cap_per_class(data, k: int, seed: int):
    """At most ``k`` images of each class, drawn with a seeded permutation (a smaller class keeps all of
    its images); ``data`` itself when ``k`` is 0 or no class has more: the one cap rule of every subset
    (training caps, validation and test caps, Figures 4–5's and the restoration rows' test images)."""
    if not k or int(torch.bincount(data.labels.cpu()).max()) <= k:
        return data
    return data.subset(per_class_index(data.labels, k, seed, at_most=True))


def split_validation(data: TensorData, per_class: int, seed: int) -> tuple[TensorData, TensorData]:
    """(rest, validation): ``per_class`` images of each class held out, as the paper's 45k/5k CIFAR split."""
    held = per_class_index(data.labels, per_class, seed)
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[held] = False
    return data.subset(keep.nonzero().squeeze(1)), data.subset(held)


def load_dataset(cfg: DataConfig) -> tuple[TensorData, TensorData]:
    """(train, test) for ``cfg``: generated, read from torchvision's CIFAR files, or decoded from an
    ImageFolder tree; capped per class as the profile asks. Nothing is downloaded unless ``cfg.download``."""
    if cfg.source == "embedded":
        n_train = cfg.train_per_class or 1200
        n_test = cfg.test_per_class or 200
        x, y = load_embedded(n_train + n_test, seed=cfg.seed, size=cfg.image_size, cache_dir=cfg.cache_dir)
        test_idx = per_class_index(y, n_test, seed=cfg.seed + 1)
        is_test = torch.zeros(y.numel(), dtype=torch.bool)
        is_test[test_idx] = True
        return (TensorData(x[~is_test], y[~is_test], EMBEDDED_CLASSES, cfg.crop),
                TensorData(x[is_test], y[is_test], EMBEDDED_CLASSES, cfg.crop))
    if cfg.source in ("cifar10", "cifar100"):
        train, test = (_torchvision_cifar(cfg, train) for train in (True, False))
    elif cfg.stream:
        tree = resolve_tree(cfg.root, cfg.cache_dir)
        train, test = (_streamed(tree, split, cfg) for split in ("train", "test"))
    else:
        tree = resolve_tree(cfg.root, cfg.cache_dir)
        train, test = (TensorData(*load_folder_split(tree, split, cfg), crop=cfg.crop) for split in ("train", "test"))
    if train.classes != test.classes:  # labels are indices into the class list: they would not line up
        raise ValueError(f"the train and test splits of {cfg.root} hold different classes: train "
                         f"{', '.join(train.classes)}; test {', '.join(test.classes)}; give both the same class "
                         f"folders")
    return cap_per_class(train, cfg.train_per_class, cfg.seed), cap_per_class(test, cfg.test_per_class, cfg.seed + 1)


def load_transfer(cfg: TransferConfig, data: DataConfig) -> TensorData:
    """The §5.3 transfer dataset (all images with labels; splits are drawn later) at the network's input size:
    a fresh embedded draw (the code path) or a folder of class folders such as Caltech-101, at most
    train + validation + ``svm_test_per_class`` images per class when that cap is set."""
    per_class = cfg.svm_train_per_class + cfg.svm_val_per_class
    if cfg.transfer_source == "embedded":
        x, y = load_embedded(per_class + (cfg.svm_test_per_class or 30), seed=cfg.transfer_seed + 101,
                             size=data.image_size, cache_dir=data.cache_dir)
        return TensorData(x, y, EMBEDDED_CLASSES, data.crop)
    folder = resolve_class_folders(cfg.transfer_root, data.cache_dir)
    cap = per_class + cfg.svm_test_per_class if cfg.svm_test_per_class else 0
    out = TensorData(*load_class_folders(folder, cap=cap, seed=cfg.transfer_seed, size=data.image_size,
                                         resize=data.resize, stretch=data.stretch, cache_dir=data.cache_dir,
                                         exclude=cfg.exclude), crop=data.crop)
    small = int(torch.bincount(out.labels).min())
    if small <= per_class:
        raise ValueError(f"some class of {folder} has only {small} images; each split needs "
                         f"{cfg.svm_train_per_class} + {cfg.svm_val_per_class} per class plus at least one to test")
    return out


def _streamed(tree, split: str, cfg: DataConfig) -> StreamedData:
    """A split read from disk batch by batch: the files the in-memory path would decode, in its order."""
    train = split == "train"
    files, labels, classes = list_class_files(split_folder(tree, split), seed=cfg.seed if train else cfg.seed + 1,
                                              cap=cfg.train_per_class if train else cfg.test_per_class)
    return StreamedData(tuple(map(str, files)), torch.tensor(labels, dtype=torch.long), classes, cfg.image_size,
                        cfg.resize, cfg.stretch, cfg.crop, cfg.decode_workers or default_workers())


def _torchvision_cifar(cfg: DataConfig, train: bool) -> TensorData:
    from torchvision import datasets

    cls = datasets.CIFAR10 if cfg.source == "cifar10" else datasets.CIFAR100
    try:
        ds = cls(root=cfg.root, train=train, download=cfg.download)
    except RuntimeError as err:
        raise FileNotFoundError(
            f"{cfg.source} not found under {cfg.root!r}; put torchvision's {cfg.source} files there or pass "
            f"download=true (data_download=true) to fetch them ({err})") from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    if cfg.image_size != 32:
        raise ValueError(f"CIFAR images are 32×32; image_size must be 32, got {cfg.image_size}")
    return TensorData(images, torch.tensor(ds.targets, dtype=torch.long), tuple(ds.classes), cfg.crop)


__all__ = ["EMBEDDED_CLASSES", "StreamedData", "TensorData", "cap_per_class", "centre_crop", "load_dataset", "load_transfer", "make_embedded", "per_class_index", "split_validation"]
