"""§5.3 (page 07): how well DeepCorrect features transfer — linear SVMs on fc6 features of the Baseline,
Finetune-8 and Deepcorr-5 (Tables 13–15), beside the paper's numbers, with their verdicts.
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
from ..data import TensorData
from ..distortions import NUM_LEVELS, kind_label
from ..evaluate import COLUMNS, features
from ..keys import artifact_key, evaluation_key
from ..paper import TABLE_13, TABLE_14_15, comparable
from ..transfer import feature_module, make_splits, svm_accuracy


def transfer_accuracy(run: Run, model: nn.Module, name: str, data: TensorData, kind: str, progress: bool = True
                      ) -> dict:
    """Mean per-class accuracy of ``name``'s features on the transfer set: for ``kind`` = ``clean`` one SVM on
    clean images (Table 13); for blur / awgn one SVM on every level and clean, tested per level (Tables
    14–15). Returns per-split accuracies (splits × levels) and the chosen C values. Cached."""
    profile, t = run.profile, run.profile.transfer
    levels = [0] if kind == "clean" else list(range(NUM_LEVELS + 1))
    module = feature_module(model, t.feature_layer)

    def compute(_folder: Path) -> dict:
        feats = [features(model, module, data, "awgn" if kind == "clean" else kind, level, profile.data.family,
                          **run.measuring(seed=t.transfer_seed)).numpy() for level in levels]
        y = data.labels.cpu().numpy()
        acc, chosen = [], []
        splits = make_splits(data.labels, t.splits, t.svm_train_per_class, t.svm_val_per_class, t.transfer_seed)
        for tr, va, te in tqdm(splits, desc=f"SVMs {name} ({kind})", disable=not progress):
            train = (np.concatenate([f[tr] for f in feats]), np.tile(y[tr], len(feats)))
            val = (np.concatenate([f[va] for f in feats]), np.tile(y[va], len(feats)))
            per_level, c = svm_accuracy(train, val, [(f[te], y[te]) for f in feats], t.svm_c, t.transfer_seed,
                                        t.svm_solver)
            acc.append(per_level)
            chosen.append(c)
        return {"accuracy": torch.tensor(acc), "C": chosen}

    key = {**evaluation_key(profile), **artifact_key(profile, "transfer"), "kind": kind}
    return run.cached("transfer", key, {"model": model, "images": data}, compute)


def transfer_table(results: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """Rows (kind, model): mean per-class accuracy per level averaged over splits, ``Avg`` over the six
    distortion levels (the paper's Tables 14–15 average distorted images; a clean-only row's is its one
    column) and the spread over splits."""
    rows = {}
    for kind, per_model in results.items():
        for name, r in per_model.items():
            acc = r["accuracy"].double()  # splits × levels
            mean = acc.mean(0).tolist()
            row = dict(zip(COLUMNS, mean))
            row["Avg"] = float(acc[:, 1:].mean()) if acc.shape[1] > 1 else mean[0]  # clean-only: its one column
            row["± (std over splits)"] = float((acc[:, 1:] if acc.shape[1] > 1 else acc).mean(1).std(unbiased=False))
            rows[(kind, name)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["kind", "model"]
    return out


def compare_transfer(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Measured Table 13 (clean, Baseline: its one clean column) and Tables 14–15 (Avg over levels) beside the
    paper's row for ``dataset`` (Caltech-101, Caltech-256 or SUN-397)."""
    rows = []
    if ("clean", "Baseline") in table.index:
        rows.append({"table": "13 (clean)", "model": "Baseline", "measured": table.loc[("clean", "Baseline"), "Clean"],
                     "paper": TABLE_13.get(dataset, np.nan)})
    for kind, number in (("blur", "14 (blur)"), ("awgn", "15 (AWGN)")):
        for i, name in enumerate(("Baseline", "Finetune-8", "Deepcorr-5")):
            if (kind, name) in table.index:
                paper = TABLE_14_15[kind].get(dataset, (np.nan,) * 3)[i]
                rows.append({"table": number, "model": name, "measured": table.loc[(kind, name), "Avg"],
                             "paper": paper})
    out = pd.DataFrame(rows).set_index(["table", "model"])
    out["Δ"] = out["measured"] - out["paper"]
    return out


#: The paper's transfer tables: which features' rows each holds.
TABLE_KINDS = {13: "clean", 14: "blur", 15: "awgn"}


def transfer_comparable(dataset: str, num_classes: int) -> bool:
    """Whether measured transfer accuracies can be subtracted from the paper's: the same transfer dataset, and
    features from an AlexNet trained on ImageNet's 1,000 classes (``num_classes``: :func:`paper.comparable`)."""
    return dataset in TABLE_13 and comparable("imagenet", num_classes)


