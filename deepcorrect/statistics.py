"""The tests behind every verdict, and the rule that turns a test into one.

- Two single trained models measured on the same test images: McNemar's exact test on their paired
  predictions (:func:`mcnemar`), per column; for the Avg column (clean + six levels), the exact sign test on
  each image's number of correct columns (:func:`sign_test_counts`) — McNemar's generalisation to seven
  paired trials per image, with images as the independent units.
- Methods over training seeds: the paired t-test over seeds (:func:`paired_ttest`).
- The paper's own test, a paired t-test over the seven columns of one run, may stand beside them, labelled
  as the paper's: its "samples" are levels of one training run, not replicates.

:func:`verdict` maps an effect and its p-value to holds / fails / undecided, and :data:`CODE_PATH_ONLY`
stands where the run cannot decide at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import binomtest, ttest_rel

ALPHA = 0.05
HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"
CODE_PATH_ONLY = "code path only"


def paired_ttest(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(t, p) of ``scipy.stats.ttest_rel(a, b)``; identical samples (every difference 0, where scipy gives
    NaN) count as no evidence of a difference: t = 0, p = 1."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.array_equal(a, b) or len(a) < 2:
        return 0.0, 1.0
    test = ttest_rel(a, b)
    return float(test.statistic), float(test.pvalue)


@dataclass(frozen=True)
class Paired:
    """Two models on the same images: how often only the first / only the second is ahead, the exact
    two-sided p-value of "neither is better", and the mean per-image difference in accuracy with its
    standard error (the interval that says whether two models are *similar*, not merely not separable)."""
    first_only: int
    second_only: int
    p: float
    difference: float = float("nan")
    se: float = float("nan")

    def as_dict(self) -> dict:
        return {"first_only": self.first_only, "second_only": self.second_only, "p": self.p,
                "difference": self.difference, "se": self.se}


def exact_sign(first_only: int, second_only: int, difference: float = float("nan"),
               se: float = float("nan")) -> Paired:
    """The exact binomial test of ``first_only`` against ``second_only`` discordant cases (p = 1 with none)."""
    n = first_only + second_only
    p = binomtest(first_only, n, 0.5).pvalue if n else 1.0
    return Paired(int(first_only), int(second_only), float(p), float(difference), float(se))


def _mean_se(diff: torch.Tensor) -> tuple[float, float]:
    d = diff.double()
    n = d.numel()
    return (float(d.mean()) if n else float("nan"),
            float(d.std(unbiased=True) / n ** 0.5) if n > 1 else float("nan"))


def mcnemar(first: torch.Tensor, second: torch.Tensor) -> Paired:
    """McNemar's exact test on two (N,) boolean vectors of right / wrong on the same images."""
    first, second = torch.as_tensor(first, dtype=torch.bool), torch.as_tensor(second, dtype=torch.bool)
    if first.shape != second.shape:
        raise ValueError(f"paired predictions differ in shape: {tuple(first.shape)} vs {tuple(second.shape)}")
    return exact_sign(int((first & ~second).sum()), int((~first & second).sum()),
                      *_mean_se(first.double() - second.double()))


def sign_test_counts(first: torch.Tensor, second: torch.Tensor) -> Paired:
    """Two (columns, N) boolean tables on the same images: the exact sign test on each image's number of
    correct columns (the Avg of Tables 3–4 per image); ties drop out, as in McNemar's test."""
    first, second = torch.as_tensor(first, dtype=torch.int64), torch.as_tensor(second, dtype=torch.int64)
    if first.shape != second.shape:
        raise ValueError(f"paired predictions differ in shape: {tuple(first.shape)} vs {tuple(second.shape)}")
    diff = first.sum(0) - second.sum(0)
    return exact_sign(int((diff > 0).sum()), int((diff < 0).sum()), *_mean_se(diff.double() / first.shape[0]))


def verdict(effect: float, p: float, *, expected_sign: int = 1, alpha: float = ALPHA) -> str:
    """holds where the effect goes the claimed way (``expected_sign``) and p < alpha; fails where it goes
    the other way and p < alpha; undecided otherwise."""
    if not np.isfinite(p) or p >= alpha or effect == 0:
        return UNDECIDED
    return HOLDS if np.sign(effect) == expected_sign else FAILS


def binomial_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval of an accuracy measured on ``n`` images."""
    if n <= 0:
        return float("nan"), float("nan")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence, method="exact")
    return float(ci.low), float(ci.high)
