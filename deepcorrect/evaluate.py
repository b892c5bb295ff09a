"""Top-1 accuracy per distortion level in the layout of Tables 1–2, predictions and penultimate features.

Noise for level ℓ of kind k is drawn from a generator seeded by (seed, k, ℓ, batch), so every model is
evaluated on the very same distorted images — comparisons between models are paired.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext

import pandas as pd
import torch
from torch import nn

from .data import TensorData
from .distortions import KINDS, NUM_LEVELS
from .kinds import degrade, half_degraded, level_seed, num_levels
from .models import capture, count_params

COLUMNS = ["Clean", *[f"Level {i}" for i in range(1, NUM_LEVELS + 1)]]


def columns(kind: str) -> list[str]:
    """Clean and every level of ``kind``: :data:`COLUMNS` for the paper's distortions, Level 1–5 for corruptions."""
    return COLUMNS[: num_levels(kind) + 1]


def distorted_batches(data: TensorData, kind: str, level: int, family: str, *, device: torch.device | str,
                      batch_size: int, seed: int = 0, clip: bool = False, whole: bool = False
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(float images on the 0–255 scale, labels) of ``data`` distorted at ``level``, batch by batch on
    ``device``; the same images for the same seed whatever the model. Distorted whole, then cropped to what
    the network sees (:meth:`TensorData.cropped`); ``whole`` keeps them uncropped (to restore them first)."""
    device = torch.device(device)
    index = torch.arange(len(data)).split(batch_size)
    for b, (idx, x) in enumerate(zip(index, data.batches(index, device))):
        g = torch.Generator(device).manual_seed(level_seed(seed, kind, level, b))
        x = degrade(x.float(), kind, level, family, generator=g, clip=clip)
        yield (x if whole else data.cropped(x)), data.labels[idx].to(device)


@torch.inference_mode()
def half_distorted_accuracy(model: nn.Module, data: TensorData, kinds: Sequence[str] | str, family: str, *,
                            seed: int, device: torch.device | str, batch_size: int = 500, clip: bool = False,
                            bf16: bool = False) -> float:
    """Top-1 on ``data`` made half distorted as §5.1's training batches are, the same draw at every call (a
    generator per batch seeded from ``seed``): the validation accuracy of Figure 12, batch by batch, so a
    validation split need not fit on the device."""
    device = torch.device(device)
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    index = torch.arange(len(data)).split(batch_size)
    for b, (idx, x) in enumerate(zip(index, data.batches(index, device))):
        g = torch.Generator(device).manual_seed(seed * 1_000_003 + b)
        x = data.cropped(half_degraded(x.float(), kinds, family, g, clip))
        correct += correct_predictions(model, x, data.labels[idx].to(device), batch_size=batch_size, bf16=bf16)
    return correct.item() / len(data)


@torch.inference_mode()
def predict(model: nn.Module, data: TensorData, kind: str, level: int, family: str, *,
            device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
            clip: bool = False, bf16: bool = False) -> torch.Tensor:
    """Softmax probabilities (N, classes) on the CPU for ``data`` at one distortion level."""
    outputs = _outputs(model, data, kind, level, family, device=device, batch_size=batch_size, seed=seed, clip=clip,
                       bf16=bf16)
    return torch.cat([out.float().softmax(1).cpu() for out, _ in outputs])


@torch.inference_mode()
def correct_predictions(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 500,
                        bf16: bool = False) -> torch.Tensor:
    """How many images of ``x`` (already on the model's device and distorted as wanted) ``model`` classifies
    as ``y``, as a 0-d tensor on the device: the one top-1 count every table, validation and restoration row
    uses (no host sync until the caller asks for the number)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    for start in range(0, len(x), batch_size):
        with _autocast(x.device, bf16):
            correct += (model(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum()
    return correct


@torch.inference_mode()
def accuracy(model: nn.Module, data: TensorData, kind: str, level: int, family: str, *,
             device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0, clip: bool = False,
             bf16: bool = False) -> float:
    """Top-1 accuracy of ``model`` on ``data`` distorted by ``kind`` at ``level`` (0 = clean)."""
    correct = torch.zeros((), dtype=torch.long, device=device)
    for out, y in _outputs(model, data, kind, level, family, device=device, batch_size=batch_size, seed=seed,
                           clip=clip, bf16=bf16):
        correct += (out.argmax(1) == y).sum()
    return correct.item() / len(data)


@torch.inference_mode()
def per_class_accuracy(model: nn.Module, data: TensorData, kind: str, level: int, family: str, *,
                       device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
                       clip: bool = False, bf16: bool = False) -> torch.Tensor:
    """Top-1 of every class (num_classes,) at one level: Figure 11's per-class view."""
    hits = torch.zeros(data.num_classes, dtype=torch.long)
    for out, y in _outputs(model, data, kind, level, family, device=device, batch_size=batch_size, seed=seed,
                           clip=clip, bf16=bf16):
        hits += torch.bincount(y.cpu()[(out.argmax(1) == y).cpu()], minlength=data.num_classes)
    return hits.double() / torch.bincount(data.labels.cpu(), minlength=data.num_classes).clamp(min=1)


def accuracy_table(model: nn.Module, data: TensorData, family: str, kinds: Sequence[str] = KINDS, *,
                   device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
                   clip: bool = False, bf16: bool = False) -> pd.DataFrame:
    """One row per distortion kind: Clean, Level 1–6 and Avg (the mean of those 7 values, as in the paper).
    ``bf16``: autocast on CUDA (faster; the numbers then differ slightly from float32 runs)."""
    return hit_table(model, data, family, kinds, device=device, batch_size=batch_size, seed=seed, clip=clip,
                     bf16=bf16)[0]


def hit_table(model: nn.Module, data: TensorData, family: str, kinds: Sequence[str] = KINDS, *,
              device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0, clip: bool = False,
              bf16: bool = False) -> tuple[pd.DataFrame, dict[str, torch.Tensor]]:
    """:func:`accuracy_table` and, per kind, which images were classified right in each column ((7, N) bool on
    the CPU, in :data:`COLUMNS` order): the paired predictions that McNemar's test compares between two models
    measured on the same images."""
    clean = correct_mask(model, data, kinds[0], 0, family, device=device, batch_size=batch_size, seed=seed, bf16=bf16)
    hits = {kind: torch.stack([clean] + [correct_mask(model, data, kind, lv, family, device=device,
                                                      batch_size=batch_size, seed=seed, clip=clip, bf16=bf16)
                                         for lv in range(1, num_levels(kind) + 1)]).cpu() for kind in kinds}
    rows = {kind: dict(zip(columns(kind), (h.sum(1).double() / max(len(data), 1)).tolist())) for kind, h in hits.items()}
    shown = max((columns(kind) for kind in kinds), key=len)  # a corruption's row has no Level 6
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=shown)
    table["Avg"] = table[shown].mean(axis=1)
    return table, hits


@torch.inference_mode()
def correct_mask(model: nn.Module, data: TensorData, kind: str, level: int, family: str, *,
                 device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0, clip: bool = False,
                 bf16: bool = False) -> torch.Tensor:
    """Whether ``model`` classifies each image of ``data`` right at one level: (N,) bool on ``device``."""
    outputs = _outputs(model, data, kind, level, family, device=device, batch_size=batch_size, seed=seed, clip=clip,
                       bf16=bf16)
    return torch.cat([torch.zeros(0, dtype=torch.bool, device=device), *(out.argmax(1) == y for out, y in outputs)])


@torch.inference_mode()
def features(model: nn.Module, layer: str, data: TensorData, kind: str, level: int, family: str, *,
             device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
             clip: bool = False, bf16: bool = False) -> torch.Tensor:
    """Output of ``layer`` (spatially averaged when it is a feature map) for every image, (N, D) on the CPU."""
    out = []
    with capture(model, layer) as acts:
        for _ in _outputs(model, data, kind, level, family, device=device, batch_size=batch_size, seed=seed,
                          clip=clip, bf16=bf16):
            f = acts[layer].float()
            out.append((f.mean((2, 3)) if f.dim() == 4 else f.flatten(1)).cpu())
    return torch.cat(out)


def _autocast(device: torch.device | str, bf16: bool):
    """bf16 autocast on CUDA when asked; float32 otherwise, so tables equal those of float32 runs."""
    on_cuda = torch.device(device).type == "cuda"
    return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 and on_cuda else nullcontext()


def _outputs(model: nn.Module, data: TensorData, kind: str, level: int, family: str, *, device: torch.device | str,
             batch_size: int, seed: int, clip: bool, bf16: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(``model``'s outputs, labels) batch by batch on the :func:`distorted_batches` of one level, in eval mode
    on ``device`` (bf16 autocast when asked): the one pass that the predictions, accuracies, masks and
    features read."""
    model.eval().to(device)
    for x, y in distorted_batches(data, kind, level, family, device=device, batch_size=batch_size, seed=seed,
                                  clip=clip):
        with _autocast(device, bf16):
            out = model(x)
        yield out, y


def compare_models(models: dict[str, nn.Module], data: TensorData, family: str, kind: str, *,
                   device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0, clip: bool = False
                   ) -> pd.DataFrame:
    """Top-1 per level and Avg of several models (name → model) on the very same distorted images, with
    their trainable parameters: the table a user reads to see what a correction bought."""
    rows = {name: accuracy_table(m, data, family, (kind,), device=device, batch_size=batch_size, seed=seed,
                                 clip=clip).loc[kind] for name, m in models.items()}
    table = pd.DataFrame(rows).T
    table["trainable parameters"] = [count_params(m, trainable_only=True) for m in models.values()]
    return table
