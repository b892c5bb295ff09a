"""DeepCorrect against fine-tuning (paper §5.1): named models, their training and the tables built on them.

Models are named as in the paper — ``Finetune-9``, ``Deepcorr-6``, ``Deepcorr-6c``, ``Deepcorr-6c-global`` —
and, for Figure 9, ``ranked.12`` / ``random.12#3`` / ``least.12`` (a Deepcorr-1 on the top, three random or
the bottom 12 filters of the first ranked layer). Trained weights are cached by what determines them (data,
baseline, ranking, schedule, distortion kind and the exact filter selection), so a model that two tables share
(``ranked.48`` is ``Deepcorr-1``) trains once.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import distributed as dd
from .config import Profile
from .adaptation import TENT_BATCH, TENT_LR, NotApplicable, adapt_batchnorm, require_batchnorm, tent_model, tent_table
from .correction import (DEFAULT_WIDTH, check_frozen, corrected_layers, deepcorrect_model, finetune_bn_model,
                         finetune_model, frozen_state, regulariser, set_training_mode, unit_macs, weight_layers)
from .data import TensorData
from .distortions import half_distorted
from .evaluate import COLUMNS, accuracy_table, correct_predictions, half_distorted_accuracy
from .files import atomic_write
from .experiments import artifact_key, evaluation_key, paper_betas
from .models import AllConvBN, build_model, count_params, get_conv
from .paper import TABLE_5, TABLE_6, TABLE_10, TABLE_10_FILTERS, alexnet_table, correction_table
from .ranking import n_selected, ranked_layers, select_global, select_local
from .store import CHECKPOINT, Store, derived, stamp
from .train import fit, resolve_device

#: Rows of Tables 3–4, in the paper's order.
TABLE_3_MODELS = ("Baseline", "Finetune-1", "Finetune-3", "Finetune-6", "Finetune-9", "Deepcorr-1", "Deepcorr-3",
                  "Deepcorr-6", "Deepcorr-1c", "Deepcorr-3c", "Deepcorr-6c")

#: The paper's full fine-tune of All-Conv-BN (every weight layer): its row in Tables 3–4.
PAPER_FULL_FINETUNE = "Finetune-9"


def full_finetune_name(net: nn.Module) -> str:
    """``Finetune-N``, N the weight layers of ``net``: every layer trains (Finetune-9 for All-Conv-BN,
    Finetune-20 for ResNet-20: 19 convs and the linear layer)."""
    return f"Finetune-{len(weight_layers(net))}"


def table3_models(net: nn.Module) -> tuple[str, ...]:
    """Tables 3–4's rows for ``net``: k ∈ {1, 3, 6} and the full fine-tune (:func:`full_finetune_name`)."""
    full = full_finetune_name(net)
    return tuple(full if name == PAPER_FULL_FINETUNE else name for name in TABLE_3_MODELS)


def paper_row_names(names) -> dict[str, str]:
    """Measured row → the paper's row it stands beside: itself, or Finetune-9 for any full fine-tune."""
    full = [n for n in names if n.startswith("Finetune-") and n not in ("Finetune-1", "Finetune-3", "Finetune-6")]
    return {n: PAPER_FULL_FINETUNE if n in full else n for n in names}


#: Rows of Tables 7–8 (AlexNet), in the paper's order, and the other §5.2 models.
TABLE_7_MODELS = ("Baseline", "Finetune-8", "Deepcorr-5c", "Deepcorr-5", "Deepcorr-5-no-bn")
ALEXNET_MODELS = (*TABLE_7_MODELS, "Deepcorr-5-lite", "Deepcorr-5-bottleneck", "Deepcorr-5-global")
#: Unit variants named in model names (``Deepcorr-5-lite``) → correction.VARIANTS.
_VARIANT_NAMES = {"cw": "cw", "lite": "lite", "bottleneck": "bottleneck", "no-bn": "nobn", "release": "release",
                  "identity": "identity"}
#: Baselines with no correction unit (page 06) → their method.
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


def check_specs(profile: Profile, num_classes: int, specs: list[ModelSpec]) -> None:
    """Fail before any training when a model cannot exist on this network (k beyond its layers, more
    first-layer filters than it has)."""

    net = build_model(profile.model.arch, num_classes, profile.model.width, inputs=profile.model.inputs,
                      lrn=profile.model.lrn)
    layers = list(profile.rank.layers) or ranked_layers(net)
    for spec in specs:
        if spec.method in BASELINES.values():
            continue  # networks without BN say "not applicable" in their row
        if spec.method == "finetune":
            finetune_model(net, _finetune_k(net, spec.k))
        elif not 1 <= spec.k <= len(layers):
            raise ValueError(f"{spec.name}: k must lie in 1..{len(layers)} (the ranked layers {', '.join(layers)})")
        elif spec.filters > get_conv(net, layers[0]).out_channels:
            raise ValueError(f"{spec.name}: the first ranked layer {layers[0]} has "
                             f"{get_conv(net, layers[0]).out_channels} filters")


