"""Load-or-compute functions the notebooks call: one per table or figure family, each cached in the store.

Every function takes the resolved :class:`~deepcorrect.config.Profile` and a :class:`~deepcorrect.store.Store`
explicitly; the cache key is the part of the profile that determines the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .config import Profile, result_fields
from .data import TensorData, load_dataset, split_validation
from .data.folders import fingerprint
from .distortions import KINDS, NUM_LEVELS
from .evaluate import COLUMNS, accuracy_table, distorted_batches, features, predict
from .models import PRETRAINED, REPORTED_ERROR, build_model, fetch_pretrained, load_weights
from .paper import BETAS, FIGURE_4_BETA, FIGURE_5_BEST, FIGURE_5_BETA, SELECTION_COUNTS, baseline_row
from .files import atomic_write
from .store import CHECKPOINT, Store, config_hash, derived, stamp
from .train import fit, resolve_device


def artifact_key(profile: Profile, *sections: str) -> dict:
    """The result-determining fields of ``sections`` — an artifact's own settings; what it is computed from
    enters its key as inputs (:meth:`Store.get`). The data and a pretrained weights file enter by their
    content (:func:`~deepcorrect.data.folders.fingerprint`), not their path, so replaced data or weights
    recompute what depends on them and moved ones do not."""
    key = {s: result_fields(getattr(profile, s)) for s in sections}
    if "data" in key and profile.data.source != "embedded":  # the data by what is there, not where
        key["data"]["root"] = fingerprint(profile.data.root)
    if "model" in key and profile.model.weights:
        path = Path(profile.model.weights).expanduser()
        if path.is_file():
            key["model"]["weights"] = fingerprint(path)
        elif profile.model.arch in PRETRAINED:  # what weights_file fetches: the same key as a local copy
            key["model"]["weights"] = f"sha256:{PRETRAINED[profile.model.arch][2]}"
    return key


def weights_file(profile: Profile) -> Path:
    """The profile's pretrained weights: its ``model.weights`` file or, when that is missing and download is on,
    the published weights of its network fetched (checksum-checked) into ``cache_dir/weights``."""
    path = Path(profile.model.weights).expanduser()
    if not path.is_file() and profile.data.download and profile.model.arch in PRETRAINED:
        return fetch_pretrained(profile.model.arch, Path(profile.data.cache_dir).expanduser() / "weights")
    return path


@dataclass(frozen=True)
class Splits:
    train: TensorData  # what the baseline trains on
    val: TensorData | None  # held out of the training split (the CIFAR ranking set comes from here)
    test: TensorData  # what every table is measured on


def datasets(profile: Profile) -> Splits:
    """Train / validation / test splits of the profile's data."""
    train, test = load_dataset(profile.data)
    where = profile.data.root or profile.data.source
    if len(torch.unique(train.labels)) < 2:
        raise ValueError(f"the training split of {where} holds {len(torch.unique(train.labels))} class(es) "
                         f"({', '.join(train.classes)}); classifying needs at least two class folders")
    val = None
    if profile.data.val_per_class:
        fewest = int(torch.bincount(train.labels, minlength=train.num_classes).min())
        if fewest <= profile.data.val_per_class:
            raise ValueError(f"val_per_class={profile.data.val_per_class} holds out every training image of some "
                             f"class of {where} (the smallest has {fewest}); lower val_per_class")
        train, val = split_validation(train, profile.data.val_per_class, profile.data.seed + 2)
    if len(test) == 0:
        raise ValueError(f"the test split of {where} is empty; it needs images in test/ (or val/)")
    key = "data/" + config_hash("data", artifact_key(profile, "data"))
    for name, split in (("train", train), ("val", val), ("test", test)):
        if split is not None:
            stamp(split, f"{key}/{name}")
    return stamp(Splits(train, val, test), key)


def baseline(profile: Profile, store: Store, train: TensorData, progress: bool = True) -> tuple[nn.Module, list[dict]]:
    """The network trained on clean images (or loaded from ``model.weights``) and its training log."""
    model = _fresh_model(profile, train.num_classes)
    device = resolve_device(profile.device)
    if profile.model.weights:
        model = load_weights(model, weights_file(profile)).to(device).eval()
        return stamp(model, f"weights/{artifact_key(profile, 'model')['model']['weights']}"), []

    def compute(folder: Path) -> dict:
        history = fit(model, train, profile.train, device=device, checkpoint=folder / CHECKPOINT,
                      progress=progress, group=store.group)
        return {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history}

    result, key = store.get_keyed("baseline", artifact_key(profile, "model", "train"), compute, {"train": train})
    model.load_state_dict(result["state"])
    stamp(model, key)
    return model.to(device).eval(), result["history"]  # on the device whether trained now or loaded


