"""Never stale: recompute a cheap deterministic slice of every edition and compare it with the record.

For each edition whose data and weights are on this machine: the baseline's Tables 1–2 (page 01, on the
recorded test set) and the first ranked layer's correction priorities τ̄ (page 02), each computed afresh in a
temporary store with the recorded settings. A number that moved means the code changed what the edition
says: record it again (``deepcorrect record``) instead of keeping it silently. An edition whose data are
absent is skipped with a line saying so; one that records neither page has nothing cheap to check.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..config import Profile
from .record import settings_of
from .render import load_editions

TOLERANCE = 1e-9  # accuracies are counts over images and τ̄ counts over draws: equal, or the code changed them


def _present(cfg: Profile) -> str | None:
    """Why this profile cannot run here (its data or weights are absent), or None."""
    for what, path in (("data", cfg.data.root), ("weights", cfg.model.weights)):
        if path and not Path(path).expanduser().exists():
            return f"its {what} ({path}) are not on this machine"
    return None


def _baseline_tables(record: dict, store) -> list[str]:
    from ..baseline import baseline_model
    from ..context import Run
    from ..sections.distortion_effects import baseline_tables
    from ..splits import datasets

    cfg = settings_of(record)
    run = Run.of(cfg, store)
    data = datasets(cfg)
    model, _ = baseline_model(run, data.train)
    table = baseline_tables(run, model, data.test)
    return _compare("Tables 1–2", record["metrics"]["tables"],
                    {kind: table.loc[kind].to_dict() for kind in table.index})


def _first_layer_ranking(record: dict, store) -> list[str]:
    from ..baseline import baseline_model
    from ..context import Run
    from ..priorities import filter_priorities
    from ..splits import datasets

    layers = record["metrics"]["layers"]
    cfg = settings_of(record, layers=layers[:1])
    run = Run.of(cfg, store)
    data = datasets(cfg)
    model, _ = baseline_model(run, data.train)
    frame = filter_priorities(run, model, data, progress=False).to_frame()
    fresh = {kind: t.sort_values("filter")["tau_mean"].tolist() for kind, t in frame.groupby("kind")}
    return _compare(f"τ̄ of {layers[0]}", record["metrics"]["first_layer_tau"], fresh)


def _compare(what: str, recorded: dict, fresh: dict) -> list[str]:
    problems = []
    for key, value in recorded.items():
        now = fresh.get(key)
        if isinstance(value, dict):  # a row of a table: compared column by column (JSON sorts the keys)
            now = [now.get(column, np.nan) for column in value] if isinstance(now, dict) else []
            value = list(value.values())
        a, b = np.array(value, float), np.array(now or [], float)
        if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=TOLERANCE):
            worst = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
            problems.append(f"{what} ({key}) moved by up to {worst:.3g}")
    return problems


#: Page id → the slice recomputed for it.
SLICES: dict[str, Callable[[dict, object], list[str]]] = {
    "distortions_baselines": _baseline_tables, "ranking": _first_layer_ranking}


def check_editions(folder: Path, log: Callable[[str], None] = print) -> list[str]:
    """Problems found (empty when every checkable slice still equals its record)."""
    from ..store import Store

    problems = []
    for name, edition in load_editions(folder).items():
        for page, slice_of in SLICES.items():
            record = edition["pages"].get(page)
            if record is None:
                continue
            absent = _present(settings_of(record))
            if absent:
                log(f"{name} {page}: skipped, {absent}")
                continue
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="deepcorrect-check-") as tmp:
                found = [f"{name} {page}: {p}" for p in slice_of(record, Store(tmp))]
            log(f"{name} {page}: {'STALE' if found else 'equal to the record'} ({time.perf_counter() - t0:.0f} s)")
            problems += found
    return problems
