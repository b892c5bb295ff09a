"""The paper's networks and the uniform filter addressing used by ranking and correction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .alexnet import INPUTS as ALEXNET_INPUTS
from .alexnet import LRN_ALPHA, CaffeAlexNet, TorchvisionAlexNet, load_weights
from .allconv import AllConvBN
from .common import InputNorm, count_params
from .resnet import DEPTHS as RESNET_DEPTHS
from .resnet import PRETRAINED, REPORTED_ERROR, CifarResNet, fetch_pretrained, load_resnet_weights
from .layers import capture, conv_layers, get_conv, get_module, replace_output, swap_filters

if TYPE_CHECKING:  # for the annotation only: the config module imports this one
    from ..config import ModelConfig

RESNETS = tuple(f"resnet{d}" for d in RESNET_DEPTHS)
ARCHS = ("allconv", "alexnet_caffe", "alexnet_tv", *RESNETS)


def build_model(arch: str, num_classes: int, width: float = 1.0, *, inputs: str = "caffe", lrn: str = "keras"):
    """A fresh network by name (``ARCHS``); ``width`` scales All-Conv-BN and the Caffe AlexNet, whose input
    normalisation and LRN ``inputs`` and ``lrn`` choose (the release's by default). The CIFAR ResNets
    (``resnet20`` … ``resnet110``) have one width."""
    if arch == "allconv":
        return AllConvBN(num_classes=num_classes, width=width)
    if arch == "alexnet_caffe":
        return CaffeAlexNet(num_classes=num_classes, width=width, inputs=inputs, lrn=lrn)
    if arch == "alexnet_tv":
        if width != 1:
            raise ValueError(f"torchvision's AlexNet has one width (1.0), got {width!r}; use alexnet_caffe")
        return TorchvisionAlexNet(num_classes=num_classes)
    if arch in RESNETS:
        if width != 1:
            raise ValueError(f"the CIFAR ResNets have one width (1.0), got {width!r}")
        return CifarResNet(int(arch.removeprefix("resnet")), num_classes)
    raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHS)}")


def build_from_config(cfg: ModelConfig, num_classes: int):
    """A fresh network as a profile's ``model`` settings describe it (arch, width, input normalisation, LRN)."""
    return build_model(cfg.arch, num_classes, cfg.width, inputs=cfg.inputs, lrn=cfg.lrn)


__all__ = ["ALEXNET_INPUTS", "ARCHS", "LRN_ALPHA", "PRETRAINED", "REPORTED_ERROR", "RESNETS", "AllConvBN",
           "CaffeAlexNet", "CifarResNet", "InputNorm", "TorchvisionAlexNet", "build_from_config", "build_model",
           "capture", "conv_layers", "count_params", "fetch_pretrained", "get_conv", "get_module",
           "load_resnet_weights", "load_weights", "replace_output", "swap_filters"]
