"""The paper's published numbers, for side-by-side comparison with what the library measures."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
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


#: The dataset each family's published numbers were measured on, and its class count (Tables 1–4: CIFAR-100;
#: Tables 1–2 and 7–12: ImageNet 2012, 1,000 classes).
PAPER_DATASETS = {"cifar": ("CIFAR-100", 100), "imagenet": ("ImageNet", 1000)}


def comparable(family: str, num_classes: int) -> bool:
    """Whether a measurement can be subtracted from the paper's: same dataset family and class count."""
    return PAPER_DATASETS[family][1] == num_classes


def comparability(family: str, num_classes: int) -> str:
    """A sentence for a table whose measured rows cannot be set against the paper's (empty when they can)."""
    if comparable(family, num_classes):
        return ""
    name, classes = PAPER_DATASETS[family]
    return (f"The measured rows come from a {num_classes}-class task, the paper's from {name} ({classes:,} "
            f"classes): the two are not comparable, so no measured − paper difference is shown.")


#: The columns a measured row and the paper's row are subtracted on: accuracies, never counts.
DIFFERENCED = (*COLUMNS, "Avg")


def beside(measured: pd.DataFrame, paper: pd.DataFrame, *, difference: bool,
           rows: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Each measured row with the paper's row beside it, model by model: a (model, source) index whose sources
    are ``measured``, ``paper`` and, where ``difference`` (the data comparable: :func:`comparable`),
    ``measured − paper`` on the accuracy columns. ``rows`` maps a measured name to the paper's where they
    differ (a ResNet's full fine-tune stands beside Finetune-9); a row the paper lacks prints "–". Columns are
    the measured ones the paper also has, in the measured order; cells keep their type (a count stays an
    integer, the paper's "2.81 M" a string)."""
    rows = rows or {}
    columns = [c for c in measured.columns if c in paper.columns]
    sources = ["measured", "paper"] + (["measured − paper"] if difference else [])
    index, cells = [], {c: [] for c in columns}
    for name in measured.index:
        theirs = paper.loc[rows.get(name, name)] if rows.get(name, name) in paper.index else None
        for source in sources:
            index.append((name, source))
            for c in columns:
                mine, given = measured.loc[name, c], np.nan if theirs is None else theirs[c]
                if source == "measured − paper":
                    cells[c].append(float(mine) - float(given) if c in DIFFERENCED else np.nan)
                else:
                    cells[c].append(mine if source == "measured" else given)
    out = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cells.items()})
    out.index = pd.MultiIndex.from_tuples(index, names=[measured.index.name or "Method", "source"])
    return out


def baseline_row(kind: str, family: str) -> pd.Series:
    """The paper's baseline row for ``kind`` (blur/awgn) and the dataset that matches ``family``."""
    dataset = "CIFAR-100" if family == "cifar" else "ImageNet"
    values = TABLE_1_2[kind][dataset]
    return pd.Series(values + [TABLE_1_2_AVG[kind][dataset]], index=[*COLUMNS, "Avg"], name=f"paper ({dataset})")


_T34 = {  # Tables 3 (blur) and 4 (AWGN): Clean, Levels 1–6, Avg, # Params
    "blur": """Baseline 0.7028 0.6402 0.2212 0.0806 0.0440 0.0340 0.0290 0.2502 1389804
Finetune-1 0.6310 0.6254 0.4664 0.2824 0.1694 0.1139 0.0761 0.3378 2880
Finetune-3 0.6642 0.6573 0.5905 0.5169 0.4291 0.3431 0.2678 0.4955 169344
Finetune-6 0.6887 0.6841 0.6266 0.5702 0.5088 0.4544 0.3931 0.5608 1000512
Finetune-9 0.6875 0.6808 0.6296 0.5789 0.5297 0.4812 0.4218 0.5727 1389804
Deepcorr-1 0.6746 0.6500 0.5787 0.5217 0.4307 0.3395 0.2466 0.4917 80954
Deepcorr-3 0.6890 0.6781 0.6414 0.5944 0.5441 0.4769 0.4007 0.5749 242862
Deepcorr-6 0.6963 0.6871 0.6548 0.6116 0.5638 0.5128 0.4405 0.5952 505674
Deepcorr-1c 0.6893 0.6806 0.6344 0.5905 0.5253 0.4643 0.3961 0.5686 470246
Deepcorr-3c 0.6947 0.6871 0.6515 0.6035 0.5617 0.5086 0.4456 0.5932 632154
Deepcorr-6c 0.6937 0.6874 0.6552 0.6118 0.5720 0.5269 0.4694 0.6023 894966""",
    "awgn": """Baseline 0.7028 0.6184 0.3862 0.2239 0.1324 0.0829 0.0569 0.3147 1389804
Finetune-1 0.6358 0.6391 0.6257 0.5859 0.5213 0.4571 0.3760 0.5487 2880
Finetune-3 0.6832 0.6771 0.6588 0.6329 0.6070 0.5694 0.5220 0.6214 169344
Finetune-6 0.6843 0.6845 0.6687 0.6465 0.6245 0.5940 0.5593 0.6374 1000512
Finetune-9 0.6876 0.6838 0.6719 0.6562 0.6317 0.6104 0.5742 0.6451 1389804
Deepcorr-1 0.6930 0.6802 0.6612 0.6339 0.6030 0.5688 0.5330 0.6247 80954
Deepcorr-3 0.6932 0.6846 0.6732 0.6436 0.6181 0.5914 0.5604 0.6377 242862
Deepcorr-6 0.6964 0.6903 0.6769 0.6496 0.6277 0.5986 0.5679 0.6439 505674
Deepcorr-1c 0.6952 0.6864 0.6715 0.6467 0.6260 0.5985 0.5642 0.6412 470246
Deepcorr-3c 0.6964 0.6893 0.6776 0.6512 0.6290 0.6010 0.5723 0.6452 632154
Deepcorr-6c 0.6930 0.6879 0.6727 0.6484 0.6304 0.6084 0.5757 0.6452 894966""",
}

#: Table 5: Deepcorr-6c Avg under local and global ranking; the paper's local-vs-global t-test p-value.
TABLE_5 = {"local": {"blur": 0.6023, "awgn": 0.6452}, "global": {"blur": 0.6025, "awgn": 0.6467}}
TABLE_5_P = 0.2151
#: Table 6: paired t-test p-values, ranked.l vs random.l, l = 6, 12, 24, 48 of 96 first-layer filters.
TABLE_6 = {6: 0.0001, 12: 0.00014, 24: 0.0002, 48: 0.0119}


def correction_table(kind: str) -> pd.DataFrame:
    """The paper's Table 3 (``blur``) or Table 4 (``awgn``): CIFAR-100, per level, Avg and # Params."""
    table = _parse_table(_T34[kind], "# Params")
    table["# Params"] = table["# Params"].astype(int)
    return table


def _parse_table(text: str, params_column: str) -> pd.DataFrame:
    """Rows "Method Clean L1 … L6 Avg Params" as printed in the paper → a frame indexed by method."""
    rows = {name: [float(v) for v in values] for name, *values in (line.split() for line in text.splitlines())}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[*COLUMNS, "Avg", params_column])
    table.index.name = "Method"
    return table

