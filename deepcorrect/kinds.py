"""What a *kind* of degradation is, for every part of the library that distorts images.

A kind is one of the paper's two distortions (``blur``, ``awgn``: levels 1–6, §3.2), one of the 15 corruptions
of the CIFAR-10-C / ImageNet-C benchmark (``defocus_blur`` …: severities 1–5), or a **mix** of several of one
sort written ``a+b+c`` (``gaussian_noise+defocus_blur+fog+contrast``): at level *l* every image of a mix is
degraded by one of its members, drawn per image, at level *l*. Evaluation, the ranking of Algorithm 1 and the
training of corrected models all degrade through :func:`degrade` / :func:`half_degraded`, so a network can be
ranked, corrected and measured for any kind. For ``blur`` and ``awgn`` these are exactly
:mod:`deepcorrect.distortions` (the same numbers, seed for seed).
"""

from __future__ import annotations

import dataclasses
import zlib

import torch

from .corruptions import CORRUPTIONS, EXTRA_CORRUPTIONS, NUM_SEVERITIES, corrupt
from .distortions import KINDS, NUM_LEVELS, _check_images, batch_seed, distort, half_distorted, noise_seed

#: Every single kind: the paper's two distortions, then the benchmark's corruptions and its extras.
SINGLE_KINDS = (*KINDS, *CORRUPTIONS, *EXTRA_CORRUPTIONS)
MIX_SEPARATOR = "+"


def members(kind: str) -> tuple[str, ...]:
    """The single kinds of ``kind`` (itself, or a mix's members), checked: one clear error for a wrong name."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"a kind must be a non-empty string, got {kind!r}")
    parts = tuple(kind.split(MIX_SEPARATOR))
    unknown = [p for p in parts if p not in SINGLE_KINDS]
    if unknown:
        raise ValueError(f"unknown kind {', '.join(map(repr, unknown))}; expected one of {', '.join(SINGLE_KINDS)}, "
                         f"or several joined by '{MIX_SEPARATOR}' (a mix)")
    if len(set(parts)) != len(parts):
        raise ValueError(f"the mix {kind!r} names a kind twice")
    if len({p in KINDS for p in parts}) > 1:
        raise ValueError(f"the mix {kind!r} joins the paper's distortions (levels 1–{NUM_LEVELS}) with corruptions "
                         f"(severities 1–{NUM_SEVERITIES}); a mix holds one sort")
    return parts


def check(kind: str) -> str:
    members(kind)
    return kind


def is_paper(kind: str) -> bool:
    """Whether ``kind`` is made of the paper's distortions only (levels 1–6)."""
    return members(kind)[0] in KINDS


def num_levels(kind: str) -> int:
    """The number of levels of ``kind`` beyond clean: 6 for the paper's distortions, 5 for corruptions."""
    return NUM_LEVELS if is_paper(kind) else NUM_SEVERITIES


def ranked_for(rank, kinds: tuple[str, ...]):
    """The ranking settings ``rank`` (a :class:`~deepcorrect.config.RankingConfig`) made to rank for ``kinds``:
    its levels kept where every kind has them (a corruption has five severities, the paper's kinds six)."""
    top = min(num_levels(k) for k in kinds)
    return dataclasses.replace(rank, kinds=tuple(kinds), levels=tuple(lv for lv in rank.levels if lv <= top))


def level_seed(seed: int, kind: str, level: int, batch: int) -> int:
    """The generator seed of one batch of ``kind`` at ``level``: :func:`distortions.noise_seed` for the paper's
    two kinds (so their numbers stay as they were), the same formula with a stable index for any other."""
    if kind in KINDS:
        return noise_seed(seed, kind, level, batch)
    index = len(KINDS) + (SINGLE_KINDS.index(kind) if kind in SINGLE_KINDS else zlib.crc32(kind.encode()) % 10_007)
    return batch_seed(seed, index, level, batch)


def _cpu(generator: torch.Generator | None) -> torch.Generator | None:
    """A CPU generator for the corruptions, fixed by ``generator``'s seed: the same corrupted images on every
    device for one seed (evaluation and ranking seed a fresh generator per batch)."""
    if generator is None or generator.device.type == "cpu":
        return generator
    return torch.Generator().manual_seed(generator.initial_seed())


def degrade(images: torch.Tensor, kind: str, level: int, family: str = "cifar",
            generator: torch.Generator | None = None, clip: bool = False) -> torch.Tensor:
    """``kind`` at ``level`` (0 = clean) on a batch on the 0–255 scale. Corruptions come back clipped to
    [0, 255], as the benchmark's images are; the paper's AWGN only with ``clip``."""
    parts = members(kind)
    if level == 0:
        return images
    if len(parts) == 1:
        if kind in KINDS:
            return distort(images, kind, level, family, generator=generator, clip=clip)
        return corrupt(images, kind, level, family, _cpu(generator))
    return _degrade_mix(images, parts, torch.full((images.shape[0],), level, dtype=torch.long), family,
                        generator, clip)


def _degrade_mix(images: torch.Tensor, parts: tuple[str, ...], levels: torch.Tensor, family: str,
                 generator: torch.Generator | None, clip: bool) -> torch.Tensor:
    """Image n by a member drawn per image at ``levels[n]``; level 0 stays clean. The members and the
    corruptions draw from a CPU generator fixed by ``generator``; the paper's AWGN from ``generator`` itself."""
    g = _cpu(generator) or torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))
    which = torch.randint(0, len(parts), (images.shape[0],), generator=g)
    levels = levels.cpu()
    out = images.clone()
    for i, name in enumerate(parts):
        for level in levels[(which == i) & (levels > 0)].unique().tolist():
            idx = ((which == i) & (levels == level)).nonzero().flatten().to(images.device)
            if name in KINDS:
                out[idx] = distort(images[idx], name, level, family, generator=generator, clip=clip)
            else:
                out[idx] = corrupt(images[idx], name, level, family, g)
    return out


def half_degraded(images: torch.Tensor, kinds: tuple[str, ...] | str, family: str = "cifar",
                  generator: torch.Generator | None = None, clip: bool = False) -> torch.Tensor:
    """A training batch as in §5.1 for any kind: a random half stays clean, the other half is degraded at a
    random level (and, for a mix, by a random member per image). The paper's distortions go through
    :func:`distortions.half_distorted` unchanged (nothing leaves the device); corruptions are drawn from a CPU
    generator seeded by one draw of ``generator``."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    parts = tuple(p for k in kinds for p in members(k))
    if all(p in KINDS for p in parts):
        return half_distorted(images, parts, family, generator, clip)
    _check_images(images)
    members(MIX_SEPARATOR.join(parts))  # one sort, no repeats
    dev = images.device
    n = images.shape[0]
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=dev)) if generator is not None else None
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    order = torch.randperm(n, generator=g)
    levels = torch.zeros(n, dtype=torch.long)
    levels[order[: n // 2]] = torch.randint(1, NUM_SEVERITIES + 1, (n // 2,), generator=g)
    return _degrade_mix(images, parts, levels, family, g, clip)
