"""Figures 3, 7 and 8 drawn from the networks the library builds, not by hand: a network as the chain of its
layers (Figure 3), the same network with its correction units (Figure 8), and one unit (Figure 7). What the
boxes say — kernel, stride, filters, which filters are corrected, what trains — is read from the modules, so
a drawing cannot disagree with the model that produced the book's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from .correction import CorrectedConv, CorrectionUnit
from .models.common import InputNorm
from .plots import COLUMN_WIDTH, new_axes

FROZEN, TRAINED, UNIT = "#d9d9d9", "#9ecae1", "#fdae6b"


@dataclass(frozen=True)
class Box:
    """One drawn layer: its text, whether any of its parameters train, and the unit it carries if corrected."""

    text: str
    trains: bool
    unit: str = ""


def _conv_text(name: str, conv: nn.Conv2d) -> str:
    k, s = conv.kernel_size, conv.stride
    size = f"{k[0]}×{k[1]}" + (f"/{s[0]}" if s[0] > 1 else "") + (f", dil. {conv.dilation[0]}" if conv.dilation[0] > 1
                                                                   else "")
    groups = f", {conv.groups} groups" if conv.groups > 1 else ""
    return f"{name}  {size}, {conv.out_channels}{groups}"


def _trains(m: nn.Module) -> bool:
    return any(p.requires_grad for p in m.parameters())


def describe_layer(name: str, m: nn.Module) -> str | None:
    """The label of one leaf module (``None``: not drawn on its own, e.g. a ReLU folded into its layer)."""
    if isinstance(m, nn.Conv2d):
        return _conv_text(name, m)
    if isinstance(m, nn.Linear):
        return f"{name}  fc {m.out_features}"
    if isinstance(m, nn.MaxPool2d):
        k, s = m.kernel_size, m.stride
        return f"max-pool {k if isinstance(k, int) else k[0]}/{s if isinstance(s, int) else s[0]}"
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return "global avg-pool" if m.output_size in (1, (1, 1)) else None
    if isinstance(m, nn.LocalResponseNorm):
        return f"LRN (n {m.size}, α {m.alpha:g})"
    if isinstance(m, InputNorm):
        return "input normalisation"
    return None


def network_boxes(model: nn.Module) -> list[Box]:
    """The network's drawn layers in registration order (the forward order of the paper's networks); a BN
    and a ReLU right after a layer are folded into its box as "· BN · ReLU"."""
    boxes: list[Box] = []
    skip = set()
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in skip):
            continue
        if isinstance(m, CorrectedConv):
            skip.add(name)
            boxes.append(Box(_conv_text(name, m.conv), _trains(m.conv), unit_text(m)))
            continue
        if list(m.children()):
            continue
        if isinstance(m, nn.BatchNorm2d) and boxes:
            boxes[-1] = Box(boxes[-1].text + " · BN", boxes[-1].trains or _trains(m), boxes[-1].unit)
            continue
        if isinstance(m, nn.ReLU) and boxes and not boxes[-1].text.endswith("ReLU"):
            boxes[-1] = Box(boxes[-1].text + " · ReLU", boxes[-1].trains, boxes[-1].unit)
            continue
        text = describe_layer(name, m)
        if text is not None:
            boxes.append(Box(text, _trains(m)))
    return boxes


def unit_text(layer: CorrectedConv) -> str:
    n, total = int(layer.filters.numel()), layer.conv.out_channels
    params = sum(p.numel() for p in layer.unit.parameters())
    return f"unit on {n} of {total} filters ({params:,} params)"


def unit_boxes(unit: CorrectionUnit) -> list[str]:
    """Figure 7's chain: the unit's body, one box per conv (its BN and ReLU folded in) or lone BN."""
    out: list[str] = []
    for m in unit.body:
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0]
            dil = f", dil. {m.dilation[0]}" if m.dilation[0] > 1 else ""
            out.append(f"{k}×{k} conv{dil}, {m.in_channels} → {m.out_channels}")
        elif isinstance(m, nn.BatchNorm2d):
            if out and "conv" in out[-1] and "BN" not in out[-1]:
                out[-1] += " · BN"
            else:
                out.append(f"BN ({m.num_features})")
        elif isinstance(m, nn.ReLU) and out:
            out[-1] += " · ReLU"
    return out


def _box(ax, x: float, y: float, w: float, h: float, text: str, color: str, size: float = 8) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="#444",
                                lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax, a: tuple[float, float], b: tuple[float, float], **kw) -> None:
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=9, lw=0.8, color="#444", **kw))


def network_figure(model: nn.Module, title: str, show_training: bool = True) -> plt.Figure:
    """Figure 3 (a baseline: ``show_training=False``) or Figure 8 (a Deepcorr model): the layers top to
    bottom, grey when frozen, blue when they train, with each correction unit beside the layer it corrects."""
    boxes = network_boxes(model)
    if not show_training:
        boxes = [Box(b.text, False, b.unit) for b in boxes]
    has_units = any(b.unit for b in boxes)
    fig, axes = new_axes(1, 1, height=0.42 * len(boxes) + 0.9, width=COLUMN_WIDTH if has_units else 5.2)
    ax = axes[0, 0]
    ax.set_xlim(0, 10 if has_units else 6)
    ax.set_ylim(-len(boxes) - 0.2, 0.8)
    ax.axis("off")
    x = 3
    for i, b in enumerate(boxes):
        y = -i
        _box(ax, x, y, 5.4, 0.62, b.text, TRAINED if b.trains else FROZEN)
        if i:
            _arrow(ax, (x, y + 0.69), (x, y + 0.31))
        if b.unit:
            _box(ax, 7.9, y, 3.8, 0.62, b.unit, UNIT, size=7.5)
            _arrow(ax, (5.7, y), (6.0, y))
    ax.set_title(title, fontsize=10)
    if show_training:
        handles = [FancyBboxPatch((0, 0), 1, 1, fc=c, ec="#444") for c in (FROZEN, TRAINED, UNIT)]
        ax.legend(handles, ["frozen", "trains", "correction unit"][:3 if has_units else 2], loc="lower right",
                  fontsize=7, frameon=False)
    return fig


def unit_figure(layer: CorrectedConv, title: str) -> plt.Figure:
    """Figure 7: one correction unit as built — its chain of convs and BNs, and the identity shortcut whose
    sum replaces the corrected filters' outputs."""
    chain = unit_boxes(layer.unit)
    n = len(chain)
    fig, axes = new_axes(1, 1, height=0.55 * (n + 2) + 0.6, width=5.5)
    ax = axes[0, 0]
    ax.set_xlim(0, 6)
    ax.set_ylim(-n - 1.6, 0.8)
    ax.axis("off")
    _box(ax, 2.5, 0, 4.2, 0.6, f"{int(layer.filters.numel())} ranked filter outputs of {layer.conv.out_channels}",
         FROZEN)
    for i, text in enumerate(chain, start=1):
        _box(ax, 2.5, -i, 4.2, 0.6, text, UNIT)
        _arrow(ax, (2.5, -i + 0.7), (2.5, -i + 0.3))
    _box(ax, 2.5, -n - 1, 0.7, 0.6, "+", "white", size=11)
    _arrow(ax, (2.5, -n + 0.7 - 1), (2.5, -n - 0.7))
    _arrow(ax, (4.6, 0), (2.85, -n - 1), connectionstyle="arc3,rad=-0.35")
    ax.text(5.2, -n / 2, "identity", fontsize=7.5, rotation=90, va="center")
    ax.set_title(title, fontsize=10)
    return fig
