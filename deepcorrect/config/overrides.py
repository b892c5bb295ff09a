"""Flat ``key=value`` overrides of a profile, as notebooks and the command line give them: the keys
(``width``, ``epochs``, ``data_seed``), their parsing, and :func:`resolve`, which maps
the overrides onto the nested fields and rejects unknown keys naming the valid ones."""

from __future__ import annotations

from dataclasses import fields, replace
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
            changes.setdefault(sec, {})[name] = _coerce(sec, name, value)
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


def _coerce(sec: str | None, name: str, value: Any) -> Any:
    """Values from the command line arrive as strings; give them the field's type."""
    if not isinstance(value, str):
        return value
    ftype = "str" if sec is None else {f.name: f.type for f in fields(SECTIONS[sec])}[name]
    try:
        if ftype == "bool":
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if ftype == "int":
            return int(value)
        if ftype == "float":
            return float(value)
        if ftype.startswith("tuple["):
            items = [v.strip() for v in value.split(",") if v.strip()]
            kind = {"tuple[int": int, "tuple[flo": float}.get(ftype[:9], str)
            return tuple(kind(v) for v in items)
    except ValueError:
        raise ValueError(f"parameter {name}={value!r} is not a valid {ftype}") from None
    return value
