"""§4.1 (page 02, and page 06 for AlexNet): ranking filters by correction priority — the ideal-correction
curves of Figures 4–5, Figure 6's first-layer kernels, the filters corrected per layer under local and global
selection (Tables 5 and 9's counts), and their verdicts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .. import claims
from ..config import Profile
from ..context import Run
from ..data import cap_per_class
from ..distortions import kind_label
from ..evaluate import COLUMNS
from ..keys import derived, evaluation_key
from ..paper import FIGURE_4_BETA, FIGURE_5_BEST, FIGURE_5_BETA, SELECTION_COUNTS
from ..priorities import paper_betas
from ..models import get_conv
from ..ranking import Ranking, ideal_curve, select_global, select_local
from ..splits import Splits
from ..statistics import ALPHA
from ..tables import format_value


def ideal_correction(run: Run, model: nn.Module, data: Splits, priorities: Ranking, name: str,
                     selections: dict[str, dict[str, dict[str, list[int]]]]) -> pd.DataFrame:
    """Top-1 at every level when the selected filters get their clean activations (Figures 4–5).
    ``selections``: row label → kind → {layer: filters}. Measured on ``eval.ideal_per_class`` test images
    per class; cached under ``name``."""
    profile = run.profile
    test = cap_per_class(data.test, profile.eval.ideal_per_class, profile.eval.seed)
    if test is not data.test:
        test = derived(test, data.test, per_class=profile.eval.ideal_per_class, seed=profile.eval.seed)

    def compute(_folder: Path) -> dict:
        rows = []
        for label, per_kind in selections.items():
            for kind, selection in per_kind.items():
                acc = ideal_curve(model, test, kind, profile.data.family, selection, **run.measuring(bf16=None))
                rows.append({"selection": label, "kind": kind, **dict(zip(COLUMNS, acc))})
        return {"rows": rows}

    key = {**evaluation_key(profile), "name": name, "selections": selections}
    inputs = {"model": model, "test": test, "ranking": priorities}
    return pd.DataFrame(run.cached("ideal", key, inputs, compute)["rows"])


def first_layer_fractions(priorities, betas=(0.1, 0.25, 0.5, 0.75, 0.9)) -> dict[str, dict[str, dict[str, list[int]]]]:
    """Figure 4's selections: the top β₁ of the first ranked layer, per kind, plus no correction."""
    first = priorities.layers[0]
    out = {"none": {kind: {} for kind in priorities.kinds}}
    for beta in betas:
        out[f"β₁={beta:.0%}"] = {kind: {first: select_local(priorities, kind, {first: beta})[first].tolist()}
                                 for kind in priorities.kinds}
    return out


def single_layer_fractions(priorities, family: str = "cifar") -> dict[str, dict[str, dict[str, list[int]]]]:
    """Figure 5's selections: the top β of one layer at a time, per kind (the paper's β: 50 % for CIFAR,
    75 % for AlexNet)."""
    beta = FIGURE_5_BETA[family]
    return {layer: {kind: {layer: select_local(priorities, kind, {layer: beta})[layer].tolist()} for kind in priorities.kinds}
            for layer in priorities.layers}


def selection_counts(profile: Profile, priorities) -> pd.DataFrame:
    """Filters corrected per layer under local and global ranking (the rows of Tables 5 and 9), measured
    and, where the network has the paper's widths, the paper's."""
    betas = paper_betas(profile, priorities.layers)
    paper = SELECTION_COUNTS[profile.data.family]
    rows = []
    for scheme, select in (("local", select_local), ("global", select_global)):
        for kind in priorities.kinds:
            chosen = select(priorities, kind, betas)
            rows.append({"ranking": scheme, "kind": kind, "source": "measured",
                         **{layer: len(chosen[layer]) for layer in priorities.layers}})
            if len(paper[scheme][kind]) == len(priorities.layers):
                rows.append({"ranking": scheme, "kind": kind, "source": "paper (full width)",
                             **dict(zip(priorities.layers, paper[scheme][kind]))})
    return pd.DataFrame(rows).set_index(["ranking", "kind", "source"])


def describe_first_layer(fig4: pd.DataFrame, family: str = "cifar") -> str:
    """How much of the accuracy lost at each level the paper's share of the first layer recovers (Figure 4:
    25 % for CIFAR; more for AlexNet, where the paper points at 75 %)."""
    beta = FIGURE_4_BETA[family]
    beta_label = f"β₁={beta:.0%}"
    parts = []
    for kind in dict.fromkeys(fig4["kind"]):
        rows = fig4[fig4.kind == kind].set_index("selection")
        levels = COLUMNS[1:]
        lost = rows.loc["none", "Clean"] - rows.loc["none", levels]
        regained = rows.loc[beta_label, levels] - rows.loc["none", levels]
        share = float(regained.sum() / max(float(lost.sum()), 1e-9))
        verdict = "agrees with" if share >= 0.5 else "falls short of"
        parts.append(f"{kind_label(kind)}: ideally correcting the top {beta:.0%} of the first layer "
                     f"regains {share:.0%} of the accuracy lost over levels 1–6 — this {verdict} the paper's "
                     f"\"large part\".")
    return " ".join(parts)


