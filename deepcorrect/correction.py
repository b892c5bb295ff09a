"""Correction units (paper §4.2, Fig. 7, Table 10) and the Deepcorr-k / -kc model builders.

A correction unit is a small residual block F applied to the outputs of the selected filters of one conv
layer, y_sel ← y_sel + F(y_sel), right at the conv's output — so before its BN (All-Conv-BN) or its ReLU
(AlexNet) — while every other filter passes unchanged. Every variant but ``release`` starts as the identity
(its last layer is zero-initialised), so attaching units leaves a network's predictions unchanged until they
are trained.

Variants (parameter counts match the paper's Tables 3, 4 and 10 exactly):

- ``identity`` — the project's CIFAR unit (the default): the release's layer sizes, BN(C) → 1×1 C→W → BN →
  3×3 → BN → 3×3 → BN → 1×1 W→C → BN(C), W = 64, the last BN zero-initialised; the network's own BN after the
  conv stays frozen (Tables 3–4: 80,954 parameters for C = 50).
- ``release`` — the authors' release exactly: the same branch without the last BN(C), every conv
  ``he_normal``-initialised (no identity start); the sum goes through a BN of its own that starts as the
  pretrained BN's corrected channels and trains (:class:`ChannelTrainableBN`; also 80,954 for C = 50). Needs a
  BN after the corrected conv.
- ``cw`` — critically wide (Deepcorr-5): [1×1, C; k×k, C; k×k, C; 1×1, C], k = 5 on a large-kernel first
  layer, else 3; BN after every conv but the last.
- ``lite`` — [1×1, 128; 3×3, 128; 3×3, 128; 1×1, C], the 3×3 pair dilated (1, 2) on a large-kernel layer.
- ``bottleneck`` — [1×1, C/2; 3×3, C/2 ×3; 1×1, C]; dilations (1, 2, 1) on a large-kernel layer.
- ``nobn`` — ``cw`` without any BN (Deepcorr-5-no-bn).
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from .adaptation import batchnorms, require_batchnorm
from .models import get_conv
from .models.layers import count_macs
from .train import Penalty

VARIANTS = ("identity", "release", "cw", "lite", "bottleneck", "nobn")
#: Inner width of the units whose width does not follow C (the release's 64, the paper's lite 128).
DEFAULT_WIDTH = {"identity": 64, "release": 64, "lite": 128}
#: A corrected layer whose own kernel is at least this wide (AlexNet's 11×11 conv1) gets the wider units.
LARGE_KERNEL = 7


class CorrectionUnit(nn.Module):
    """``x + body(x)``; ``body`` is zero at initialisation unless ``identity_start`` is off (the release's unit,
    whose convs are all ``he_normal``: Keras's normal with std √(2 / fan_in))."""

    def __init__(self, body: nn.Sequential, identity_start: bool = True):
        super().__init__()
        self.body = body
        if not identity_start:
            for m in body.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
            return
        last = body[-1]
        if isinstance(last, nn.BatchNorm2d):
            nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        if isinstance(last, nn.Conv2d):
            nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ChannelTrainableBN(nn.Module):
    """The BN after a conv corrected by the release's unit. As in the release, the corrected channels go
    through a BN of their own that trains — γ, β and running statistics start as the pretrained ones; batch
    statistics while training, its running statistics updated — while every other channel goes through the
    pretrained BN ``bn``, frozen or adapting as the base network's BNs do (``base_bn``). Trainable: 2·C."""

    def __init__(self, bn: nn.BatchNorm2d, channels: Sequence[int]):
        super().__init__()
        if not bn.affine or bn.running_mean is None:
            raise ValueError("the release's unit needs an affine BN with running statistics after the corrected conv")
        self.bn = bn.requires_grad_(False)
        self.register_buffer("channels", torch.as_tensor(list(channels), dtype=torch.long), persistent=True)
        self.own = nn.BatchNorm2d(len(channels), eps=bn.eps, momentum=bn.momentum)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(self.own, name).copy_(getattr(bn, name)[self.channels])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x).index_copy(1, self.channels, self.own(x.index_select(1, self.channels)))


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
    if variant in ("identity", "release"):
        w = width or DEFAULT_WIDTH[variant]
        branch = [nn.BatchNorm2d(c), *_conv_bn_relu(c, w, 1), *_conv_bn_relu(w, w, 3), *_conv_bn_relu(w, w, 3),
                  nn.Conv2d(w, c, 1)]
        if variant == "release":  # the network's own BN follows (see ChannelTrainableBN)
            return CorrectionUnit(nn.Sequential(*branch), identity_start=False)
        return CorrectionUnit(nn.Sequential(*branch, nn.BatchNorm2d(c)))
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


def filter_indices(layer: str, filters) -> list[int]:
    """``filters`` as Python ints: any integer type (numpy's, 0-d integer tensors), never a float truncated."""
    try:
        return [operator.index(j) for j in filters]
    except TypeError:
        raise ValueError(f"filter indices for layer {layer!r} must be integers, got {list(filters)!r}") from None


