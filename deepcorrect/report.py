"""The tables every page prints about how it was made: the profile summary, the training log and the
provenance of the artifacts it used."""

from __future__ import annotations

import pandas as pd

from .config import Profile
from .store import Store


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


def provenance(store: Store) -> pd.DataFrame:
    """The artifacts a page used, with their keys, their inputs' keys, the code fingerprint and wall time."""
    return pd.DataFrame(store.provenance()).set_index("artifact") if store.ledger else pd.DataFrame()