def baseline_tables(profile: Profile, store: Store, model: nn.Module, test: TensorData) -> pd.DataFrame:
    """Tables 1–2 for this profile: top-1 per level and Avg, one row per distortion kind."""
    device = resolve_device(profile.device)

    def compute(_folder: Path) -> dict:
        table = accuracy_table(model, test, profile.data.family, device=device, batch_size=profile.eval.batch_size,
                               seed=profile.eval.seed, clip=profile.eval.clip, bf16=profile.eval.bf16)
        return table.to_dict(orient="split")

    return pd.DataFrame(**store.get("baseline_tables", evaluation_key(profile), compute,
                                    {"model": model, "test": test}))


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


def tsne_embeddings(profile: Profile, store: Store, model: nn.Module, test: TensorData, *,
                    kinds: tuple[str, ...] = KINDS) -> dict:
    """For Figures 2 and 10: 2-D t-SNE of penultimate features of ``eval.tsne_per_class`` test images of each
    of the first ``eval.tsne_classes`` classes, clean and at every level of ``kinds``. The model enters the
    key by its own key, so a retrained Deepcorr-5 gets a new embedding."""
    from .analysis.tsne import embed

    device = resolve_device(profile.device)
    n_classes = min(profile.eval.tsne_classes, test.num_classes)
    subset = test.subset((test.labels < n_classes).nonzero().squeeze(1)).per_class(
        profile.eval.tsne_per_class, profile.eval.seed)

    def compute(_folder: Path) -> dict:
        result = {"labels": subset.labels.clone(), "classes": list(test.classes[:n_classes])}
        for kind in kinds:
            for level in range(NUM_LEVELS + 1):
                f = features(model, model.penultimate, subset, kind, level, profile.data.family, device=device,
                             seed=profile.eval.seed, clip=profile.eval.clip, bf16=profile.eval.bf16)
                result[f"{kind}/{level}"] = torch.from_numpy(embed(f.numpy(), seed=profile.eval.seed))
        return result

    return store.get("tsne", {**evaluation_key(profile, "tsne_per_class", "tsne_classes"), "kinds": list(kinds)},
                     compute,
                     {"model": model, "test": test})


def evaluation_key(profile: Profile, *fields: str) -> dict:
    """The settings of a measurement with a given model on given images (both enter as inputs): the
    distortion family, the noise seed, clipping, precision and batching — plus the named ``eval`` fields
    only this measurement reads (the t-SNE's sizes), so changing one recomputes that measurement alone."""
    ev = profile.eval
    return {"family": profile.data.family, "seed": ev.seed, "clip": ev.clip, "bf16": ev.bf16,
            "batch_size": ev.batch_size, **{name: getattr(ev, name) for name in fields}}


def _fresh_model(profile: Profile, num_classes: int) -> nn.Module:
    torch.manual_seed(profile.train.seed)
    return build_model(profile.model.arch, num_classes, profile.model.width, inputs=profile.model.inputs,
                      lrn=profile.model.lrn)


def summary(profile: Profile) -> pd.DataFrame:
    """What produced the pages: profile, data, network and schedule, as a small table."""
    rows = {"profile": profile.name, "what": profile.description, "data source": profile.data.source,
            "data root": profile.data.root or "(generated in code)",
            "train / test images per class": f"{profile.data.train_per_class or 'all'} / "
                                             f"{profile.data.test_per_class or 'all'}",
            "network": f"{profile.model.arch}, width {profile.model.width:g}",
            "schedule": (f"pretrained weights {profile.model.weights} (not trained here)" if profile.model.weights
                         else f"{profile.train.epochs} epochs, batch {profile.train.batch_size}, lr {profile.train.lr:g}"),
            "device": profile.device}
    return pd.DataFrame({"value": rows}).rename_axis("setting")




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

    def plain(obj):
        if isinstance(obj, pd.DataFrame):
            return {str(i): {str(c): float(v) for c, v in row.items()} for i, row in obj.iterrows()}
        if isinstance(obj, dict):
            return {str(k): plain(v) for k, v in obj.items()}
        return obj

    text = json.dumps(plain(metrics), indent=2, sort_keys=True,
                      default=lambda v: v.item() if hasattr(v, "item") else str(v))
    return atomic_write(Path(results_dir) / "metrics" / f"{name}.json", lambda tmp: tmp.write_text(text))


