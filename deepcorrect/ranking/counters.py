"""Algorithm 1's inner step, two ways behind one interface, chosen once per ranking.

:class:`SuffixCounter` (``fast``) runs one pass per batch and then only the layers after each ranked conv per
swap; :class:`LiteralCounter` (``literal``) runs the whole network per filter, as the paper writes it, and is the
fallback for models ``torch.fx`` cannot trace. The tests hold the two to the same counts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from ..config import RankingConfig
from ..models import capture, get_conv, swap_filters
from .suffix import SuffixSplit, activation_bytes, filters_per_run, fold_batchnorm, run_keeping, trace


class Counter(ABC):
    """Correct predictions per filter when that filter alone takes its clean output. ``shares`` holds, per ranked
    layer, the filters this process counts (all of them without a process group)."""

    def __init__(self, model: nn.Module, shares: dict[str, torch.Tensor], cfg: RankingConfig,
                 device: torch.device):
        self.model, self.shares, self.cfg, self.device = model, shares, cfg, device

    @abstractmethod
    def clean(self, images: torch.Tensor) -> Any:
        """What the swaps take from a batch of clean images."""

    @abstractmethod
    def distorted(self, images: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """The logits of a distorted batch (the base predictions) and what the swaps take from it."""

    @abstractmethod
    def counts(self, layer: str, clean: Any, distorted: Any, labels: torch.Tensor) -> torch.Tensor:
        """Correct predictions for each filter of ``layer`` (0 for the filters outside this process's share)."""


class SuffixCounter(Counter):
    """The fast path: BN folded, the model traced once; one pass keeps every value the ranked layers' suffixes
    need, then each layer's swapped copies run through its suffix only, ``chunks[layer]`` per run."""

    def __init__(self, model: nn.Module, shares: dict[str, torch.Tensor], cfg: RankingConfig,
                 device: torch.device):
        super().__init__(model, shares, cfg, device)
        folded = fold_batchnorm(model)
        if cfg.channels_last:
            folded = folded.to(memory_format=torch.channels_last)
        self.graph = trace(folded)
        self.splits = {layer: SuffixSplit(self.graph, layer, cfg.shortcut) for layer in shares}
        self.keep = set().union(*(split.needs for split in self.splits.values()))
        self.chunks: dict[str, int] = {}  # swapped copies per suffix run, sized once from the first batch

    def clean(self, images: torch.Tensor) -> dict:
        images = self._layout(images)
        kept = run_keeping(self.graph, images, self.keep)[1]  # one pass keeps every ranked layer's clean output
        if not self.chunks:
            per_image = activation_bytes(self.graph, images[:1].clone())
            self.chunks = {layer: self.cfg.chunk_filters or filters_per_run(
                self.device, len(images) * split.suffix_bytes(per_image), len(self.shares[layer]))
                for layer, split in self.splits.items()}
        return kept

    def distorted(self, images: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """One pass gives the base predictions and every prefix value the swaps need."""
        return run_keeping(self.graph, self._layout(images), self.keep)

    def counts(self, layer: str, clean: dict, distorted: dict, labels: torch.Tensor) -> torch.Tensor:
        split = self.splits[layer]
        return split.swap_counts(clean[split.target], distorted, labels, self.chunks[layer], self.shares[layer])

    def _layout(self, images: torch.Tensor) -> torch.Tensor:
        if self.cfg.channels_last and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images


class LiteralCounter(Counter):
    """Algorithm 1 as written: the clean and the distorted images themselves, a whole pass per filter."""

    def clean(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def distorted(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(images), images

    def counts(self, layer: str, clean: torch.Tensor, distorted: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return literal_counts(self.model, layer, clean, distorted, labels, self.shares[layer])


#: The ranking methods by name, each built as ``Counter(model, shares, cfg, device)``.
COUNTERS: dict[str, type[Counter]] = {"fast": SuffixCounter, "literal": LiteralCounter}


def literal_counts(model: nn.Module, layer: str, clean: torch.Tensor, distorted: torch.Tensor,
                   labels: torch.Tensor, filters: torch.Tensor | None = None) -> torch.Tensor:
    """Algorithm 1 as written: for each filter (of ``filters``, default all), the clean output of the layer
    and a whole forward pass of the distorted images with that one channel swapped through a forward hook."""
    n = get_conv(model, layer).out_channels
    out = torch.zeros(n, dtype=torch.long, device=clean.device)
    for j in (range(n) if filters is None else filters.tolist()):
        with capture(model, layer) as acts:
            model(clean)
        with swap_filters(model, layer, [j], acts[layer]):
            out[j] = (model(distorted).argmax(1) == labels).sum()
    return out