def selection_for(profile: Profile, rank, kind: str, spec: ModelSpec) -> dict[str, list[int]]:
    """The filters a DeepCorrect model corrects, layer → sorted indices."""
    c = profile.correct
    if not 1 <= spec.k <= len(rank.layers):
        raise ValueError(f"{spec.name}: k must lie in 1..{len(rank.layers)} (the ranked layers "
                         f"{', '.join(rank.layers)}), got {spec.k}")
    if spec.selection in ("local", "global"):
        betas = paper_betas(profile, rank.layers[:spec.k])
        select = select_local if spec.selection == "local" else select_global
        chosen = select(rank, kind, betas, method=c.score, release_count=c.release_count)
        return {layer: sorted(int(j) for j in idx) for layer, idx in chosen.items()}
    first = rank.layers[0]
    n = rank.counts[first].shape[-1]
    if not 1 <= spec.filters <= n:
        raise ValueError(f"{spec.name}: the first ranked layer {first} has {n} filters; cannot correct {spec.filters}")
    order = rank.order(first, kind, c.score)
    if spec.selection == "ranked":
        picked = order[:spec.filters]
    elif spec.selection == "least":
        picked = order[-spec.filters:]
    else:
        g = torch.Generator().manual_seed(1_000_003 * profile.train.seed + 1009 * spec.filters + spec.draw)
        picked = torch.randperm(n, generator=g)[:spec.filters]
    return {first: sorted(int(j) for j in picked)}


def build(profile: Profile, base: nn.Module, rank, kind: str, spec: ModelSpec) -> tuple[nn.Module, dict]:
    """The untrained model for ``spec`` and the selection it corrects (empty for fine-tuning)."""
    if spec.method == "finetune":
        return finetune_model(base, _finetune_k(base, spec.k)), {}
    if spec.method == "finetune-bn":
        return finetune_bn_model(base), {}
    if spec.method == "bn-adapt":
        require_batchnorm(base, "BN adaptation")
        return copy.deepcopy(base), {}
    if spec.method == "tent":
        return tent_model(base), {}
    selection = selection_for(profile, rank, kind, spec)
    corrected = {layer: idx for layer, idx in selection.items() if idx}  # global ranking may leave a layer out
    variant = spec.variant or profile.correct.variant
    model = deepcorrect_model(base, corrected, variant, width=unit_width(profile, variant),
                              train_last=spec.train_last)
    return model, selection


def _finetune_k(net: nn.Module, k: int) -> int | None:
    """Finetune-K trains the first K conv layers; K = every weight layer (AlexNet's Finetune-8) trains all."""
    return None if k == len(weight_layers(net)) else k


def unit_width(profile: Profile, variant: str | None = None) -> int | None:
    """Inner width of release / lite units: as configured, else the paper's scaled by the model's width
    (64 for the full-width CIFAR network, 16 at width 0.25); ``None`` for units whose width follows C."""
    c = profile.correct
    variant = variant or c.variant
    if variant not in DEFAULT_WIDTH:
        return None
    return c.unit_width or max(4, round(DEFAULT_WIDTH[variant] * profile.model.width))


def subsets(profile: Profile, data) -> tuple[TensorData, TensorData | None, TensorData]:
    """The training, validation and test images these models use: the profile's splits, capped per class
    (``correct_train_per_class``; ``correct_test_per_class`` for validation and test) if asked."""
    c, seed = profile.correct, profile.data.seed

    def cap(split: TensorData | None, k: int, offset: int) -> TensorData | None:
        if split is None or not k or k >= int(torch.bincount(split.labels).min()):
            return split
        return derived(split.per_class(k, seed + offset), split, per_class=k, seed=seed + offset)

    return (cap(data.train, c.correct_train_per_class, 5), cap(data.val, c.correct_test_per_class, 7),
            cap(data.test, c.correct_test_per_class, 6))


