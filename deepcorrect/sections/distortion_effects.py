"""§1–3 (page 01, and page 06 for AlexNet): what blur and noise do to a baseline — Tables 1–2 beside the
paper's rows, Figure 1's predictions as distortion grows, Figure 2's t-SNE of penultimate features, and the
sentences that say whether the measurement agrees with the paper.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..analysis.tsne import embed
from ..config import Profile
from ..context import Run
from ..data import TensorData
from ..distortions import KINDS, NUM_LEVELS, kind_label
from ..evaluate import COLUMNS, accuracy_table, distorted_batches, features, predict
from ..keys import evaluation_key
from ..models import REPORTED_ERROR
from ..paper import baseline_row, comparable


def baseline_tables(run: Run, model: nn.Module, test: TensorData) -> pd.DataFrame:
    """Tables 1–2 for this profile: top-1 per level and Avg, one row per distortion kind."""

    def compute(_folder: Path) -> dict:
        return accuracy_table(model, test, run.profile.data.family, **run.measuring()).to_dict(orient="split")

    return pd.DataFrame(**run.cached("baseline_tables", evaluation_key(run.profile), {"model": model, "test": test},
                                     compute))


def compare_with_paper(measured: pd.DataFrame, kind: str, family: str, num_classes: int | None = None
                       ) -> pd.DataFrame:
    """Measured row and the paper's row for one distortion kind, and their difference where the two are
    comparable (``num_classes`` that of the paper's dataset: :func:`paper.comparable`)."""
    paper = baseline_row(kind, family)
    row = measured.loc[kind].rename("measured")
    rows = [row, paper]
    if num_classes is not None and comparable(family, num_classes):
        rows.append((row - paper).rename("measured − paper"))
    return pd.DataFrame(rows)


def example_predictions(run: Run, model: nn.Module, test: TensorData, per_kind: int = 2) -> dict[str, dict]:
    """For Figure 1: ``per_kind`` test images the baseline gets right (and is confident about) when clean, at
    every level of each kind — the distorted images with predicted class and confidence."""
    profile, device = run.profile, run.device
    clean = predict(model, test, "blur", 0, profile.data.family, device=device, bf16=profile.eval.bf16)
    confidence = clean.max(1).values
    score = (clean.argmax(1) == test.labels.cpu()).float() + confidence  # correct and confident first
    candidates = score.argsort(descending=True)[:max(10 * per_kind, 1)]
    out = {}
    g = torch.Generator().manual_seed(profile.eval.seed)
    for kind in KINDS:
        pick = candidates[torch.randperm(candidates.numel(), generator=g)[:per_kind]]
        subset = test.subset(pick)
        images, probs = [], []
        for level in range(NUM_LEVELS + 1):
            x, _ = next(distorted_batches(subset, kind, level, profile.data.family, device="cpu",
                                          batch_size=len(subset), seed=profile.eval.seed, clip=profile.eval.clip))
            images.append(x)
            probs.append(predict(model, subset, kind, level, profile.data.family, device=device,
                                 seed=profile.eval.seed, clip=profile.eval.clip, bf16=profile.eval.bf16))
        out[kind] = {"images": torch.stack(images, 1), "probs": torch.stack(probs, 1), "labels": subset.labels}
    return out


def tsne_embeddings(run: Run, model: nn.Module, test: TensorData, *, kinds: tuple[str, ...] = KINDS) -> dict:
    """For Figures 2 and 10: 2-D t-SNE of penultimate features of ``eval.tsne_per_class`` test images of each
    of the first ``eval.tsne_classes`` classes, clean and at every level of ``kinds``. The model enters the
    key by its own key, so a retrained Deepcorr-5 gets a new embedding."""
    profile, device = run.profile, run.device
    n_classes = min(profile.eval.tsne_classes, test.num_classes)
    subset = test.subset((test.labels < n_classes).nonzero().squeeze(1)).per_class(
        profile.eval.tsne_per_class, profile.eval.seed)

    def compute(_folder: Path) -> dict:
        result = {"labels": subset.labels.clone(), "classes": list(test.classes[:n_classes])}
        for kind in kinds:
            for level in range(NUM_LEVELS + 1):
                if level == 0 and kind != kinds[0]:  # the clean images are the same for every kind
                    result[f"{kind}/0"] = result[f"{kinds[0]}/0"]
                    continue
                f = features(model, model.penultimate, subset, kind, level, profile.data.family, device=device,
                             seed=profile.eval.seed, clip=profile.eval.clip, bf16=profile.eval.bf16)
                result[f"{kind}/{level}"] = torch.from_numpy(embed(f.numpy(), seed=profile.eval.seed,
                                                                   iterations=profile.eval.tsne_iterations))
        return result

    return run.cached("tsne", {**evaluation_key(profile, "tsne_per_class", "tsne_classes", "tsne_iterations"),
                               "kinds": list(kinds)},
                      {"model": model, "test": test}, compute)


def describe_pretrained(profile: Profile, measured: pd.DataFrame, n_test: int) -> str:
    """For a network with published weights: its clean top-1 here beside the error its author reports."""
    if not profile.model.weights:
        return ""
    reported = REPORTED_ERROR.get(profile.model.arch)
    clean = float(measured.loc["blur", "Clean"])
    text = (f"**Pretrained weights** (`{Path(profile.model.weights).name}`, not trained here): clean top-1 "
            f"{clean:.4f} on the {n_test:,} test images of this profile ({profile.data.source} data)")
    if reported is None:
        return text + "."
    return (text + f"; the weights' author reports {1 - reported:.4f} ({reported:.2%} error) on the original "
            f"CIFAR-10 test set. The difference, {clean - (1 - reported):+.4f}, is what the JPEG export costs "
            f"a network trained on the original images." if profile.data.source == "folder" else text + ".")


def describe_degradation(measured: pd.DataFrame, profile: Profile) -> str:
    """A sentence per kind comparing the measured fall of accuracy with the paper's (Tables 1–2)."""
    parts = [f"**Measured on profile `{profile.name}` ({profile.data.source} data).**"]
    for kind in measured.index:
        row, paper = measured.loc[kind], baseline_row(kind, profile.data.family)
        monotone = bool((row.iloc[:NUM_LEVELS + 1].diff().dropna() <= 0.005).all())
        parts.append(
            f"{kind_label(kind)}: top-1 falls from {row['Clean']:.3f} (clean) to "
            f"{row['Level 6']:.3f} at level 6, keeping {row['Level 6'] / max(row['Clean'], 1e-9):.0%} of the clean "
            f"accuracy (paper: {paper['Level 6'] / paper['Clean']:.0%}); level 1 already costs "
            f"{row['Clean'] - row['Level 1']:.3f} (paper: {paper['Clean'] - paper['Level 1']:.3f}). "
            f"The fall is {'monotonic, as in the paper' if monotone else 'not monotonic, unlike the paper'}.")
    return "\n\n".join(parts)


def tsne_separation(tsne: dict) -> dict[str, float]:
    """Silhouette score of the classes in each 2-D embedding (1 = tight, separate clusters; 0 = merged)."""
    from sklearn.metrics import silhouette_score

    labels = tsne["labels"].numpy()
    return {key: float(silhouette_score(value.numpy(), labels)) for key, value in tsne.items()
            if "/" in key}


def describe_tsne(tsne: dict) -> str:
    """Says whether clusters widen and merge with distortion, as the paper observes for Figure 2."""
    s = tsne_separation(tsne)
    text = [f"Silhouette of the class clusters (1 = tight and separate, 0 = merged): clean {s['blur/0']:.2f}."]
    for kind in KINDS:
        worst = s[f"{kind}/{NUM_LEVELS}"]
        verdict = "agrees with" if worst < s[f"{kind}/0"] - 0.05 else "does not show"
        text.append(f"{kind_label(kind)}: "
                    + ", ".join(f"L{lv} {s[f'{kind}/{lv}']:.2f}" for lv in range(1, NUM_LEVELS + 1))
                    + f" — the measurement {verdict} the paper's widening and merging clusters.")
    return " ".join(text)


def findings(measured: pd.DataFrame, tsne: dict, family: str) -> str:
    """The page's closing bullets, computed from its numbers: how much accuracy each kind costs at level 6
    against the paper's, and whether the t-SNE clusters merge as the paper's Figure 2 shows."""
    lines = []
    for kind in measured.index:
        row, paper = measured.loc[kind], baseline_row(kind, family)
        keeps, paper_keeps = row["Level 6"] / max(row["Clean"], 1e-9), paper["Level 6"] / paper["Clean"]
        levels, paper_levels = row[COLUMNS[1:]].mean(), paper[COLUMNS[1:]].mean()
        lines.append(f"- **{kind_label(kind)}** costs the baseline {row['Clean'] - levels:.3f} "
                     f"of its clean top-1 on average over levels 1–6 ({row['Clean'] - row['Avg']:.3f} by the "
                     f"paper's Avg, which includes the clean column) and keeps {keeps:.0%} of it at level 6 "
                     f"(paper: {paper['Clean'] - paper_levels:.3f}, {paper['Clean'] - paper['Avg']:.3f} and "
                     f"{paper_keeps:.0%}) — "
                     + ("as damaging as the paper's." if keeps <= paper_keeps + 0.15 else
                        "milder than the paper's, so there is less for a correction to win back."))
    s = tsne_separation(tsne)
    merged = [k for k in KINDS if s[f"{k}/{NUM_LEVELS}"] < s[f"{k}/0"] - 0.05]
    lines.append(f"- **Features** (Figure 2): class clusters have silhouette {s['blur/0']:.2f} when clean and "
                 + ", ".join(f"{s[f'{k}/{NUM_LEVELS}']:.2f} at {k} level 6" for k in KINDS) + "; "
                 + (f"they widen and merge under {' and '.join(merged)}, as in the paper." if merged else
                    "they do not clearly merge, unlike the paper's."))
    return "\n".join(lines)


def metrics(profile: Profile, measured: pd.DataFrame, tsne: dict, n_test: int) -> dict:
    """The page's headline numbers as the JSON its metrics file holds (``metrics.save_metrics``), for tests,
    readers who compare runs and the recorded editions (``n_test``: the images each accuracy rests on)."""
    return {"profile": profile.name, "tables": measured, "tsne_separation": tsne_separation(tsne),
            "n_test": n_test}
