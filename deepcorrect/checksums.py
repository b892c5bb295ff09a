"""SHA-256 of a file, read in blocks: what artifact payloads, archives and downloaded weights are checked by.

The one integrity rule for what a run writes and reads back: a file's SHA-256 is recorded when it is written
and compared before it is used. An artifact's payload records it in its ``meta.json``
(:mod:`deepcorrect.store`); a file with no metadata of its own (a training checkpoint, the best epoch's
weights, a decoded-image cache) records it beside itself in ``<name>.sha256`` (:func:`write_checked`). A file
that fails the check is :func:`discard`-ed with a warning naming it and rebuilt from the last good state —
never used, since a flipped byte in a tensor still loads.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

from .files import atomic_write


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: str | Path) -> Path:
    """Where :func:`write_checked` records ``path``'s SHA-256: ``<name>.sha256`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def write_checked(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` atomically to ``path`` (:func:`~deepcorrect.files.atomic_write`), then its SHA-256 to
    :func:`checksum_path`. A run killed between the two renames leaves a file that fails :func:`problem`:
    discarded and rebuilt, never trusted."""
    path = atomic_write(path, write)
    digest = sha256_file(path)
    atomic_write(checksum_path(path), lambda tmp: tmp.write_text(digest + "\n", encoding="ascii"))
    return path


def problem(path: str | Path) -> str | None:
    """Why the file at ``path`` (written by :func:`write_checked`) cannot be trusted, or ``None`` when its
    bytes match the recorded checksum."""
    try:
        recorded = checksum_path(path).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return f"its checksum file {checksum_path(path).name} is missing or unreadable"
    try:
        actual = sha256_file(path)
    except OSError as err:
        return f"it cannot be read ({err.strerror})"
    return None if actual == recorded else "its bytes do not match the recorded checksum (corrupt or truncated)"


def remove_checked(path: str | Path) -> None:
    """Delete a file written by :func:`write_checked` and its checksum (either may be missing)."""
    Path(path).unlink(missing_ok=True)
    checksum_path(path).unlink(missing_ok=True)


def discard(path: str | Path, what: str, why: str, then: str) -> None:
    """Warn that ``what`` at ``path`` is not used (``why``; ``then``: what happens instead) and delete it, so
    the next run does not trip over it again."""
    warnings.warn(f"discarding {what} {path}: {why}; {then}", stacklevel=3)
    remove_checked(path)


def load_checked(path: str | Path, what: str, then: str, accept: Callable[[dict], str | None]) -> dict | None:
    """The payload saved at ``path`` by :func:`write_checked` when its bytes match their checksum,
    it loads and ``accept(payload)`` finds nothing wrong (``accept`` returns why not); otherwise ``None``, a
    file that was there discarded with a warning naming ``what`` and why (``then``: what happens instead)."""
    import torch

    if not Path(path).is_file():
        return None
    why = problem(path)
    if why is None:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            why = accept(payload)
            if why is None:
                return payload
        except Exception as err:  # noqa: BLE001 - a damaged file fails torch.load in many ways
            why = f"it does not load ({type(err).__name__})"
    discard(path, what, why, then)
    return None
