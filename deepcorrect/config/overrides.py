"""Flat ``key=value`` overrides of a profile, as notebooks and the command line give them: the keys
(``width``, ``epochs``, ``data_seed``), the one parser of command-line values, and :func:`resolve`, which maps
the overrides onto the nested fields and rejects unknown keys naming the valid ones."""

from __future__ import annotations

import ast
from dataclasses import Field, fields, replace
from pathlib import Path
from typing import Any

from .profiles import named_profile
from .schema import SECTIONS, Profile, warn_learning_rates


def override_keys() -> dict[str, tuple[str | None, str]]:
    """Flat override names → (section, field). A field name unique across sections stands alone
    (``width``); a shared one takes its section as prefix (``data_seed``, ``train_seed``). Every field is
    also reachable as ``section_field`` (``data_root``, ``model_width``)."""
    owners: dict[str, list[str]] = {}
    for sec, section in SECTIONS.items():
        for f in fields(section):
            owners.setdefault(f.name, []).append(sec)
    keys: dict[str, tuple[str | None, str]] = {"device": (None, "device")}
    for name, secs in owners.items():
        for sec in secs:
            keys[name if len(secs) == 1 else f"{sec}_{name}"] = (sec, name)
    return keys


def _accepted_keys() -> dict[str, tuple[str | None, str]]:
    """The override keys plus their ``section_field`` aliases."""
    keys = override_keys()
    keys.update({f"{sec}_{name}": (sec, name) for sec, name in list(keys.values()) if sec})
    return keys


def is_override_key(key: str) -> bool:
    """Whether ``key`` sets a profile field (notebook-only parameters such as ``results_dir`` do not)."""
    return key in _accepted_keys()


def resolve(profile: str | Profile, **overrides: Any) -> Profile:
    """The named profile with flat ``overrides`` applied; ``None`` values mean "keep the profile's"."""
    if isinstance(profile, str):
        profile = named_profile(profile)
    keys = _accepted_keys()
    unknown = sorted(k for k in overrides if k not in keys)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(override_keys()))}")
    changes: dict[str | None, dict[str, Any]] = {}
    given: dict[str | None, list[str]] = {}
    named: dict[tuple[str | None, str], str] = {}  # each field → the key that set it
    for key, value in overrides.items():
        if value is not None:
            sec, name = keys[key]
            if (sec, name) in named:
                raise ValueError(f"{named[sec, name]}={overrides[named[sec, name]]} and {key}={value} both set "
                                 f"{'.'.join(filter(None, (sec, name)))}; give it once")
            named[sec, name] = key
            parsed = parse_value(value, _field(sec, name)) if isinstance(value, str) else value
            changes.setdefault(sec, {})[name] = parsed
            given.setdefault(sec, []).append(f"{key}={value}")
    top = changes.pop(None, {})
    sections = {}
    for sec, kw in changes.items():
        try:
            sections[sec] = replace(getattr(profile, sec), **kw)
        except ValueError as err:  # name the setting as it was given, not the field inside its section
            raise ValueError(f"{', '.join(given[sec])}: {err}") from None
    resolved = _downloadable(replace(profile, **sections, **top))
    warn_learning_rates(resolved)
    return resolved


def _downloadable(profile: Profile) -> Profile:
    """With ``download`` on and the profile's data folder or archive absent (a clone without data/), its
    ``fallback``: torchvision's dataset under data/<name>, fetched when missing. What is read is then what the
    config says, so artifact keys tell the two apart."""
    data = profile.data
    if not (data.download and data.fallback and data.source == "folder") or Path(data.root).expanduser().exists():
        return profile
    return replace(profile, data=replace(data, source=data.fallback, root=f"data/{data.fallback}", fallback=""))


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["width=0.5", "epochs=2"]`` → ``{"width": "0.5", "epochs": "2"}``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {pair!r} is not of the form key=value")
        out[key.strip()] = value.strip()
    return out


def _field(sec: str | None, name: str) -> Field:
    """The dataclass field an override sets: of a section, or of the profile itself (``device``)."""
    return {f.name: f for f in fields(SECTIONS[sec] if sec else Profile)}[name]


def parse_value(text: str, spec: Field | None = None) -> Any:
    """Command-line text as the value it stands for. For a profile field ``spec``: a value of the field's type
    (a bool from true/false/1/0/yes/no, a tuple from ``1,6``), else a ``ValueError`` naming the field. For a
    notebook parameter no field declares (``spec`` None): a Python literal (``0.5`` → 0.5, ``true`` → True,
    ``none`` → None), else the text itself."""
    if spec is None:
        return _literal(text)
    try:
        return _of_type(text, spec.type)
    except ValueError:
        raise ValueError(f"parameter {spec.name}={text!r} is not a valid {spec.type}") from None


def _literal(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _of_type(text: str, ftype: str) -> Any:
    """``text`` as a value of the field type ``ftype`` (the annotation as written: ``int``, ``tuple[int, ...]``)."""
    if ftype == "bool":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(text)
        return text.lower() in ("true", "1", "yes")
    if ftype == "int":
        return int(text)
    if ftype == "float":
        return float(text)
    if ftype.startswith("tuple["):
        item = int if ftype.startswith("tuple[int") else float if ftype.startswith("tuple[float") else str
        return tuple(item(v.strip()) for v in text.split(",") if v.strip())
    return text
