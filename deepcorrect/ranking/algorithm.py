"""Algorithm 1: the correct-prediction counts of every filter of the ranked layers, for every distortion kind
and level, summed over the ranking set's image batches (and over processes, each counting its share)."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch
from torch import nn
from tqdm import tqdm

from .. import distributed as dd
from ..config import RankingConfig
from ..data import TensorData
from ..kinds import degrade, level_seed
from ..models import AllConvBN, conv_layers, get_conv
from ..runtime import float32_exact
from .counters import COUNTERS
from .result import Ranking


def ranked_layers(model: nn.Module) -> list[str]:
    """The layers the paper ranks: the first six convs of All-Conv-BN, all five of AlexNet; for any other
    model every conv layer."""
    layers = conv_layers(model)
    return layers[:6] if isinstance(model, AllConvBN) else layers


def ranking_set(data: TensorData, per_class: int, seed: int) -> TensorData:
    """``per_class`` images of every class (10 from the validation split for CIFAR, 5 from the training split
    for ImageNet), seeded; an error if the split holds fewer."""
    have = int(torch.bincount(data.labels.cpu()).min()) if len(data) else 0
    if per_class > have:
        raise ValueError(f"the ranking set needs {per_class} images per class but the split has only {have} "
                         f"for some class; lower per_class or use a larger split")
    return data.per_class(per_class, seed)


def rank_filters(model: nn.Module, data: TensorData, family: str, cfg: RankingConfig = RankingConfig(), *,
                 device: torch.device | str = "cpu", method: str = "fast", progress: bool = True,
                 group: dd.Group | None = None) -> Ranking:
    """Correct-prediction counts for every filter of ``cfg.layers`` (default :func:`ranked_layers`), every
    kind and level, on ``data`` (already the ranking set). ``method`` is ``fast`` (batched suffix) or
    ``literal`` (Algorithm 1 as written: the whole network per filter). With ``group``, each rank evaluates
    its share of every layer's filters and the counts are summed over ranks: every rank returns them all."""
    if method not in COUNTERS:
        raise ValueError(f"unknown ranking method {method!r}; expected 'fast' or 'literal'")
    device = torch.device(device)
    model = model.eval().to(device)
    layers = list(cfg.layers) or ranked_layers(model)
    sizes = _filters_per_layer(model, layers, data)
    shares = {layer: dd.shard(torch.arange(n, device=device), group) for layer, n in sizes.items()}
    counter = COUNTERS[method](model, shares, cfg, device)
    base = torch.zeros(len(cfg.kinds), len(cfg.levels), dtype=torch.long)
    counts = {layer: torch.zeros(len(cfg.kinds), len(cfg.levels), n, dtype=torch.long) for layer, n in sizes.items()}
    total = math.ceil(len(data) / cfg.chunk_images) * len(cfg.kinds) * len(cfg.levels) * sum(map(len, shares.values()))
    bar = tqdm(total=total, unit="filter", desc="ranking", disable=None if progress and dd.is_main(group) else True)
    t0 = time.perf_counter()
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.bf16
                else nullcontext())
    with torch.inference_mode(), autocast, float32_exact(device.type == "cuda" and not cfg.bf16):
        index = torch.arange(len(data)).split(cfg.chunk_images)
        for batch_no, (idx, whole) in enumerate(zip(index, data.batches(index, device))):
            whole = whole.float()
            clean = counter.clean(data.cropped(whole))  # distorted whole, seen cropped (TensorData.crop)
            labels = data.labels[idx].to(device)
            for k, kind in enumerate(cfg.kinds):
                for li, lv in enumerate(cfg.levels):
                    g = torch.Generator(device).manual_seed(level_seed(cfg.seed, kind, lv, batch_no))
                    logits, distorted = counter.distorted(
                        data.cropped(degrade(whole, kind, lv, family, generator=g, clip=cfg.clip)))
                    base[k, li] += (logits.argmax(1) == labels).sum().cpu()
                    for layer in layers:
                        counts[layer][k, li] += counter.counts(layer, clean, distorted, labels).cpu()
                        bar.update(len(shares[layer]))
                        bar.set_postfix(filters_per_s=f"{bar.n / max(time.perf_counter() - t0, 1e-9):.0f}")
    bar.close()
    counts = {layer: dd.all_sum(c, group) for layer, c in counts.items()}  # each filter was counted on one rank
    return Ranking(layers, list(cfg.kinds), list(cfg.levels), len(data), base, counts, time.perf_counter() - t0,
                   {"method": method, "device": str(device), "bf16": cfg.bf16 and device.type == "cuda"})


def _filters_per_layer(model: nn.Module, layers: list[str], data: TensorData) -> dict[str, int]:
    """The filters of each layer to rank, or a clear error: no conv to swap, an empty set, a wrong layer."""
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer: ranking needs conv filters to swap")
    if len(data) == 0:
        raise ValueError("the ranking set is empty; it needs images of every class")
    return {layer: get_conv(model, layer).out_channels for layer in layers}
