"""How an artifact's key is built — every piece of it, in one place.

An artifact (a trained model, a ranking, a table) is stored under ``<kind>/<hash>``, the hash of four things
(:func:`artifact_name`):

1. **its own settings**: the result-determining fields of the profile sections it reads
   (:func:`artifact_key`; speed-only fields such as chunk sizes leave it alone), pruned or extended per kind —
   :func:`evaluation_key` for a measurement, :func:`training_key` for a corrected model;
2. **the code**: :func:`code_fingerprint`, the syntax trees of the core modules without docstrings
   (:mod:`deepcorrect.fingerprint`), plus, for a computation handed in from the reproduction layer, that
   function's own (:func:`~deepcorrect.fingerprint.function_fingerprint`);
3. **its inputs' keys** (:func:`key_of`): what it was computed from — a data split, a model, a ranking — each
   known by the key :func:`stamp`-ed on it when it was made, by a key :func:`derived` from its parent's for a
   deterministic subset, or else by a hash of its content;
4. **its kind**.

Data and pretrained weights enter by their content (:func:`fingerprint`: an archive's SHA-256, a folder's
manifest of per-file SHA-256s), not their path, so replaced data recompute what depends on them and moved data
do not. The store (:class:`~deepcorrect.store.Store`) only asks :func:`artifact_name` and keeps the payloads.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from .checksums import sha256_file
from .config import Profile, result_fields
from .fingerprint import core_fingerprint, function_fingerprint
from .models import PRETRAINED

# ------------------------------------------------------------------------------------------------------------
# The hash: kind, settings, code and inputs


def config_hash(kind: str, config: Any, code: str = "", inputs: dict[str, Any] | None = None) -> str:
    blob = json.dumps({"kind": kind, "config": config, **({"code": code} if code else {}),
                       **({"inputs": inputs} if inputs else {})}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def artifact_name(kind: str, config: Any, code: str, inputs: dict[str, Any], compute: Callable | None = None
                  ) -> str:
    """``<kind>/<hash>``: the artifact's kind, its own settings, the code (``code``, the core's, and for a
    computation handed in from the reproduction layer ``compute``'s own) and its inputs' keys (already keyed)."""
    own = function_fingerprint(compute) if compute is not None else ""
    return f"{kind}/{config_hash(kind, config, f'{code}+{own}' if own else code, inputs)}"


def code_fingerprint() -> str:
    """The fingerprint of the library code that computes (:func:`~deepcorrect.fingerprint.core_fingerprint`): part of every
    artifact's key, so results of older code are never reused; prose, plots and docstrings are not in it."""
    return core_fingerprint()


# ------------------------------------------------------------------------------------------------------------
# The inputs: stamped, derived or hashed by content


#: Attribute under which an object carries the key of the artifact (or data) it is.
_KEY = "_deepcorrect_key"


def stamp(obj: Any, key: str) -> Any:
    """Mark ``obj`` (a model, a data split, a ranking) as the artifact ``key``; returns it."""
    object.__setattr__(obj, _KEY, key)
    return obj


def derived(obj: Any, parent: Any, **how: Any) -> Any:
    """Stamp ``obj``, made from ``parent`` by a deterministic selection ``how`` (e.g. ``per_class=100,
    seed=3``), with a key that follows from the parent's — cheaper than hashing its content."""
    parent_key = key_of(parent)
    return stamp(obj, f"{parent_key}/{config_hash('derived', how, inputs={'parent': parent_key})[:8]}")


