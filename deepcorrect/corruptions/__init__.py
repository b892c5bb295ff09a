"""The 15 corruptions × 5 severities of CIFAR-10-C / ImageNet-C (Hendrycks & Dietterich, ICLR 2019), batched
and seeded, on image batches like :mod:`deepcorrect.distortions`': float (N, 3, H, W) on the 0–255 scale, on
any device. Parameters: :mod:`.tables` (``cifar``: CIFAR-10-C's, ``imagenet``: ImageNet-C's).

One ``torch.Generator`` on the CPU draws every random number, which then moves to the images' device, so a
seed gives the same corrupted batch on the CPU and a GPU up to float rounding (glass blur's 8-bit step can
move a value by one grey level where the rounding differs). Results are clipped to [0, 255] and, unlike the
released uint8 arrays, not quantised (JPEG excepted).

What each corruption follows, and the independent reference it was checked against (tests/test_corruptions.py;
differences on the 0–1 scale, grey levels on the 0–255 scale):

=================  ====================================================  ====================================
corruption         algorithm                                             reference, agreement
=================  ====================================================  ====================================
gaussian_noise     x + N(0, σ²)                                          moments: mean ± 0.003, std ± 3 %
shot_noise         Poisson(x·λ)/λ                                        moments: mean, variance within 5 %
impulse_noise      scikit-image ``random_noise('s&p')``                  salt and pepper fractions within 10 %
speckle_noise      x + x·N(0, σ²)                                        moments: mean ± 0.003, std ± 3 %
defocus_blur       anti-aliased disk, OpenCV ``filter2D`` border         scipy.ndimage.correlate: < 1e-4
glass_blur         blur, 8-bit, sequential local swaps, blur             per-image loop of the swaps: exact;
                                                                         with scipy's blurs < 0.02 (< 1 % of
                                                                         values one 8-bit step apart)
motion_blur        ImageMagick ``MotionBlurImage`` kernel, edge border   numpy shift-and-add of the same
                                                                         taps: < 1e-4 (no ImageMagick here)
zoom_blur          mean of ``clipped_zoom`` (scipy ``zoom`` order 1)     scipy.ndimage.zoom: < 1e-3
gaussian_blur      scikit-image ``gaussian`` (nearest border)            scipy gaussian_filter: < 1e-3
snow               the sources' flakes, procedure as published           range and brightening (no Wand here)
frost              procedural frost (no shipped photographs)             photographs' brightness span
fog                diamond-square plasma (the sources' recursion)        numpy formula on the map: < 1e-4;
                                                                         map spans [0, 1], smooth
brightness         HSV value shift                                       skimage.color HSV: < 1e-3
saturate           HSV saturation scale                                  skimage.color HSV: < 1e-3
contrast           channel mean ± c · deviation                          numpy: < 1e-4
elastic_transform  affine (OpenCV REFLECT_101) + smooth displacement     scipy affine_transform and
                                                                         map_coordinates: < 1e-4 (OpenCV's
                                                                         1/32-pixel grid aside)
pixelate           Pillow ``BOX`` down and up                            Pillow on 8-bit images: ≤ 1 grey level
jpeg_compression   Pillow's libjpeg at the quality                       torchvision's libjpeg: mean |Δ| < 1
=================  ====================================================  ====================================

Not implemented: spatter (its Canny edges and distance transform have no batched equivalent here).
"""

from __future__ import annotations

import torch

from ..distortions import _check_images
from . import blur, digital, noise, weather
from .filters import cpu_generator
from .tables import (CORRUPTIONS, EXTRA_CORRUPTIONS, NUM_SEVERITIES, TABLES, check_family, check_name,
                     check_severity, parameters)

__all__ = ["CORRUPTIONS", "EXTRA_CORRUPTIONS", "NUM_SEVERITIES", "TABLES", "corrupt", "parameters"]

_FUNCTIONS = {
    "gaussian_noise": noise.gaussian_noise, "shot_noise": noise.shot_noise, "impulse_noise": noise.impulse_noise,
    "speckle_noise": noise.speckle_noise, "defocus_blur": blur.defocus_blur, "glass_blur": blur.glass_blur,
    "motion_blur": blur.motion_blur, "zoom_blur": blur.zoom_blur, "gaussian_blur": blur.gaussian_blur,
    "snow": weather.snow, "frost": weather.frost, "brightness": digital.brightness,
    "contrast": digital.contrast, "saturate": digital.saturate, "elastic_transform": digital.elastic_transform,
    "pixelate": digital.pixelate, "jpeg_compression": digital.jpeg_compression,
}


def corrupt(images: torch.Tensor, name: str, severity: int, family: str = "cifar",
            generator: torch.Generator | None = None) -> torch.Tensor:
    """``name`` at ``severity`` (1–5) with ``family``'s parameters on a float (N, 3, H, W) batch on the
    0–255 scale; the result has the batch's shape, device and dtype, clipped to [0, 255]. ``generator``: a
    CPU generator (None: an unseeded draw)."""
    check_name(name)
    check_family(family)
    check_severity(severity)
    _check_images(images)
    if images.shape[1] != 3:
        raise ValueError(f"corruptions need RGB images (N, 3, H, W), got {images.shape[1]} channel(s)")
    g = cpu_generator(generator)
    p = parameters(name, severity, family)
    x = images / 255
    if name == "fog":
        out = weather.fog(x, p, g, TABLES[family]["plasma_size"])
    else:
        out = _FUNCTIONS[name](x, p, g)
    return (out.clamp(0, 1) * 255).to(images.dtype)
