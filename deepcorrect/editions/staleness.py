"""Whether the code that made an edition still computes what it recorded, module by module.

An edition records the core fingerprint of the code that made it (:func:`~deepcorrect.fingerprint.core_fingerprint`,
one digest over every core module). When that digest differs from today's, the edition's commit says which
modules moved: their sources at that commit are read back from git and fingerprinted the same way. The profile
table (``config.profiles``) is data rather than code — every artifact's key already holds the resolved settings it
reads — so an edit there leaves an edition current when its own profile resolves to the settings it recorded
(trimming the embedded default's budget does not make the ResNet-20 edition stale).

Without git or the commit (a tarball, a shallow clone) the answer falls back to the whole digest.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path, PurePosixPath

from ..fingerprint import PACKAGE, is_reproduction, source_fingerprint
from .record import git_output, settings_of

#: Core modules whose values reach every key as resolved settings: a change there matters only through them.
SETTINGS_ONLY = ("config.profiles",)


def _module(path: str) -> str:
    """``deepcorrect/ranking/ideal.py`` or ``ranking/ideal.py`` → ``ranking.ideal``."""
    parts = PurePosixPath(path).with_suffix("").parts
    return ".".join(parts[1:] if parts[0] == PACKAGE.name else parts)


def digest(fingerprints: dict[str, str]) -> str:
    """The core fingerprint from per-module fingerprints (module → :func:`source_fingerprint`), combined as
    :func:`~deepcorrect.fingerprint.core_fingerprint` combines them (in the order of their paths)."""
    h = hashlib.sha256()
    for module in sorted(fingerprints, key=lambda m: tuple(m.split(".")[:-1]) + (m.split(".")[-1] + ".py",)):
        h.update(module.encode() + b"\0" + fingerprints[module].encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def core_sources_now() -> dict[str, str]:
    """Per core module of this checkout, its fingerprint."""
    return {_module(str(p.relative_to(PACKAGE))): source_fingerprint(p.read_text())
            for p in PACKAGE.rglob("*.py") if not is_reproduction(_module(str(p.relative_to(PACKAGE))))}


@functools.lru_cache(maxsize=16)
def core_sources_at(commit: str, repo: Path = PACKAGE.parent) -> dict[str, str] | None:
    """Per core module at ``commit``, its fingerprint; None when git or the commit is not at hand."""
    listing = git_output(repo, "ls-tree", "-r", "--name-only", commit, "--", PACKAGE.name).splitlines()
    try:
        found = {_module(path): source_fingerprint(git_output(repo, "show", f"{commit}:{path}"))
                 for path in listing if path.endswith(".py") and not is_reproduction(_module(path))}
    except SyntaxError:
        return None
    return found or None


def changed_modules(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """Core modules added, removed or edited between two per-module maps."""
    return sorted(m for m in then.keys() | now.keys() if then.get(m) != now.get(m))


def same_settings(record: dict) -> bool:
    """Whether the page's recorded parameters still resolve to the settings it recorded."""
    try:
        now = json.loads(json.dumps(dataclasses.asdict(settings_of(record)), sort_keys=True, default=str))
    except (KeyError, ValueError):
        return False
    return now == record["provenance"].get("settings")


def moved_modules(record: dict, now: dict[str, str] | None = None) -> list[str] | None:
    """The core modules that changed what ``record`` (one page of an edition) computes since it was made: []
    when none did, None when that cannot be told (no git, an unknown commit, uncommitted changes then)."""
    made = record["provenance"]
    now = now if now is not None else core_sources_now()
    if made["code"] == digest(now):
        return []
    then = core_sources_at(made["commit"]) if made.get("commit") else None
    if then is None or made.get("uncommitted changes") or digest(then) != made["code"]:
        return None
    moved = changed_modules(then, now)
    if set(moved) <= set(SETTINGS_ONLY) and same_settings(record):
        return []
    return moved
