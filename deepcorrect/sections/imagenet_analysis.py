"""ImageNet with AlexNet (paper §5.2): restoration rows, per-class differences, unit costs and verdicts.

The models themselves (Finetune-8, Deepcorr-5 and its variants) are trained and measured by
:mod:`deepcorrect.corrected_models`, which is architecture-agnostic; this module holds what only §5.2 needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from ..config import Profile
from ..context import Run
from ..corrected_models import build
from ..correction import corrected_layers, unit_macs
from ..data import TensorData, cap_per_class
from ..distortions import NUM_LEVELS, kind_label, sigma_for
from ..evaluate import (
    COLUMNS,
    correct_predictions,
    distorted_batches,
    per_class_accuracy,
)
from ..keys import artifact_key, derived, evaluation_key
from ..model_names import parse_model
from ..models import count_params
from ..paper import (
    FIGURE_11_COUNTS,
    PAPER_RESTORATION,
    TABLE_10,
    alexnet_table,
    beside,
    comparable,
)
from ..ranking import Ranking
from ..restoration import method_name, restore_batch
from .distortion_effects import tsne_embeddings, tsne_separation

VARIANT_MODELS = ("Deepcorr-5", "Deepcorr-5-lite", "Deepcorr-5-bottleneck")


def restoration_subset(run: Run, data) -> TensorData:
    """The test images the restoration rows use: the tables' test set, ``restore_per_class`` per class, at
    most ``restore_max`` in all (spread over the classes)."""
    profile, test = run.profile, run.subsets(data).test
    tables_test = test
    k, cap = profile.restore.restore_per_class, profile.restore.restore_max
    test = cap_per_class(test, k, profile.data.seed + 9)
    if cap and cap < len(test):
        order = torch.argsort(test.labels, stable=True).view(-1)
        by_round = torch.argsort(torch.cat([torch.arange(int(n)) for n in torch.bincount(test.labels[order])]),
                                 stable=True)  # one image of every class, then a second of every class, …
        test = test.subset(order[by_round[:cap]].sort().values)
    return derived(test, tables_test, per_class=k, max=cap, seed=profile.data.seed + 9)


def restoration_rows(run: Run, base: nn.Module, data, kind: str, progress: bool = True) -> pd.DataFrame:
    """Tables 7–8's restoration row: restore every distorted test image (BM3D for AWGN, a non-blind
    deconvolution for blur), clip to 0–255 and classify with the baseline. Beside it the baseline on the very
    same distorted images, and the restoration's CPU seconds per image at each level."""
    profile, device = run.profile, run.device
    test = restoration_subset(run, data)
    family, ev = profile.data.family, profile.eval

    def compute(_folder: Path) -> dict:
        base.eval().to(device)
        restored_acc, plain_acc, seconds = [], [], []
        for level in tqdm(range(NUM_LEVELS + 1), desc=f"restoring ({kind})", disable=not progress):
            right = plain = total = 0
            cost = 0.0
            for x, y in distorted_batches(test, kind, level, family, device="cpu", batch_size=ev.batch_size,
                                          seed=ev.seed, clip=ev.clip, whole=True):  # restored whole, then cropped
                fixed, per_image = restore_batch(x, kind, sigma_for(kind, level, family), profile.restore)
                right += int(correct_predictions(base, test.cropped(fixed.clamp(0, 255)).to(device), y.to(device)))
                plain += int(correct_predictions(base, test.cropped(x).to(device), y.to(device)))  # the same images
                total += len(y)
                cost += per_image * len(y)
            restored_acc.append(right / total)
            plain_acc.append(plain / total)
            seconds.append(cost / total)
        return {"restored": restored_acc, "plain": plain_acc, "seconds": seconds, "images": len(test)}

    key = {**evaluation_key(profile), **artifact_key(profile, "restore"), "kind": kind}
    r = run.cached("restoration", key, {"model": base, "test": test}, compute)
    same = f"{r['images']} image{'s' * (r['images'] != 1)}"
    rows = {f"Baseline (same {same})": r["plain"], method_name(kind, profile.restore): r["restored"]}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    table["Avg"] = table[COLUMNS].mean(axis=1)
    table["s / image"] = [0.0, float(np.mean(r["seconds"][1:]))]
    table.index.name = "Method"
    table.attrs["images"] = int(r["images"])
    return table