def transfer_comparability(dataset: str, reference: str, num_classes: int) -> str:
    """A sentence for transfer tables whose measured rows cannot be set against the paper's (empty when they
    can)."""
    if transfer_comparable(dataset, num_classes):
        return ""
    return (f"The measured rows are SVMs on {dataset} over features of an AlexNet trained on a {num_classes:,}-class "
            f"task; the paper's on {reference} over features of the ImageNet-pretrained AlexNet (1,000 classes): "
            f"the two are not comparable, so no measured − paper difference is shown.")


def paper_table(table: pd.DataFrame, number: int, dataset: str, difference: bool = True) -> pd.DataFrame:
    """Table ``number`` (13, 14 or 15) as measured, with the paper's value for ``dataset`` beside each row and,
    where ``difference`` (the data comparable: :func:`transfer_comparable`), measured − paper. Table 13 is
    clean-only in the paper: its clean column and the spread over splits, no Avg; Tables 14–15 per level, Avg
    over the six levels and the spread, beside the paper's Avg (the paper prints only that)."""
    kind = TABLE_KINDS[number]
    measured = table.xs(kind, level="kind")
    column = "Clean" if kind == "clean" else "Avg"
    if kind == "clean":
        measured = measured[["Clean", "± (std over splits)"]]
    label = {13: "13 (clean)", 14: "14 (blur)", 15: "15 (AWGN)"}[number]
    paper = compare_transfer(table, dataset)
    paper = paper.xs(label, level="table") if label in paper.index.get_level_values("table") else paper.iloc[:0]
    out = measured.join(paper[["paper", "Δ"]].rename(columns={"paper": f"paper {column}", "Δ": f"Δ {column}"}))
    return out if difference else out.drop(columns=f"Δ {column}")


def describe_transfer(table: pd.DataFrame, dataset: str) -> str:
    """Whether Deepcorr-5 features beat Finetune-8's and the baseline's under each distortion, as the paper
    finds on every dataset."""
    parts = []
    for kind in ("blur", "awgn"):
        if (kind, "Deepcorr-5") not in table.index:
            continue
        avg = {m: table.loc[(kind, m), "Avg"] for m in ("Baseline", "Finetune-8", "Deepcorr-5")}
        gain = avg["Deepcorr-5"] / avg["Finetune-8"] - 1
        paper = TABLE_14_15[kind].get(dataset)
        paper_gain = f"{paper[2] / paper[1] - 1:+.1%}" if paper else "n/a"
        best = max(avg, key=avg.get)
        parts.append(f"**{kind_label(kind)}**: Avg over levels 1–6 — Baseline {avg['Baseline']:.3f}, "
                     f"Finetune-8 {avg['Finetune-8']:.3f}, Deepcorr-5 {avg['Deepcorr-5']:.3f}; Deepcorr-5 vs "
                     f"Finetune-8 {gain:+.1%} (the paper on {dataset}: {paper_gain}). Best: {best} — the paper's "
                     f"ordering (Deepcorr-5 best) {'holds' if best == 'Deepcorr-5' else 'does not hold'} here.")
    return "\n\n".join(parts)


def dataset_name(profile: Profile, given: str | None = None) -> str:
    """How the tables name the transfer dataset: ``given``, else Caltech-101 for a folder (the shared one),
    else the embedded second draw."""
    return given or ("Caltech-101" if profile.transfer.transfer_source == "folder" else "embedded (second draw)")


def paper_reference(dataset: str) -> str:
    """The paper's dataset whose rows stand beside this one: itself where the paper has it, else Caltech-101."""
    return dataset if dataset.startswith(("Caltech", "SUN")) else "Caltech-101"


def metrics(profile: Profile, dataset: str, table: pd.DataFrame, results: dict) -> dict:
    """The page's headline numbers as the JSON its metrics file holds (``metrics.save_metrics``), for tests
    and readers who compare runs."""
    return {"profile": profile.name, "dataset": dataset,
            "table": {f"{k}/{m}": row.to_dict() for (k, m), row in table.iterrows()},
            "C": {f"{k}/{m}": r["C"] for k, per in results.items() for m, r in per.items()}}


def describe_setup(profile: Profile, dataset: str, target: TensorData) -> str:
    """The transfer set and the SVM protocol in one sentence, for the page."""
    t = profile.transfer
    tested = f"at most {t.svm_test_per_class}" if t.svm_test_per_class else "all"
    return (f"Transfer set **{dataset}**: {len(target):,} images of {target.num_classes} classes at "
            f"{profile.data.describe_input()}; {t.splits} splits of {t.svm_train_per_class} training + "
            f"{t.svm_val_per_class} validation images per class, the rest ({tested} per class) for testing; "
            f"{t.feature_layer} features; C from {list(t.svm_c)}; SVM solver {t.svm_solver}.")
