"""Several models of one architecture trained together: one vmapped forward and backward per step.

The paper's Finetune-k models of one distortion kind (and Deepcorr-k beside Deepcorr-kc) see exactly the same
batches: :func:`~deepcorrect.train.fit` draws the order, crops, flips and distortions from the run's seed, never
from the model. Their weights stacked along a leading model dimension, one ``torch.func.vmap`` of
``functional_call`` runs all K models on the shared batch — K times fewer, K times larger kernels, where a
GPU step at the paper's batch of 250 is launch-bound. What differs between the models becomes per-model masks:
which weights train (the others get a zero gradient, so SGD leaves them bit for bit), which BatchNorms use
batch statistics and update their running ones (frozen BNs keep theirs), and each model's L1 and L2
coefficients. SGD is elementwise, so each model's slice follows its own run to float rounding (the tests
check it against separate :func:`~deepcorrect.train.fit` runs). No checkpoints: a killed stacked run starts
over.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, vmap

from .config import TrainConfig
from .data import TensorData
from .runtime import DeviceTimer, cudnn_benchmark
from .train import BatchTransform, Penalty, epoch_batches, lr_at, prepare_batch


class StackedBatchNorm(nn.Module):
    """A BatchNorm2d whose models differ in mode: ``batch_stats`` (a buffer, one flag per stacked model) says
    whether it normalises with batch statistics and updates its running ones, as a BN in training mode does,
    or uses its running statistics untouched, as a frozen BN in eval mode does. ``mode`` — ``batch``,
    ``stored`` or ``mixed`` — is the same for every model but the last, so only a mixed BN computes both."""

    def __init__(self, bn: nn.BatchNorm2d, mode: str):
        super().__init__()
        if not bn.affine or not bn.track_running_stats:
            raise ValueError("stacked training needs affine BatchNorms with running statistics")
        self.eps, self.momentum, self.mode = bn.eps, bn.momentum, mode
        self.weight, self.bias = bn.weight, bn.bias
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, getattr(bn, name))
        self.register_buffer("batch_stats", torch.tensor(bn.training), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode != "stored":
            batch = nn.functional.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
            with torch.no_grad():
                self._update_running(x.detach())
            if self.mode == "batch":
                return batch
        # clones: the running statistics change in place above, after autograd saved them
        stored = nn.functional.batch_norm(x, self.running_mean.clone(), self.running_var.clone(), self.weight,
                                          self.bias, False, 0.0, self.eps)
        return stored if self.mode == "stored" else torch.where(self.batch_stats, batch, stored)

    def _update_running(self, x: torch.Tensor) -> None:
        """BatchNorm's running-statistics update (unbiased variance), for the models that use batch statistics."""
        tracked = self.num_batches_tracked + 1
        factor = self.momentum if self.momentum is not None else 1.0 / tracked
        mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), correction=1)
        for name, value in (("running_mean", mean), ("running_var", var)):
            old = getattr(self, name)
            old.copy_(torch.where(self.batch_stats, old * (1 - factor) + value * factor, old))
        self.num_batches_tracked.copy_(torch.where(self.batch_stats, tracked, self.num_batches_tracked))


def structure(model: nn.Module) -> str:
    """What models must share to be stacked: their modules (with every setting ``repr`` shows) and the name,
    shape and dtype of every parameter and buffer."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return repr(model) + repr([(n, tuple(t.shape), t.dtype) for n, t in tensors])


def stack_groups(models: Mapping[str, nn.Module]) -> list[list[str]]:
    """The names of ``models`` grouped by :func:`structure`, in first-seen order: the models that can train
    in one stacked run (Finetune-1…9 of All-Conv-BN together; Deepcorr-k with Deepcorr-kc)."""
    groups: dict[str, list[str]] = {}
    for name, model in models.items():
        groups.setdefault(structure(model), []).append(name)
    return list(groups.values())


@dataclass(frozen=True)
class Stack:
    """K models as stacked tensors (leading dimension K) and the per-model masks of their updates."""

    template: nn.Module  # the first model's modules, with StackedBatchNorms: what functional_call runs
    params: dict[str, torch.Tensor]  # name → (K, …); a leaf that requires grad where any model trains it
    buffers: dict[str, torch.Tensor]  # name → (K, …), the BNs' batch_stats flags included
    trains: dict[str, torch.Tensor]  # name → (K, 1, …) bool: whether each model trains it
    l1: dict[str, torch.Tensor]  # name → (K, 1, …) each model's L1 coefficient on it (0: none)
    decay: dict[str, torch.Tensor]  # name → (K, 1, …) each model's L2 (weight decay) coefficient on it

    def trainable(self) -> list[torch.Tensor]:
        return [p for p in self.params.values() if p.requires_grad]

    def mask_gradients(self) -> None:
        """Each model's gradient as its own step makes it: ``+ l1·sign(w)``, ``+ decay·w`` (SGD's weight
        decay, added here since it differs by model), then zero where that model keeps the weight frozen."""
        for name, p in self.params.items():
            if p.grad is None:
                continue
            w = p.detach()
            if name in self.l1:
                p.grad.add_(self.l1[name] * torch.sign(w))
            if name in self.decay:
                p.grad.add_(self.decay[name] * w)
            p.grad.copy_(torch.where(self.trains[name], p.grad, torch.zeros((), dtype=p.dtype, device=p.device)))

    def write_back(self, models: Sequence[nn.Module]) -> None:
        """Copy every model's slice of the stacked weights and buffers into it."""
        stacked = self.params | self.buffers
        with torch.no_grad():
            for k, model in enumerate(models):
                for name, t in [*model.named_parameters(), *model.named_buffers()]:
                    t.copy_(stacked[name][k])


