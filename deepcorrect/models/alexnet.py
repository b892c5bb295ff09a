"""AlexNet in the paper's Caffe form (Fig. 3b: groups, LRN; 60,965,224 parameters) and torchvision's form."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from .common import CAFFE_MEAN, IMAGENET_MEAN, IMAGENET_STD, InputNorm
from .keras_h5 import load_release_weights
from .resnet import CifarResNet, load_resnet_weights
from .state import check_state, load_state, read_state

#: How the input is normalised: ``caffe`` subtracts the RGB mean on the 0–255 scale and nothing else (the
#: release's ``Imagenet_datagen``, what its Caffe-converted weights expect); ``standardized`` also divides by
#: the channel standard deviations (torchvision's habit).
INPUTS = ("caffe", "standardized")
#: The LRN's α: ``keras`` is the release's heuritech layer, x / (2 + 1e-4·Σ₅x²)^0.75 (α not divided by the
#: window, torch's α = 5e-4); ``caffe`` is Caffe's and torch's own definition, α/n·Σ (torch's α = 1e-4).
LRN_ALPHA = {"keras": 5e-4, "caffe": 1e-4}


class CaffeAlexNet(nn.Sequential):
    """The heuritech/convnets-keras AlexNet the paper uses: 227×227 input, grouped conv2/4/5, LRN after the
    first two pooling layers. Layers carry the paper's names, ``conv1`` … ``conv5`` and ``fc6`` … ``fc8``;
    ``penultimate`` (``relu7``) gives fc7 features, ``relu6`` fc6 features. ``width`` scales every layer
    (1.0 = the paper's network, 60,965,224 parameters) for CPU-sized runs. ``inputs`` and ``lrn`` default to
    what the release computes (:data:`INPUTS`, :data:`LRN_ALPHA`), so its weights
    (:func:`~deepcorrect.models.keras_h5.load_release_weights`) give the release's outputs."""

    input_size = 227
    penultimate = "relu7"

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, width: float = 1.0, *,
                 inputs: str = "caffe", lrn: str = "keras"):
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        if lrn not in LRN_ALPHA:
            raise ValueError(f"lrn must be one of {', '.join(LRN_ALPHA)}, got {lrn!r}")
        norm = InputNorm(CAFFE_MEAN, (1.0, 1.0, 1.0)) if inputs == "caffe" else InputNorm(IMAGENET_MEAN, IMAGENET_STD)
        lrn = dict(size=5, alpha=LRN_ALPHA[lrn], beta=0.75, k=2.0)
        c1, c2, c3, c4, c5 = (max(2, 2 * round(n * width / 2)) for n in (96, 256, 384, 384, 256))  # even: groups
        fc = max(8, round(4096 * width))
        super().__init__(OrderedDict([
            ("norm", norm),
            ("conv1", nn.Conv2d(3, c1, 11, stride=4)), ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(3, 2)), ("lrn1", nn.LocalResponseNorm(**lrn)),
            ("conv2", nn.Conv2d(c1, c2, 5, padding=2, groups=2)), ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(3, 2)), ("lrn2", nn.LocalResponseNorm(**lrn)),
            ("conv3", nn.Conv2d(c2, c3, 3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(c3, c4, 3, padding=1, groups=2)), ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(c4, c5, 3, padding=1, groups=2)), ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, 2)),
            ("fit6", nn.AdaptiveAvgPool2d(6)),  # identity at 227 px; lets smaller inputs (≥ 67 px) through
            ("flatten", nn.Flatten()),
            ("fc6", nn.Linear(c5 * 6 * 6, fc)), ("relu6", nn.ReLU()), ("drop6", nn.Dropout(dropout)),
            ("fc7", nn.Linear(fc, fc)), ("relu7", nn.ReLU()), ("drop7", nn.Dropout(dropout)),
            ("fc8", nn.Linear(fc, num_classes)),
        ]))
        self.num_classes = num_classes
        for m in self.modules():  # He init: without BN the default init leaves a from-scratch AlexNet stuck
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)


class TorchvisionAlexNet(nn.Module):
    """torchvision's AlexNet (64/192/384/256/256 filters, no LRN, no groups) behind the 0–255 input
    normalisation, so that pretrained torchvision weights work unchanged (224×224 input)."""

    input_size = 224

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        from torchvision.models import alexnet  # here, not at the top: importing torchvision loads torch._dynamo

        self.norm = InputNorm(IMAGENET_MEAN, IMAGENET_STD)
        self.net = alexnet(weights=None, num_classes=num_classes, dropout=dropout)
        self.num_classes = num_classes
        self.penultimate = "net.classifier.5"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(x))


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local state dict (``torch.load(weights_only=True)``; nothing is downloaded). A torchvision
    AlexNet file (keys ``features.*``/``classifier.*``) loads into :class:`TorchvisionAlexNet` as is; a CIFAR
    ResNet takes its pretrained checkpoints (:func:`~deepcorrect.models.resnet.load_resnet_weights`); an
    ``.h5`` file is the release's Keras AlexNet (:func:`~deepcorrect.models.keras_h5.load_release_weights`)."""
    if isinstance(model, CifarResNet):
        return load_resnet_weights(model, path)
    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        if not isinstance(model, CaffeAlexNet):
            raise ValueError(f"{path} is a Keras .h5 file: the release's AlexNet weights load into arch=alexnet_caffe, "
                             f"not {type(model).__name__}")
        load_release_weights(model, path)
        check_state(model.state_dict(), path)  # a NaN in the file is refused as in a state dict
        return model
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; pass the path of a saved state dict")
    state = read_state(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    state = check_state(state, path)
    if isinstance(model, TorchvisionAlexNet) and any(k.startswith("features.") for k in state):
        load_state(model.net, state, path)
    else:
        load_state(model, state, path)
    return model
