"""Ideal correction (Figures 4 and 5): top-1 when chosen filters output their clean activations — the upper
bound a correction unit on them could reach, measured with the evaluation's distorted batches."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

import torch
from torch import nn

from ..data import TensorData
from ..distortions import NUM_LEVELS
from ..evaluate import distorted_batches
from ..models import capture, get_conv, swap_filters


def ideal_accuracy(model: nn.Module, data: TensorData, kind: str, level: int, family: str,
                   selection: dict[str, Sequence[int] | torch.Tensor], **kwargs) -> float:
    """Top-1 on ``data`` at one level when the ``selection`` (layer → filters) outputs its clean activations."""
    return ideal_curve(model, data, kind, family, selection, levels=[level], **kwargs)[0]


@torch.inference_mode()
def ideal_curve(model: nn.Module, data: TensorData, kind: str, family: str,
                selection: dict[str, Sequence[int] | torch.Tensor], *, levels: Sequence[int] = range(NUM_LEVELS + 1),
                device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
                clip: bool = False) -> list[float]:
    """Top-1 at each of ``levels`` when the ``selection`` (layer → filters) outputs its clean activations
    (what Figures 4 and 5 plot). The clean activations of each batch are computed once for all levels, and
    the clean pass that captures them is level 0's answer (clean activations swapped in for clean ones change
    nothing)."""
    device = torch.device(device)
    model.eval().to(device)
    for layer in selection:
        get_conv(model, layer)
    correct = [0] * len(levels)
    clean_at = [i for i, lv in enumerate(levels) if lv == 0]
    distorted_at = [i for i, lv in enumerate(levels) if lv != 0]
    streams = [distorted_batches(data, kind, levels[i], family, device=device, batch_size=batch_size, seed=seed,
                                 clip=clip) for i in distorted_at]
    for (x_clean, y), *distorted in zip(distorted_batches(data, kind, 0, family, device=device,
                                                          batch_size=batch_size, seed=seed), *streams):
        with capture(model, list(selection)) as acts:
            clean_right = int((model(x_clean).argmax(1) == y).sum())
        for i in clean_at:
            correct[i] += clean_right
        with ExitStack() as stack:
            for layer, filters in selection.items():
                if len(filters):
                    stack.enter_context(swap_filters(model, layer, [int(j) for j in filters], acts[layer]))
            for i, (x, _) in zip(distorted_at, distorted):
                correct[i] += int((model(x).argmax(1) == y).sum())
    return [c / len(data) for c in correct]
