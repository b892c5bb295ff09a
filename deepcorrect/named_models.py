"""The paper's named models — built, trained and measured, whatever the network: ``Finetune-k``,
``Deepcorr-k``, ``Deepcorr-kc``, ``Deepcorr-k-global``, the unit variants (``-lite``, ``-bottleneck``,
``-no-bn``, ``-release``, ``-identity``, ``-adapt``), the baselines ``BN-adapt``, ``TENT``, ``Finetune-BN`` and,
for Figure 9, ``ranked.12`` / ``random.12#3`` / ``least.12`` (a Deepcorr-1 on the top, three random or the bottom
12 filters of the first ranked layer). Trained weights are cached by what determines them (data, baseline,
ranking, schedule, distortion kind and the exact filter selection), so a model that two tables share
(``ranked.48`` is ``Deepcorr-1``) trains once. The tables built on them live with their section
(:mod:`deepcorrect.sections`).
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from . import distributed as dd
from .adaptation import TENT_BATCH, TENT_LR, NotApplicable, adapt_batchnorm, require_batchnorm, tent_model, tent_table
from .checksums import discard, problem, remove_checked, write_checked
from .config import Profile
from .correction import (DEFAULT_WIDTH, check_frozen, deepcorrect_model, finetune_bn_model, finetune_model,
                         frozen_state, regulariser, set_training_mode, weight_layers)
from .data import TensorData, cap_per_class
from .distortions import half_distorted
from .evaluate import hit_table, half_distorted_accuracy
from .models import build_from_config, count_params, get_conv
from .pipeline import artifact_key, evaluation_key, paper_betas
from .ranking import ranked_layers, select_global, select_local
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


def check_specs(profile: Profile, num_classes: int, specs: list[ModelSpec], kinds: tuple[str, ...] = ()) -> None:
    """Fail before any training when a model cannot exist on this network (k beyond its layers, more
    first-layer filters than it has, none), when a ranked layer does not exist, or when a model that corrects
    ranked filters is asked for a distortion in ``kinds`` that the ranking does not cover."""

    net = build_from_config(profile.model, num_classes)
    for layer in profile.rank.layers:
        get_conv(net, layer)
    layers = list(profile.rank.layers) or ranked_layers(net)
    for spec in specs:
        if spec.method in BASELINES.values():
            continue  # networks without BN say "not applicable" in their row
        if spec.method == "finetune":
            finetune_model(net, _finetune_k(net, spec.k))
        elif not 1 <= spec.k <= len(layers):
            raise ValueError(f"{spec.name}: k must lie in 1..{len(layers)} (the ranked layers {', '.join(layers)})")
        elif spec.selection not in ("local", "global") and not 1 <= spec.filters <= _filters(net, layers[0]):
            n = _filters(net, layers[0])
            raise ValueError(f"{spec.name}: the first ranked layer {layers[0]} has {n} filters; name 1..{n} of them")
    unranked = [k for k in kinds if k not in profile.rank.kinds]
    needs_ranking = [s.name for s in specs if s.method == "deepcorr"]
    if unranked and needs_ranking:
        raise ValueError(f"{', '.join(needs_ranking)} correct(s) the filters ranked for each distortion, but the "
                         f"ranking covers only kinds={','.join(profile.rank.kinds)}, not {', '.join(unranked)}; add "
                         f"them (-p kinds={','.join(dict.fromkeys((*profile.rank.kinds, *unranked)))}) or drop them "
                         f"from --kind")


def _filters(net: nn.Module, layer: str) -> int:
    return get_conv(net, layer).out_channels


def with_failures(table: pd.DataFrame, records: dict[str, dict]) -> pd.DataFrame:
    """``table`` of :func:`evaluate_models` with a row for each model that could not be measured (its training
    diverged, or it does not apply to this network), its numbers empty and its ``Note`` saying why."""
    failed = failures(records)
    if not failed:
        return table
    rows = pd.DataFrame({"Note": failed}).rename_axis(table.index.name)
    out = pd.concat([table.assign(Note=""), rows])
    out["# Params"] = out["# Params"].astype("Int64")
    return out


def failures(records: dict[str, dict]) -> dict[str, str]:
    """Model name → why it has no row (``diverged: …`` or ``not applicable: …``) from evaluate_models' records."""
    return {name: f"{why}: {record[why]}" for name, record in records.items()
            for why in ("diverged", "not applicable") if why in record}


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
        capped = split if split is None else cap_per_class(split, k, seed + offset)
        return capped if capped is split else derived(capped, split, per_class=k, seed=seed + offset)

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
    best = _BestEpoch(checkpoint.with_name("best.pt") if checkpoint is not None else None, checkpoint)

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

    def __init__(self, path: Path | None, checkpoint: Path | None = None):
        self.path, self.epoch, self.accuracy, self.state = path, 0, -1.0, None
        if path is None or not path.is_file():
            return
        why = problem(path)
        if why is None:
            try:
                saved = torch.load(path, map_location="cpu", weights_only=True)
                self.epoch, self.accuracy, self.state = saved["epoch"], saved["accuracy"], saved["state"]
                return
            except Exception as err:  # noqa: BLE001 - a damaged file fails torch.load in many ways
                why = f"it does not load ({type(err).__name__})"
        # resuming without the best epoch would choose among the later epochs only: start over instead
        discard(path, "best-epoch weights", why, "training starts over from epoch 1" if checkpoint is not None
                else "the best epoch is chosen anew")
        if checkpoint is not None:
            remove_checked(checkpoint)

    def offer(self, epoch: int, accuracy: float, model: nn.Module) -> None:
        if accuracy <= self.accuracy:
            return  # ties keep the earlier epoch
        self.epoch, self.accuracy = epoch, accuracy
        self.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if self.path is not None:
            write_checked(self.path, lambda tmp: torch.save({"epoch": epoch, "accuracy": accuracy,
                                                             "state": self.state}, tmp))

    def restore(self, model: nn.Module, group: dd.Group | None) -> None:
        state = dd.broadcast(self.state, group)
        if state is not None:
            model.load_state_dict(state)
        if self.path is not None and dd.is_main(group):
            remove_checked(self.path)


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
            table, hits = hit_table(model, test, profile.data.family, (kind,), device=device,
                                    batch_size=ev.batch_size, seed=ev.seed, clip=ev.clip, bf16=ev.bf16)
            return {"row": table.loc[kind].to_dict(), "hits": hits[kind]}

        key = {**evaluation_key(profile), "kind": kind, **({"tent": [TENT_LR, TENT_BATCH]} if tent else {})}
        result = store.get("corrected_eval", key, compute, {"model": base if tent else model, "test": test})
        rows[name] = {**result["row"], "# Params": record["params"]}
        records[name] = {**record, **({"hits": result["hits"]} if "hits" in result else {})}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "Method"
    table["# Params"] = table["# Params"].astype(int)
    return table, records


# ----------------------------------------------------------------------------------------------------------
# Exact parameter and MAC counts (Tables 3, 4, 7 and 10)


def training_budget(profile: Profile, data) -> dict[str, int]:
    """What every trained model of a table got: its training and test images, epochs, batch size and SGD
    steps (an epoch is one pass per ``passes``, or ``correct_steps_per_epoch`` full batches)."""
    train, _, test = subsets(profile, data)
    c = profile.correct
    per_epoch = c.correct_steps_per_epoch or -(-len(train) // c.correct_batch_size) * c.passes
    return {"train images": len(train), "test images": len(test), "epochs": c.correct_epochs,
            "batch size": c.correct_batch_size, "steps": c.correct_epochs * per_epoch}


def describe_training(profile: Profile, data) -> str:
    b = training_budget(profile, data)
    return (f"Finetune and Deepcorr models train on {b['train images']:,} of those training images for "
            f"{b['epochs']} epochs of batch {b['batch size']} — {b['steps']:,} SGD steps each — and are measured "
            f"on {b['test images']:,} test images (baseline included).")