def stack_models(models: Sequence[nn.Module], cfg: TrainConfig, penalties: Sequence[Penalty | None],
                 set_train_mode: Callable[[nn.Module], None] | None = None) -> Stack:
    """The :class:`Stack` of ``models`` (one structure, on one device), each in the mode ``set_train_mode``
    gives it (default ``train()``), with ``cfg.weight_decay`` on its trainable weights and its penalty's L1
    and L2 as :class:`~deepcorrect.train.Penalty` says (a penalty with a ``term`` cannot be split by model)."""
    if len({structure(m) for m in models}) != 1:
        raise ValueError("stacked models must share one structure (modules, parameter and buffer shapes); "
                         "group them with stack_groups")
    for model in models:
        (set_train_mode or nn.Module.train)(model)
        if any(isinstance(m, nn.modules.dropout._DropoutNd) and m.training and m.p > 0 for m in model.modules()):
            raise ValueError("active Dropout draws from the global generator: models with it cannot be stacked")
    flags = [{n: torch.tensor(m.training) for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
             for model in models]
    template = _with_stacked_batchnorm(models[0], flags)
    named = [dict(m.named_parameters()) for m in models]
    trains = {n: _per_model([p[n].requires_grad for p in named], p0) for n, p0 in named[0].items()}
    params = {n: torch.stack([p[n].detach() for p in named]).requires_grad_(bool(trains[n].any()))
              for n in named[0]}
    own = [dict(m.named_buffers()) for m in models]
    buffers = {n: torch.stack([b[n] for b in own]) for n in own[0]}
    device = named[0][next(iter(named[0]))].device
    buffers |= {f"{n}.batch_stats": torch.stack([f[n] for f in flags]).to(device) for n in flags[0]}
    l1, decay = _coefficients(models, named, cfg, penalties)
    return Stack(template, params, buffers, trains, l1, decay)


def _per_model(values: Sequence, like: torch.Tensor) -> torch.Tensor:
    """``values`` (one per model; bools or coefficients, the latter in ``like``'s dtype) shaped (K, 1, …) to
    broadcast over a stacked ``like``."""
    dtype = None if isinstance(values[0], bool) else like.dtype
    return torch.tensor(values, dtype=dtype, device=like.device).view(len(values), *([1] * like.dim()))


def _coefficients(models: Sequence[nn.Module], named: list[dict[str, torch.Tensor]], cfg: TrainConfig,
                  penalties: Sequence[Penalty | None]) -> tuple[dict, dict]:
    """Per parameter, each model's L1 and L2 coefficients (as fit's Penalty and SGD apply them); only
    parameters some model penalises get an entry."""
    l1 = {n: [0.0] * len(models) for n in named[0]}
    decay = {n: [cfg.weight_decay if params[n].requires_grad else 0.0 for params in named] for n in named[0]}
    for k, (params, penalty) in enumerate(zip(named, penalties)):
        if penalty is None:
            continue
        if penalty.term is not None:
            raise ValueError("a Penalty with a term() cannot be split by model; give its L1 / L2 as sparse / decayed")
        name_of = {id(p): n for n, p in params.items()}
        for w in penalty.sparse if penalty.l1 else ():
            l1[name_of[id(w)]][k] += penalty.l1
        for w in penalty.decayed if penalty.decay else ():
            decay[name_of[id(w)]][k] += penalty.decay
    like = named[0]
    return ({n: _per_model(v, like[n]) for n, v in l1.items() if any(v)},
            {n: _per_model(v, like[n]) for n, v in decay.items() if any(v)})


def _with_stacked_batchnorm(model: nn.Module, flags: list[dict[str, torch.Tensor]]) -> nn.Module:
    """A copy of ``model`` with every BatchNorm2d a :class:`StackedBatchNorm` of the mode its models agree on."""
    out = copy.deepcopy(model)
    for name in flags[0]:
        modes = {bool(f[name]) for f in flags}
        mode = "mixed" if len(modes) > 1 else ("batch" if modes == {True} else "stored")
        parent, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent), child, StackedBatchNorm(out.get_submodule(name), mode))
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in out.modules()):
        raise ValueError("stacked training handles BatchNorm2d only")
    return out.train()