#: Table 10 (Caffe AlexNet, Deepcorr-5 variants): parameters and "FLOPs" (multiply-accumulates) of each unit.
TABLE_10 = {
    "cw": {"params": [270288, 739200, 739200, 739200, 328960], "flops": [8.16e8, 5.38e8, 1.24e8, 1.24e8, 5.54e7]},
    "lite": {"params": [314568, 345408, 345408, 345408, 328960], "flops": [9.49e8, 2.51e8, 5.82e7, 5.82e7, 5.54e7]},
    "bottleneck": {"params": [40680, 287040, 287040, 287040, 127872],
                   "flops": [1.22e8, 2.08e8, 4.83e7, 4.83e7, 2.15e7]},
}
#: The paper's β for the ranked layers: 50 % in every CIFAR layer; Deepcorr-5's for AlexNet.
BETAS = {"cifar": (0.5,) * 6, "imagenet": (0.75, 0.75, 0.5, 0.5, 0.5)}
#: Figures 4–5, by family: the β₁ that regains "a large part" of the loss (CIFAR: 25 %; AlexNet needs more, the
#: text points at 75 %), the β of Figure 5's one-layer corrections, and which conv is best there (0-based).
FIGURE_4_BETA = {"cifar": 0.25, "imagenet": 0.75}
FIGURE_5_BETA = {"cifar": 0.5, "imagenet": 0.75}
FIGURE_5_BEST = {"cifar": 0, "imagenet": 1}
#: Tables 5 and 9: filters corrected per layer under local and global ranking.
SELECTION_COUNTS = {
    "cifar": {"local": {"blur": [48, 48, 48, 96, 96, 96], "awgn": [48, 48, 48, 96, 96, 96]},
              "global": {"blur": [33, 46, 75, 95, 90, 93], "awgn": [30, 44, 61, 103, 99, 95]}},
    "imagenet": {"local": {"blur": [72, 192, 192, 192, 128], "awgn": [72, 192, 192, 192, 128]},
                 "global": {"blur": [81, 128, 168, 207, 192], "awgn": [71, 150, 187, 193, 175]}},
}

