"""What a ranking must compute, in multiply-accumulates from the network's own layer costs: the bound on the
fast path's speed-up over the literal Algorithm 1 that the benchmarks report beside the measured one."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..models import get_conv
from ..models.layers import count_macs
from .suffix import SuffixSplit, fold_batchnorm, trace


def layer_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates of each conv and linear layer for one image, in the order the forward pass runs them."""
    return count_macs(model, example, {m: n for n, m in model.named_modules()
                                       if isinstance(m, (nn.Conv2d, nn.Linear))})


def ranking_macs(model: nn.Module, layers: Sequence[str], example: torch.Tensor, shortcut: bool = True) -> int:
    """MACs per ranking image that exact suffix-only evaluation of every filter of ``layers`` needs: for each
    filter the layers after its own in forward order; with ``shortcut``, the next conv at 1/C_in of its cost
    where the one-channel shortcut applies. Against :func:`literal_macs`, the bound of the fast path's speed-up."""
    per_layer = layer_macs(model, example)
    order = list(per_layer)
    graph = trace(fold_batchnorm(model)) if shortcut else None
    total = 0
    for layer in layers:
        cost = sum(per_layer[n] for n in order[order.index(layer) + 1:])
        nxt = SuffixSplit(graph, layer, shortcut=True).next_conv if shortcut else None
        if nxt is not None:
            cost -= per_layer[nxt.target] * (1 - 1 / model.get_submodule(nxt.target).in_channels)
        total += get_conv(model, layer).out_channels * cost
    return total


def literal_macs(model: nn.Module, layers: Sequence[str], example: torch.Tensor) -> int:
    """MACs per ranking image of the literal Algorithm 1 (:func:`literal_counts`): two whole passes per filter."""
    whole = sum(layer_macs(model, example).values())
    return sum(2 * whole * get_conv(model, layer).out_channels for layer in layers)
