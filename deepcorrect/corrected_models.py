"""The paper's named models (:mod:`deepcorrect.model_names`) on whatever network the profile has — built,
trained and measured: the corrected models of Tables 3–8, the fine-tuned ones, the baselines that correct no
filter (BN-adapt, TENT, Finetune-BN) and Figure 9's ranked / random / least filters. Trained weights are cached
by what determines them (:func:`~deepcorrect.keys.training_key`: data, baseline, ranking, schedule, distortion
kind and the exact filter selection), so a model that two tables share (``ranked.48`` is ``Deepcorr-1``)
trains once. The tables built on them live with their section (:mod:`deepcorrect.sections`).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from . import distributed as dd
from .adaptation import (
    TENT_BATCH,
    TENT_LR,
    NotApplicable,
    adapt_batchnorm,
    require_batchnorm,
    tent_model,
    tent_table,
)
from .checksums import discard, problem, remove_checked, write_checked
from .config import Profile
from .context import Run
from .correction import (
    DEFAULT_WIDTH,
    check_frozen,
    deepcorrect_model,
    finetune_bn_model,
    finetune_model,
    frozen_state,
    regulariser,
    set_training_mode,
    weight_layers,
)
from .data import TensorData
from .kinds import half_degraded
from .evaluate import half_distorted_accuracy, hit_table
from .keys import evaluation_key, stamp, training_key
from .model_names import BASELINES, ModelSpec, parse_model
from .models import build_from_config, count_params, get_conv
from .priorities import paper_betas
from .ranking import Ranking, ranked_layers, select_global, select_local
from .store import CHECKPOINT
from .train import fit


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


def selection_for(profile: Profile, priorities: Ranking, kind: str, spec: ModelSpec) -> dict[str, list[int]]:
    """The filters a DeepCorrect model corrects, layer → sorted indices."""
    c = profile.correct
    if not 1 <= spec.k <= len(priorities.layers):
        raise ValueError(f"{spec.name}: k must lie in 1..{len(priorities.layers)} (the ranked layers "
                         f"{', '.join(priorities.layers)}), got {spec.k}")
    if spec.selection in ("local", "global"):
        betas = paper_betas(profile, priorities.layers[:spec.k])
        select = select_local if spec.selection == "local" else select_global
        chosen = select(priorities, kind, betas, method=c.score, release_count=c.release_count)
        return {layer: sorted(int(j) for j in idx) for layer, idx in chosen.items()}
    first = priorities.layers[0]
    n = priorities.counts[first].shape[-1]
    if not 1 <= spec.filters <= n:
        raise ValueError(f"{spec.name}: the first ranked layer {first} has {n} filters; cannot correct {spec.filters}")
    order = priorities.order(first, kind, c.score)
    if spec.selection == "ranked":
        picked = order[:spec.filters]
    elif spec.selection == "least":
        picked = order[-spec.filters:]
    else:
        g = torch.Generator().manual_seed(1_000_003 * profile.train.seed + 1009 * spec.filters + spec.draw)
        picked = torch.randperm(n, generator=g)[:spec.filters]
    return {first: sorted(int(j) for j in picked)}


def build(profile: Profile, base: nn.Module, priorities: Ranking, kind: str, spec: ModelSpec) -> tuple[nn.Module, dict]:
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
    selection = selection_for(profile, priorities, kind, spec)
    corrected = {layer: idx for layer, idx in selection.items() if idx}  # global ranking may leave a layer out
    variant = spec.variant or profile.correct.variant
    # seeded as its training is: the same key gives the same units whichever models were built before it
    model = deepcorrect_model(base, corrected, variant, width=unit_width(profile, variant),
                              train_last=spec.train_last, seed=training_seed(profile))
    return model, selection


def training_seed(profile: Profile) -> int:
    """The seed of a Finetune / Deepcorr model's units and training: the profile's, moved by ``correct_seed``."""
    return profile.train.seed + 7919 * profile.correct.correct_seed


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
                  nesterov=False, seed=training_seed(profile))
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
                  batch_transform=lambda x, gen: half_degraded(x, kind, family, gen, clip),
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


def corrected_model(run: Run, base: nn.Module, data, priorities: Ranking, kind: str, name: str,
                    progress: bool = True) -> tuple[nn.Module, dict]:
    """Train (or load) the named model for ``kind``; returns it in eval mode with its record: history,
    selection and trainable parameters. ``BN-adapt`` re-estimates the base network's BN statistics instead
    of training; ``TENT`` is returned untrained (it adapts while it is evaluated, see :func:`evaluate_models`)."""

    profile, device = run.profile, run.device
    spec = parse_model(name)
    model, selection = build(profile, base, priorities, kind, spec)
    c = profile.correct
    lr = c.deepcorr_lr if spec.method == "deepcorr" else c.finetune_lr
    record = {"name": name, "method": spec.method, "history": [], "selection": selection,
              "params": count_params(model, trainable_only=True)}
    if spec.method == "tent":
        return run.ready(model), record
    train, val = run.subsets(data).train, run.subsets(data).val
    base_bn = spec.base_bn or c.base_bn

    def compute(folder: Path) -> dict:
        if spec.method == "bn-adapt":
            adapted = adapt_batchnorm(base, train, kind, profile.data.family, batch_size=c.correct_batch_size,
                                      seed=training_seed(profile), clip=profile.eval.clip,
                                      device=device)
            return {"state": {k: v.cpu() for k, v in adapted.state_dict().items()}, "history": []}
        history = train_corrected(model, train, val, profile, kind, lr=lr, device=device,
                                  checkpoint=folder / CHECKPOINT, progress=progress, group=run.group,
                                  base_bn=base_bn)
        return {"state": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history}

    key = {**training_key(profile, spec.method), "kind": kind, "method": spec.method, "k": spec.k,
           "train_last": spec.train_last, "selection": selection, "base_bn": base_bn,
           **({"variant": spec.variant} if spec.variant else {})}
    result, artifact = run.cached_keyed("corrected", key,
                                        {"base": base, "train": train, "val": val if val is not None else "none"},
                                        compute)
    model.load_state_dict(result["state"])
    stamp(model, artifact)
    record["history"] = result["history"]
    return run.ready(model), record


def evaluate_models(run: Run, base: nn.Module, data, priorities: Ranking, kind: str, names,
                    progress: bool = True) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Top-1 per level, Avg and trainable parameters for each named model (``Baseline`` is the untouched
    network, with all its parameters counted as the paper does); the training records alongside. ``TENT``'s
    row is its online accuracy while it adapts to the test batches. A baseline that does not apply to this
    network (BN-adapt, TENT, Finetune-BN without BatchNorm) and a model whose training diverged get no row;
    their records say why."""
    profile, test = run.profile, run.subsets(data).test
    rows, records = {}, {}
    for name in names:
        if name == "Baseline":
            model, record = base, {"name": name, "history": [], "selection": {}, "params": count_params(base)}
        else:
            try:
                model, record = corrected_model(run, base, data, priorities, kind, name, progress)
            except NotApplicable as err:
                records[name] = {"name": name, "not applicable": str(err)}
                continue
            except FloatingPointError as err:  # its training diverged: a finding, not a crash of the table
                records[name] = {"name": name, "diverged": str(err)}
                continue
        tent = record.get("method") == "tent"

        def compute(_folder: Path, model=model, tent=tent) -> dict:
            if tent:
                return {"row": tent_table(base, test, kind, profile.data.family,
                                          **run.measuring(batch_size=None, bf16=None)).loc[kind].to_dict()}
            table, hits = hit_table(model, test, profile.data.family, (kind,), **run.measuring())
            return {"row": table.loc[kind].to_dict(), "hits": hits[kind]}

        key = {**evaluation_key(profile), "kind": kind, **({"tent": [TENT_LR, TENT_BATCH]} if tent else {})}
        result = run.cached("corrected_eval", key, {"model": base if tent else model, "test": test}, compute)
        rows[name] = {**result["row"], "# Params": record["params"]}
        records[name] = {**record, **({"hits": result["hits"]} if "hits" in result else {})}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "Method"
    table["# Params"] = table["# Params"].astype(int)
    return table, records


def training_budget(run: Run, data) -> dict[str, int]:
    """What every trained model of a table got: its training and test images, epochs, batch size and SGD
    steps (an epoch is one pass per ``passes``, or ``correct_steps_per_epoch`` full batches)."""
    train, test = run.subsets(data).train, run.subsets(data).test
    c = run.profile.correct
    per_epoch = c.correct_steps_per_epoch or -(-len(train) // c.correct_batch_size) * c.passes
    return {"train images": len(train), "test images": len(test), "epochs": c.correct_epochs,
            "batch size": c.correct_batch_size, "steps": c.correct_epochs * per_epoch}


def describe_training(run: Run, data) -> str:
    b = training_budget(run, data)
    return (f"Finetune and Deepcorr models train on {b['train images']:,} of those training images for "
            f"{b['epochs']} epochs of batch {b['batch size']} — {b['steps']:,} SGD steps each — and are measured "
            f"on {b['test images']:,} test images (baseline included).")
