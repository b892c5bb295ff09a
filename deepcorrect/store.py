"""Artifact store: results cached under ``root/<kind>/<hash of the config that made them>/``.

Each artifact is ``payload.pt`` (tensors, numbers, strings, lists and dicts; read back with
``weights_only=True``) plus ``meta.json`` holding the config, the code fingerprint, the wall time and the
payload's SHA-256.
Both are written to temporary files and renamed. A payload whose checksum or config does not match its
metadata is reported and recomputed, never used. The artifact folder also holds the training checkpoint of
a computation in progress, so a killed run resumes where it stopped; it is deleted once the payload is saved.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import __version__
from . import distributed as dd
from .checksums import sha256_file


#: Name of the training checkpoint a computation keeps in its artifact folder until its payload is saved.
CHECKPOINT = "checkpoint.pt"


def config_hash(kind: str, config: Any, code: str = "") -> str:
    blob = json.dumps({"kind": kind, "config": config, **({"code": code} if code else {})}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of the package's source: part of every artifact's key, so results of older code are never
    reused (the library's code is what turns a config into a result)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class Store:
    """``Store("results").get("baseline", cfg_dict, compute)`` loads or computes one artifact.
    ``fresh`` recomputes what was cached before this run, once: ``True`` means before this store was made, a
    number means before that time (``time.time()``; what a book run hands every notebook, so the baseline that
    page 01 retrains is reused by pages 02-03). Checkpoints of older runs go too. Keys hold the config and
    the package's :func:`code_fingerprint`. Under torchrun, ``group`` is the run's process group, which the
    computations use: rank 0 alone reads and writes the store and hands cached payloads to the other ranks."""

    def __init__(self, root: str | Path, fresh: bool | float = False, group: dd.Group | None = None):
        check_writable(root, "results folder")
        self.root = Path(root)
        self.fresh_since = (time.time() if fresh is True else float(fresh)) if fresh else None
        self.group = group
        self.code = code_fingerprint()

    def folder(self, kind: str, config: Any) -> Path:
        return self.root / kind / config_hash(kind, config, self.code)

    def _stale(self, folder: Path) -> bool:
        """With ``fresh``: made before this run (or unfinished), so to be recomputed."""
        if self.fresh_since is None or not folder.exists():
            return False
        try:
            return json.loads((folder / "meta.json").read_text()).get("created_ts", 0) < self.fresh_since
        except (OSError, json.JSONDecodeError):
            return True

    def get(self, kind: str, config: Any, compute: Callable[[Path], Any]) -> Any:
        """The cached payload for (kind, config), or ``compute(folder)``'s result, saved before returning."""
        folder = self.folder(kind, config)
        cached = None
        if dd.is_main(self.group):
            if self._stale(folder):
                shutil.rmtree(folder)
            cached = self.load(kind, config)
            if cached is None:
                folder.mkdir(parents=True, exist_ok=True)
        cached = dd.broadcast(cached, self.group)
        if cached is not None:
            return cached
        t0 = time.perf_counter()
        try:
            payload = compute(folder)  # every rank takes part (training and ranking are collective)
        except BaseException:
            _remove_if_empty(folder)  # a failed run leaves no empty artifact folder (a checkpoint stays: resume)
            raise
        if dd.is_main(self.group):
            self._save(folder, kind, config, payload, time.perf_counter() - t0)
        dd.barrier(self.group)
        return payload

    def load(self, kind: str, config: Any) -> Any | None:
        """The payload if present and intact; ``None`` (with a warning saying why) if missing or damaged."""
        folder = self.folder(kind, config)
        meta_path, payload_path = folder / "meta.json", folder / "payload.pt"
        if not meta_path.is_file() or not payload_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            return self._reject(folder, "its meta.json is unreadable")
        if json.dumps(meta.get("config"), sort_keys=True, default=str) != json.dumps(
                json.loads(json.dumps(config, default=str)), sort_keys=True, default=str):
            return self._reject(folder, "it was made by a different config")
        if sha256_file(payload_path) != meta.get("sha256"):
            return self._reject(folder, "its payload does not match the recorded checksum (truncated?)")
        return torch.load(payload_path, map_location="cpu", weights_only=True)

    def _save(self, folder: Path, kind: str, config: Any, payload: Any, seconds: float) -> None:
        payload_path = folder / "payload.pt"
        tmp = folder / f".payload.tmp{os.getpid()}"
        torch.save(payload, tmp)
        os.replace(tmp, payload_path)
        meta = {"kind": kind, "config": config, "code": self.code, "version": __version__,
                "sha256": sha256_file(payload_path), "seconds": round(seconds, 3),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "created_ts": time.time(), "torch": torch.__version__}
        tmp = folder / f".meta.tmp{os.getpid()}"
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        os.replace(tmp, folder / "meta.json")
        (folder / CHECKPOINT).unlink(missing_ok=True)  # a finished artifact no longer needs it

    @staticmethod
    def _reject(folder: Path, why: str) -> None:
        warnings.warn(f"ignoring cached artifact {folder}: {why}; it will be recomputed", stacklevel=3)
        return None


def _remove_if_empty(folder: Path) -> None:
    for path in (folder, folder.parent):
        try:
            path.rmdir()  # only succeeds when empty
        except OSError:
            return


def check_writable(folder: str | Path, what: str) -> None:
    """Fail before long work when ``folder`` could not be created or written: its nearest existing ancestor
    must be a writable folder (tried with a temporary file, which is removed; nothing else is created)."""
    path = Path(folder).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{what} {str(path)!r} cannot be created: {str(existing)!r} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".deepcorrect-write-test"):
            pass
    except OSError as err:
        raise ValueError(f"{what} {str(path)!r} is not writable ({err.strerror}: {str(existing)!r}); choose "
                         f"another folder or fix its permissions") from None
