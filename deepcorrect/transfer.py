"""Transfer of deep features to other datasets (paper §5.3, Tables 13–15).

fc6 (after its ReLU, as DeCAF6) or fc7 features of Baseline, Finetune-8 and Deepcorr-5 feed linear SVMs
(scikit-learn's ``LinearSVC`` on L2-normalised features, which its dual solver fits in a few
iterations where standardised features take thousands; or the same problem solved for all classes at once in
torch, :mod:`deepcorrect.linear_svm`, where 101 classes make liblinear too slow for a small CPU). Following Donahue et al. as the paper does: several
random splits, each with 25 training and 5 validation images per class and the remaining images for testing;
C is chosen on the validation images, the SVM is refitted on training + validation; the metric is the mean
per-class accuracy (``balanced_accuracy_score``) averaged over the splits. For a distortion kind, one set of
SVMs is trained on the training images at every level and clean (footnote 8) and tested level by level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .config import Profile
from .data import TensorData
from .distortions import NUM_LEVELS
from .evaluate import COLUMNS, features
from .experiments import artifact_key, evaluation_key
from .models import CaffeAlexNet, TorchvisionAlexNet
from .paper import TABLE_13, TABLE_14_15
from .store import Store
from .train import resolve_device

#: Feature layer names → the module whose output is taken, per network form.
_FEATURE_MODULES = {CaffeAlexNet: {"fc6": "relu6", "fc7": "relu7"},
                    TorchvisionAlexNet: {"fc6": "net.classifier.2", "fc7": "net.classifier.5"}}


def feature_module(model: nn.Module, layer: str) -> str:
    """The module name holding ``layer`` (fc6 / fc7) features after the ReLU, for either AlexNet form."""
    for cls, names in _FEATURE_MODULES.items():
        if isinstance(model, cls):
            if layer not in names:
                raise ValueError(f"feature layer must be one of {', '.join(names)}, got {layer!r}")
            return names[layer]
    raise ValueError(f"transfer features need an AlexNet (Caffe or torchvision form), got {type(model).__name__}")


def make_splits(labels: torch.Tensor, n_splits: int, n_train: int, n_val: int, seed: int
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n_splits`` seeded (train, validation, test) index triples: ``n_train`` + ``n_val`` images of every
    class, every other image for testing."""
    labels = labels.cpu().numpy()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_splits):
        tr, va, te = [], [], []
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            if len(members) <= n_train + n_val:
                raise ValueError(f"class {c} has {len(members)} images; a split needs {n_train} + {n_val} "
                                 f"and at least one to test")
            tr.append(members[:n_train])
            va.append(members[n_train:n_train + n_val])
            te.append(members[n_train + n_val:])
        out.append(tuple(np.sort(np.concatenate(p)) for p in (tr, va, te)))
    return out


def svm_accuracy(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                 tests: list[tuple[np.ndarray, np.ndarray]], cs: tuple[float, ...], seed: int = 0,
                 solver: str = "liblinear") -> tuple[list[float], float]:
    """Fit a linear SVM per C on ``train``, keep the C with the best mean per-class accuracy on ``val``,
    refit on train + validation and return (mean per-class accuracy on each test set, chosen C).
    ``solver``: ``liblinear`` (scikit-learn's ``LinearSVC``, the C values in parallel processes) or ``lbfgs``
    (:class:`~deepcorrect.linear_svm.TorchLinearSVC`, the same objective, every class at once on all cores;
    the C values in ascending order, each starting from the previous solution)."""
    from joblib import Parallel, delayed
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import LinearSVC

    from .linear_svm import TorchLinearSVC

    if solver not in ("liblinear", "lbfgs"):
        raise ValueError(f"unknown SVM solver {solver!r}; expected 'liblinear' or 'lbfgs'")
    both = (np.concatenate([train[0], val[0]]), np.concatenate([train[1], val[1]]))

    def fit(c: float, x: np.ndarray, y: np.ndarray, init=None):
        svm = (LinearSVC(C=c, max_iter=10_000, random_state=seed) if solver == "liblinear"
               else TorchLinearSVC(C=c, init=init))
        return make_pipeline(Normalizer(), svm).fit(x, y)

    def score(model) -> float:
        return balanced_accuracy_score(val[1], model.predict(val[0]))

    if len(cs) == 1:
        best, final = cs[0], fit(cs[0], *both)
    elif solver == "liblinear":
        scores = Parallel(n_jobs=-1)(delayed(lambda c: score(fit(c, *train)))(c) for c in cs)
        best = cs[int(np.argmax(scores))]
        final = fit(best, *both)
    else:
        path, init = [], None
        for c in sorted(cs):
            model = fit(c, *train, init)
            init = model[-1].weights_
            path.append((score(model), -c, init))  # ties: the smaller C
        _, neg_c, weights = max(path, key=lambda p: p[:2])
        best = -neg_c
        final = fit(best, *both, weights)
    return [float(balanced_accuracy_score(y, final.predict(x))) for x, y in tests], float(best)


