"""The corruption benchmark's parameters: one tuple per severity 1–5, for the CIFAR and ImageNet families.

Sources (Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations", ICLR 2019, and their code release, github.com/hendrycks/robustness):

- ``cifar``: ``ImageNet-C/create_c/make_cifar_c.py``, the script that made CIFAR-10-C / CIFAR-100-C.
- ``imagenet``: ``ImageNet-C/imagenet_c/imagenet_c/corruptions.py`` (the ``imagenet_c`` package, whose tables
  the ``imagecorruptions`` package repeats), the parameters of ImageNet-C at 224×224.

Units are the sources': intensities on the 0–1 scale, lengths in pixels (elastic's are the sources' products,
e.g. 32 × 0.08, and ImageNet's 244 × … as printed there), angles in degrees.
"""

from __future__ import annotations

import numpy as np

#: The 15 corruptions of the benchmark, in the sources' order (noise, blur, weather, digital).
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")
#: The held-out validation corruptions that the sources also define (spatter is not implemented).
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "saturate")
NUM_SEVERITIES = 5


def _zooms(*ranges: tuple[float, float, float]) -> tuple[tuple[float, ...], ...]:
    """Zoom factors exactly as the sources' ``np.arange(start, stop, step)`` gives them (endpoints included
    where float rounding includes them, e.g. 1.06 in ``arange(1, 1.06, 0.01)``)."""
    return tuple(tuple(float(z) for z in np.arange(*r)) for r in ranges)


_SIZE_C = 32  # make_cifar_c.py's IMSIZE
_SIZE_I = 244  # corruptions.py's elastic constant ("244 should have been 224, but ultimately nothing is incorrect")

TABLES: dict[str, dict[str, tuple]] = {
    "cifar": {
        "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # σ
        "shot_noise": (500, 250, 100, 75, 50),  # photons at full scale
        "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),  # fraction of values flipped to 0 or 1
        "speckle_noise": (0.06, 0.1, 0.12, 0.16, 0.2),  # σ of the multiplicative noise
        "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),  # σ
        "glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),  # σ, δ, iterations
        "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),  # disk radius, alias σ
        "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),  # radius, σ
        "zoom_blur": _zooms((1, 1.06, 0.01), (1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.01), (1, 1.26, 0.01)),
        "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),  # strength, wibble decay
        "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),  # image weight, frost weight
        # snow: mean, std, zoom, threshold, blur radius, blur σ, image weight
        "snow": ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
                 (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
        "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
        "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
        "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),  # S × a + b
        "jpeg_compression": (80, 65, 58, 50, 40),  # quality
        "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),  # side factor
        # elastic: displacement scale α, its smoothing σ, the affine's corner jitter (pixels)
        "elastic_transform": tuple((_SIZE_C * a, _SIZE_C * s, _SIZE_C * j) for a, s, j in
                                   ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                                    (0.1, 0.03, 0.03))),
        "plasma_size": 32,
        "frost_scale": 0.2,
    },
    "imagenet": {
        "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
        "shot_noise": (60, 25, 12, 5, 3),
        "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
        "speckle_noise": (0.15, 0.2, 0.35, 0.45, 0.6),
        "gaussian_blur": (1, 2, 3, 4, 6),
        "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
        "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
        "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
        "zoom_blur": _zooms((1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.02), (1, 1.26, 0.02), (1, 1.31, 0.03)),
        "fog": ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
        "frost": ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
        "snow": ((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
                 (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)),
        "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
        "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
        "saturate": ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
        "jpeg_compression": (25, 18, 15, 10, 7),
        "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),
        "elastic_transform": tuple((_SIZE_I * a, _SIZE_I * s, _SIZE_I * j) for a, s, j in
                                   ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                                    (0.12, 0.01, 0.02))),
        "plasma_size": 256,
        "frost_scale": 1.0,
    },
}


def check_name(name: str) -> str:
    if name not in CORRUPTIONS + EXTRA_CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {', '.join(CORRUPTIONS + EXTRA_CORRUPTIONS)}")
    return name


def check_family(family: str) -> str:
    if family not in TABLES:
        raise ValueError(f"unknown corruption family {family!r}; expected one of {', '.join(TABLES)}")
    return family


def check_severity(severity: int) -> int:
    if not isinstance(severity, int) or isinstance(severity, bool) or not 1 <= severity <= NUM_SEVERITIES:
        raise ValueError(f"corruption severity must be an integer in 1..{NUM_SEVERITIES}, got {severity!r}")
    return severity


def parameters(name: str, severity: int, family: str = "cifar"):
    """The sources' parameter of ``name`` at ``severity`` (1–5) for ``family``."""
    return TABLES[check_family(family)][check_name(name)][check_severity(severity) - 1]