def provenance(store: Store) -> pd.DataFrame:
    """The artifacts a page used, with their keys, their inputs' keys, the code fingerprint and wall time."""
    return pd.DataFrame(store.provenance()).set_index("artifact") if store.ledger else pd.DataFrame()


def describe_splits(data: Splits) -> str:
    val = f", {len(data.val):,} validation" if data.val is not None else ""
    return (f"{len(data.train):,} training{val} and {len(data.test):,} test images of {data.train.num_classes} "
            f"classes ({', '.join(data.train.classes)}).")


# ------------------------------------------------------------------------------------------------------------
# Ranking (§4.1)

def ranking(profile: Profile, store: Store, model: nn.Module, data: Splits, progress: bool = True):
    """Correction priorities of every ranked filter (cached): Algorithm 1 on the profile's ranking set."""
    from .ranking import Ranking, rank_filters, ranking_set

    source = data.val if profile.rank.split == "val" else data.train
    if source is None:
        raise ValueError("the ranking set comes from the validation split, but this profile holds none out; "
                         "set val_per_class > 0 or split=train")
    device = resolve_device(profile.device)

    def compute(_folder: Path) -> dict:
        rset = ranking_set(source, profile.rank.per_class, profile.rank.seed)
        return rank_filters(model, rset, profile.data.family, profile.rank, device=device,
                            progress=progress, group=store.group).to_payload()

    payload, key = store.get_keyed("ranking", {**artifact_key(profile, "rank"), "family": profile.data.family},
                                   compute, {"model": model, "ranking_set": source})
    return stamp(Ranking.from_payload(payload), key)


def check_rank_layers(profile: Profile, num_classes: int) -> None:
    """Fail early (before training anything) when ``rank.layers`` names a layer the network lacks."""
    from .models import get_conv

    model = build_model(profile.model.arch, num_classes, profile.model.width, inputs=profile.model.inputs,
                      lrn=profile.model.lrn)
    for layer in profile.rank.layers:
        get_conv(model, layer)


def paper_betas(profile: Profile, layers: list[str]) -> dict[str, float]:
    """β per ranked layer: the profile's ``beta`` for every layer when set, else the paper's (50 % in every
    CIFAR layer, Deepcorr-5's 75/75/50/50/50 % for AlexNet; a deeper network repeats the last)."""
    if profile.correct.beta:
        return dict.fromkeys(layers, profile.correct.beta)
    betas = BETAS[profile.data.family]
    return {layer: betas[min(i, len(betas) - 1)] for i, layer in enumerate(layers)}


def ideal_correction(profile: Profile, store: Store, model: nn.Module, data: Splits, rank, name: str,
                     selections: dict[str, dict[str, dict[str, list[int]]]]) -> pd.DataFrame:
    """Top-1 at every level when the selected filters get their clean activations (Figures 4–5).
    ``selections``: row label → kind → {layer: filters}. Measured on ``eval.ideal_per_class`` test images
    per class; cached under ``name``."""
    from .ranking import ideal_curve

    device = resolve_device(profile.device)
    test = data.test
    if profile.eval.ideal_per_class and profile.eval.ideal_per_class < int(torch.bincount(test.labels).min()):
        test = derived(test.per_class(profile.eval.ideal_per_class, profile.eval.seed), data.test,
                       per_class=profile.eval.ideal_per_class, seed=profile.eval.seed)

    def compute(_folder: Path) -> dict:
        rows = []
        for label, per_kind in selections.items():
            for kind, selection in per_kind.items():
                acc = ideal_curve(model, test, kind, profile.data.family, selection, device=device,
                                  batch_size=profile.eval.batch_size, seed=profile.eval.seed, clip=profile.eval.clip)
                rows.append({"selection": label, "kind": kind, **dict(zip(COLUMNS, acc))})
        return {"rows": rows}

    key = {**evaluation_key(profile), "name": name, "selections": selections}
    return pd.DataFrame(store.get("ideal", key, compute, {"model": model, "test": test, "ranking": rank})["rows"])