def fit_stacked(models: Sequence[nn.Module], data: TensorData, cfg: TrainConfig, *, device: torch.device | str = "cpu",
                batch_transform: BatchTransform | None = None,
                set_train_mode: Callable[[nn.Module], None] | None = None,
                regularizers: Sequence[Penalty | None] | None = None) -> list[list[dict]]:
    """Train ``models`` (one structure) as :func:`~deepcorrect.train.fit` trains each of them with the same
    ``cfg``, ``batch_transform`` and ``set_train_mode`` and its own ``regularizers[k]`` — in one stacked run.
    Writes the trained weights and buffers back into the models; returns each one's per-epoch log (its loss
    and accuracy; the images/s are the stacked run's, K models' images counted)."""
    device = torch.device(device)
    for model in models:
        model.to(device)
    stack = stack_models(models, cfg, regularizers or [None] * len(models), set_train_mode)
    opt = torch.optim.SGD(stack.trainable(), lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=cfg.nesterov and cfg.momentum > 0)
    source, labels = data.to(device), data.labels.to(device)
    histories: list[list[dict]] = [[] for _ in models]
    with cudnn_benchmark(cfg.cudnn_benchmark and device.type == "cuda"):
        for epoch in range(cfg.epochs):
            lr = lr_at(cfg, epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            g = torch.Generator(device).manual_seed(cfg.seed * 1_000_003 + epoch)  # fit's draws, epoch by epoch
            batches = epoch_batches(len(data), cfg, g, device)
            timer = DeviceTimer(device).start()
            losses, correct = _stacked_epoch(stack, opt, cfg, source.batches(batches, device), labels, batches, g,
                                             lambda x, gen: prepare_batch(x, gen, cfg, data.crop, batch_transform))
            seconds = timer.seconds()
            seen = sum(idx.numel() for idx in batches)
            for k, history in enumerate(histories):
                history.append(_epoch_row(k, epoch, len(batches), losses[k].item() / seen,
                                          correct[k].item() / seen, lr, len(models) * seen / seconds, seconds))
    stack.write_back(models)
    return histories


def _stacked_epoch(stack: Stack, opt: torch.optim.Optimizer, cfg: TrainConfig, images: Iterable[torch.Tensor],
                   labels: torch.Tensor, index: Sequence[torch.Tensor], g: torch.Generator,
                   prepare: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch of stacked SGD steps; each model's summed loss and correct count, on the device."""
    params = stack.trainable()
    dtype, device = params[0].dtype, params[0].device
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.bf16
                else nullcontext())

    def one_model(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = functional_call(stack.template, (p, b), (x,))
        return nn.functional.cross_entropy(out.to(dtype), y), out

    every_model = vmap(one_model, in_dims=(0, 0, None, None))
    total = torch.zeros(len(next(iter(stack.params.values()))), device=device, dtype=dtype)
    correct = torch.zeros_like(total, dtype=torch.long)
    for idx, x in zip(index, images):
        x, y = prepare(x.to(dtype), g), labels[idx]
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            losses, out = every_model(stack.params, stack.buffers, x, y)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        stack.mask_gradients()
        opt.step()
        total += losses.detach() * y.numel()
        correct += (out.argmax(2) == y).sum(1)
    return total, correct


def _epoch_row(k: int, epoch: int, steps: int, loss: float, accuracy: float, lr: float, rate: float,
               seconds: float) -> dict:
    if not math.isfinite(loss):
        raise FloatingPointError(f"training loss of stacked model {k} became {loss} in epoch {epoch + 1}; lower lr "
                                 f"(now {lr:g}) or check the data")
    return {"epoch": epoch + 1, "iteration": (epoch + 1) * steps, "loss": loss, "accuracy": accuracy, "lr": lr,
            "images_per_s": rate, "seconds": seconds}
