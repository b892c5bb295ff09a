"""The profile's data as train / validation / test splits, each stamped with a key of what is there."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import Profile
from .data import TensorData, load_dataset, split_validation
from .keys import data_key, stamp


@dataclass(frozen=True)
class Splits:
    train: TensorData  # what the baseline trains on
    val: TensorData | None  # held out of the training split (the CIFAR ranking set comes from here)
    test: TensorData  # what every table is measured on


def datasets(profile: Profile) -> Splits:
    """Train / validation / test splits of the profile's data."""
    train, test = load_dataset(profile.data)
    where = profile.data.root or profile.data.source
    if len(torch.unique(train.labels)) < 2:
        raise ValueError(f"the training split of {where} holds {len(torch.unique(train.labels))} class(es) "
                         f"({', '.join(train.classes)}); classifying needs at least two class folders")
    val = None
    if profile.data.val_per_class:
        fewest = int(torch.bincount(train.labels, minlength=train.num_classes).min())
        if fewest <= profile.data.val_per_class:
            raise ValueError(f"val_per_class={profile.data.val_per_class} holds out every training image of some "
                             f"class of {where} (the smallest has {fewest}); lower val_per_class")
        train, val = split_validation(train, profile.data.val_per_class, profile.data.seed + 2)
    if len(test) == 0:
        raise ValueError(f"the test split of {where} is empty; it needs images in test/ (or val/)")
    key = data_key(profile)
    for name, split in (("train", train), ("val", val), ("test", test)):
        if split is not None:
            stamp(split, f"{key}/{name}")
    return stamp(Splits(train, val, test), key)


def describe_splits(data: Splits) -> str:
    val = f", {len(data.val):,} validation" if data.val is not None else ""
    return (f"{len(data.train):,} training{val} and {len(data.test):,} test images of {data.train.num_classes} "
            f"classes ({', '.join(data.train.classes)}).")
