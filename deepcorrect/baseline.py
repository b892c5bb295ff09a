"""The baseline network: trained on clean images, or loaded from pretrained weights (fetched when missing),
and cached in the store."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .config import Profile
from .context import Run
from .data import TensorData
from .keys import artifact_key, stamp, weights_key
from .models import PRETRAINED, build_from_config, fetch_pretrained, load_weights
from .store import CHECKPOINT
from .train import fit


def weights_file(profile: Profile) -> Path:
    """The profile's pretrained weights: its ``model.weights`` file or, when that is missing and download is on,
    the published weights of its network fetched (checksum-checked) into ``cache_dir/weights``."""
    path = Path(profile.model.weights).expanduser()
    if not path.is_file() and profile.data.download and profile.model.arch in PRETRAINED:
        return fetch_pretrained(profile.model.arch, Path(profile.data.cache_dir).expanduser() / "weights")
    return path


def baseline_model(run: Run, train: TensorData, progress: bool = True) -> tuple[nn.Module, list[dict]]:
    """The network trained on clean images (or loaded from ``model.weights``) and its training log."""
    profile = run.profile
    torch.manual_seed(profile.train.seed)
    model = build_from_config(profile.model, train.num_classes)
    if profile.model.weights:
        return stamp(run.ready(load_weights(model, weights_file(profile))), weights_key(profile)), []

    def compute(folder: Path) -> dict:
        history = fit(model, train, profile.train, device=run.device, checkpoint=folder / CHECKPOINT,
                      progress=progress, group=run.group)
        return {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history}

    result, key = run.cached_keyed("baseline", artifact_key(profile, "model", "train"), {"train": train}, compute)
    model.load_state_dict(result["state"])
    stamp(model, key)
    return run.ready(model), result["history"]  # on the device and in one layout whether trained now or loaded