def train_corrected(model: nn.Module, train: TensorData, val: TensorData | None, profile: Profile, kind: str, *,
                    lr: float, device: torch.device, checkpoint: Path | None = None, progress: bool = True,
                    group: dd.Group | None = None, base_bn: str = "") -> list[dict]:
    """§5.1 training: half of every batch distorted by ``kind`` at a random level, SGD with momentum, the
    step schedule, Eq. (5)'s regulariser; validation top-1 (half distorted, fixed draw) after every epoch;
    and a check that every frozen parameter and buffer is bit-identical afterwards. ``base_bn`` (default the
    profile's ``base_bn``): ``adapt`` lets the base network's frozen BNs re-estimate their statistics, as the
    release does. The profile's ``select``, ``passes`` and ``l2_convention`` choose the paper's reading or the
    release's (the best validation epoch, two passes per epoch, Keras's L2)."""
    c, family, clip = profile.correct, profile.data.family, profile.eval.clip
    base_bn = base_bn or c.base_bn
    cfg = replace(profile.train, epochs=c.correct_epochs, lr=lr, lr_step=c.correct_lr_step,
                  batch_size=c.correct_batch_size, steps_per_epoch=c.correct_steps_per_epoch, weight_decay=0.0,
                  nesterov=False,
                  seed=profile.train.seed + 7919 * c.correct_seed)
    if c.select == "best_val" and val is None:
        raise ValueError("select=best_val keeps the epoch with the best validation top-1, but this profile holds "
                         "no validation split out; set val_per_class > 0 or select=last")
    if c.passes > 1:  # the release's epoch: every training image more than once (each pass distorts anew)
        train = train.subset(torch.arange(len(train)).repeat(c.passes))
    model.to(device)
    before = frozen_state(model, base_bn)
    best = _BestEpoch(checkpoint.with_name("best.pt") if checkpoint is not None else None)

    def validate(epoch: int, row: dict) -> None:
        if val is not None:
            row["val_accuracy"] = half_distorted_accuracy(model, val, kind, family, seed=profile.eval.seed + 17,
                                                          device=device, batch_size=profile.eval.batch_size,
                                                          clip=clip)
            if c.select == "best_val" and dd.is_main(group):
                best.offer(epoch, row["val_accuracy"], model)

    history = fit(model, train, cfg, device=device, checkpoint=checkpoint,
                  batch_transform=lambda x, gen: half_distorted(x, kind, family, gen, clip),
                  set_train_mode=functools.partial(set_training_mode, base_bn=base_bn),
                  regularizer=regulariser(model, c.l1, c.l2, keras=c.l2_convention == "keras"),
                  on_epoch_end=validate, progress=progress, group=group)
    check_frozen(model, before)
    if c.select == "best_val":
        best.restore(model, group)
    return history


class _BestEpoch:
    """The weights of the epoch with the best validation top-1 (the release's ``save_best_only``), kept in
    memory and, beside a training checkpoint, in ``best.pt`` so that a resumed run still knows them."""

    def __init__(self, path: Path | None):
        self.path, self.epoch, self.accuracy, self.state = path, 0, -1.0, None
        if path is not None and path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            self.epoch, self.accuracy, self.state = saved["epoch"], saved["accuracy"], saved["state"]

    def offer(self, epoch: int, accuracy: float, model: nn.Module) -> None:
        if accuracy <= self.accuracy:
            return  # ties keep the earlier epoch
        self.epoch, self.accuracy = epoch, accuracy
        self.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if self.path is not None:
            atomic_write(self.path, lambda tmp: torch.save({"epoch": epoch, "accuracy": accuracy,
                                                            "state": self.state}, tmp))

    def restore(self, model: nn.Module, group: dd.Group | None) -> None:
        state = dd.broadcast(self.state, group)
        if state is not None:
            model.load_state_dict(state)
        if self.path is not None and dd.is_main(group):
            self.path.unlink(missing_ok=True)


def corrected_model(profile: Profile, store: Store, base: nn.Module, data, rank, kind: str, name: str,
                    progress: bool = True) -> tuple[nn.Module, dict]:
    """Train (or load) the named model for ``kind``; returns it in eval mode with its record: history,
    selection and trainable parameters. ``BN-adapt`` re-estimates the base network's BN statistics instead
    of training; ``TENT`` is returned untrained (it adapts while it is evaluated, see :func:`evaluate_models`)."""

    spec = parse_model(name)
    model, selection = build(profile, base, rank, kind, spec)
    c = profile.correct
    lr = c.deepcorr_lr if spec.method == "deepcorr" else c.finetune_lr
    device = resolve_device(profile.device)
    record = {"name": name, "method": spec.method, "history": [], "selection": selection,
              "params": count_params(model, trainable_only=True)}
    if spec.method == "tent":
        return model.eval(), record
    train, val, _ = subsets(profile, data)
    base_bn = spec.base_bn or c.base_bn

    def compute(folder: Path) -> dict:
        if spec.method == "bn-adapt":
            adapted = adapt_batchnorm(base, train, kind, profile.data.family, batch_size=c.correct_batch_size,
                                      seed=profile.train.seed + 7919 * c.correct_seed, clip=profile.eval.clip,
                                      device=device)
            return {"state": {k: v.cpu() for k, v in adapted.state_dict().items()}, "history": []}
        history = train_corrected(model, train, val, profile, kind, lr=lr, device=device,
                                  checkpoint=folder / CHECKPOINT, progress=progress, group=store.group,
                                  base_bn=base_bn)
        return {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history}

    key = {**_training_key(profile, spec.method), "kind": kind, "method": spec.method, "k": spec.k,
           "train_last": spec.train_last, "selection": selection, "base_bn": base_bn,
           **({"variant": spec.variant} if spec.variant else {})}
    result, artifact = store.get_keyed("corrected", key, compute,
                                       {"base": base, "train": train, "val": val if val is not None else "none"})
    model.load_state_dict(result["state"])
    stamp(model, artifact)
    record["history"] = result["history"]
    return model.eval(), record


