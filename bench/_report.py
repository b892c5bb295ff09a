"""What every benchmark does last: write its result as bench/out/NAME.json, with the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch


def save(name: str, result: dict) -> Path:
    """Add machine details to ``result`` and write it to ``bench/out/<name>.json``."""
    result = {**result, "machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(),
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path
