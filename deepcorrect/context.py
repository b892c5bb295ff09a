"""The run context: one resolved profile, its artifact store and its device, made once by an entry point (a
notebook's parameters cell, a CLI command) and handed to every function that loads, computes or measures.

Nothing below it re-derives a piece of it: the device is resolved once, the evaluation settings travel whole
(:meth:`Run.measuring`), the capped training / test subsets of the corrected models are drawn and keyed once
(:meth:`Run.subsets`), and :meth:`Run.cached` is the one way an artifact is keyed and fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import distributed as dd
from .config import Profile
from .data import TensorData, cap_per_class
from .keys import derived
from .runtime import resolve_device
from .store import Store


@dataclass(frozen=True)
class Subsets:
    """The images the corrected models use: the profile's splits capped per class (``correct_train_per_class``;
    ``correct_test_per_class`` for validation and test), each keyed as a deterministic subset of its split."""

    train: TensorData
    val: TensorData | None
    test: TensorData


@dataclass(frozen=True)
class Run:
    profile: Profile  # the resolved profile: every setting of this run
    store: Store  # where artifacts are cached (and, under torchrun, the process group)
    device: torch.device  # where everything computes, resolved from profile.device once
    #: subsets drawn so far, by the splits they were drawn from (each drawn once per run)
    _subsets: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, profile: Profile, store: Store) -> Run:
        """The context of ``profile``: its device resolved (``auto`` → CUDA when present; an unavailable CUDA
        request fails here, before anything loads)."""
        return cls(profile, store, resolve_device(profile.device))

    @property
    def group(self) -> dd.Group | None:
        return self.store.group

    def ready(self, model: nn.Module) -> nn.Module:
        """``model`` in eval mode on the device, in the memory layout of ``eval.channels_last``: the one layout
        every measurement sees, whether the network was trained now (``train.channels_last`` leaves it NHWC) or
        loaded. The layout is left out of artifact keys as the ranking's is: it reorders float32 sums only (the
        tests check that the hits are equal either way)."""
        layout = torch.channels_last if self.profile.eval.channels_last else torch.contiguous_format
        return model.to(self.device, memory_format=layout).eval()

    def measuring(self, **override: Any) -> dict[str, Any]:
        """The keyword arguments of a measurement (:mod:`deepcorrect.evaluate`): device, batch size, noise seed,
        clipping and precision, from the profile's ``eval`` settings; ``override`` replaces or drops
        (``bf16=None``) one of them for a function that takes another value or none."""
        ev = self.profile.eval
        args = {"device": self.device, "batch_size": ev.batch_size, "seed": ev.seed, "clip": ev.clip,
                "bf16": ev.bf16, **override}
        return {name: value for name, value in args.items() if value is not None}

    def cached(self, kind: str, settings: Any, inputs: dict[str, Any], compute: Callable[[Path], Any]) -> Any:
        """The artifact ``kind`` made with ``settings`` (see :mod:`deepcorrect.keys`) from ``inputs``: read from
        the store, or ``compute(folder)``'s result, saved first."""
        return self.store.get(kind, settings, compute, inputs)

    def cached_keyed(self, kind: str, settings: Any, inputs: dict[str, Any], compute: Callable[[Path], Any]
                     ) -> tuple[Any, str]:
        """:meth:`cached` and the artifact's key, to stamp on what is built from the payload."""
        return self.store.get_keyed(kind, settings, compute, inputs)

    def subsets(self, data) -> Subsets:
        """The corrected models' images from ``data`` (a :class:`~deepcorrect.splits.Splits`), drawn once."""
        drawn = self._subsets.get(id(data))
        if drawn is None or drawn[0] is not data:
            drawn = self._subsets[id(data)] = (data, correction_subsets(self.profile, data))
        return drawn[1]


def correction_subsets(profile: Profile, data) -> Subsets:
    """:class:`Subsets` of ``data``'s train / val / test splits for ``profile`` (see :meth:`Run.subsets`)."""
    c, seed = profile.correct, profile.data.seed

    def cap(split: TensorData | None, k: int, offset: int) -> TensorData | None:
        capped = split if split is None else cap_per_class(split, k, seed + offset)
        return capped if capped is split else derived(capped, split, per_class=k, seed=seed + offset)

    return Subsets(cap(data.train, c.correct_train_per_class, 5), cap(data.val, c.correct_test_per_class, 7),
                   cap(data.test, c.correct_test_per_class, 6))