#: Correction settings that shape DeepCorrect models only (fine-tuning neither builds units nor selects).
_DEEPCORR_ONLY = ("variant", "unit_width", "beta", "release_count", "score", "deepcorr_lr", "l1")


def _training_key(profile: Profile, method: str = "deepcorr") -> dict:
    """A trained model's own settings (the base network, its training and validation images enter as
    inputs; the filters it corrects as its selection): the correction and training schedule, the unit's
    width scale, the distortion family, and the clipping and seed of its distorted validation set — but not
    the Figure 9 bookkeeping (how many draws, which sizes), so that more draws reuse the models trained, nor,
    for a fine-tuned model, the settings of DeepCorrect's units."""
    key = artifact_key(profile, "model", "train", "correct")
    drop = ("draws", "fig9_filters", "base_bn", *(_DEEPCORR_ONLY if method != "deepcorr" else ("finetune_lr",)))
    key["correct"] = {k: v for k, v in key["correct"].items() if k not in drop}
    return {**key, "family": profile.data.family, "clip": profile.eval.clip, "val_seed": profile.eval.seed}


def evaluate_models(profile: Profile, store: Store, base: nn.Module, data, rank, kind: str, names,
                    progress: bool = True) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Top-1 per level, Avg and trainable parameters for each named model (``Baseline`` is the untouched
    network, with all its parameters counted as the paper does); the training records alongside. ``TENT``'s
    row is its online accuracy while it adapts to the test batches. A baseline that does not apply to this
    network (BN-adapt, TENT, Finetune-BN without BatchNorm) and a model whose training diverged get no row;
    their records say why."""
    device = resolve_device(profile.device)
    test = subsets(profile, data)[2]
    ev = profile.eval
    rows, records = {}, {}
    for name in names:
        if name == "Baseline":
            model, record = base, {"name": name, "history": [], "selection": {}, "params": count_params(base)}
        else:
            try:
                model, record = corrected_model(profile, store, base, data, rank, kind, name, progress)
            except NotApplicable as err:
                records[name] = {"name": name, "not applicable": str(err)}
                continue
            except FloatingPointError as err:  # its training diverged: a finding, not a crash of the table
                records[name] = {"name": name, "diverged": str(err)}
                continue
        tent = record.get("method") == "tent"

        def compute(_folder: Path, model=model, tent=tent) -> dict:
            if tent:
                return {"row": tent_table(base, test, kind, profile.data.family, seed=ev.seed, clip=ev.clip,
                                          device=device).loc[kind].to_dict()}
            table = accuracy_table(model, test, profile.data.family, (kind,), device=device,
                                   batch_size=ev.batch_size, seed=ev.seed, clip=ev.clip, bf16=ev.bf16)
            return {"row": table.loc[kind].to_dict()}

        key = {**evaluation_key(profile), "kind": kind, **({"tent": [TENT_LR, TENT_BATCH]} if tent else {})}
        row = store.get("corrected_eval", key, compute, {"model": base if tent else model, "test": test})["row"]
        rows[name] = {**row, "# Params": record["params"]}
        records[name] = record
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "Method"
    table["# Params"] = table["# Params"].astype(int)
    return table, records


def compare_table(measured: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Measured Avg and parameters next to the paper's Table 3 (blur) or 4 (AWGN), with the differences."""

    paper = correction_table(kind)
    rows = [paper_row_names(measured.index)[n] for n in measured.index]
    out = pd.DataFrame({"measured Avg": measured["Avg"], "paper Avg": paper["Avg"].reindex(rows).to_numpy()},
                       index=measured.index)
    out["Δ Avg"] = out["measured Avg"] - out["paper Avg"]
    out["measured # Params"] = measured["# Params"]
    out["paper # Params"] = paper["# Params"].reindex(rows).to_numpy()
    return out


