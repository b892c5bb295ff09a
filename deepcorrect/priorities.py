"""The correction priorities of the baseline's filters (§4.1, Algorithm 1 on the profile's ranking set),
cached, and the share β of each ranked layer's filters a DeepCorrect model corrects."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .config import Profile
from .context import Run
from .keys import ranking_key, stamp
from .models import build_from_config, get_conv
from .paper import BETAS
from .ranking import Ranking, rank_filters, ranking_set
from .splits import Splits


def filter_priorities(run: Run, model: nn.Module, data: Splits, progress: bool = True) -> Ranking:
    """Correction priorities of every ranked filter (cached): Algorithm 1 on the profile's ranking set."""
    profile = run.profile
    source = data.val if profile.rank.split == "val" else data.train
    if source is None:
        raise ValueError("the ranking set comes from the validation split, but this profile holds none out; "
                         "set val_per_class > 0 or split=train")

    def compute(_folder: Path) -> dict:
        rset = ranking_set(source, profile.rank.per_class, profile.rank.seed)
        return rank_filters(model, rset, profile.data.family, profile.rank, device=run.device,
                            progress=progress, group=run.group).to_payload()

    payload, key = run.cached_keyed("ranking", ranking_key(profile), {"model": model, "ranking_set": source},
                                    compute)
    return stamp(Ranking.from_payload(payload), key)


def check_rank_layers(profile: Profile, num_classes: int) -> None:
    """Fail early (before training anything) when ``rank.layers`` names a layer the network lacks."""
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
