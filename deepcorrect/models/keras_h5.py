"""The release's AlexNet weights (``alexnet_weights.h5``, heuritech convnets-keras, Keras 1 on Theano) read
into :class:`~deepcorrect.models.CaffeAlexNet`, exactly.

The file stores each layer as an HDF5 group of two datasets, ``<layer>/<layer>_W`` and ``<layer>/<layer>_b``;
the grouped convolutions (conv2, conv4, conv5) as two layers each (``conv_2_1``, ``conv_2_2``), the first
taking the first half of the input channels. Layouts:

* convolutions: Theano's (out, in, kh, kw). Theano's ``conv2d`` flips its kernels (a true convolution, its
  ``filter_flip=True`` default, which Keras 1 keeps) where torch's ``conv2d`` is a cross-correlation, so each
  kernel is rotated by 180° on the way in (:data:`FLIP_KERNELS`, pinned by a test against a convolution
  computed with ``scipy.signal.convolve2d``);
* dense layers: Keras's (in, out), transposed for torch's (out, in). Keras's Flatten on channels-first maps
  (C, H, W) in torch's order, so fc6 needs no reordering.

The network these weights expect also differs from torchvision's habits: RGB inputs on the 0–255 scale with
the mean (123.68, 116.779, 103.939) subtracted and no division by a standard deviation, and an LRN of
α·Σx² (α = 1e-4 not divided by the window of 5, i.e. ``torch.nn.LocalResponseNorm(alpha=5e-4)``):
``CaffeAlexNet(inputs="caffe", lrn="keras")``, the defaults.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

#: Theano convolves (flips kernels); torch correlates: the stored kernels are rotated by 180° when read.
FLIP_KERNELS = True

#: torch layer → the release's layer names (two for a grouped convolution, in group order).
LAYERS = {"conv1": ("conv_1",), "conv2": ("conv_2_1", "conv_2_2"), "conv3": ("conv_3",),
          "conv4": ("conv_4_1", "conv_4_2"), "conv5": ("conv_5_1", "conv_5_2"),
          "fc6": ("dense_1",), "fc7": ("dense_2",), "fc8": ("dense_3",)}


def release_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The torch state dict (``conv1.weight`` … ``fc8.bias``) held by a release-layout ``.h5`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; pass the release's alexnet_weights.h5")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"cannot read {path} as HDF5 ({err}); expected the release's alexnet_weights.h5") from None
    state = {}
    with f:
        missing = [f"{n}/{n}_{p}" for names in LAYERS.values() for n in names for p in "Wb" if f"{n}/{n}_{p}" not in f]
        if missing:
            raise ValueError(f"{path} is not in the release's AlexNet layout: missing dataset(s) "
                             f"{', '.join(missing[:4])}{' …' if len(missing) > 4 else ''} (expected conv_1/conv_1_W, "
                             "conv_2_1/conv_2_1_W, …, dense_3/dense_3_b)")
        for layer, names in LAYERS.items():
            w = np.concatenate([np.asarray(f[f"{n}/{n}_W"], dtype=np.float32) for n in names], axis=0 if
                               layer.startswith("conv") else 1)
            b = np.concatenate([np.asarray(f[f"{n}/{n}_b"], dtype=np.float32) for n in names])
            if layer.startswith("conv"):
                w = w[:, :, ::-1, ::-1] if FLIP_KERNELS else w
            else:
                w = w.T
            state[f"{layer}.weight"] = torch.from_numpy(np.ascontiguousarray(w))
            state[f"{layer}.bias"] = torch.from_numpy(b)
    return state


def load_release_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a release-layout ``.h5`` into a :class:`CaffeAlexNet` of matching width and classes; every shape
    is checked, and a mismatch names the layer and both shapes."""
    state = release_state_dict(path)
    std = getattr(getattr(model, "norm", None), "std", None)
    if std is not None and not bool((std == 1).all()):
        raise ValueError(f"{path} holds the release's AlexNet, which takes mean-subtracted inputs (no division by a "
                         "standard deviation); build the model with inputs=caffe, not standardized")
    own = model.state_dict()
    for key, value in state.items():
        if key not in own:
            raise ValueError(f"{type(model).__name__} has no layer {key!r}; the release's weights fit arch=alexnet_caffe")
        if own[key].shape != value.shape:
            raise ValueError(f"{path}: {key} is {tuple(value.shape)} in the file but {tuple(own[key].shape)} in the "
                             "model; the release's AlexNet is width 1.0 with 1000 classes")
    model.load_state_dict(state, strict=False)  # the input-normalisation buffers are the model's own
    return model


def save_release_weights(model: nn.Module, path: str | Path) -> Path:
    """Write a :class:`CaffeAlexNet` in the release's layout (the inverse of :func:`release_state_dict`): to
    hand a model trained here to the release's Keras code, and to build test files of known content."""
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    path = Path(path)
    with h5py.File(path, "w") as f:
        for layer, names in LAYERS.items():
            w, b = state[f"{layer}.weight"], state[f"{layer}.bias"]
            if layer.startswith("conv"):
                w = w[:, :, ::-1, ::-1] if FLIP_KERNELS else w
                parts = np.split(w, len(names), axis=0)
            else:
                parts = np.split(w.T, len(names), axis=1)
            for n, wp, bp in zip(names, parts, np.split(b, len(names))):
                f.create_dataset(f"{n}/{n}_W", data=np.ascontiguousarray(wp))
                f.create_dataset(f"{n}/{n}_b", data=bp)
    return path
