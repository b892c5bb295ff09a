"""A page's headline numbers written as JSON, for the tests and for readers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .files import atomic_write


def save_metrics(results_dir: str | Path, name: str, metrics: dict) -> Path:
    """Write a notebook's headline numbers as JSON (``results_dir/metrics/name.json``) for tests and readers."""

    def plain(obj):
        if isinstance(obj, pd.DataFrame):
            return {str(i): {str(c): float(v) for c, v in row.items()} for i, row in obj.iterrows()}
        if isinstance(obj, dict):
            return {str(k): plain(v) for k, v in obj.items()}
        return obj

    text = json.dumps(plain(metrics), indent=2, sort_keys=True,
                      default=lambda v: v.item() if hasattr(v, "item") else str(v))
    return atomic_write(Path(results_dir) / "metrics" / f"{name}.json", lambda tmp: tmp.write_text(text))