def first_layer_fractions(rank, betas=(0.1, 0.25, 0.5, 0.75, 0.9)) -> dict[str, dict[str, dict[str, list[int]]]]:
    """Figure 4's selections: the top β₁ of the first ranked layer, per kind, plus no correction."""
    from .ranking import select_local

    first = rank.layers[0]
    out = {"none": {kind: {} for kind in rank.kinds}}
    for beta in betas:
        out[f"β₁={beta:.0%}"] = {kind: {first: select_local(rank, kind, {first: beta})[first].tolist()}
                                 for kind in rank.kinds}
    return out


def single_layer_fractions(rank, family: str = "cifar") -> dict[str, dict[str, dict[str, list[int]]]]:
    """Figure 5's selections: the top β of one layer at a time, per kind (the paper's β: 50 % for CIFAR,
    75 % for AlexNet)."""
    from .ranking import select_local

    beta = FIGURE_5_BETA[family]
    return {layer: {kind: {layer: select_local(rank, kind, {layer: beta})[layer].tolist()} for kind in rank.kinds}
            for layer in rank.layers}


def selection_counts(profile: Profile, rank) -> pd.DataFrame:
    """Filters corrected per layer under local and global ranking (the rows of Tables 5 and 9), measured
    and, where the network has the paper's widths, the paper's."""
    from .ranking import select_global, select_local

    betas = paper_betas(profile, rank.layers)
    paper = SELECTION_COUNTS[profile.data.family]
    rows = []
    for scheme, select in (("local", select_local), ("global", select_global)):
        for kind in rank.kinds:
            chosen = select(rank, kind, betas)
            rows.append({"ranking": scheme, "kind": kind, "source": "measured",
                         **{layer: len(chosen[layer]) for layer in rank.layers}})
            if len(paper[scheme][kind]) == len(rank.layers):
                rows.append({"ranking": scheme, "kind": kind, "source": "paper (full width)",
                             **dict(zip(rank.layers, paper[scheme][kind]))})
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
        parts.append(f"{'Blur' if kind == 'blur' else 'AWGN'}: ideally correcting the top {beta:.0%} of the first layer "
                     f"regains {share:.0%} of the accuracy lost over levels 1–6 — this {verdict} the paper's "
                     f"\"large part\".")
    return " ".join(parts)


def describe_layers(per_layer: pd.DataFrame, rank, family: str = "cifar") -> str:
    """Which single layer's ideal correction recovers most (the paper: the first for CIFAR, conv-2 for
    AlexNet)."""
    paper_best = rank.layers[FIGURE_5_BEST[family]]
    parts = []
    for kind in rank.kinds:
        rows = per_layer[per_layer.kind == kind].set_index("selection")
        avg = rows[COLUMNS].mean(axis=1)
        best = avg.idxmax()
        order = " > ".join(avg.sort_values(ascending=False).index)
        verdict = (f"agrees with the paper ({paper_best} is best)" if best == paper_best
                   else f"differs from the paper, which finds {paper_best} best")
        parts.append(f"{'Blur' if kind == 'blur' else 'AWGN'}: average top-1 after correcting one layer ranks "
                     f"{order}; the best is {best} — this {verdict}.")
    return " ".join(parts)


def top_filters(rank, k: int = 5) -> pd.DataFrame:
    """The k highest-priority filters of each layer per kind, with their mean τ."""
    rows = []
    for kind in rank.kinds:
        for layer in rank.layers:
            order = rank.order(layer, kind)[:k]
            score = rank.score(layer, kind)
            rows.append({"kind": kind, "layer": layer,
                         "top filters (τ̄)": ", ".join(f"{int(j)} ({float(score[j]):+.3f})" for j in order),
                         "filters with τ̄ > 0": int((score > 0).sum()), "filters": score.numel()})
    return pd.DataFrame(rows).set_index(["kind", "layer"])


def first_layer_weights(model: nn.Module, rank) -> torch.Tensor:
    """Kernels of the first ranked conv layer (Figure 6)."""
    from .models import get_conv

    return get_conv(model, rank.layers[0]).weight