def key_of(obj: Any) -> Any:
    """The key an input is known by: its stamp, else a hash of its content (a user's own model or data set:
    exact, only slower; not remembered, since the object may change). Dicts and lists take their members'
    keys."""
    key = getattr(obj, _KEY, None)
    if key is not None:
        return key
    if isinstance(obj, str):  # already a key
        return obj
    if isinstance(obj, dict):
        return {str(k): key_of(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [key_of(v) for v in obj]
    digest = hashlib.sha256(type(obj).__name__.encode())
    if isinstance(obj, torch.nn.Module):
        tensors = sorted(obj.state_dict().items())
    elif hasattr(obj, "images") and hasattr(obj, "labels"):  # a TensorData
        tensors = [("images", obj.images), ("labels", obj.labels), ("classes", list(getattr(obj, "classes", ())))]
        tensors += [("crop", obj.crop)] if getattr(obj, "crop", 0) else []
    elif hasattr(obj, "files") and hasattr(obj, "labels"):  # a StreamedData: its files and how they are read
        stats = [os.stat(f) for f in obj.files]  # size and time, not content: ILSVRC2012 is 1.28 M files
        tensors = [("files", [(f, st.st_size, st.st_mtime_ns) for f, st in zip(obj.files, stats)]), ("labels", obj.labels),
                   ("read", (obj.classes, obj.size, obj.resize, obj.stretch, obj.crop))]
    else:
        raise TypeError(f"cannot key a {type(obj).__name__}: stamp it with store.stamp(obj, key) first")
    for name, value in tensors:
        digest.update(name.encode() + b"\0")
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous()
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    return "content:" + digest.hexdigest()[:16]


# ------------------------------------------------------------------------------------------------------------
# Data and weights by their content


def fingerprint(root: str | Path, content: bool = True) -> str:
    """What is at ``root``, for artifact keys: an archive's SHA-256, or for a folder the hash of its manifest
    (every file's relative path and SHA-256, :func:`content_digests`), so replacing the data — even swapping
    two class folders' files under the same names — recomputes what depends on it. ``content=False`` (a tree
    streamed from disk, ILSVRC2012's 140 GB) hashes sizes and modification times instead of bytes. Cached per
    process while the file's, or the folder's top two levels', stat is unchanged: a file overwritten in place
    inside a folder is seen by the next process (each notebook and command is one)."""
    path = Path(root).expanduser()
    if not path.exists():
        return f"missing:{path}"
    if path.is_file():
        st = path.stat()
        return f"sha256:{_file_digest(str(path.resolve()), st.st_size, st.st_mtime_ns)}"
    dirs = [path, *(p for p in path.iterdir() if p.is_dir())]
    dirs += [q for p in dirs[1:] for q in p.iterdir() if q.is_dir()]
    return f"manifest:{_manifest_digest(str(path.resolve()), tuple(d.stat().st_mtime_ns for d in dirs), content)}"


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, _size: int, _mtime: int) -> str:
    return sha256_file(path)


@functools.lru_cache(maxsize=32)
def _manifest_digest(root: str, _dir_mtimes: tuple, content: bool) -> str:
    paths = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        paths += [os.path.join(folder, name) for name in sorted(names)]
    if content:
        what = content_digests(paths)
    else:
        what = [f"{st.st_size}\0{st.st_mtime_ns}" for st in map(os.stat, paths)]
    digest = hashlib.sha256(b"content" if content else b"stat")
    for path, this in zip(paths, what):
        digest.update(f"{os.path.relpath(path, root)}\0{this}\n".encode())
    return digest.hexdigest()


def content_digests(files: list[str] | list[Path]) -> list[str]:
    """SHA-256 of each file's bytes (read in parallel): what the decoded-image cache and a folder's
    :func:`fingerprint` are keyed by. Size and modification time would be cheaper but not enough: ``mv`` keeps
    both, and a tar extraction gives every file the same second. Measured on the 60,000 files (19 MB) of the
    CIFAR-10 JPEG tree with a warm page cache: about 0.5 s, against 0.25 s for their sizes and times — small
    beside decoding them, which the cache exists to avoid."""
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return list(pool.map(sha256_file, files))


# ------------------------------------------------------------------------------------------------------------
# The settings: what of the profile determines a result


def artifact_key(profile: Profile, *sections: str) -> dict:
    """The result-determining fields of ``sections`` — an artifact's own settings; what it is computed from
    enters its key as inputs. The data and a pretrained weights file enter by their content
    (:func:`fingerprint`; a streamed tree by its files' sizes and times), not their path."""
    key = {s: result_fields(getattr(profile, s)) for s in sections}
    if "data" in key and profile.data.source != "embedded":  # the data by what is there, not where
        key["data"]["root"] = fingerprint(profile.data.root, content=not profile.data.stream)
    if "model" in key and profile.model.weights:
        path = Path(profile.model.weights).expanduser()
        if path.is_file():
            key["model"]["weights"] = fingerprint(path)
        elif profile.model.arch in PRETRAINED:  # what weights_file fetches: the same key as a local copy
            key["model"]["weights"] = f"sha256:{PRETRAINED[profile.model.arch][2]}"
    return key


def data_key(profile: Profile) -> str:
    """The key of the profile's splits (``data/<hash>``; each split is ``<it>/train``, ``/val``, ``/test``)."""
    return "data/" + config_hash("data", artifact_key(profile, "data"))


def weights_key(profile: Profile) -> str:
    """The key of a network loaded from pretrained weights: the weights' content."""
    return f"weights/{artifact_key(profile, 'model')['model']['weights']}"


def ranking_key(profile: Profile) -> dict:
    """A ranking's own settings (the model and the images it ranks on enter as inputs)."""
    return {**artifact_key(profile, "rank"), "family": profile.data.family}


def evaluation_key(profile: Profile, *fields: str) -> dict:
    """The settings of a measurement with a given model on given images (both enter as inputs): the
    distortion family, the noise seed, clipping, precision and batching — plus the named ``eval`` fields
    only this measurement reads (the t-SNE's sizes), so changing one recomputes that measurement alone."""
    ev = profile.eval
    return {"family": profile.data.family, "seed": ev.seed, "clip": ev.clip, "bf16": ev.bf16,
            "batch_size": ev.batch_size, **{name: getattr(ev, name) for name in fields}}


#: Correction settings that shape DeepCorrect models only (fine-tuning neither builds units nor selects).
_DEEPCORR_ONLY = ("variant", "unit_width", "beta", "release_count", "score", "deepcorr_lr", "l1")


def training_key(profile: Profile, method: str = "deepcorr") -> dict:
    """A trained model's own settings (the base network, its training and validation images enter as
    inputs; the filters it corrects as its selection): the correction and training schedule, the unit's
    width scale, the distortion family, and the clipping and seed of its distorted validation set — but not
    the Figure 9 bookkeeping (how many draws, which sizes), so that more draws reuse the models trained, nor,
    for a fine-tuned model, the settings of DeepCorrect's units."""
    key = artifact_key(profile, "model", "train", "correct")
    drop = ("draws", "fig9_filters", "base_bn", *(_DEEPCORR_ONLY if method != "deepcorr" else ("finetune_lr",)))
    key["correct"] = {k: v for k, v in key["correct"].items() if k not in drop}
    return {**key, "family": profile.data.family, "clip": profile.eval.clip, "val_seed": profile.eval.seed}
