"""One way to address "the output of filter j of conv layer i" in any ``nn.Module``.

Layers are named by their ``named_modules`` path (``"conv1"``, ``"features.3"``); a filter is a channel of that
conv's output. Hooks live in context managers that own their handles and remove them on exit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn


def conv_layers(model: nn.Module) -> list[str]:
    """Names of every ``nn.Conv2d`` in ``model``, in registration order (the forward order for the paper's
    networks and for ``nn.Sequential`` stacks)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def get_conv(model: nn.Module, name: str) -> nn.Conv2d:
    """The conv layer ``name``; a clear error naming the valid ones if it is unknown or not a conv."""
    modules = dict(model.named_modules())
    valid = ", ".join(conv_layers(model)) or "(none)"
    if name not in modules:
        raise ValueError(f"unknown layer {name!r}; the conv layers of this model are: {valid}")
    if not isinstance(modules[name], nn.Conv2d):
        raise ValueError(f"layer {name!r} is a {type(modules[name]).__name__}, not a conv layer; "
                         f"the conv layers of this model are: {valid}")
    return modules[name]


def get_module(model: nn.Module, name: str) -> nn.Module:
    """Any named submodule (for capturing features such as a penultimate layer)."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        raise ValueError(f"unknown layer {name!r}; this model's layers are: {', '.join(n for n in modules if n)}")
    return modules[name]


@contextlib.contextmanager
def capture(model: nn.Module, layers: Sequence[str] | str) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``layers`` (any named modules) during forward passes inside the block (the last pass wins).

    >>> with capture(model, ["conv1"]) as out:
    ...     model(x)
    >>> out["conv1"].shape  # (N, filters, H, W)
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    store: dict[str, torch.Tensor] = {}
    with _hooks(model, {name: _recorder(store, name) for name in layers}, get_module):
        yield store


@contextlib.contextmanager
def replace_output(model: nn.Module, layer: str,
                   fn: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Inside the block, the output ``y`` of ``layer`` becomes ``fn(y)`` in every forward pass."""
    with _hooks(model, {layer: lambda _m, _i, y: fn(y)}):
        yield


@contextlib.contextmanager
def swap_filters(model: nn.Module, layer: str, filters: Sequence[int], source: torch.Tensor) -> Iterator[None]:
    """Inside the block, channels ``filters`` of ``layer``'s output are taken from ``source`` (same shape as
    the output, e.g. the clean activations): the paper's ideal correction of those filters."""
    idx = list(filters)

    def swap(y: torch.Tensor) -> torch.Tensor:
        if source.shape != y.shape:
            raise ValueError(f"swap source has shape {tuple(source.shape)}, but layer {layer!r} "
                             f"outputs {tuple(y.shape)}")
        y = y.clone()
        y[:, idx] = source[:, idx].to(y.dtype)
        return y

    with replace_output(model, layer, swap):
        yield


@contextlib.contextmanager
def _hooks(model: nn.Module, hooks: dict[str, Callable], lookup: Callable = get_conv) -> Iterator[None]:
    handles = [lookup(model, name).register_forward_hook(h) for name, h in hooks.items()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _recorder(store: dict[str, torch.Tensor], name: str) -> Callable:
    def hook(_module, _inputs, output):
        store[name] = output.detach()
    return hook


def count_macs(model: nn.Module, example: torch.Tensor, owners: dict[nn.Module, str]) -> dict[str, int]:
    """Multiply-accumulates for one image (``example[:1]``) of the conv and linear modules in ``owners``
    (module → the name its count goes under; several may share one): weight elements × output pixels, recorded
    by hooks during one forward pass, in the order the pass runs them."""
    macs: dict[str, int] = {}

    def record(name: str) -> Callable:
        def hook(mod, _inputs, out):
            macs[name] = macs.get(name, 0) + mod.weight.numel() * (out.shape[-2] * out.shape[-1]
                                                                    if out.dim() == 4 else 1)
        return hook

    handles = [m.register_forward_hook(record(name)) for m, name in owners.items()]
    try:
        with torch.no_grad():
            model.eval()(example[:1])
    finally:
        for h in handles:
            h.remove()
    return macs
