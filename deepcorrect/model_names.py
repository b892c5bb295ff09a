"""The grammar of the paper's model names: ``Finetune-k``, ``Deepcorr-k``, ``Deepcorr-kc``,
``Deepcorr-k-global``, the unit variants (``-lite``, ``-bottleneck``, ``-no-bn``, ``-release``, ``-identity``),
``-adapt``, the baselines ``BN-adapt``, ``TENT``, ``Finetune-BN`` and, for Figure 9, ``ranked.12`` /
``random.12#3`` / ``least.12`` (a Deepcorr-1 on the top, three random or the bottom 12 filters of the first
ranked layer) — each parsed into a :class:`ModelSpec`, and the rows of the paper's tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from .correction import weight_layers

#: Rows of Tables 3–4, in the paper's order.
TABLE_3_MODELS = ("Baseline", "Finetune-1", "Finetune-3", "Finetune-6", "Finetune-9", "Deepcorr-1", "Deepcorr-3",
                  "Deepcorr-6", "Deepcorr-1c", "Deepcorr-3c", "Deepcorr-6c")

#: The paper's full fine-tune of All-Conv-BN (every weight layer): its row in Tables 3–4.
PAPER_FULL_FINETUNE = "Finetune-9"


def full_finetune_name(net: nn.Module) -> str:
    """``Finetune-N``, N the weight layers of ``net``: every layer trains (Finetune-9 for All-Conv-BN,
    Finetune-20 for ResNet-20: 19 convs and the linear layer)."""
    return f"Finetune-{len(weight_layers(net))}"


#: Rows of Tables 7–8 (AlexNet), in the paper's order, and the other §5.2 models.
TABLE_7_MODELS = ("Baseline", "Finetune-8", "Deepcorr-5c", "Deepcorr-5", "Deepcorr-5-no-bn")
ALEXNET_MODELS = (*TABLE_7_MODELS, "Deepcorr-5-lite", "Deepcorr-5-bottleneck", "Deepcorr-5-global")
#: Unit variants named in model names (``Deepcorr-5-lite``) → correction.VARIANTS.
_VARIANT_NAMES = {"cw": "cw", "lite": "lite", "bottleneck": "bottleneck", "no-bn": "nobn", "release": "release",
                  "identity": "identity"}
#: Baselines with no correction unit (page 04) → their method.
BASELINES = {"BN-adapt": "bn-adapt", "TENT": "tent", "Finetune-BN": "finetune-bn"}

_NAME = re.compile(r"^(?:(?P<ft>Finetune)-(?P<ftk>\d+)|Deepcorr-(?P<k>\d+)(?P<c>c?)(?P<glob>-global)?"
                   r"(?:-(?P<variant>cw|lite|bottleneck|no-bn|release|identity))?"
                   r"|(?P<fig9>ranked|random|least)\.(?P<l>\d+)(?:#(?P<draw>\d+))?)(?P<adapt>-adapt)?$")


@dataclass(frozen=True)
class ModelSpec:
    """What a model name means: ``method`` deepcorr | finetune, ``k`` layers, ``train_last`` extra layers
    trained (the "c" models), ``selection`` local | global | ranked | random | least, and for Figure 9 the
    number of first-layer ``filters`` and the random ``draw``; ``variant`` the correction unit when the name
    gives one (``Deepcorr-5-lite``), else the profile's; ``base_bn`` ``adapt`` for a name ending in ``-adapt``
    (the base network's BNs re-estimate their statistics while it trains, as in the release), else the
    profile's. ``method`` bn-adapt | tent | finetune-bn for the baselines that correct no filter."""

    name: str
    method: str
    k: int
    train_last: int = 0
    selection: str = "local"
    filters: int = 0
    draw: int = 0
    variant: str = ""
    base_bn: str = ""


def parse_model(name: str) -> ModelSpec:
    """``"Deepcorr-6c"`` → its :class:`ModelSpec`; a clear error listing the accepted forms otherwise."""
    if isinstance(name, str) and name.strip() in BASELINES:
        return ModelSpec(name, BASELINES[name.strip()], 0)
    m = _NAME.match(name.strip()) if isinstance(name, str) else None
    if m is None or (m["fig9"] == "random") != (m["draw"] is not None):
        raise ValueError(f"unknown model name {name!r}; expected Finetune-K, Deepcorr-K, Deepcorr-Kc, "
                         f"Deepcorr-Kc-global, Deepcorr-K-lite / -bottleneck / -no-bn / -cw / -release / -identity, "
                         f"ranked.L, least.L or random.L#T, each optionally ending in -adapt (base BNs adapt), or "
                         f"{', '.join(BASELINES)} (e.g. Deepcorr-6c, Deepcorr-6-release-adapt, random.12#3)")
    base_bn = "adapt" if m["adapt"] else ""
    if m["ft"]:
        return ModelSpec(name, "finetune", int(m["ftk"]), base_bn=base_bn)
    if m["fig9"]:
        return ModelSpec(name, "deepcorr", 1, selection=m["fig9"], filters=int(m["l"]), draw=int(m["draw"] or 0),
                         base_bn=base_bn)
    return ModelSpec(name, "deepcorr", int(m["k"]), train_last=3 if m["c"] else 0,
                     selection="global" if m["glob"] else "local",
                     variant=_VARIANT_NAMES[m["variant"]] if m["variant"] else "", base_bn=base_bn)
