"""The CIFAR ResNets of He et al. (2016, §4.2): 6n + 2 weight layers, option-A shortcuts.

Built so that the pretrained CIFAR-10 networks of Y. Idelbayev (``resnet20-12fca82f.th``, ``resnet56-4bfd9763.th``)
load key for key: ``conv1``/``bn1``, ``layer{1,2,3}.{i}.conv{1,2}``/``bn{1,2}``, ``linear``. Every ReLU is a module
(``relu1`` inside a block before ``conv2``, ``relu2`` after the residual sum) so ranking's ``torch.fx`` trace sees
the per-channel maps between a conv and the next one.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import urllib.request
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from ..checksums import sha256_file
from .common import IMAGENET_MEAN, IMAGENET_STD, InputNorm
from .state import check_state, read_state

DEPTHS = (20, 32, 44, 56, 110)

#: The published pretrained weights: file name, public address and SHA-256 (the name carries its first 8 digits).
PRETRAINED = {
    "resnet20": ("resnet20-12fca82f.th",
                 "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet20-12fca82f.th",
                 "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"),
    "resnet56": ("resnet56-4bfd9763.th",
                 "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet56-4bfd9763.th",
                 "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367"),
}
#: Test error on the original CIFAR-10 that the weights' author reports (the JPEG test set here differs).
REPORTED_ERROR = {"resnet20": 0.0827, "resnet56": 0.0661}


class ShortcutA(nn.Module):
    """Option A: subsample by 2 in space and zero-pad the channels (no parameters)."""

    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """conv3×3–BN–ReLU–conv3×3–BN, plus the shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = ShortcutA(c_out // 4) if stride != 1 or c_in != c_out else nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-``depth`` for 32×32 images on the 0–255 scale (normalised inside with the ImageNet statistics the
    pretrained weights were trained with). ``penultimate`` (``flatten``) gives the pooled 64-d features."""

    penultimate = "flatten"

    def __init__(self, depth: int = 20, num_classes: int = 10):
        if depth not in DEPTHS:
            raise ValueError(f"CIFAR ResNet depth must be one of {', '.join(map(str, DEPTHS))} (6n + 2), got {depth!r}")
        super().__init__()
        n = (depth - 2) // 6
        self.depth, self.num_classes = depth, num_classes
        self.norm = InputNorm(IMAGENET_MEAN, IMAGENET_STD)
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        c_in = 16
        for stage, c_out in enumerate((16, 32, 64), start=1):
            blocks = []
            for i in range(n):
                blocks.append((str(i), BasicBlock(c_in, c_out, 2 if stage > 1 and i == 0 else 1)))
                c_in = c_out
            self.add_module(f"layer{stage}", nn.Sequential(OrderedDict(blocks)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(self.norm(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(self.flatten(self.pool(x)))


def load_resnet_weights(model: CifarResNet, path: str | Path) -> CifarResNet:
    """Load a checkpoint of the pretrained CIFAR ResNets (``{'state_dict': …}`` with ``module.`` prefixes, or a
    plain state dict) into ``model``; a file of another depth or network is refused with what was expected."""
    path = Path(path)
    state = _read_state(path)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds no state dict of tensors; expected a CIFAR ResNet checkpoint "
                         f"({{'state_dict': {{'module.conv1.weight': …}}}})")
    state = {k.removeprefix("module."): v for k, v in check_state(state, path).items()}
    blocks = {int(m[1]) for k in state if (m := re.match(r"layer1\.(\d+)\.", k))}
    expected = (model.depth - 2) // 6
    if "conv1.weight" not in state or not blocks:
        raise ValueError(f"{path} is not a CIFAR ResNet checkpoint (no conv1 / layer1 keys); expected the "
                         f"weights of ResNet-{model.depth}")
    if len(blocks) != expected:
        raise ValueError(f"{path} holds a ResNet-{6 * len(blocks) + 2} ({len(blocks)} blocks per stage), "
                         f"but the model is ResNet-{model.depth} ({expected} blocks per stage)")
    classes = state["linear.weight"].shape[0] if "linear.weight" in state else None
    if classes != model.num_classes:
        raise ValueError(f"{path} classifies {classes} classes, the model {model.num_classes}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked") and not k.startswith("norm.")]
    if missing or unexpected:
        raise ValueError(f"{path} does not match ResNet-{model.depth}: missing {missing[:4]}, "
                         f"unexpected {unexpected[:4]}")
    return model


def _read_state(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; pass the path of a pretrained CIFAR ResNet "
                                f"checkpoint, or download=true to fetch the published one")
    return read_state(path)


def fetch_pretrained(arch: str, folder: str | Path, url: str | None = None) -> Path:
    """The published weights of ``arch`` in ``folder`` (downloaded once from ``url``, default the public
    address; the SHA-256 is checked before the file takes its final name, so a bad download leaves nothing)."""
    if arch not in PRETRAINED:
        raise ValueError(f"no published weights for {arch!r}; available: {', '.join(PRETRAINED)}")
    name, default_url, digest = PRETRAINED[arch]
    dest = Path(folder).expanduser() / name
    if dest.is_file() and sha256_file(dest) == digest:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{name}.", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url or default_url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
            tmp.close()
            got = sha256_file(tmp.name)
            if got != digest:
                raise ValueError(f"downloaded {name} has SHA-256 {got}, expected {digest}; nothing was kept")
            Path(tmp.name).replace(dest)
        finally:
            Path(tmp.name).unlink(missing_ok=True)
    return dest
