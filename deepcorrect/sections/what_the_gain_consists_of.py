"""What DeepCorrect's gain consists of (book page 04): the paper's models beside the baselines it never met.

The release lets every "frozen" BN of the base network re-estimate its statistics while the units train, and
wires its unit differently from the paper's reading (the authors' public Keras 1 release). This page measures, over several training
seeds, how much of Deepcorr's gain over the baseline BN statistics alone give (BN-adapt), what test-time
entropy minimisation gives (TENT), and what each of the release's two differences adds — with paired tests.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from torch import nn

from ..config import Profile
from ..context import Run
from ..distortions import kind_label
from ..corrected_models import evaluate_models
from ..evaluate import COLUMNS
from ..model_names import full_finetune_name
from ..ranking import Ranking
from ..statistics import paired_ttest

#: (model A, model B, what their difference measures): the contrasts the page tests.
CONTRASTS = (
    ("Deepcorr-6", "BN-adapt", "correction units vs BN statistics alone"),
    ("Deepcorr-6-adapt", "Deepcorr-6", "base BNs adapting (release) vs frozen (paper)"),
    ("Deepcorr-6-release", "Deepcorr-6", "release-exact unit vs identity-start unit"),
    ("Deepcorr-6-release-adapt", "Deepcorr-6", "the release's training vs the paper's reading"),
)


def page_models(net: nn.Module) -> tuple[str, ...]:
    """The page's rows for ``net``: the baseline, the baselines that correct no filter, Finetune-1 and the
    full fine-tune (Finetune-N, N its weight layers), and Deepcorr-6 in the four combinations of unit (identity
    start / release-exact) and base BN (frozen / adapting), and Deepcorr-6c."""
    return ("Baseline", "BN-adapt", "TENT", "Finetune-BN", "Finetune-1", full_finetune_name(net), "Deepcorr-6",
            "Deepcorr-6-adapt", "Deepcorr-6-release", "Deepcorr-6-release-adapt", "Deepcorr-6c")


def seeded_tables(run: Run, base: nn.Module, data, priorities: Ranking, kind: str, names, seeds,
                  progress: bool = False) -> tuple[dict[int, pd.DataFrame], dict[int, dict]]:
    """:func:`~deepcorrect.corrected_models.evaluate_models` once per training seed (``correct_seed``): the
    baseline and TENT, which nothing trains, are measured once and reused by every seed."""
    tables, records = {}, {}
    for seed in seeds:
        correct = replace(run.profile.correct, correct_seed=int(seed))
        seeded = replace(run, profile=replace(run.profile, correct=correct))
        tables[seed], records[seed] = evaluate_models(seeded, base, data, priorities, kind, names, progress)
    return tables, records


def summary(tables: dict[int, pd.DataFrame], records: dict[int, dict]) -> pd.DataFrame:
    """Mean over seeds of every column of Tables 3–4's layout, the spread of Avg, the trainable parameters
    and the mean training time."""
    stacked = pd.concat(tables, names=["seed", "Method"])
    mean = stacked.groupby(level="Method", sort=False)[COLUMNS + ["Avg"]].mean()
    out = mean.copy()
    out["± Avg (std over seeds)"] = stacked.groupby(level="Method", sort=False)["Avg"].std(ddof=1).fillna(0.0)
    out["# Params"] = stacked.groupby(level="Method", sort=False)["# Params"].first().astype(int)
    seconds = {name: np.mean([sum(h.get("seconds", 0.0) for h in rec.get(name, {}).get("history", []))
                              for rec in records.values()]) for name in out.index}
    out["train s"] = pd.Series(seconds)
    out.attrs["seeds"] = len(tables)
    out.attrs["diverged"] = {name: sum("diverged" in rec.get(name, {}) for rec in records.values())
                             for name in dict.fromkeys(n for rec in records.values() for n in rec)
                             if any("diverged" in rec.get(name, {}) for rec in records.values())}
    return out


def avg_by_seed(tables: dict[int, pd.DataFrame]) -> dict[str, list[float]]:
    """Each model's Avg per training seed (NaN where its training diverged in that seed)."""
    names = dict.fromkeys(n for t in tables.values() for n in t.index)
    return {n: [float(t.loc[n, "Avg"]) if n in t.index else float("nan") for t in tables.values()] for n in names}


