"""Correction units (paper §4.2, Fig. 7, Table 10) and the Deepcorr-k / -kc model builders.

A correction unit is a small residual block F applied to the outputs of the selected filters of one conv
layer, y_sel ← y_sel + F(y_sel), right at the conv's output — so before its BN (All-Conv-BN) or its ReLU
(AlexNet) — while every other filter passes unchanged. Each unit starts as the identity (its last layer is
zero-initialised), so attaching units leaves a network's predictions unchanged until they are trained.

Variants (parameter counts match the paper's tables exactly; see PAPER_NOTES):

- ``release`` — the CIFAR unit of the authors' release: BN(C) → 1×1 C→W → BN → 3×3 → BN → 3×3 → BN
  → 1×1 W→C → BN(C), W = 64 (Tables 3–4: 80,954 parameters for C = 50).
- ``cw`` — critically wide (Deepcorr-5): [1×1, C; k×k, C; k×k, C; 1×1, C], k = 5 on a large-kernel first
  layer, else 3; BN after every conv but the last.
- ``lite`` — [1×1, 128; 3×3, 128; 3×3, 128; 1×1, C], the 3×3 pair dilated (1, 2) on a large-kernel layer.
- ``bottleneck`` — [1×1, C/2; 3×3, C/2 ×3; 1×1, C]; dilations (1, 2, 1) on a large-kernel layer.
- ``nobn`` — ``cw`` without any BN (Deepcorr-5-no-bn).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from .models import get_conv
from .models.layers import count_macs

VARIANTS = ("release", "cw", "lite", "bottleneck", "nobn")
#: Inner width of the units whose width does not follow C (the release's 64, the paper's lite 128).
DEFAULT_WIDTH = {"release": 64, "lite": 128}
#: A corrected layer whose own kernel is at least this wide (AlexNet's 11×11 conv1) gets the wider units.
LARGE_KERNEL = 7


class CorrectionUnit(nn.Module):
    """``x + body(x)`` with ``body`` zero at initialisation."""

    def __init__(self, body: nn.Sequential):
        super().__init__()
        self.body = body
        last = body[-1]
        if isinstance(last, nn.BatchNorm2d):
            nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        if isinstance(last, nn.Conv2d):
            nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CorrectedConv(nn.Module):
    """A frozen conv whose output channels ``filters`` go through ``unit``; the others pass unchanged."""

    def __init__(self, conv: nn.Conv2d, filters: Sequence[int], unit: CorrectionUnit):
        super().__init__()
        self.conv = conv
        self.unit = unit
        self.register_buffer("filters", torch.as_tensor(list(filters), dtype=torch.long), persistent=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y.index_copy(1, self.filters, self.unit(y.index_select(1, self.filters)))


def correction_unit(variant: str, channels: int, *, large_kernel: bool = False, width: int | None = None
                    ) -> CorrectionUnit:
    """One unit for ``channels`` corrected filters. ``large_kernel``: the corrected layer is a wide first
    layer (AlexNet conv1), which gets 5×5 kernels (cw, nobn) or a dilated 3×3 pair (lite, bottleneck)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown correction unit {variant!r}; valid: {', '.join(VARIANTS)}")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"a correction unit needs ≥ 1 corrected filter, got {channels!r}")
    c = channels
    if variant == "release":
        w = width or DEFAULT_WIDTH[variant]
        return CorrectionUnit(nn.Sequential(
            nn.BatchNorm2d(c), *_conv_bn_relu(c, w, 1), *_conv_bn_relu(w, w, 3), *_conv_bn_relu(w, w, 3),
            nn.Conv2d(w, c, 1), nn.BatchNorm2d(c)))
    if variant in ("cw", "nobn"):
        k, bn = (5 if large_kernel else 3), variant == "cw"
        return CorrectionUnit(nn.Sequential(
            *_conv_bn_relu(c, c, 1, bn=bn), *_conv_bn_relu(c, c, k, bn=bn), *_conv_bn_relu(c, c, k, bn=bn),
            nn.Conv2d(c, c, 1)))
    if variant == "lite":
        w = width or DEFAULT_WIDTH[variant]
        d = (1, 2) if large_kernel else (1, 1)
        return CorrectionUnit(nn.Sequential(
            *_conv_bn_relu(c, w, 1), *_conv_bn_relu(w, w, 3, d[0]), *_conv_bn_relu(w, w, 3, d[1]),
            nn.Conv2d(w, c, 1)))
    w = width or max(1, c // 2)  # bottleneck
    d = (1, 2, 1) if large_kernel else (1, 1, 1)
    return CorrectionUnit(nn.Sequential(
        *_conv_bn_relu(c, w, 1), *(m for di in d for m in _conv_bn_relu(w, w, 3, di)), nn.Conv2d(w, c, 1)))


def _conv_bn_relu(c_in: int, c_out: int, k: int, dilation: int = 1, bn: bool = True) -> list[nn.Module]:
    pad = dilation * (k // 2)
    return [nn.Conv2d(c_in, c_out, k, padding=pad, dilation=dilation),
            *([nn.BatchNorm2d(c_out)] if bn else []), nn.ReLU(inplace=True)]


# ----------------------------------------------------------------------------------------------------------
# Model builders


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the conv and linear layers of ``model`` in registration order (correction wrappers skipped)."""
    wrappers = [f"{name}." for name, m in model.named_modules() if isinstance(m, CorrectedConv)]
    return [name for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and not name.startswith(tuple(wrappers))]


def following_norm(model: nn.Module, layer: str) -> str | None:
    """The BatchNorm registered right after ``layer`` that normalises its output (``bn3`` after ``conv3``),
    or ``None``: the BN that Finetune-k trains together with its conv."""
    names = [n for n, _ in model.named_modules()]
    modules = dict(model.named_modules())
    i = names.index(layer)
    for name in names[i + 1:]:
        m = modules[name]
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            return name if m.num_features == _out_features(modules[layer]) else None
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            return None
    return None


def deepcorrect_model(model: nn.Module, selection: Mapping[str, Iterable[int]], variant: str = "release", *,
                      width: int | None = None, train_last: int = 0) -> nn.Module:
    """Deepcorr-k: a copy of ``model`` with a correction unit on the selected filters of each layer in
    ``selection`` (layer → filter indices) and every base weight frozen. ``train_last=3`` makes it
    Deepcorr-kc: the last three weight layers (conv7–9 with their BN, or fc6–fc8) train as well."""
    if not selection:
        raise ValueError("a DeepCorrect model needs at least one corrected layer; the selection is empty")
    n_weights = len(weight_layers(model))
    if not (isinstance(train_last, int) and not isinstance(train_last, bool) and 0 <= train_last <= n_weights):
        raise ValueError(f"train_last must be an integer in 0..{n_weights} (the weight layers of this model "
                         f"trained with the units: 3 for Deepcorr-kc), got {train_last!r}")
    first = next(iter(weight_layers(model)), None)
    out = copy.deepcopy(model)
    out.requires_grad_(False)
    for layer, filters in selection.items():
        conv = get_conv(out, layer)
        idx = sorted({int(j) for j in filters})
        if not idx:
            raise ValueError(f"no filters selected in layer {layer!r}")
        if idx[0] < 0 or idx[-1] >= conv.out_channels:
            raise ValueError(f"filter indices for layer {layer!r} must lie in 0..{conv.out_channels - 1}, "
                             f"got {idx[0]}..{idx[-1]}")
        large = layer == first and max(conv.kernel_size) >= LARGE_KERNEL
        unit = correction_unit(variant, len(idx), large_kernel=large, width=width)
        _set_module(out, layer, CorrectedConv(conv, idx, unit.to(conv.weight.device)))
    if train_last:
        _unfreeze(out, weight_layers(out)[-train_last:])
    return out


def finetune_model(model: nn.Module, k: int | None = None) -> nn.Module:
    """Finetune-k: a copy of ``model`` whose first ``k`` conv layers and their BN train (``None``: every
    parameter, e.g. Finetune-8 of AlexNet); the rest is frozen."""
    out = copy.deepcopy(model)
    if k is None:
        return out.requires_grad_(True)
    convs = [n for n in weight_layers(out) if isinstance(dict(out.named_modules())[n], nn.Conv2d)]
    if not (isinstance(k, int) and 1 <= k <= len(convs)):
        raise ValueError(f"Finetune-k needs 1 ≤ k ≤ {len(convs)} (the conv layers of this model), got {k!r}")
    out.requires_grad_(False)
    _unfreeze(out, convs[:k])
    return out


def _unfreeze(model: nn.Module, layers: Sequence[str]) -> None:
    modules = dict(model.named_modules())
    for layer in layers:
        modules[layer].requires_grad_(True)
        norm = following_norm(model, layer)
        if norm is not None:
            modules[norm].requires_grad_(True)


def set_training_mode(model: nn.Module) -> None:
    """Training mode for what trains, eval mode for what is frozen: a BN whose γ, β are frozen keeps its
    running statistics (and so its outputs) exactly; dropout stays active as in the paper's Keras models."""
    model.eval()
    for m in model.modules():
        own = list(m.parameters(recurse=False))
        if (own and all(p.requires_grad for p in own)) or isinstance(m, nn.Dropout):
            m.train()


def frozen_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every frozen parameter and of the buffers of modules that do not train (BN statistics)."""
    out = {}
    for mname, m in model.named_modules():
        own = dict(m.named_parameters(recurse=False))
        trains = any(p.requires_grad for p in own.values())
        prefix = f"{mname}." if mname else ""
        out.update({prefix + n: p.detach().clone() for n, p in own.items() if not p.requires_grad})
        if not trains:
            out.update({prefix + n: b.detach().clone() for n, b in m.named_buffers(recurse=False)})
    return out


def check_frozen(model: nn.Module, before: Mapping[str, torch.Tensor]) -> None:
    """Raise if any frozen parameter or buffer recorded by :func:`frozen_state` changed, bit for bit."""
    now = dict(model.named_parameters()) | dict(model.named_buffers())
    changed = [n for n, t in before.items() if not torch.equal(now[n].detach().cpu(), t.cpu())]
    if changed:
        raise RuntimeError(f"{len(changed)} frozen tensors changed during training "
                           f"(e.g. {', '.join(changed[:5])}); the base network must stay exactly as it was")


def unit_weights(model: nn.Module) -> list[torch.Tensor]:
    """Conv weights of every correction unit: what Eq. (5)'s regulariser R(W) acts on."""
    return [m.weight for u in model.modules() if isinstance(u, CorrectionUnit)
            for m in u.modules() if isinstance(m, nn.Conv2d)]


def regulariser(model: nn.Module, l1: float, l2: float):
    """λ·R(W) of Eq. (5): ``l1``·Σ|w| over correction-unit conv weights, plus ``l2``/2·Σw² over the other
    trainable weights (fine-tuned base layers, as SGD weight decay would). ``None`` when both are 0."""
    units = unit_weights(model)
    ids = {id(w) for w in units}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in ids and p.dim() > 1]
    if not (l1 and units) and not (l2 and others):
        return None

    def penalty() -> torch.Tensor:
        total = sum(w.abs().sum() for w in units) * l1 if l1 and units else 0.0
        if l2 and others:
            total = total + sum(w.pow(2).sum() for w in others) * (l2 / 2)
        return total

    return penalty


def unit_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates of each correction unit's convs for one input (the paper's Table 10 "FLOPs"):
    Σ weight elements × output pixels, measured with hooks during one forward pass of ``example``."""
    return count_macs(model, example, {conv: name for name, m in corrected_layers(model).items()
                                       for conv in m.unit.modules() if isinstance(conv, nn.Conv2d)})


def corrected_layers(model: nn.Module) -> dict[str, CorrectedConv]:
    return {name: m for name, m in model.named_modules() if isinstance(m, CorrectedConv)}


def _out_features(m: nn.Module) -> int:
    return m.out_channels if isinstance(m, nn.Conv2d) else m.out_features


def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)