def deepcorr_vs_finetune(tables: dict[str, pd.DataFrame], records: dict[str, dict[str, dict]],
                         ks=(1, 3, 6)) -> pd.DataFrame:
    """Deepcorr-k against Finetune-k at equal k, per kind: Avg of each, the gain, a paired t-test over the
    clean column and the six levels, and what the gain costs in trainable parameters and training time."""
    rows = []
    for kind, t in tables.items():
        for k in ks:
            dc, ft = f"Deepcorr-{k}", f"Finetune-{k}"
            if dc not in t.index or ft not in t.index:
                continue
            a, b = t.loc[dc, COLUMNS].to_numpy(float), t.loc[ft, COLUMNS].to_numpy(float)
            stat, p = paired_ttest(a, b)
            seconds = {n: sum(h.get("seconds", 0.0) for h in records[kind][n]["history"]) for n in (dc, ft)}
            paper = correction_table(kind)["Avg"]
            rows.append({"kind": kind, "k": k, "Deepcorr Avg": float(t.loc[dc, "Avg"]),
                         "Finetune Avg": float(t.loc[ft, "Avg"]),
                         "gain": float(t.loc[dc, "Avg"] - t.loc[ft, "Avg"]),
                         "relative gain": float(t.loc[dc, "Avg"] / t.loc[ft, "Avg"] - 1),
                         "paper relative gain": float(paper[dc] / paper[ft] - 1), "t": stat, "p-value": p,
                         "params Deepcorr / Finetune": t.loc[dc, "# Params"] / t.loc[ft, "# Params"],
                         "train time Deepcorr / Finetune": seconds[dc] / max(seconds[ft], 1e-9)})
    return pd.DataFrame(rows).set_index(["kind", "k"])


def unsettled(records: dict[str, dict[str, dict]], tolerance: float = 0.01) -> dict[str, float]:
    """Models whose validation top-1 still moved by more than ``tolerance`` between their last two epochs
    (name → that change): where a comparison may be limited by the schedule rather than the method."""
    out = {}
    for kind, recs in records.items():
        for name, rec in recs.items():
            val = [h["val_accuracy"] for h in rec["history"] if "val_accuracy" in h]
            if len(val) >= 2 and abs(val[-1] - val[-2]) > tolerance:
                out[f"{name} ({kind})"] = val[-1] - val[-2]
    return out


def describe_convergence(records: dict[str, dict[str, dict]], tolerance: float = 0.01) -> str:
    """Whether every trained model's validation curve had flattened by its last epoch."""
    moving = unsettled(records, tolerance)
    curves = [[h["val_accuracy"] for h in r["history"] if "val_accuracy" in h]
              for recs in records.values() for r in recs.values() if r["history"]]
    short = sum(len(c) < 2 for c in curves)
    if short:
        return (f"{short} of {len(curves)} trained models have fewer than two validation points: too few epochs to "
                f"tell whether their curves have flattened.")
    if not moving:
        return (f"All {len(curves)} trained models changed their validation top-1 by at most {tolerance:.0%} over "
                f"their last epoch: the curves have flattened, so the comparison is not limited by the schedule.")
    return (f"{len(moving)} of {len(curves)} trained models still moved by more than {tolerance:.0%} in their last "
            f"epoch (" + ", ".join(f"{n}: {d:+.3f}" for n, d in list(moving.items())[:8])
            + (", …" if len(moving) > 8 else "") + "): for these the comparison may be limited by the schedule.")


def _listing(ks: list[int]) -> str:
    return f"k = {', '.join(map(str, ks))}" if ks else "no k"