#: Corrected filters per AlexNet layer in Table 10 (β = 0.75, 0.75, 0.5, 0.5, 0.5 of 96, 256, 384, 384, 256).
TABLE_10_FILTERS = [72, 192, 192, 192, 128]

_T78 = {  # Tables 7 (blur) and 8 (AWGN), ImageNet val, Caffe AlexNet: Clean, Levels 1–6, Avg, # Params (millions)
    "blur": """Baseline 0.5694 0.4456 0.2934 0.1585 0.0786 0.0427 0.0256 0.2305 60.96
Finetune-8 0.5553 0.5301 0.5004 0.4669 0.4276 0.3886 0.3485 0.4596 60.96
Deepcorr-5c 0.5684 0.5513 0.5300 0.5173 0.5011 0.4748 0.4519 0.5135 61.44
Deepcorr-5 0.5724 0.5522 0.5240 0.5100 0.4937 0.4643 0.4334 0.5071 2.81
Deepcorr-5-no-bn 0.5647 0.5396 0.5000 0.4773 0.4524 0.4257 0.3921 0.4788 2.80
Deepcorr-5-lite 0.5718 0.5515 0.5254 0.5091 0.4899 0.4605 0.4270 0.5050 1.67
Deepcorr-5-bottleneck 0.5701 0.5504 0.5232 0.5070 0.4856 0.4560 0.4233 0.5022 1.03
Restoration 0.5694 0.4553 0.2897 0.1263 0.0578 0.0259 0.0107 0.2193 nan""",
    "awgn": """Baseline 0.5694 0.5218 0.3742 0.1256 0.0438 0.0190 0.0090 0.2375 60.96
Finetune-8 0.5540 0.5477 0.5345 0.5012 0.4654 0.4297 0.3936 0.4894 60.96
Deepcorr-5c 0.5657 0.5598 0.5496 0.5235 0.4942 0.4623 0.4320 0.5124 61.44
Deepcorr-5 0.5712 0.5660 0.5546 0.5213 0.4870 0.4509 0.4138 0.5092 2.81
Deepcorr-5-no-bn 0.5663 0.5601 0.5463 0.5145 0.4791 0.4453 0.4076 0.5027 2.80
Deepcorr-5-lite 0.5711 0.5660 0.5527 0.5211 0.4871 0.4499 0.4125 0.5086 1.67
Deepcorr-5-bottleneck 0.5705 0.5649 0.5513 0.5191 0.4843 0.4456 0.4085 0.5063 1.03
Restoration 0.5694 0.5638 0.5539 0.5113 0.4759 0.4435 0.4047 0.5032 nan""",
}
#: What the paper's restoration row is (Tables 7–8).
PAPER_RESTORATION = {"blur": "NCSR", "awgn": "BM3D"}


def alexnet_table(kind: str) -> pd.DataFrame:
    """The paper's Tables 7–8 with Tables 11–12's lite and bottleneck rows (ImageNet, AlexNet): per level, Avg
    and # Params in millions; the restoration row (NCSR for blur, BM3D for AWGN) is named ``Restoration``."""
    return _parse_table(_T78[kind], "# Params (M)")


#: Table 9: Deepcorr-5 Avg under local and global ranking; the paper's t-test p-value.
TABLE_9 = {"local": {"blur": 0.5071, "awgn": 0.5093}, "global": {"blur": 0.5062, "awgn": 0.5087}}
TABLE_9_P = 0.8662
#: Figure 11: classes where Deepcorr-5 beats, loses to and ties Finetune-8 (of 1,000).
FIGURE_11_COUNTS = {"blur": {"better": 865, "worse": 121, "equal": 14},
                    "awgn": {"better": 707, "worse": 257, "equal": 36}}
#: Tables 13–15: mean per-class accuracy of linear SVMs on AlexNet features (Baseline clean; then averaged
#: over the distortion levels for Baseline, Finetune-8, Deepcorr-5).
TABLE_13 = {"Caltech-101": 0.85, "Caltech-256": 0.62, "SUN-397": 0.31}
TABLE_14_15 = {
    "blur": {"Caltech-101": (0.4980, 0.7710, 0.8371), "Caltech-256": (0.2971, 0.5167, 0.5883),
             "SUN-397": (0.1393, 0.2369, 0.3049)},
    "awgn": {"Caltech-101": (0.3423, 0.7705, 0.8034), "Caltech-256": (0.1756, 0.4995, 0.5482),
             "SUN-397": (0.0859, 0.1617, 0.2936)},
}
TRANSFER_MODELS = ("Baseline", "Finetune-8", "Deepcorr-5")