def describe_restoration_rows(table: pd.DataFrame) -> str:
    """The caption of a restoration table: how many images its accuracies rest on, hence their step (1/n)."""
    n = table.attrs["images"]
    return (f"Restoration, on {n:,} test image{'s' if n != 1 else ''}: each accuracy moves in steps of 1/{n:,}"
            f" = {1 / n:.4f}")


def compare_alexnet(measured: pd.DataFrame, kind: str, restoration: pd.DataFrame | None = None,
                    num_classes: int | None = None) -> pd.DataFrame:
    """Tables 7–8 (blur / AWGN; Tables 11–12 for the unit variants) as measured, each model with the paper's
    row beside it — Clean, Levels 1–6, Avg, trainable parameters (the paper's in millions as printed) — and
    ``measured − paper`` only where the measured task is ImageNet's 1,000 classes (:func:`paper.comparable`).
    The restoration row (the last of ``restoration``) stands beside the paper's NCSR / BM3D."""
    paper = alexnet_table(kind)
    paper["# Params"] = [f"{m:.2f} M" if np.isfinite(m) else np.nan for m in paper.pop("# Params (M)")]
    measured = measured.astype({"# Params": object})
    rows = {}
    if restoration is not None:
        name = restoration.index[-1]
        label = f"{name} (paper: {PAPER_RESTORATION[kind]})"
        measured = pd.concat([measured, restoration.loc[[name], [*COLUMNS, "Avg"]].rename(index={name: label})])
        rows[label] = "Restoration"
    measured.index.name = "Method"
    difference = num_classes is not None and comparable("imagenet", num_classes)
    return beside(measured, paper, difference=difference, rows=rows)


def per_class_difference(run: Run, models: dict[str, nn.Module], data, kind: str,
                         a: str = "Deepcorr-5", b: str = "Finetune-8") -> dict:
    """Figure 11: per-class top-1 (mean over clean and the six levels) of ``a`` minus ``b``, with the
    number of classes where ``a`` is better, worse or equal."""
    profile, test = run.profile, run.subsets(data).test

    def mean_per_class(model: nn.Module) -> torch.Tensor:
        return torch.stack([per_class_accuracy(model, test, kind, level, profile.data.family, **run.measuring())
                            for level in range(NUM_LEVELS + 1)]).mean(0)

    def compute(_folder: Path) -> dict:
        return {"a": mean_per_class(models[a]), "b": mean_per_class(models[b])}

    r = run.cached("per_class", {**evaluation_key(profile), "kind": kind},
                   {"a": models[a], "b": models[b], "test": test}, compute)
    diff = (r["a"] - r["b"]).numpy()
    eps = 1e-9
    return {"difference": diff, "classes": list(test.classes), "a": a, "b": b,
            "better": int((diff > eps).sum()), "worse": int((diff < -eps).sum()),
            "equal": int((np.abs(diff) <= eps).sum())}


def figure11_counts(diffs: dict[str, dict]) -> pd.DataFrame:
    """Classes where Deepcorr-5 beats, loses to and ties Finetune-8, measured and the paper's (of 1,000)."""
    rows = {}
    for kind, d in diffs.items():
        n = len(d["difference"])
        rows[(kind, f"measured (of {n})")] = {k: d[k] for k in ("better", "worse", "equal")}
        rows[(kind, "paper (of 1000)")] = FIGURE_11_COUNTS[kind]
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["kind", "source"]
    return out