def describe_deepcorr_vs_finetune(frame: pd.DataFrame) -> str:
    """The verdict the measured :func:`deepcorr_vs_finetune` rows support: ahead or behind where the paired
    t-test says so (p < 0.05), undecided where it does not."""
    parts = []
    for kind in dict.fromkeys(frame.index.get_level_values(0)):
        f = frame.loc[kind]
        won = [k for k in f.index if f.loc[k, "gain"] > 0 and f.loc[k, "p-value"] < 0.05]
        lost = [k for k in f.index if f.loc[k, "gain"] < 0 and f.loc[k, "p-value"] < 0.05]
        open_ = [k for k in f.index if k not in won + lost]
        text = (f"**{'Blur' if kind == 'blur' else 'AWGN'}.** Significantly ahead of Finetune-k (paired t-test "
                f"over the clean column and six levels, p < 0.05): Deepcorr-k for {_listing(won)}; significantly "
                f"behind for {_listing(lost)}; undecided (p ≥ 0.05) for {_listing(open_)}. Gains in Avg "
                + ", ".join(f"k={k}: {f.loc[k, 'gain']:+.3f} ({f.loc[k, 'relative gain']:+.0%}, p = "
                            f"{f.loc[k, 'p-value']:.3g})" for k in f.index)
                + " (the paper, CIFAR-100: " + ", ".join(f"{f.loc[k, 'paper relative gain']:+.0%}" for k in f.index)
                + "), at " + ", ".join(f"{f.loc[k, 'params Deepcorr / Finetune']:.1f}×" for k in f.index)
                + " the trainable parameters and " + ", ".join(f"{f.loc[k, 'train time Deepcorr / Finetune']:.1f}×"
                                                               for k in f.index) + " the training time.")
        parts.append(text)
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------------------------------------
# Figure 9 and Table 6


def figure9_scaled(profile: Profile, first_layer_filters: int) -> dict[int, int]:
    """The paper's l ∈ {6, 12, 24, 48} of 96 first-layer filters → l scaled to this network's first layer
    (sizes that coincide after scaling are kept once)."""
    scale = first_layer_filters / 96
    out: dict[int, int] = {}
    for n in sorted(profile.correct.fig9_filters):
        scaled = max(1, min(first_layer_filters, round(n * scale)))
        if scaled not in out.values():
            out[n] = scaled
    return out


def figure9_sizes(profile: Profile, first_layer_filters: int) -> list[int]:
    return list(figure9_scaled(profile, first_layer_filters).values())


def figure9_names(profile: Profile, first_layer_filters: int) -> list[str]:
    sizes = figure9_sizes(profile, first_layer_filters)
    names = [f"ranked.{n}" for n in sizes]
    names += [f"random.{n}#{t}" for n in sizes for t in range(profile.correct.draws)]
    return names + [f"least.{sizes[-1]}"]


def figure9_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 9's rows of an :func:`evaluate_models` table with their group (ranked / random / least) and l."""
    parsed = [parse_model(n) for n in table.index]
    out = table.copy()
    out["group"] = [p.selection for p in parsed]
    out["filters"] = [p.filters for p in parsed]
    return out


