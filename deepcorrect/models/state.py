"""Reading a saved state dict into a network, refusing what would load wrong or not at all with one line that
names the file and the first thing wrong: not a ``torch.save`` file, not a dict of tensors, a NaN or inf
value, a tensor of the wrong shape, keys the network lacks or needs.

Files are read with ``torch.load(weights_only=True)`` only: a file that needs arbitrary Python objects to load
is refused, never retried otherwise (unpickling such objects can run any code).
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn


def read_state(path: str | Path) -> Any:
    """What ``torch.save`` wrote to ``path``, read with ``weights_only=True``; one line on a file it did not
    write (text, a truncated copy) or one holding objects other than tensors and plain containers."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if str(err).startswith("Weights only load failed"):
            why = "it is not a torch.save file of tensors (or holds Python objects, which are not loaded)"
        else:
            why = f"it is not a torch.save file ({_first_line(err)})"
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:  # a damaged zip container
        why = f"it is truncated or not a torch.save file ({_first_line(err)})"
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:  # the unpickler choking on text
        why = f"it is not a torch.save file ({type(err).__name__} while unpickling)"
    raise ValueError(f"cannot read weights from {path}: {why}; pass a state dict saved with "
                     f"torch.save(model.state_dict(), path)") from None


def check_state(state: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """``state`` as a dict of tensor name → tensor, every value finite; else one line naming what is wrong."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict (a dict of tensor names to "
                         f"tensors, as torch.save(model.state_dict(), path) writes)")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor; expected a state "
                             f"dict (a dict of tensor names to tensors)")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise ValueError(f"{path}: tensor {name!r} holds {bad} NaN or infinite value(s); these weights come "
                             f"from a diverged or damaged run: use a good copy")
    return dict(state)


def load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    """``model.load_state_dict(state)`` after checking that ``state`` fits: the same keys and, key by key,
    the same shapes; a mismatch names the first key and both shapes (or the keys missing and unexpected)."""
    own = model.state_dict()
    for name, value in state.items():
        if name in own and own[name].shape != value.shape:
            raise ValueError(f"{path} does not fit this {type(model).__name__}: tensor {name!r} has shape "
                             f"{tuple(value.shape)} in the file, the network needs {tuple(own[name].shape)} (were "
                             f"the weights saved from another arch, width or number of classes?)")
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"{path} does not fit this {type(model).__name__}: " + "; ".join(
            f"{len(keys)} {what} key(s) ({_few(keys)})" for what, keys in (("missing", missing),
                                                                         ("unexpected", unexpected)) if keys))
    model.load_state_dict(state)
    return model


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0].split(". ")[0] if text else type(err).__name__
