"""Baselines that correct no filter, for page 04 ("what the gain consists of"): BN adaptation and TENT.

The authors' release trains its units with Keras 1, whose "frozen" BatchNorms still normalise with batch
statistics and update their running statistics (Keras 1's BatchNormalization in training mode). Re-estimating BN statistics on distorted images
is a known strong corruption baseline by itself (BN adaptation: Schneider et al., NeurIPS 2020), and test-time
entropy minimisation over the BN affine parameters (TENT: Wang et al., ICLR 2021) came after the paper. Both
act only on BatchNorm layers; a network without them (AlexNet) has no such baseline ("not applicable").
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn

from .data import TensorData
from .evaluate import columns, distorted_batches
from .kinds import half_degraded, num_levels

#: TENT's settings for CIFAR in its reference code: Adam, lr 1e-3, β = (0.9, 0.999), batches of 128, one step.
TENT_LR = 1e-3
TENT_BATCH = 128


class NotApplicable(ValueError):
    """A baseline that acts on BatchNorm layers, asked of a network that has none."""


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def require_batchnorm(model: nn.Module, what: str) -> None:
    """``what`` acts on BatchNorm layers only: a clear error for a network that has none."""
    if not batchnorms(model):
        raise NotApplicable(f"{what} acts on BatchNorm layers, and {type(model).__name__} has none: the baseline is "
                         f"not applicable to this network")


@torch.no_grad()
def adapt_batchnorm(model: nn.Module, data: TensorData, kind: str, family: str, *, batch_size: int, seed: int,
                    clip: bool = False, device: torch.device | str = "cpu") -> nn.Module:
    """BN-adapt: a copy of ``model`` whose every BN's running mean and variance are re-estimated — a cumulative
    average over one pass of ``data`` made half distorted by ``kind`` as in §5.1 training — with no gradient
    step: weights, γ and β stay bit-identical."""
    require_batchnorm(model, "BN adaptation")
    device = torch.device(device)
    out = copy.deepcopy(model).to(device).eval()
    norms = batchnorms(out)
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the pass
        bn.train()
    g = torch.Generator(device).manual_seed(seed)
    for x in data.batches(torch.arange(len(data)).split(batch_size), device):
        out(data.cropped(half_degraded(x.float(), kind, family, g, clip)))
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum
    return out.eval()


def tent_model(model: nn.Module) -> nn.Module:
    """A copy configured as TENT adapts it: only the BN affine parameters train, every BN normalises with the
    current batch's statistics (no running statistics), everything else in eval mode."""
    require_batchnorm(model, "TENT")
    out = copy.deepcopy(model).eval().requires_grad_(False)
    for bn in batchnorms(out):
        bn.requires_grad_(True)
        bn.train()
        bn.track_running_stats = False
        bn.running_mean = bn.running_var = None
    return out


def tent_table(model: nn.Module, data: TensorData, kind: str, family: str, *, seed: int, clip: bool = False,
               lr: float = TENT_LR, batch_size: int = TENT_BATCH, device: torch.device | str = "cpu"
               ) -> pd.DataFrame:
    """TENT's online top-1 in the layout of Tables 3–4 (one row, ``kind``): at each level the model starts
    again from ``model`` and, batch after batch of the test images in one seeded random order (a test set
    stored class by class would otherwise hand it batches of one or two classes, whose batch statistics no BN
    can use), predicts and then takes one Adam step on the mean prediction entropy w.r.t. the BN γ, β."""
    data = data.subset(torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)))
    row = []
    for level in range(num_levels(kind) + 1):
        adapted = tent_model(model).to(device)
        params = [p for p in adapted.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
        correct = torch.zeros((), dtype=torch.long, device=device)
        for x, y in distorted_batches(data, kind, level, family, device=device, batch_size=batch_size, seed=seed,
                                      clip=clip):
            logits = adapted(x)
            correct += (logits.argmax(1) == y).sum()  # online: the prediction made before the update
            entropy = -(logits.softmax(1) * logits.log_softmax(1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            entropy.backward()
            opt.step()
        row.append(correct.item() / len(data))
    table = pd.DataFrame([row], index=[kind], columns=columns(kind))
    table["Avg"] = table[columns(kind)].mean(axis=1)
    return table
