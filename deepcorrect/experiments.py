"""Load-or-compute functions the notebooks call: one per table or figure family, each cached in the store.

Every function takes the resolved :class:`~deepcorrect.config.Profile` and a :class:`~deepcorrect.store.Store`
explicitly; the cache key is the part of the profile that determines the result.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .config import Profile
from .data import TensorData, load_dataset
from .distortions import KINDS, NUM_LEVELS
from .evaluate import accuracy_table, distorted_batches, features, predict
from .models import build_model, load_weights
from .paper import baseline_row
from .store import Store
from .train import fit, resolve_device


def _key(profile: Profile, *sections: str) -> dict:
    return {s: asdict(getattr(profile, s)) for s in sections}


def datasets(profile: Profile) -> tuple[TensorData, TensorData]:
    """(train, test) of the profile's data."""
    return load_dataset(profile.data)


def baseline(profile: Profile, store: Store, train: TensorData, progress: bool = True) -> tuple[nn.Module, list[dict]]:
    """The network trained on clean images (or loaded from ``model.weights``) and its training log."""
    model = _fresh_model(profile, train.num_classes)
    if profile.model.weights:
        return load_weights(model, profile.model.weights).eval(), []
    device = resolve_device(profile.device)

    def compute(folder: Path) -> dict:
        history = fit(model, train, profile.train, device=device, checkpoint=folder / "checkpoint.pt",
                      progress=progress)
        return {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history}

    result = store.get("baseline", _key(profile, "data", "model", "train"), compute)
    model.load_state_dict(result["state"])
    return model.eval(), result["history"]


def baseline_tables(profile: Profile, store: Store, model: nn.Module, test: TensorData) -> pd.DataFrame:
    """Tables 1–2 for this profile: top-1 per level and Avg, one row per distortion kind."""
    device = resolve_device(profile.device)

    def compute(_folder: Path) -> dict:
        table = accuracy_table(model, test, profile.data.family, device=device,
                               batch_size=profile.eval.batch_size, seed=profile.eval.seed, clip=profile.eval.clip)
        return table.to_dict(orient="split")

    key = _key(profile, "data", "model", "train", "eval")
    return pd.DataFrame(**store.get("baseline_tables", key, compute))


def compare_with_paper(measured: pd.DataFrame, kind: str, family: str) -> pd.DataFrame:
    """Measured row, the paper's row and their difference for one distortion kind."""
    paper = baseline_row(kind, family)
    row = measured.loc[kind].rename("measured")
    return pd.DataFrame([row, paper, (row - paper).rename("measured − paper")])


def example_predictions(profile: Profile, model: nn.Module, test: TensorData, per_kind: int = 2
                        ) -> dict[str, dict]:
    """For Figure 1: ``per_kind`` test images the baseline gets right (and is confident about) when clean, at
    every level of each kind — the distorted images with predicted class and confidence."""
    device = resolve_device(profile.device)
    clean = predict(model, test, "blur", 0, profile.data.family, device=device)
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
                                 seed=profile.eval.seed, clip=profile.eval.clip))
        out[kind] = {"images": torch.stack(images, 1), "probs": torch.stack(probs, 1), "labels": subset.labels}
    return out


def tsne_embeddings(profile: Profile, store: Store, model: nn.Module, test: TensorData) -> dict:
    """For Figure 2: 2-D t-SNE of penultimate features of ``eval.tsne_per_class`` test images of each of the
    first ``eval.tsne_classes`` classes, clean and at every level of blur and AWGN."""
    from .analysis.tsne import embed

    device = resolve_device(profile.device)
    n_classes = min(profile.eval.tsne_classes, test.num_classes)
    subset = test.subset((test.labels < n_classes).nonzero().squeeze(1)).per_class(
        profile.eval.tsne_per_class, profile.eval.seed)

    def compute(_folder: Path) -> dict:
        result = {"labels": subset.labels.clone(), "classes": list(test.classes[:n_classes])}
        for kind in KINDS:
            for level in range(NUM_LEVELS + 1):
                f = features(model, model.penultimate, subset, kind, level, profile.data.family, device=device,
                             seed=profile.eval.seed, clip=profile.eval.clip)
                result[f"{kind}/{level}"] = torch.from_numpy(embed(f.numpy(), seed=profile.eval.seed))
        return result

    return store.get("tsne", _key(profile, "data", "model", "train", "eval"), compute)


def _fresh_model(profile: Profile, num_classes: int) -> nn.Module:
    torch.manual_seed(profile.train.seed)
    return build_model(profile.model.arch, num_classes, profile.model.width)


def summary(profile: Profile) -> pd.DataFrame:
    """What produced the pages: profile, data, network and schedule, as a small table."""
    rows = {"profile": profile.name, "what": profile.description, "data source": profile.data.source,
            "data root": profile.data.root or "(generated in code)",
            "train / test images per class": f"{profile.data.train_per_class or 'all'} / "
                                             f"{profile.data.test_per_class or 'all'}",
            "network": f"{profile.model.arch}, width {profile.model.width:g}",
            "schedule": f"{profile.train.epochs} epochs, batch {profile.train.batch_size}, lr {profile.train.lr:g}",
            "device": profile.device}
    return pd.DataFrame({"value": rows}).rename_axis("setting")




def describe_degradation(measured: pd.DataFrame, profile: Profile) -> str:
    """A sentence per kind comparing the measured fall of accuracy with the paper's (Tables 1–2)."""
    parts = [f"**Measured on profile `{profile.name}` ({profile.data.source} data).**"]
    for kind in measured.index:
        row, paper = measured.loc[kind], baseline_row(kind, profile.data.family)
        monotone = bool((row.iloc[:NUM_LEVELS + 1].diff().dropna() <= 0.005).all())
        parts.append(
            f"{'Blur' if kind == 'blur' else 'AWGN'}: top-1 falls from {row['Clean']:.3f} (clean) to "
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
        text.append(f"{'Blur' if kind == 'blur' else 'AWGN'}: "
                    + ", ".join(f"L{lv} {s[f'{kind}/{lv}']:.2f}" for lv in range(1, NUM_LEVELS + 1))
                    + f" — the measurement {verdict} the paper's widening and merging clusters.")
    return " ".join(text)


def save_metrics(results_dir: str | Path, name: str, metrics: dict) -> Path:
    """Write a notebook's headline numbers as JSON (``results_dir/metrics/name.json``) for tests and readers."""
    import json
    import os

    def plain(obj):
        if isinstance(obj, pd.DataFrame):
            return {str(i): {str(c): float(v) for c, v in row.items()} for i, row in obj.iterrows()}
        if isinstance(obj, dict):
            return {str(k): plain(v) for k, v in obj.items()}
        return obj

    path = Path(results_dir) / "metrics" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(plain(metrics), indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path
