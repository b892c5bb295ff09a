"""All-Convolutional net with BatchNorm (paper Fig. 3a), the CIFAR baseline."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .common import CIFAR_MEAN, CIFAR_STD, InputNorm

# (kernel, stride, padding, width in units of the base widths 96 / 192, or "classes")
_LAYOUT = [
    (3, 1, 1, 96), (3, 1, 1, 96), (3, 2, 1, 96),
    (3, 1, 1, 192), (3, 1, 1, 192), (3, 2, 1, 192),
    (3, 1, 0, 192), (1, 1, 0, 192), (1, 1, 0, "classes"),
]


class AllConvBN(nn.Sequential):
    """Nine conv layers, each followed by BN and ReLU (the last included), then global average pooling.

    ``width`` scales the 96/192 filter counts for CPU profiles; ``width=1, num_classes=100`` has exactly the
    paper's 1,389,804 parameters. Input: images on the 0–255 scale, 32×32. Layers are ``conv1`` … ``conv9``;
    ``penultimate`` names the layer whose pooled output serves as features (t-SNE, Fig. 2).
    """

    penultimate = "relu8"

    def __init__(self, num_classes: int = 100, width: float = 1.0, in_channels: int = 3):
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        layers: list[tuple[str, nn.Module]] = [("norm", InputNorm(CIFAR_MEAN, CIFAR_STD))]
        c_in = in_channels
        for i, (k, s, p, w) in enumerate(_LAYOUT, start=1):
            c_out = num_classes if w == "classes" else max(1, round(w * width))
            layers += [(f"conv{i}", nn.Conv2d(c_in, c_out, k, stride=s, padding=p)),
                       (f"bn{i}", nn.BatchNorm2d(c_out)),
                       (f"relu{i}", nn.ReLU(inplace=False))]
            c_in = c_out
        layers += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        super().__init__(OrderedDict(layers))
        self.num_classes = num_classes
        self.width = width