def contrasts(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """For each of :data:`CONTRASTS` present: the mean Avg of both models, the difference, and a paired t-test
    over the training seeds (the replicates of a method; same test images and seed for both models)."""
    rows = []
    for a, b, what in CONTRASTS:
        both = [t for t in tables.values() if a in t.index and b in t.index]  # seeds where neither diverged
        if not both:
            continue
        x = np.array([t.loc[a, "Avg"] for t in both], float)
        y = np.array([t.loc[b, "Avg"] for t in both], float)
        stat, p = paired_ttest(x, y)
        rows.append({"contrast": f"{a} − {b}", "what it measures": what, "Avg A": float(x.mean()),
                     "Avg B": float(y.mean()), "difference": float(np.mean(x - y)), "t": stat, "p-value": p,
                     "seeds": len(x)})
    return pd.DataFrame(rows).set_index("contrast")


def share_from_statistics(summary_table: pd.DataFrame, model: str = "Deepcorr-6") -> float:
    """(BN-adapt − Baseline) / (``model`` − Baseline) in Avg: the share of the model's gain that
    re-estimating BN statistics alone recovers (NaN when the model gains nothing)."""
    avg = summary_table["Avg"]
    gain = avg[model] - avg["Baseline"]
    return float((avg["BN-adapt"] - avg["Baseline"]) / gain) if gain > 0 else float("nan")


def _no_gain(gain: float) -> str:
    """What to say when Deepcorr-6 does not beat the baseline: a loss is a loss, not "nothing"."""
    return f"while Deepcorr-6 loses {-gain:.3f} here" if gain < 0 else "while Deepcorr-6 gains nothing here"


def verdict(summaries: dict[str, pd.DataFrame], tests: dict[str, pd.DataFrame], alpha: float = 0.05) -> str:
    """The page's finding, computed from its numbers: per kind, what share of Deepcorr-6's gain BN statistics
    alone give, whether the units add significantly more, and what the release's two differences change."""
    parts = []
    for kind, s in summaries.items():
        title = kind_label(kind)
        n = s.attrs.get("seeds", 1)
        if "BN-adapt" not in s.index:
            parts.append(f"**{title}.** This network has no BatchNorm, so BN adaptation and TENT do not apply.")
            continue
        gain = s.loc["Deepcorr-6", "Avg"] - s.loc["Baseline", "Avg"]
        share = share_from_statistics(s)
        t = tests[kind]
        text = [f"**{title}** ({n} training seeds). Deepcorr-6 moves Avg from {s.loc['Baseline', 'Avg']:.3f} to "
                f"{s.loc['Deepcorr-6', 'Avg']:.3f} ({gain:+.3f}); BN-adapt alone reaches "
                f"{s.loc['BN-adapt', 'Avg']:.3f}, "
                + (("more than that whole gain" if share > 1 else f"{share:.0%} of that gain") + f" ({share:.0%})"
                   if np.isfinite(share) else _no_gain(gain))
                + f"; TENT reaches {s.loc['TENT', 'Avg']:.3f}."]
        for contrast, row in t.iterrows():
            if row["p-value"] < alpha:
                outcome = f"significant (p = {row['p-value']:.2g}): {row['difference']:+.3f} in favour of " \
                          f"{contrast.split(' − ')[0 if row['difference'] > 0 else 1]}"
            else:
                outcome = f"not significant over {row['seeds']} seeds (p = {row['p-value']:.2g}, " \
                          f"{row['difference']:+.3f})"
            what = row["what it measures"]
            text.append(f"{what[:1].upper()}{what[1:]}: {outcome}.")
        for name, count in s.attrs.get("diverged", {}).items():
            text.append(f"{name}'s training diverged (loss NaN) in {count} of {n} seeds; its row and tests use the "
                        f"other seeds." if count < n else f"{name}'s training diverged in every seed: no row.")
        if n < 3:
            text.append("With fewer than three seeds the spreads above say little; run with more seeds.")
        parts.append(" ".join(text))
    return "\n\n".join(parts)


def metrics(profile: Profile, seeds: int, summaries: dict[str, pd.DataFrame], tests: dict[str, pd.DataFrame],
            runs: dict[str, tuple[dict[int, pd.DataFrame], dict]]) -> dict:
    """The page's headline numbers as the JSON its metrics file holds (``metrics.save_metrics``), for tests
    and readers who compare runs."""
    return {"profile": profile.name, "seeds": seeds,
            "summary": {k: s.drop(columns=["# Params"]) for k, s in summaries.items()},
            "share_from_bn_statistics": {k: share_from_statistics(s) for k, s in summaries.items()},
            "contrasts": {k: t[["difference", "p-value"]] for k, t in tests.items()},
            "avg_by_seed": {k: avg_by_seed(run[0]) for k, run in runs.items()}}
