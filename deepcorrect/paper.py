"""The paper's published numbers, for side-by-side comparison with what the library measures."""

from __future__ import annotations

import pandas as pd

from .evaluate import COLUMNS

#: Tables 1 (Gaussian blur) and 2 (AWGN): top-1 of the pretrained baselines, Clean, Levels 1–6.
TABLE_1_2: dict[str, dict[str, list[float]]] = {
    "blur": {"ImageNet": [0.5694, 0.4456, 0.2934, 0.1585, 0.0786, 0.0427, 0.0256],
             "CIFAR-100": [0.7028, 0.6402, 0.2212, 0.0806, 0.0440, 0.0340, 0.0290]},
    "awgn": {"ImageNet": [0.5694, 0.5218, 0.3742, 0.1256, 0.0438, 0.0190, 0.0090],
             "CIFAR-100": [0.7028, 0.6184, 0.3862, 0.2239, 0.1324, 0.0829, 0.0569]},
}
#: Tables 1–2's Avg column as printed.
TABLE_1_2_AVG = {"blur": {"ImageNet": 0.2305, "CIFAR-100": 0.2502},
                 "awgn": {"ImageNet": 0.2375, "CIFAR-100": 0.3147}}


def baseline_row(kind: str, family: str) -> pd.Series:
    """The paper's baseline row for ``kind`` (blur/awgn) and the dataset that matches ``family``."""
    dataset = "CIFAR-100" if family == "cifar" else "ImageNet"
    values = TABLE_1_2[kind][dataset]
    return pd.Series(values + [TABLE_1_2_AVG[kind][dataset]], index=[*COLUMNS, "Avg"], name=f"paper ({dataset})")
