"""Artifact store: results cached under ``root/<kind>/<key>/``, the key a hash of what made them.

A key chains: it hashes the artifact's own settings, the library's code fingerprint and the keys of the
artifacts it consumes (``inputs``: the data split, the model, the ranking …); :mod:`deepcorrect.keys` builds
it. Whatever a computation returns is stamped with its key, so the next one names it as an input and nothing
downstream of a changed setting, input or line of code is reused. Each artifact is
``payload.pt`` (tensors, numbers, strings, lists and dicts; read back with ``weights_only=True``) plus
``meta.json`` holding the settings, the input keys, the code fingerprint, the wall time and the payload's
SHA-256.
Both are written to temporary files and renamed, ``meta.json`` last: it is what makes the artifact. A payload
whose checksum or config does not match its metadata, or a ``meta.json`` that does not read (not UTF-8, not
JSON), is reported with a warning naming it and recomputed, never used. The artifact folder also holds the
training checkpoint of a computation in progress (checksummed, see :mod:`deepcorrect.checksums`), so a killed
run resumes where it stopped; it is deleted once the payload is saved. A computation that fails or is stopped
leaves no empty folder behind, up to the first folder that existed before the store was made.
"""

from __future__ import annotations

import json
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
from .checksums import remove_checked, sha256_file
from .files import atomic_write
from .keys import artifact_name, code_fingerprint, key_of