def transfer_accuracy(profile: Profile, store: Store, model: nn.Module, name: str, data: TensorData, kind: str,
                      progress: bool = True) -> dict:
    """Mean per-class accuracy of ``name``'s features on the transfer set: for ``kind`` = ``clean`` one SVM on
    clean images (Table 13); for blur / awgn one SVM on every level and clean, tested per level (Tables
    14–15). Returns per-split accuracies (splits × levels) and the chosen C values. Cached."""
    from tqdm import tqdm

    t = profile.transfer
    device = resolve_device(profile.device)
    levels = [0] if kind == "clean" else list(range(NUM_LEVELS + 1))
    module = feature_module(model, t.feature_layer)

    def compute(_folder: Path) -> dict:
        feats = [features(model, module, data, "awgn" if kind == "clean" else kind, level, profile.data.family,
                          device=device, batch_size=profile.eval.batch_size, seed=t.transfer_seed,
                          clip=profile.eval.clip, bf16=profile.eval.bf16).numpy() for level in levels]
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
    return store.get("transfer", key, compute, {"model": model, "images": data})


def transfer_table(results: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """Rows (kind, model): mean per-class accuracy per level averaged over splits, ``Avg`` over the six
    distortion levels (the paper's Tables 14–15 average distorted images) and the spread over splits."""
    rows = {}
    for kind, per_model in results.items():
        for name, r in per_model.items():
            acc = r["accuracy"].double()  # splits × levels
            mean = acc.mean(0).tolist()
            row = dict(zip(COLUMNS, mean))
            row["Avg"] = float(acc[:, 1:].mean()) if acc.shape[1] > 1 else mean[0]
            row["± (std over splits)"] = float((acc[:, 1:] if acc.shape[1] > 1 else acc).mean(1).std(unbiased=False))
            rows[(kind, name)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["kind", "model"]
    return out


def compare_transfer(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Measured Table 13 (clean, Baseline) and Tables 14–15 (Avg over levels) beside the paper's row for
    ``dataset`` (Caltech-101, Caltech-256 or SUN-397)."""
    rows = []
    if ("clean", "Baseline") in table.index:
        rows.append({"table": "13 (clean)", "model": "Baseline", "measured": table.loc[("clean", "Baseline"), "Avg"],
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


def paper_table(table: pd.DataFrame, number: int, dataset: str) -> pd.DataFrame:
    """Table ``number`` (13, 14 or 15) as measured — per level, Avg and spread over splits — with the paper's
    Avg for ``dataset`` and the difference beside each row."""
    kind = TABLE_KINDS[number]
    measured = table.xs(kind, level="kind")
    if kind == "clean":
        measured = measured[["Clean", "Avg", "± (std over splits)"]]
    label = {13: "13 (clean)", 14: "14 (blur)", 15: "15 (AWGN)"}[number]
    paper = compare_transfer(table, dataset)
    paper = paper.xs(label, level="table") if label in paper.index.get_level_values("table") else paper.iloc[:0]
    return measured.join(paper[["paper", "Δ"]].rename(columns={"paper": "paper Avg", "Δ": "Δ Avg"}))


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
        parts.append(f"**{'Blur' if kind == 'blur' else 'AWGN'}**: Avg over levels 1–6 — Baseline {avg['Baseline']:.3f}, "
                     f"Finetune-8 {avg['Finetune-8']:.3f}, Deepcorr-5 {avg['Deepcorr-5']:.3f}; Deepcorr-5 vs "
                     f"Finetune-8 {gain:+.1%} (the paper on {dataset}: {paper_gain}). Best: {best} — the paper's "
                     f"ordering (Deepcorr-5 best) {'holds' if best == 'Deepcorr-5' else 'does not hold'} here.")
    return "\n\n".join(parts)
