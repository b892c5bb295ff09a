"""Which filters to correct: β·N per layer by the layer's own order (local), or the same total over all ranked
layers together (global) — the paper's two schemes of Tables 5 and 9."""

from __future__ import annotations

import math

import torch

from .result import Ranking


def n_selected(beta: float, n: int, release: bool = False) -> int:
    """How many of ``n`` filters a fraction β selects: round(β·N) (the paper: 48 of 96, 96 of 192), or the
    release's round(β·N·1.0417) (50 and 100)."""
    if not (isinstance(beta, (int, float)) and 0 < beta <= 1):
        raise ValueError(f"β must be in (0, 1], got {beta!r}")
    return min(n, math.floor(beta * n * (1.0417 if release else 1.0) + 0.5))


def select_local(ranking: Ranking, kind: str, betas: dict[str, float] | float, *, method: str = "paper",
                 release_count: bool = False) -> dict[str, torch.Tensor]:
    """The top β_i·N_i filters of each layer by its own priority order."""
    betas = _betas(ranking, betas)
    return {layer: ranking.order(layer, kind, method)[:n_selected(b, ranking.counts[layer].shape[-1], release_count)]
            for layer, b in betas.items()}


def select_global(ranking: Ranking, kind: str, betas: dict[str, float] | float, *, method: str = "paper",
                  release_count: bool = False) -> dict[str, torch.Tensor]:
    """The top K filters over all ranked layers together, K = the local total; ties go to the earlier layer,
    then the lower filter index."""
    betas = _betas(ranking, betas)
    k = sum(n_selected(b, ranking.counts[layer].shape[-1], release_count) for layer, b in betas.items())
    pool = []
    for li, layer in enumerate(betas):
        s = ranking.score(layer, kind, method)
        pool += [(-float(s[j]), li, j, layer) for j in range(s.numel())]
    chosen = sorted(pool)[:k]
    return {layer: torch.tensor(sorted(j for _, _, j, lay in chosen if lay == layer), dtype=torch.long)
            for layer in betas}


def _betas(ranking: Ranking, betas: dict[str, float] | float) -> dict[str, float]:
    if not isinstance(betas, dict):
        betas = dict.fromkeys(ranking.layers, betas)
    for layer, b in betas.items():
        ranking._layer(layer)
        n_selected(b, 1)
    return betas