def ttest_ranked_vs_random(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 6: paired-sample t-test (``scipy.stats.ttest_rel``) between ranked.l and the mean over draws of
    random.l, paired over the clean column and the six levels of every distortion kind given."""
    rows = {}
    sizes = sorted(set.intersection(*(set(f[f.group == "ranked"].filters) for f in frames.values())))
    for n in sizes:
        ranked = np.concatenate([f[(f.group == "ranked") & (f.filters == n)][COLUMNS].to_numpy()[0]
                                 for f in frames.values()])
        random = np.concatenate([f[(f.group == "random") & (f.filters == n)][COLUMNS].mean().to_numpy()
                                 for f in frames.values()])
        t, p = paired_ttest(ranked, random)
        rows[f"{n} filters"] = {"ranked − random (mean)": float((ranked - random).mean()),
                                "t": t, "p-value": p, "pairs": len(ranked)}
    return pd.DataFrame.from_dict(rows, orient="index")


def ttest_local_vs_global(tables: dict[str, pd.DataFrame], local: str = "Deepcorr-6c",
                          glob: str = "Deepcorr-6c-global") -> dict:
    """Table 5's test: paired t-test between local and global ranking over the clean column and six levels of
    each kind (the paper: p = 0.2151)."""
    a = np.concatenate([t.loc[local, COLUMNS].to_numpy(float) for t in tables.values()])
    b = np.concatenate([t.loc[glob, COLUMNS].to_numpy(float) for t in tables.values()])
    t, p = paired_ttest(b, a)
    return {"global − local (mean)": float((b - a).mean()), "t": t, "p-value": p, "pairs": len(a)}


def paired_ttest(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(t, p) of ``scipy.stats.ttest_rel(a, b)``; identical samples (every difference 0, where scipy gives
    NaN) count as no evidence of a difference: t = 0, p = 1."""
    from scipy.stats import ttest_rel

    if np.array_equal(a, b):
        return 0.0, 1.0
    test = ttest_rel(a, b)
    return float(test.statistic), float(test.pvalue)


def describe_claims(tables: dict[str, pd.DataFrame]) -> str:
    """Plain verdicts on the paper's §5.1 claims, from the measured Tables 3–4."""
    parts = []
    for kind, t in tables.items():
        title = "Blur" if kind == "blur" else "AWGN"
        avg = t["Avg"]
        wins = [k for k in (1, 3, 6) if f"Deepcorr-{k}" in avg and f"Finetune-{k}" in avg]
        beat = [k for k in wins if avg[f"Deepcorr-{k}"] > avg[f"Finetune-{k}"]]
        verdict = ("holds for every k" if len(beat) == len(wins) else
                   f"holds for k = {', '.join(map(str, beat))} only" if beat else "fails for every k")
        best = avg.idxmax()
        gain = {k: avg[f"Deepcorr-{k}"] / avg[f"Finetune-{k}"] - 1 for k in wins}
        parts.append(
            f"**{title}.** By Avg alone, \"Deepcorr-k beats Finetune-k at equal k\" {verdict} in this measurement "
            f"(relative gain in Avg: " + ", ".join(f"k={k}: {g:+.0%}" for k, g in gain.items())
            + "; the paper: +46 %, +16 %, +6 % for blur and +14 %, +3 %, +1 % for AWGN). "
            f"The best average is {best} ({avg[best]:.3f}; the paper: Deepcorr-6c for blur, Deepcorr-3c/6c for "
            f"AWGN). Baseline → best: {avg.get('Baseline', float('nan')):.3f} → {avg[best]:.3f}.")
    return "\n\n".join(parts)


def local_vs_global(tables: dict[str, pd.DataFrame], records: dict[str, dict[str, dict]],
                    local: str = "Deepcorr-6c", glob: str = "Deepcorr-6c-global",
                    paper: dict[str, dict[str, float]] = TABLE_5) -> pd.DataFrame:
    """Table 5 (Table 9 with Deepcorr-5 and ``paper=TABLE_9``): Avg under local and global ranking per kind,
    the filters corrected per layer, and the paper's values."""

    rows = []
    for scheme, name in (("local", local), ("global", glob)):
        for kind, t in tables.items():
            sel = records[kind][name]["selection"]
            rows.append({"ranking": scheme, "kind": kind, "measured Avg": float(t.loc[name, "Avg"]),
                         "paper Avg": paper[scheme][kind],
                         "# corrected per layer": "{" + ", ".join(str(len(v)) for v in sel.values()) + "}"})
    return pd.DataFrame(rows).set_index(["ranking", "kind"])


# ----------------------------------------------------------------------------------------------------------
# Exact parameter and MAC counts (Tables 3, 4, 7 and 10)


def parameter_counts() -> pd.DataFrame:
    """Trainable parameters of every Table 3–4 model (full-width All-Conv-BN for CIFAR-100, the release's
    50 / 100 corrected filters) and of Deepcorr-5c, counted on the built models, next to the paper's as
    printed: exact integers for Tables 3–4, millions cut (not rounded) to two decimals for Table 7 (its
    Finetune-8, 60,965,224, is printed 60.96) — so each is compared at the precision the paper gives it."""

    net = AllConvBN(100, width=1.0)
    paper = correction_table("blur")["# Params"]
    rows = {}
    for name in TABLE_3_MODELS:
        spec = parse_model(name) if name != "Baseline" else None
        if spec is None:
            model = net
        elif spec.method == "finetune":
            model = finetune_model(net, spec.k)
        else:
            layers = [f"conv{i}" for i in range(1, spec.k + 1)]
            sel = {ly: range(n_selected(0.5, net.get_submodule(ly).out_channels, release=True)) for ly in layers}
            model = deepcorrect_model(net, sel, "identity", train_last=spec.train_last)
        computed = count_params(model, name != "Baseline")
        rows[name] = {"network": "All-Conv-BN (CIFAR-100)", "computed": computed, "paper (as printed)":
                      f"{int(paper[name]):,}", "equal at the printed precision": computed == int(paper[name])}
    alex = build_model("alexnet_caffe", 1000)
    computed = count_params(deepcorrect_model(alex, _table10_selection(), "cw", train_last=3), True)
    printed = float(alexnet_table("blur").loc["Deepcorr-5c", "# Params (M)"])
    rows["Deepcorr-5c"] = {"network": "AlexNet (Caffe)", "computed": computed, "paper (as printed)": f"{printed:.2f} M",
                           "equal at the printed precision": computed // 10_000 == round(printed * 100)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _table10_selection() -> dict[str, range]:
    """The first β_i·N_i filters of conv1–conv5 of the Caffe AlexNet (72, 192, 192, 192, 128): which ones
    does not change a count."""
    return {f"conv{i}": range(n) for i, n in enumerate(TABLE_10_FILTERS, start=1)}


def unit_counts() -> pd.DataFrame:
    """Table 10: parameters and multiply-accumulates of every unit of Deepcorr-5, -lite and -bottleneck on
    the Caffe AlexNet at 227 px, measured on the built models, next to the paper's."""

    alex = build_model("alexnet_caffe", 1000)
    sel = _table10_selection()
    example = torch.zeros(1, 3, 227, 227)
    rows = []
    for variant, paper in TABLE_10.items():
        model = deepcorrect_model(alex, sel, variant)
        macs = unit_macs(model, example)
        for i, (layer, m) in enumerate(corrected_layers(model).items()):
            rows.append({"model": f"Deepcorr-5-{variant}".replace("-cw", ""), "unit": layer,
                         "params": count_params(m.unit), "paper params": paper["params"][i],
                         "MACs": macs[layer], "paper FLOPs": paper["flops"][i],
                         "MACs / paper": macs[layer] / paper["flops"][i]})
    return pd.DataFrame(rows).set_index(["model", "unit"])


def table_6(profile: Profile, frames: dict[str, pd.DataFrame], first_layer_filters: int) -> pd.DataFrame:
    """Table 6 measured (:func:`ttest_ranked_vs_random`) with the paper's p-value for the matching l."""
    table = ttest_ranked_vs_random(frames)
    paper_of = {scaled: n for n, scaled in figure9_scaled(profile, first_layer_filters).items()}
    table["paper l (of 96)"] = [paper_of[int(i.split()[0])] for i in table.index]
    table["paper p-value"] = [TABLE_6.get(n, float("nan")) for n in table["paper l (of 96)"]]
    return table


def describe_ranked_random(frames: dict[str, pd.DataFrame], table6: pd.DataFrame) -> str:
    """Whether ranked beats random at every l (and significantly), and whether least is the worst."""
    better = table6[table6["ranked − random (mean)"] > 0]
    significant = better[better["p-value"] < 0.05]
    parts = [f"Ranked beats the mean of the random draws for {len(better)} of {len(table6)} sizes, "
             f"significantly (p < 0.05) for {len(significant)}; the paper: all four, all significant."]
    for kind, f in frames.items():
        largest = max(f[f.group == "ranked"].filters)
        ranked = float(f[(f.group == "ranked") & (f.filters == largest)]["Avg"].iloc[0])
        least = f[f.group == "least"]["Avg"]
        random = float(f[(f.group == "random") & (f.filters == largest)]["Avg"].mean())
        if len(least):
            verdict = ("agrees with the paper (least is worst)" if float(least.iloc[0]) < min(ranked, random)
                       else "does not reproduce the paper's clear ordering ranked > random > least")
            parts.append(f"{'Blur' if kind == 'blur' else 'AWGN'}, l = {largest}: Avg ranked {ranked:.3f}, random "
                         f"{random:.3f} (mean), least {float(least.iloc[0]):.3f} — this {verdict}.")
    return " ".join(parts)


def describe_local_global(lg: dict) -> str:
    significant = lg["p-value"] < 0.05
    better = "global" if lg["global − local (mean)"] > 0 else "local"
    return (f"Here {better} ranking is ahead on average and the difference is "
            f"{'significant (p < 0.05), unlike the paper' if significant else 'not significant, as in the paper'}.")


def describe_setup(profile: Profile) -> pd.DataFrame:
    """The §5.1 training settings this page used, next to the paper's."""
    c = profile.correct
    rows = {
        "correction unit": (f"{c.variant}, inner width {unit_width(profile) or 'C'}", "release unit, width 64"),
        "β per layer": ("0.5 (round(β·N·1.0417) filters)" if c.release_count else "0.5 (round(β·N) filters)",
                        "0.5 (48 / 96 of 96 / 192)"),
        "ranking score": (c.score, "paper (mean τ)"),
        "epochs, lr step": (f"{c.correct_epochs}, ÷10 every {c.correct_lr_step}", "40, ÷10 every 10"),
        "batch": (f"{c.correct_batch_size}, half distorted", "250, half distorted"),
        "learning rate": (f"Deepcorr {c.deepcorr_lr:g}, Finetune {c.finetune_lr:g}", "Deepcorr 0.1, Finetune 0.01"),
        "regulariser": (f"L1 {c.l1:g} on unit weights, L2 {c.l2:g} on fine-tuned weights",
                        "λ·R(W) (Eq. 5); the release: L1 1e-5"),
        "Figure 9 draws": (str(c.draws), "10"),
    }
    return pd.DataFrame(rows, index=["this page", "paper"]).T.rename_axis("setting")


def describe_training(profile: Profile, data) -> str:
    train, _, test = subsets(profile, data)
    return (f"Finetune and Deepcorr models train on {len(train):,} of those training images and are measured on "
            f"{len(test):,} test images (baseline included).")
