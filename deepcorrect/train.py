"""One training loop for the baselines, DeepCorrect's correction units and the fine-tuned models.

Data live on the device as uint8; every batch is cropped, flipped and (optionally) distorted there. Each epoch
draws its order and augmentation from a generator seeded by (seed, epoch), and a checkpoint written atomically
after every epoch holds weights, optimiser and RNG state — so a killed run resumes and ends with exactly the
weights of an uninterrupted one. The checkpoint's SHA-256 is recorded beside it and checked before it is
resumed: a damaged one is discarded with a warning and training starts over, ending with the same weights. With
a :class:`~deepcorrect.distributed.Group` it trains with DistributedDataParallel: each rank takes its slice of
the same global batch (see :mod:`deepcorrect.distributed`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from . import distributed as dd
from .checksums import discard, problem, write_checked
from .config import TrainConfig, result_fields
from .data import TensorData
from .runtime import DeviceTimer, cudnn_benchmark

BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Step schedule: ÷(1/γ) every ``lr_step`` epochs, or at 50 % and 75 % of the run when ``lr_step`` is 0."""
    if cfg.lr_step:
        steps = epoch // cfg.lr_step
    else:
        steps = sum(epoch >= m for m in (math.ceil(cfg.epochs * 0.5), math.ceil(cfg.epochs * 0.75)))
    return cfg.lr * cfg.lr_gamma**steps


def augment(images: torch.Tensor, generator: torch.Generator, pad: int, flip: bool, size: int = 0) -> torch.Tensor:
    """Random ``size``×``size`` crops (0 = the images' size) of the batch zero-padded by ``pad``, and
    horizontal flips, for a whole float batch on its device."""
    n, _, h0, w0 = images.shape
    h, w = (size, size) if size else (h0, w0)
    dev = images.device
    if pad or (h, w) != (h0, w0):
        padded = nn.functional.pad(images, (pad, pad, pad, pad)) if pad else images
        oy = torch.randint(0, h0 + 2 * pad - h + 1, (n, 1), generator=generator, device=dev)
        ox = torch.randint(0, w0 + 2 * pad - w + 1, (n, 1), generator=generator, device=dev)
        rows = (oy + torch.arange(h, device=dev))[:, None, :, None]
        cols = (ox + torch.arange(w, device=dev))[:, None, None, :]
        batch = torch.arange(n, device=dev)[:, None, None, None]
        chans = torch.arange(images.shape[1], device=dev)[None, :, None, None]
        images = padded[batch, chans, rows, cols]
    if flip:
        mirrored = torch.rand(n, generator=generator, device=dev) < 0.5
        images = torch.where(mirrored[:, None, None, None], images.flip(3), images)
    return images