def deepcorrect_model(model: nn.Module, selection: Mapping[str, Iterable[int]], variant: str = "identity", *,
                      width: int | None = None, train_last: int = 0, seed: int | None = None) -> nn.Module:
    """Deepcorr-k: a copy of ``model`` with a correction unit on the selected filters of each layer in
    ``selection`` (layer → filter indices) and every base weight frozen. ``train_last=3`` makes it
    Deepcorr-kc: the last three weight layers (conv7–9 with their BN, or fc6–fc8) train as well. ``seed``:
    the units' random initial weights come from it, whatever ran before in the process (the global random
    state is left as it was); ``None`` draws them from the global random state, as ``nn.Conv2d`` does."""
    if seed is None:
        return _deepcorrect_model(model, selection, variant, width, train_last)
    with torch.random.fork_rng(devices=[]):  # the units are built on the CPU, then moved
        torch.manual_seed(seed)
        return _deepcorrect_model(model, selection, variant, width, train_last)


def _deepcorrect_model(model: nn.Module, selection: Mapping[str, Iterable[int]], variant: str, width: int | None,
                       train_last: int) -> nn.Module:
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
        idx = sorted(set(filter_indices(layer, filters)))
        if not idx:
            raise ValueError(f"no filters selected in layer {layer!r}")
        if idx[0] < 0 or idx[-1] >= conv.out_channels:
            raise ValueError(f"filter indices for layer {layer!r} must lie in 0..{conv.out_channels - 1}, "
                             f"got {idx[0]}..{idx[-1]}")
        large = layer == first and max(conv.kernel_size) >= LARGE_KERNEL
        unit = correction_unit(variant, len(idx), large_kernel=large, width=width)
        _set_module(out, layer, CorrectedConv(conv, idx, unit.to(conv.weight.device)))
        if variant == "release":
            norm = following_norm(model, layer)
            if norm is None or not isinstance(out.get_submodule(norm), nn.BatchNorm2d):
                raise ValueError(f"the release's unit ends in the BatchNorm after the corrected conv, but "
                                 f"{layer!r} has none; use the identity, cw, lite or bottleneck unit")
            _set_module(out, norm, ChannelTrainableBN(out.get_submodule(norm), idx))
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


def finetune_bn_model(model: nn.Module) -> nn.Module:
    """Finetune-BN: a copy of ``model`` in which only the BatchNorm γ and β train (page 04's baseline between
    BN adaptation and fine-tuning); a network without BN has no such model."""
    require_batchnorm(model, "Finetune-BN")
    out = copy.deepcopy(model).requires_grad_(False)
    for bn in batchnorms(out):
        bn.requires_grad_(True)
    return out


def _unfreeze(model: nn.Module, layers: Sequence[str]) -> None:
    modules = dict(model.named_modules())
    for layer in layers:
        modules[layer].requires_grad_(True)
        norm = following_norm(model, layer)
        if norm is not None:
            modules[norm].requires_grad_(True)


#: How the base network's frozen BatchNorms behave while correction units or fine-tuned layers train:
#: ``frozen`` (the paper's reading) keeps their statistics; ``adapt`` is the release's Keras 1 behaviour —
#: batch statistics while training and running statistics updated, γ and β untouched.
BASE_BN_MODES = ("frozen", "adapt")


def set_training_mode(model: nn.Module, base_bn: str = "frozen") -> None:
    """Training mode for what trains, eval mode for what is frozen: with ``base_bn="frozen"`` a BN whose γ, β
    are frozen keeps its running statistics (and so its outputs) exactly; with ``"adapt"`` it normalises with
    batch statistics and updates them (the release). Dropout stays active as in the paper's Keras models."""
    if base_bn not in BASE_BN_MODES:
        raise ValueError(f"unknown base BN mode {base_bn!r}; expected one of {', '.join(BASE_BN_MODES)}")
    model.eval()
    for m in model.modules():
        own = list(m.parameters(recurse=False))
        if (own and all(p.requires_grad for p in own)) or isinstance(m, nn.Dropout):
            m.train()
    for m in model.modules():
        if _frozen_bn(m):
            m.train(base_bn == "adapt")


def _frozen_bn(m: nn.Module) -> bool:
    own = list(m.parameters(recurse=False))
    return isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in own)


def frozen_state(model: nn.Module, base_bn: str = "frozen") -> dict[str, torch.Tensor]:
    """Copies of every frozen parameter and of the buffers of modules that do not train (BN statistics — but
    not those of the frozen BNs that ``base_bn="adapt"`` lets re-estimate their statistics)."""
    out = {}
    for mname, m in model.named_modules():
        own = dict(m.named_parameters(recurse=False))
        trains = any(p.requires_grad for p in own.values())
        prefix = f"{mname}." if mname else ""
        out.update({prefix + n: p.detach().clone() for n, p in own.items() if not p.requires_grad})
        if not trains and not (base_bn == "adapt" and _frozen_bn(m)):
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


def regulariser(model: nn.Module, l1: float, l2: float, keras: bool = False) -> Penalty | None:
    """λ·R(W) of Eq. (5): ``l1``·Σ|w| over correction-unit conv weights, plus ``l2``/2·Σw² over the other
    trainable weights (fine-tuned base layers, as SGD weight decay would; ``keras``: ``l2``·Σw², as the
    release's Keras ``l2(λ)``). ``None`` when both are 0. Its gradients go straight to the weights' gradients
    (:class:`~deepcorrect.train.Penalty`): the same as autograd's, without per-weight kernels in a step."""
    units = unit_weights(model)
    ids = {id(w) for w in units}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in ids and p.dim() > 1]
    if not (l1 and units) and not (l2 and others):
        return None
    return Penalty(sparse=tuple(w for w in units if w.requires_grad) if l1 else (), l1=l1,
                   decayed=tuple(others) if l2 else (),
                   decay=2 * l2 if keras else l2)


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
