"""The ranking's result, apart from how it was counted: the record the store saves, the scores and orders read
from it, and the check that two countings (the fast and the literal path) agree."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch


@dataclass
class Ranking:
    """Raw correct-prediction counts, kept so results can be audited, and the scores derived from them.

    ``counts[layer]`` has shape (kinds, levels, filters): correct predictions with that filter swapped;
    ``base`` (kinds, levels): correct predictions with no swap (p_b · M); ``n_images`` = M; ``levels`` the
    distortion levels ranked (the paper: 1–6).
    """

    layers: list[str]
    kinds: list[str]
    levels: list[int]
    n_images: int
    base: torch.Tensor
    counts: dict[str, torch.Tensor]
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    def tau(self, layer: str, kind: str) -> torch.Tensor:
        """Eq. 1 per level: (levels, filters) gains in top-1 accuracy."""
        k = self._kind(kind)
        return (self.counts[self._layer(layer)][k] - self.base[k][:, None]).double() / self.n_images

    def score(self, layer: str, kind: str, method: str = "paper") -> torch.Tensor:
        """Priority per filter: the mean over levels of τ (``paper``), or of the relative error reduction
        |err_swp − err_dist| / err_dist (``release``, the authors' code)."""
        if method == "paper":
            return self.tau(layer, kind).mean(0)
        if method == "release":
            k = self._kind(kind)
            err_swp = 1 - self.counts[self._layer(layer)][k].double() / self.n_images
            err_dist = (1 - self.base[k].double() / self.n_images)[:, None]
            return ((err_swp - err_dist).abs() / err_dist.clamp_min(1e-12)).mean(0)
        raise ValueError(f"unknown ranking score {method!r}; expected 'paper' or 'release'")

    def order(self, layer: str, kind: str, method: str = "paper") -> torch.Tensor:
        """Filter indices by descending priority; ties go to the lower index (deterministic)."""
        s = self.score(layer, kind, method)
        idx = torch.arange(s.numel())
        return torch.tensor(sorted(idx.tolist(), key=lambda j: (-float(s[j]), j)), dtype=torch.long)

    def to_frame(self, method: str = "paper") -> pd.DataFrame:
        """One row per (kind, layer, filter): τ per level, their mean, the score and the rank in the layer."""
        rows = []
        for kind in self.kinds:
            for layer in self.layers:
                tau = self.tau(layer, kind)
                score = self.score(layer, kind, method)
                rank = torch.empty_like(score, dtype=torch.long)
                rank[self.order(layer, kind, method)] = torch.arange(1, score.numel() + 1)
                for j in range(score.numel()):
                    rows.append({"kind": kind, "layer": layer, "filter": j,
                                 **{f"tau_L{lv}": float(tau[i, j]) for i, lv in enumerate(self.levels)},
                                 "tau_mean": float(tau[:, j].mean()), "score": float(score[j]),
                                 "rank": int(rank[j])})
        return pd.DataFrame(rows)

    def to_payload(self) -> dict:
        return {"layers": self.layers, "kinds": self.kinds, "levels": self.levels, "n_images": self.n_images,
                "base": self.base, "counts": self.counts, "seconds": self.seconds, "meta": self.meta}

    @classmethod
    def from_payload(cls, p: dict) -> Ranking:
        return cls(list(p["layers"]), list(p["kinds"]), list(p["levels"]), int(p["n_images"]), p["base"],
                   dict(p["counts"]), float(p["seconds"]), dict(p["meta"]))

    def _kind(self, kind: str) -> int:
        if kind not in self.kinds:
            raise ValueError(f"this ranking covers {', '.join(self.kinds)}, not {kind!r}")
        return self.kinds.index(kind)

    def _layer(self, layer: str) -> str:
        if layer not in self.counts:
            raise ValueError(f"unknown layer {layer!r}; this ranking covers: {', '.join(self.layers)}")
        return layer


def compare_counts(first: Ranking, second: Ranking) -> pd.DataFrame:
    """Per layer: whether two rankings of the same network and images (e.g. the fast and the literal path)
    counted the same correct predictions for every filter, kind and level, and the largest difference."""
    rows = []
    for layer in first.layers:
        a, b = first.counts[layer].long(), second.counts[layer].long()
        same = a.shape == b.shape
        rows.append({"layer": layer, "filters": int(a.shape[-1]), "equal": bool(same and torch.equal(a, b)),
                     "largest difference": int((a - b).abs().max()) if same and a.numel() else -1})
    return pd.DataFrame(rows).set_index("layer")