def depth_trends(fig5: pd.DataFrame, fig4: pd.DataFrame) -> dict:
    """Figure 5's gain by depth per kind (:func:`deepcorrect.claims.depth_trends`, which claim 3 reads)."""
    return claims.depth_trends(fig5.to_dict(orient="records"), fig4.to_dict(orient="records"))


def describe_layers(fig5: pd.DataFrame, fig4: pd.DataFrame, priorities, family: str = "cifar") -> str:
    """Which single layer's ideal correction recovers most and whether the gain falls with depth (the paper:
    the first best for CIFAR, conv-2 for AlexNet, "as we go deeper … accuracy diminishes"), by the rank
    correlation of the gain with depth; with how many images the ranking rests on."""
    paper_best = priorities.layers[FIGURE_5_BEST[family]]
    parts = []
    for kind, trend in depth_trends(fig5, fig4).items():
        falls = trend.rho < 0 and trend.p < ALPHA
        order = " > ".join(layer for _, layer in sorted(zip(trend.gains, trend.layers), key=lambda g: -g[0]))
        verdict = ("agrees with the paper" if trend.best == paper_best and falls else
                   f"agrees that {paper_best} is best, but the gain does not fall significantly with depth"
                   if trend.best == paper_best else f"differs from the paper, which finds {paper_best} best"
                   + (" and a gain that falls with depth" if not falls else ""))
        parts.append(f"{kind_label(kind)}: the gain in top-1 (levels 1–6) of correcting one layer ranks "
                     f"{order}; the best is {trend.best}, Spearman ρ of gain with depth {trend.rho:+.2f} "
                     f"(p = {format_value(trend.p, 'p-value')}) — this {verdict}.")
    steps = len(priorities.levels) * priorities.n_images
    return " ".join(parts) + (f" The ranking rests on {priorities.n_images} images: each filter's τ̄ moves in steps of "
                              f"1/{steps}.")


def top_filters(priorities, k: int = 5) -> pd.DataFrame:
    """The k highest-priority filters of each layer per kind, with their mean τ."""
    rows = []
    for kind in priorities.kinds:
        for layer in priorities.layers:
            order = priorities.order(layer, kind)[:k]
            score = priorities.score(layer, kind)
            rows.append({"kind": kind, "layer": layer,
                         "top filters (τ̄)": ", ".join(f"{int(j)} ({float(score[j]):+.3f})" for j in order),
                         "filters with τ̄ > 0": int((score > 0).sum()), "filters": score.numel()})
    return pd.DataFrame(rows).set_index(["kind", "layer"])


def first_layer_weights(model: nn.Module, priorities) -> torch.Tensor:
    """Kernels of the first ranked conv layer (Figure 6)."""
    return get_conv(model, priorities.layers[0]).weight


def findings(fig4: pd.DataFrame, fig5: pd.DataFrame, priorities, family: str) -> str:
    """The page's closing bullets: Figure 4's and Figure 5's verdicts, and how concentrated the correction
    priority is (the share of filters that carry half of the first layer's total τ̄)."""
    lines = [f"- **Figure 4**: {describe_first_layer(fig4, family)}",
             f"- **Figure 5**: {describe_layers(fig5, fig4, priorities, family)}"]
    frame = priorities.to_frame()
    first = frame[frame.layer == priorities.layers[0]]
    for kind, tau in first.groupby("kind")["tau_mean"]:
        ordered = tau.clip(lower=0).sort_values(ascending=False)
        half = int((ordered.cumsum() < 0.5 * ordered.sum()).sum()) + 1
        lines.append(f"- **Concentration** ({kind}): {half} of {len(ordered)} first-layer filters ({half / len(ordered):.0%}) "
                     "carry half of the layer's total correction priority — "
                     + ("few filters matter most, the premise of correcting only the top-ranked ones."
                        if half / len(ordered) < 0.3 else "the priority is spread out, which weakens that premise."))
    return "\n".join(lines)


def metrics(profile: Profile, priorities, fig4: pd.DataFrame, fig5: pd.DataFrame) -> dict:
    """The page's headline numbers as the JSON its metrics file holds (``metrics.save_metrics``), for tests
    and readers who compare runs."""
    frame = priorities.to_frame()
    first = frame[frame.layer == priorities.layers[0]]
    return {"profile": profile.name, "ranking_seconds": priorities.seconds, "layers": priorities.layers, "n_images": priorities.n_images,
            "first_layer_tau": {kind: t.sort_values("filter")["tau_mean"].tolist() for kind, t in first.groupby("kind")},
            "figure4": fig4.to_dict(orient="records"), "figure5": fig5.to_dict(orient="records"),
            "selection_counts": selection_counts(profile, priorities).reset_index().to_dict(orient="records")}
