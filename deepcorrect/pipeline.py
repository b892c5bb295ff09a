"""The artifacts every page shares, loaded or computed once and cached in the store: the data splits, the
baseline network, the filter ranking, their keys, and the pieces every page prints (the profile summary, the
provenance table, the metrics file).

Every function takes the resolved :class:`~deepcorrect.config.Profile` and a :class:`~deepcorrect.store.Store`
explicitly; the cache key is the part of the profile that determines the result, chained to the keys of the
artifacts it consumes.
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
from .files import atomic_write
from .models import PRETRAINED, build_from_config, fetch_pretrained, load_weights
from .paper import BETAS
from .store import CHECKPOINT, Store, config_hash, stamp
from .train import fit, resolve_device


def artifact_key(profile: Profile, *sections: str) -> dict:
    """The result-determining fields of ``sections`` — an artifact's own settings; what it is computed from
    enters its key as inputs (:meth:`Store.get`). The data and a pretrained weights file enter by their
    content (:func:`~deepcorrect.data.folders.fingerprint`; a streamed tree by its files' sizes and times), not
    their path, so replaced data or weights recompute what depends on them and moved ones do not."""
    key = {s: result_fields(getattr(profile, s)) for s in sections}
    if "data" in key and profile.data.source != "embedded":  # the data by what is there, not where
        key["data"]["root"] = fingerprint(profile.data.root, content=not profile.data.stream)
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


def evaluation_key(profile: Profile, *fields: str) -> dict:
    """The settings of a measurement with a given model on given images (both enter as inputs): the
    distortion family, the noise seed, clipping, precision and batching — plus the named ``eval`` fields
    only this measurement reads (the t-SNE's sizes), so changing one recomputes that measurement alone."""
    ev = profile.eval
    return {"family": profile.data.family, "seed": ev.seed, "clip": ev.clip, "bf16": ev.bf16,
            "batch_size": ev.batch_size, **{name: getattr(ev, name) for name in fields}}


def _fresh_model(profile: Profile, num_classes: int) -> nn.Module:
    torch.manual_seed(profile.train.seed)
    return build_from_config(profile.model, num_classes)


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


#: A training log's columns as a page shows them (``train.fit``'s row keys → headers).
LOG_COLUMNS = {"epoch": "epoch", "loss": "loss", "accuracy": "train accuracy", "val_accuracy": "val accuracy",
               "lr": "learning rate", "seconds": "seconds"}


def training_log(history: list[dict]) -> pd.DataFrame:
    """``train.fit``'s per-epoch log as one table, indexed by epoch: what a page shows instead of the lines
    printed while training (one output box per line, and none when the model came from the store)."""
    frame = pd.DataFrame(history)
    frame = frame[[c for c in LOG_COLUMNS if c in frame]].rename(columns=LOG_COLUMNS)
    return frame.set_index("epoch") if "epoch" in frame else frame


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

    model = build_from_config(profile.model, num_classes)
    for layer in profile.rank.layers:
        get_conv(model, layer)


def paper_betas(profile: Profile, layers: list[str]) -> dict[str, float]:
    """β per ranked layer: the profile's ``beta`` for every layer when set, else the paper's (50 % in every
    CIFAR layer, Deepcorr-5's 75/75/50/50/50 % for AlexNet; a deeper network repeats the last)."""
    if profile.correct.beta:
        return dict.fromkeys(layers, profile.correct.beta)
    betas = BETAS[profile.data.family]
    return {layer: betas[min(i, len(betas) - 1)] for i, layer in enumerate(layers)}


