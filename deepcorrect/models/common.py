"""Pieces shared by the paper's networks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class InputNorm(nn.Module):
    """Maps images on the 0–255 scale (what distortions act on) to the network's normalised input."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


#: Channel statistics on the 0–255 scale.
CIFAR_MEAN, CIFAR_STD = (129.3, 124.1, 112.4), (68.2, 65.4, 70.4)
IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
#: The release's ImageNet mean (``Imagenet_datagen``: subtracted, no division), the Caffe AlexNet's input.
CAFFE_MEAN = (123.68, 116.779, 103.939)


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Parameters (weights, biases, BN γ and β; never running statistics), as the paper counts them."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