#: Name of the training checkpoint a computation keeps in its artifact folder until its payload is saved.
CHECKPOINT = "checkpoint.pt"


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
        #: the nearest folder that existed before: a failed computation removes empty folders up to it
        self._existed = next(p for p in (self.root.absolute(), *self.root.absolute().parents) if p.exists())
        self.fresh_since = (time.time() if fresh is True else float(fresh)) if fresh else None
        self.group = group
        self.code = code_fingerprint()
        #: every artifact this store handed out: kind, key, input keys, whether computed now, seconds
        self.ledger: list[dict] = []

    def key(self, kind: str, config: Any, inputs: dict[str, Any] | None = None,
            compute: Callable | None = None) -> str:
        """The artifact's key: its kind, its own settings, the code (the core's and, for a computation handed
        in from the reproduction layer, ``compute``'s own) and its inputs' keys (``inputs`` holds the objects
        or their keys)."""
        inputs = {name: key_of(value) for name, value in (inputs or {}).items()}
        return artifact_name(kind, config, self.code, inputs, compute)

    def folder(self, kind: str, config: Any, inputs: dict[str, Any] | None = None,
               compute: Callable | None = None) -> Path:
        return self.root / self.key(kind, config, inputs, compute)

    def _stale(self, folder: Path) -> bool:
        """With ``fresh``: made before this run (or unfinished), so to be recomputed."""
        if self.fresh_since is None or not folder.exists():
            return False
        meta = _read_meta(folder)
        return meta is None or meta.get("created_ts", 0) < self.fresh_since

    def get(self, kind: str, config: Any, compute: Callable[[Path], Any], inputs: dict[str, Any] | None = None
            ) -> Any:
        """The cached payload for (kind, config, inputs), or ``compute(folder)``'s result, saved before
        returning. ``inputs``: the objects (or keys) it is computed from; their keys enter its own."""
        return self.get_keyed(kind, config, compute, inputs)[0]

    def get_keyed(self, kind: str, config: Any, compute: Callable[[Path], Any],
                  inputs: dict[str, Any] | None = None) -> tuple[Any, str]:
        """:meth:`get` and the artifact's key, to :func:`stamp` on what is built from the payload (its
        inputs are keyed once: a content hash is not computed twice)."""
        inputs = {name: key_of(value) for name, value in (inputs or {}).items()}
        key = self.key(kind, config, inputs, compute)
        folder = self.root / key
        cached = None
        if dd.is_main(self.group):
            if self._stale(folder):
                shutil.rmtree(folder)
            cached = self.load(kind, config, inputs, compute)
            if cached is None:
                folder.mkdir(parents=True, exist_ok=True)
        cached = dd.broadcast(cached, self.group)
        if cached is not None:
            self.ledger.append({"kind": kind, "key": key, "inputs": inputs, "computed": False,
                                "seconds": self._seconds(folder)})
            return cached, key
        t0 = time.perf_counter()
        try:
            payload = compute(folder)  # every rank takes part (training and ranking are collective)
        except BaseException:  # a failed or stopped run leaves no empty folder (a checkpoint stays: resume)
            _remove_empty(folder.absolute(), self._existed)
            raise
        seconds = time.perf_counter() - t0
        if dd.is_main(self.group):
            self._save(folder, kind, config, inputs, payload, seconds)
        dd.barrier(self.group)
        self.ledger.append({"kind": kind, "key": key, "inputs": inputs, "computed": True, "seconds": seconds})
        return payload, key

    def provenance(self) -> list[dict]:
        """The ledger as rows for a table: each artifact's key, its inputs' keys, the code fingerprint and
        its wall time, and whether this run computed it or read it from the store."""
        rows, seen = [], set()
        for entry in self.ledger:
            if entry["key"] in seen:
                continue
            seen.add(entry["key"])
            rows.append({"artifact": entry["key"], "inputs": ", ".join(
                f"{name}={_short(value)}" for name, value in entry["inputs"].items()) or "–",
                "code": self.code, "seconds": round(entry["seconds"] or 0.0, 1),
                "this run": "computed" if entry["computed"] else "from the store"})
        return rows

    def load(self, kind: str, config: Any, inputs: dict[str, Any] | None = None,
             compute: Callable | None = None) -> Any | None:
        """The payload if present and intact; ``None`` (with a warning saying why) if missing or damaged."""
        folder = self.folder(kind, config, inputs, compute)
        meta_path, payload_path = folder / "meta.json", folder / "payload.pt"
        if not meta_path.is_file() or not payload_path.is_file():
            return None
        meta = _read_meta(folder)
        if meta is None:
            return self._reject(folder, f"its {meta_path.name} does not read as UTF-8 JSON metadata")
        if _canonical(meta.get("config")) != _canonical(config) or _canonical(meta.get("inputs") or {}) != \
                _canonical(inputs or {}):
            return self._reject(folder, "it was made by a different config or from different inputs")
        if sha256_file(payload_path) != meta.get("sha256"):
            return self._reject(folder, "its payload does not match the recorded checksum (truncated?)")
        return torch.load(payload_path, map_location="cpu", weights_only=True)

    @staticmethod
    def _seconds(folder: Path) -> float | None:
        return (_read_meta(folder) or {}).get("seconds")

    def _save(self, folder: Path, kind: str, config: Any, inputs: dict[str, Any], payload: Any,
              seconds: float) -> None:
        payload_path = atomic_write(folder / "payload.pt", lambda tmp: torch.save(payload, tmp))
        meta = {"kind": kind, "config": config, "inputs": inputs, "code": self.code, "version": __version__,
                "sha256": sha256_file(payload_path), "seconds": round(seconds, 3),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "created_ts": time.time(), "torch": torch.__version__}
        text = json.dumps(meta, indent=2, sort_keys=True, default=str)
        atomic_write(folder / "meta.json", lambda tmp: tmp.write_text(text))
        remove_checked(folder / CHECKPOINT)  # a finished artifact no longer needs it

    @staticmethod
    def _reject(folder: Path, why: str) -> None:
        warnings.warn(f"ignoring cached artifact {folder}: {why}; it will be recomputed", stacklevel=3)
        return None


def _canonical(value: Any) -> str:
    return json.dumps(json.loads(json.dumps(value, default=str)), sort_keys=True, default=str)


def _short(key: Any) -> str:
    """An input key as a table shows it: ``baseline/3f2a…`` → ``baseline/3f2a9c1d``."""
    if isinstance(key, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in key.items()) + "}"
    text = str(key)
    head, _, tail = text.rpartition("/") if "/" in text else text.rpartition(":")
    return f"{head}{'/' if '/' in text else ':' if head else ''}{tail[:8]}"


def _read_meta(folder: Path) -> dict | None:
    """An artifact's ``meta.json``, or ``None`` when it is missing or damaged (unreadable, not UTF-8, not a
    JSON object): a damaged record is a missing artifact, never a crash."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: UnicodeDecodeError and JSONDecodeError
        return None
    return meta if isinstance(meta, dict) else None


def _remove_empty(folder: Path, keep: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, stopping at ``keep``."""
    for path in (folder, *folder.parents):
        if path == keep or keep not in path.parents:
            return
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