def variant_costs(profile: Profile, base: nn.Module, priorities: Ranking, kind: str, example: torch.Tensor) -> pd.DataFrame:
    """Table 10 on this profile's network: trainable parameters and multiply-accumulates of the units of
    Deepcorr-5, -lite and -bottleneck (the selection for ``kind``), and each relative to Deepcorr-5, with the
    paper's full-width ratios."""
    rows = {}
    for name in VARIANT_MODELS:
        model, _ = build(profile, base, priorities, kind, parse_model(name))
        units = corrected_layers(model)
        rows[name] = {"unit params": sum(count_params(u.unit) for u in units.values()),
                      "unit MACs": sum(unit_macs(model, example).values())}
    out = pd.DataFrame.from_dict(rows, orient="index")
    paper = {"Deepcorr-5": TABLE_10["cw"], "Deepcorr-5-lite": TABLE_10["lite"],
             "Deepcorr-5-bottleneck": TABLE_10["bottleneck"]}
    out["params / Deepcorr-5"] = out["unit params"] / out.loc["Deepcorr-5", "unit params"]
    out["MACs / Deepcorr-5"] = out["unit MACs"] / out.loc["Deepcorr-5", "unit MACs"]
    ref = paper["Deepcorr-5"]
    out["paper params / Deepcorr-5"] = [sum(paper[n]["params"]) / sum(ref["params"]) for n in out.index]
    out["paper MACs / Deepcorr-5"] = [sum(paper[n]["flops"]) / sum(ref["flops"]) for n in out.index]
    out.index.name = "Method"
    return out


def describe_baseline(profile: Profile) -> str:
    """Where the page's AlexNet comes from, and whether its numbers can be set beside the paper's."""
    if profile.model.weights:
        return f"loaded from `{profile.model.weights}`"
    clean = alexnet_table("blur").loc["Baseline", "Clean"]
    return (f"trained here from scratch for {profile.train.epochs} epochs — **not** ImageNet-pretrained, so its "
            f"accuracies are not the paper's {clean:.4f}")


def describe_alexnet_claims(tables: dict[str, pd.DataFrame], restoration: dict[str, pd.DataFrame]) -> str:
    """Plain verdicts on §5.2's claims from the measured Tables 7–8 and the restoration rows."""
    parts = []
    for kind, t in tables.items():
        paper = alexnet_table(kind)["Avg"]
        paper_gain = (paper["Deepcorr-5"] / paper["Finetune-8"] - 1, paper["Deepcorr-5c"] / paper["Finetune-8"] - 1)
        avg = t["Avg"]
        title = kind_label(kind)
        gain = avg["Deepcorr-5"] / avg["Finetune-8"] - 1
        gain_c = avg["Deepcorr-5c"] / avg["Finetune-8"] - 1
        best = avg.drop("Baseline").idxmax()
        rest = restoration[kind]
        r_avg = float(rest["Avg"].iloc[-1])
        r_base = float(rest["Avg"].iloc[0])
        parts.append(
            f"**{title}.** Deepcorr-5 vs Finetune-8: {gain:+.0%} relative Avg (the paper: "
            f"{paper_gain[0]:+.0%}), Deepcorr-5c {gain_c:+.0%} (the paper: {paper_gain[1]:+.0%}); whether that "
            f"decides the claim, with its standard error, closes the page. The best trained model is {best} "
            f"({avg[best]:.3f}; the paper: Deepcorr-5c), the untouched baseline {avg['Baseline']:.3f}"
            f"{' — above every trained model' if avg['Baseline'] > avg.drop('Baseline').max() else ''}. "
            f"Deepcorr-5-no-bn is "
            f"{'below' if avg['Deepcorr-5-no-bn'] < avg['Deepcorr-5'] else 'not below'} Deepcorr-5 "
            f"({avg['Deepcorr-5-no-bn']:.3f} vs {avg['Deepcorr-5']:.3f}; the paper: below). "
            f"{rest.index[-1]} moves the baseline's Avg on the restored images from {r_base:.3f} to {r_avg:.3f} at "
            f"{float(rest['s / image'].iloc[-1]):.2f} s per image (the paper: {PAPER_RESTORATION[kind]} "
            f"{'falls below' if kind == 'blur' else 'nearly matches'} the baseline-corrected models).")
    return "\n\n".join(parts)