def epoch_batches(n: int, cfg: TrainConfig, generator: torch.Generator, device: torch.device
                  ) -> tuple[torch.Tensor, ...]:
    """The index batches of one epoch: a random order of the ``n`` images split into batches, or with
    ``cfg.steps_per_epoch`` exactly that many full batches from as many fresh random orders as it takes."""
    if not cfg.steps_per_epoch:
        return torch.randperm(n, generator=generator, device=device).split(cfg.batch_size)
    need = cfg.steps_per_epoch * cfg.batch_size
    orders = [torch.randperm(n, generator=generator, device=device) for _ in range(-(-need // n))]
    return torch.cat(orders)[:need].split(cfg.batch_size)


def prepare_batch(x: torch.Tensor, g: torch.Generator, cfg: TrainConfig, crop: int,
                  batch_transform: BatchTransform | None) -> torch.Tensor:
    """A training batch from stored images: random crops and flips, and ``batch_transform`` (the distortion)
    after them — or, for images seen cropped (``crop``), the release's order: distort the whole image, then
    take a random crop of it."""
    if crop:
        return augment(batch_transform(x, g) if batch_transform is not None else x, g, cfg.crop_pad, cfg.flip, crop)
    x = augment(x, g, cfg.crop_pad, cfg.flip)
    return batch_transform(x, g) if batch_transform is not None else x


@dataclass(frozen=True)
class Penalty:
    """A regulariser split by how a step applies it most cheaply: ``term()`` (or ``None``) is added to the loss
    and differentiated; ``l1``·Σ|w| on the weights ``sparse`` and ``decay``/2·Σw² on the weights ``decayed``
    add their exact gradients (``l1``·sign(w), ``decay``·w) to the weights' gradients after the backward pass
    — the L1 as two foreach ops, the L2 as SGD's weight decay inside its fused update — instead of a few small
    kernels per weight forward and backward, which a GPU step, launch-bound at the paper's batch sizes, pays
    for in full. Called, it gives the whole penalty's value."""

    term: Callable[[], torch.Tensor] | None = None
    sparse: tuple[torch.Tensor, ...] = ()
    l1: float = 0.0
    decayed: tuple[torch.Tensor, ...] = ()
    decay: float = 0.0

    def __call__(self) -> torch.Tensor:
        total = self.term() if self.term is not None else torch.zeros(())
        if self.sparse and self.l1:
            total = total + torch.stack(torch._foreach_norm(list(self.sparse), 1)).sum() * self.l1
        if self.decayed and self.decay:
            total = total + torch.stack(torch._foreach_norm(list(self.decayed), 2)).square().sum() * (self.decay / 2)
        return total

    def add_l1_gradient(self) -> None:
        """``grad += l1·sign(w)`` for every weight of ``sparse`` (after ``backward``, before the SGD step)."""
        if not (self.sparse and self.l1):
            return
        for w in self.sparse:
            if w.grad is None:
                w.grad = torch.zeros_like(w)
        torch._foreach_add_([w.grad for w in self.sparse], torch._foreach_sign(list(self.sparse)), alpha=self.l1)


def sgd(params: list[torch.Tensor], cfg: TrainConfig, penalty: Penalty | None = None) -> torch.optim.SGD:
    """SGD for ``params`` with the config's momentum and weight decay, plus ``penalty``'s L2 as the weight decay
    of its weights (a second parameter group)."""
    decay = penalty.decay if penalty is not None else 0.0
    decayed = {id(p) for p in penalty.decayed} if decay else set()
    groups = [{"params": [p for p in params if (id(p) in decayed) == extra],
               "weight_decay": cfg.weight_decay + (decay if extra else 0.0)} for extra in (False, True)]
    return torch.optim.SGD([g for g in groups if g["params"]], lr=cfg.lr, momentum=cfg.momentum,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


@dataclass(frozen=True)
class Step:
    """What every SGD step of a run shares: the model (and its DDP / compiled wrapper), the optimiser, the
    config, how batches are made and the regulariser."""

    model: nn.Module
    step_model: nn.Module
    opt: torch.optim.Optimizer
    cfg: TrainConfig
    crop: int
    batch_transform: BatchTransform | None
    penalty: Penalty | None
    group: dd.Group | None


def train_one_epoch(step: Step, images: Iterable[torch.Tensor], labels: torch.Tensor, index: Sequence[torch.Tensor],
                    g: torch.Generator, images_done: Callable[[int], object]) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch of SGD steps over the uint8 ``images`` batches (those of the ``index`` batches; ``labels``: all
    of the split's), as torchvision's references split ``train_one_epoch`` out of ``main``; ``images_done(n)``
    after each step that took ``n`` images (a progress bar's update). Returns this rank's summed loss and
    correct count as device tensors: nothing here waits for the device."""
    cfg, group = step.cfg, step.group
    world = dd.world_size(group)
    params = [p for p in step.model.parameters() if p.requires_grad]
    dtype = params[0].dtype  # float32 as a rule; a float64 model gets float64 batches
    device = params[0].device
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.bf16
                else nullcontext())
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for idx, x in zip(index, images):
        x = prepare_batch(x.to(dtype), g, cfg, step.crop, step.batch_transform)
        x, y = dd.shard(x, group), dd.shard(labels[idx], group)  # every rank drew the whole batch
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast, dd.synced_batchnorm(step.model, group):
            out = step.step_model(x)
            loss = nn.functional.cross_entropy(out.to(dtype), y)
        # DDP averages gradients over ranks: weight each rank's mean by its share of the global batch
        objective = loss * (y.numel() * world / idx.numel()) if group is not None else loss
        if step.penalty is not None and step.penalty.term is not None:
            objective = objective + step.penalty.term()
        step.opt.zero_grad(set_to_none=True)
        objective.backward()
        if step.penalty is not None:
            step.penalty.add_l1_gradient()
        step.opt.step()
        total_loss += loss.detach() * y.numel()
        correct += (out.argmax(1) == y).sum()
        images_done(idx.numel())
    return total_loss, correct


def fit(model: nn.Module, data: TensorData, cfg: TrainConfig, *, device: torch.device | str = "cpu",
        checkpoint: Path | str | None = None, batch_transform: BatchTransform | None = None,
        set_train_mode: Callable[[nn.Module], None] | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None,
        regularizer: Callable[[], torch.Tensor] | Penalty | None = None, progress: bool = True,
        group: dd.Group | None = None) -> list[dict]:
    """Train the parameters of ``model`` that require grad with SGD for ``cfg.epochs``; returns the per-epoch
    log (loss, accuracy, images/s, lr). With ``checkpoint``, resumes from it when it exists, is intact and was
    made by the same config (a damaged one is discarded with a warning: training starts over), and rewrites it
    after every epoch. ``batch_transform(images, generator)`` runs after
    augmentation (e.g. half-distorted batches); ``set_train_mode`` replaces ``model.train()`` (frozen BN);
    ``regularizer()`` is added to the loss (Eq. 5's λ·R(W); a :class:`Penalty` adds its L1 and L2 gradients
    directly); ``on_epoch_end(epoch, row)`` may add entries to the epoch's log row (e.g. a validation
    accuracy) before it is checkpointed. ``group``: train with DDP across its ranks, ``cfg.batch_size`` being
    the global batch; only rank 0 writes the checkpoint."""
    device, world = torch.device(device), dd.world_size(group)
    if cfg.batch_size < world:
        raise ValueError(f"batch_size {cfg.batch_size} is smaller than the {world} processes sharing each batch")
    penalty = regularizer if isinstance(regularizer, Penalty) or regularizer is None else Penalty(regularizer)
    opt = _optimizer(model, cfg, device, penalty)
    fingerprint = json.dumps(result_fields(cfg), sort_keys=True)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    start, history = _resume(ckpt, fingerprint, model, opt, device, group)
    step = Step(model, _step_model(model, cfg, device, group), opt, cfg, data.crop, batch_transform, penalty, group)
    source, labels = data.to(device), data.labels.to(device)  # in memory: on the device once
    progress = progress and dd.is_main(group)
    with cudnn_benchmark(cfg.cudnn_benchmark and device.type == "cuda"):
        for epoch in range(start, cfg.epochs):
            (set_train_mode or nn.Module.train)(model)
            row = _logged_epoch(step, source, labels, epoch, device, progress)
            history.append(row)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, row)
            if ckpt is not None and dd.is_main(group):
                _save(ckpt, model, opt, epoch + 1, history, fingerprint)
            dd.barrier(group)
    return history


def _optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device, penalty: Penalty | None
               ) -> torch.optim.SGD:
    """``model`` moved to ``device`` (channels-last when asked) and the SGD of its trainable parameters."""
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (every parameter has requires_grad=False)")
    return sgd(params, cfg, penalty)


def _resume(ckpt: Path | None, fingerprint: str, model: nn.Module, opt: torch.optim.Optimizer,
            device: torch.device, group: dd.Group | None) -> tuple[int, list[dict]]:
    """The first epoch still to train and the log so far: (0, []) without a usable checkpoint, else the
    checkpoint's, its weights, optimiser and RNG state restored. Rank 0 reads it and hands it to every rank."""
    if ckpt is None:
        return 0, []
    state = None
    if dd.is_main(group) and ckpt.exists():
        try:
            state = _load(ckpt, fingerprint)
        except ValueError as err:
            state = err  # the broadcast raises it on every rank
    state = dd.broadcast(state, group)
    return _restore(state, model, opt, device) if state is not None else (0, [])


def _step_model(model: nn.Module, cfg: TrainConfig, device: torch.device, group: dd.Group | None) -> nn.Module:
    """What a step calls: ``model``, wrapped in DistributedDataParallel with a ``group``, compiled when asked."""
    step_model = model
    if group is not None:
        gpu = (device.index if device.index is not None else torch.cuda.current_device()) \
            if device.type == "cuda" else None
        step_model = nn.parallel.DistributedDataParallel(model, device_ids=None if gpu is None else [gpu])
    return torch.compile(step_model) if cfg.compile else step_model


def _logged_epoch(step: Step, source: TensorData, labels: torch.Tensor, epoch: int, device: torch.device,
                  progress: bool) -> dict:
    """Epoch ``epoch`` over the images of ``source`` at the scheduled learning rate — its order and
    augmentation drawn from a generator seeded by (seed, epoch) — and its log row, summed over the ranks; an
    error when the loss is not finite."""
    cfg, group, n = step.cfg, step.group, len(source)
    lr = lr_at(cfg, epoch)
    for param_group in step.opt.param_groups:
        param_group["lr"] = lr
    g = torch.Generator(device).manual_seed(cfg.seed * 1_000_003 + epoch)
    batches = epoch_batches(n, cfg, g, device)
    if len(batches[-1]) < dd.world_size(group):  # a last batch too small to give every rank an image
        batches = batches[:-1]
    timer = DeviceTimer(device).start()
    with tqdm(total=n, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="img", unit_scale=True,
              disable=None if progress else True, leave=False) as bar:
        total_loss, correct = train_one_epoch(step, source.batches(batches, device), labels, batches, g, bar.update)
    seconds = timer.seconds()
    seen = sum(idx.numel() for idx in batches)
    total_loss, correct = dd.all_sum(total_loss, group), dd.all_sum(correct, group)
    mean_loss = total_loss.item() / seen
    if not math.isfinite(mean_loss):
        raise FloatingPointError(f"training loss became {mean_loss} in epoch {epoch + 1}; lower lr (now {lr:g}) "
                                 f"or check the data")
    row = {"epoch": epoch + 1, "iteration": (epoch + 1) * len(batches), "loss": mean_loss,
           "accuracy": correct.item() / seen, "lr": lr,
           "images_per_s": seen / seconds, "seconds": seconds}
    if progress:
        tqdm.write(f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  acc {row['accuracy']:.4f}  "
                   f"lr {lr:.4g}  {row['images_per_s']:.0f} img/s")
    return row


def _save(path: Path, model: nn.Module, opt: torch.optim.Optimizer, epoch: int, history: list[dict],
          fingerprint: str) -> None:
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "history": history,
             "config": fingerprint, "rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    write_checked(path, lambda tmp: torch.save(state, tmp))


def _load(path: Path, fingerprint: str) -> dict | None:
    """The checkpoint's state; ``None`` (with a warning; the file is deleted) when it fails its checksum or
    does not load, so training starts over; an error when it belongs to another training config."""
    why = problem(path)
    if why is None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            why = f"it does not load ({type(err).__name__})"
    if why is not None or not isinstance(state, dict):
        discard(path, "checkpoint", why or "it holds no training state", "training starts over from epoch 1")
        return None
    if state.get("config") != fingerprint:
        raise ValueError(f"checkpoint {path} was written by a different training config; delete it or rerun "
                         f"with --fresh to start over")
    return state


def _restore(state: dict, model: nn.Module, opt: torch.optim.Optimizer, device: torch.device
             ) -> tuple[int, list[dict]]:
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"].cpu())
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    return int(state["epoch"]), list(state["history"])