def findings(tables: dict[str, pd.DataFrame], diffs: dict[str, dict], records: dict[str, dict], n_test: int
             ) -> str:
    """The page's closing bullets: Deepcorr-5 against Finetune-8 in Tables 7–8 (with the binomial standard
    error of a difference of two Avg values on ``n_test`` images per level), Figure 11's class counts and
    Figure 12's final validation accuracies."""
    lines = []
    for kind, t in tables.items():
        avg, paper = t["Avg"], alexnet_table(kind)["Avg"]
        gap = avg["Deepcorr-5"] - avg["Finetune-8"]
        p = float(avg[["Deepcorr-5", "Finetune-8"]].mean())
        se = float(np.sqrt(2 * p * (1 - p) / max(n_test * (NUM_LEVELS + 1), 1)))
        verdict = ("agrees with the paper" if gap > 2 * se else "disagrees with the paper" if gap < -2 * se
                   else "is within two standard errors of zero: too close to call at this size")
        if "Baseline" in avg and avg["Baseline"] > max(avg["Deepcorr-5"], avg["Finetune-8"]):
            verdict = (f"decides nothing: both end below the untouched baseline ({avg['Baseline']:.3f}), so the "
                       "training did not help either — code path only")
        d = diffs.get(kind, {})
        classes = f"; better on {d['better']} of {len(d['difference'])} classes (paper {FIGURE_11_COUNTS[kind]['better']} " \
                  f"of 1000)" if d else ""
        lines.append(f"- **{kind_label(kind)}**: Deepcorr-5 − Finetune-8 = {gap:+.3f} Avg top-1 "
                     f"(paper {paper['Deepcorr-5'] - paper['Finetune-8']:+.3f}; standard error ≈ {se:.3f}) — this "
                     f"{verdict}{classes}.")
        last = {name: r["history"][-1]["val_accuracy"] for name, r in records.get(kind, {}).items()
                if name in ("Deepcorr-5", "Finetune-8") and r.get("history") and "val_accuracy" in r["history"][-1]}
        if len(last) == 2:
            lines.append(f"  Figure 12: final validation top-1 Deepcorr-5 {last['Deepcorr-5']:.3f}, Finetune-8 "
                         f"{last['Finetune-8']:.3f} (the paper: Deepcorr-5 higher).")
    return "\n".join(lines)


def figure10(run: Run, models: dict[str, nn.Module], test: TensorData) -> dict:
    """Figure 10's embeddings: each kind's rows from the Deepcorr-5 trained for that kind (``models``: kind →
    model), on the classes of Figure 2 — one figure, blur model on top, AWGN model below."""
    out: dict = {}
    for kind, model in models.items():
        emb = tsne_embeddings(run, model, test, kinds=(kind,))
        out.update(emb if not out else {k: v for k, v in emb.items() if k.startswith(f"{kind}/")})
    return out


def metrics(profile: Profile, tables: dict[str, pd.DataFrame], restoration: dict[str, pd.DataFrame], lg: dict,
            diffs: dict[str, dict]) -> dict:
    """The page's headline numbers as the JSON its metrics file holds (``metrics.save_metrics``), for tests
    and readers who compare runs."""
    return {"profile": profile.name, "tables": {k: t.drop(columns="# Params") for k, t in tables.items()},
            "params": {k: t["# Params"].to_dict() for k, t in tables.items()},
            "restoration": {k: r.drop(columns="s / image") for k, r in restoration.items()},
            "restoration_seconds": {k: float(r["s / image"].iloc[-1]) for k, r in restoration.items()},
            "local_vs_global": lg,
            "figure11": {k: {c: d[c] for c in ("better", "worse", "equal")} for k, d in diffs.items()}}


def describe_figure10(baseline: dict, deepcorr: dict) -> str:
    """Figure 10 against Figure 2 in numbers: the silhouette of the class clusters at level 6 of each kind,
    baseline → Deepcorr-5 (the paper shows Deepcorr-5's clusters staying separate)."""
    before, after = tsne_separation(baseline), tsne_separation(deepcorr)
    kinds = sorted({k.split("/")[0] for k in after}, key=("blur", "awgn").index)
    return ("Silhouette of the class clusters at level 6, baseline → Deepcorr-5: "
            + "; ".join(f"{'blur' if k == 'blur' else 'AWGN'} {before[f'{k}/{NUM_LEVELS}']:.2f} → "
                        f"{after[f'{k}/{NUM_LEVELS}']:.2f}" for k in kinds)
            + " (higher is tighter, better separated clusters; the paper shows Deepcorr-5's staying separate).")
