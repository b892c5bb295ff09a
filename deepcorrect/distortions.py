"""Gaussian blur and additive white Gaussian noise (AWGN) on image batches, at the paper's levels (§3.2).

Images are float tensors on the 0–255 scale, shape (N, C, H, W), on any device. Level 0 means clean; levels
1–6 index the paper's per-family tables below. Blur follows the authors' release: an odd window of 4σ+1
taps and a zero (constant) border, as OpenCV's ``GaussianBlur(..., borderType=BORDER_CONSTANT)``. AWGN is
added on the 0–255 scale and, like the release, left unclipped unless ``clip=True``.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import torch
import torch.nn.functional as F

from .runtime import float32_exact

KINDS = ("blur", "awgn")
NUM_LEVELS = 6

#: σ per level (1–6) for each dataset family: blur σ_b in pixels, AWGN σ_n on the 0–255 scale.
LEVELS: dict[str, dict[str, tuple[float, ...]]] = {
    "cifar": {"blur": (0.5, 1.0, 1.5, 2.0, 2.5, 3.0), "awgn": (5.0, 10.0, 15.0, 20.0, 25.0, 30.0)},
    "imagenet": {"blur": (1.0, 2.0, 3.0, 4.0, 5.0, 6.0), "awgn": (10.0, 20.0, 40.0, 60.0, 80.0, 100.0)},
}


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown distortion {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def kind_label(kind: str, full: bool = False) -> str:
    """How tables and findings name a distortion: ``Blur`` (``full``: ``Gaussian blur``) or ``AWGN``; any other
    kind (a corruption, a mix) by its own name."""
    return {"blur": "Gaussian blur" if full else "Blur", "awgn": "AWGN"}.get(kind, kind)


def check_family(family: str) -> str:
    if family not in LEVELS:
        raise ValueError(f"unknown level family {family!r}; expected one of {', '.join(LEVELS)}")
    return family


def sigma_for(kind: str, level: int, family: str = "cifar") -> float:
    """σ of ``kind`` at ``level`` (1–6) in the paper's table for ``family``; 0.0 for level 0 (clean)."""
    table = LEVELS[check_family(family)][check_kind(kind)]
    # any integer type (numpy's too), never a bool or a float that would be truncated
    if not isinstance(level, numbers.Integral) or isinstance(level, bool) or not 0 <= level <= NUM_LEVELS:
        raise ValueError(f"distortion level must be an integer in 0..{NUM_LEVELS} (0 = clean), got {level!r}")
    return 0.0 if level == 0 else table[int(level) - 1]


def blur_window(sigma: float) -> int:
    """The release's odd window size, 4σ+1 (3, 5, …, 13 for CIFAR; 5, 9, …, 25 for ImageNet)."""
    return int(round(4 * sigma)) + 1


def gaussian_kernel1d(sigma: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised sampled Gaussian of ``blur_window(sigma)`` taps (OpenCV's kernel for σ > 0)."""
    if not sigma > 0 or not math.isfinite(sigma):
        raise ValueError(f"blur sigma must be a positive finite number, got {sigma!r}")
    radius = blur_window(sigma) // 2
    x = torch.arange(-radius, radius + 1, device=device, dtype=torch.float64)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return (k / k.sum()).to(dtype)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of every channel with a zero border; shape and device are kept."""
    _check_images(images)
    if sigma == 0:
        return images
    n, c, h, w = images.shape
    k = gaussian_kernel1d(sigma, device=images.device, dtype=images.dtype)
    r = k.numel() // 2
    x = images.reshape(n * c, 1, h, w)
    with float32_exact(images.is_cuda):
        x = F.conv2d(x, k.view(1, 1, 1, -1), padding=(0, r))
        x = F.conv2d(x, k.view(1, 1, -1, 1), padding=(r, 0))
    return x.reshape(n, c, h, w)


def awgn(images: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
         clip: bool = False) -> torch.Tensor:
    """Add N(0, σ²) noise on the 0–255 scale; ``clip`` limits the result to [0, 255]."""
    _check_images(images)
    if not sigma >= 0 or not math.isfinite(sigma):
        raise ValueError(f"noise sigma must be a finite number ≥ 0, got {sigma!r}")
    noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
    out = images + sigma * noise
    return out.clamp_(0, 255) if clip else out


def noise_seed(seed: int, kind: str, level: int, batch: int) -> int:
    """The generator seed of batch ``batch`` of ``kind`` at ``level``: the one formula by which evaluation and
    ranking draw their distortions, so each batch's noise is fixed by (seed, kind, level, batch) alone."""
    return batch_seed(seed, KINDS.index(check_kind(kind)), level, batch)


def batch_seed(seed: int, index: int, level: int, batch: int) -> int:
    """The seed formula behind :func:`noise_seed`, for a degradation numbered ``index``."""
    return ((seed * 7 + index) * 11 + level) * 100_003 + batch


def distort(images: torch.Tensor, kind: str, level: int, family: str = "cifar",
            generator: torch.Generator | None = None, clip: bool = False) -> torch.Tensor:
    """Apply ``kind`` at the paper's ``level`` (0 = clean) for ``family`` to a batch (0–255 scale; a batch
    on the 0–1 scale is distorted all the same, with a warning: its σ would be 255 times too large)."""
    sigma = sigma_for(kind, level, family)
    if level == 0:
        return images
    _warn_unit_scale(images)
    if kind == "blur":
        return gaussian_blur(images, sigma)
    return awgn(images, sigma, generator=generator, clip=clip)


def distort_per_image(images: torch.Tensor, kind: str, levels: torch.Tensor, family: str = "cifar",
                      generator: torch.Generator | None = None, clip: bool = False) -> torch.Tensor:
    """Distort image n at ``levels[n]`` (0–6) in one fixed-shape pass: blur as a depthwise convolution whose
    per-image kernel is that level's taps zero-padded to the widest window, noise as one draw for the batch
    scaled by each image's σ. No value leaves the device (no host sync in a training step) and every batch
    of a size has the same shapes (cuDNN autotunes once). Level-0 images come back bit-identical. The levels
    are checked here (one read from the device); training steps call the unchecked form, with levels drawn in
    range."""
    _check_images(images)
    check_kind(kind)
    check_family(family)
    if levels.shape != images.shape[:1]:
        raise ValueError(f"need one level per image: {images.shape[0]} images, levels of shape "
                         f"{tuple(levels.shape)}")
    if levels.dtype.is_floating_point or levels.dtype == torch.bool or \
            (levels.numel() and not 0 <= int(levels.min()) <= int(levels.max()) <= NUM_LEVELS):
        raise ValueError(f"levels must be integers in 0..{NUM_LEVELS} (0 = clean), got {levels.dtype} values "
                         f"{levels.unique().tolist()[:8]}")
    return _distort_per_image(images, kind, levels, family, generator, clip)


def _distort_per_image(images: torch.Tensor, kind: str, levels: torch.Tensor, family: str,
                       generator: torch.Generator | None, clip: bool) -> torch.Tensor:
    """:func:`distort_per_image` without its checks: nothing leaves the device."""
    if kind == "blur":
        out = _blur_per_image(images, _blur_taps(family, images.device, images.dtype)[levels])
    else:
        sigma = _sigma_table(family, kind, images.device, images.dtype)[levels].view(-1, 1, 1, 1)
        noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
        out = images + sigma * noise
        out = out.clamp(0, 255) if clip else out
    return torch.where((levels == 0).view(-1, 1, 1, 1), images, out)


@functools.lru_cache(maxsize=None)
def _sigma_table(family: str, kind: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """σ for levels 0–6, built once per device: creating it per batch would copy from the host each step."""
    return torch.tensor((0.0,) + LEVELS[family][kind], device=device, dtype=dtype)


@functools.lru_cache(maxsize=None)
def _blur_taps(family: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(7, K) kernels for levels 0–6, centred and zero-padded to the widest window K (level 0: a delta)."""
    width = blur_window(max(LEVELS[family]["blur"]))
    taps = torch.zeros(NUM_LEVELS + 1, width, dtype=torch.float64)
    taps[0, width // 2] = 1.0
    for level, sigma in enumerate(LEVELS[family]["blur"], start=1):
        k = gaussian_kernel1d(sigma, dtype=torch.float64)
        start = (width - k.numel()) // 2
        taps[level, start:start + k.numel()] = k
    return taps.to(device=device, dtype=dtype)


def _blur_per_image(images: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable zero-border blur of image n with the 1-D kernel ``taps[n]``, all images in one grouped conv."""
    n, c, h, w = images.shape
    k = taps.shape[1]
    weights = taps.repeat_interleave(c, dim=0)  # one kernel per (image, channel) plane
    x = images.reshape(1, n * c, h, w)
    with float32_exact(images.is_cuda):
        x = F.conv2d(x, weights.view(n * c, 1, 1, k), padding=(0, k // 2), groups=n * c)
        x = F.conv2d(x, weights.view(n * c, 1, k, 1), padding=(k // 2, 0), groups=n * c)
    return x.reshape(n, c, h, w)


def half_distorted(images: torch.Tensor, kinds: tuple[str, ...] | str, family: str = "cifar",
                   generator: torch.Generator | None = None, clip: bool = False) -> torch.Tensor:
    """A training batch as in §5.1: a random half stays clean, the other half is distorted at a random
    level 1–6 (and, with several ``kinds``, a random kind per image). Models never see the level.
    ``generator`` must live on the images' device, so nothing leaves the device."""
    _check_images(images)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for k in kinds:
        check_kind(k)
    n = images.shape[0]
    dev = images.device
    order = torch.randperm(n, generator=generator, device=dev)
    levels = torch.zeros(n, dtype=torch.long, device=dev)
    distorted = order[: n // 2]
    levels[distorted] = torch.randint(1, NUM_LEVELS + 1, (distorted.numel(),), generator=generator, device=dev)
    which = torch.randint(0, len(kinds), (n,), generator=generator, device=dev)
    out = images
    for i, kind in enumerate(kinds):
        lv = torch.where(which == i, levels, torch.zeros_like(levels))
        out = _distort_per_image(out, kind, lv, family, generator, clip)
    return out


def _warn_unit_scale(images: torch.Tensor) -> None:
    """Warn about a batch whose values all lie in [0, 1] (not black): images on the 0–1 scale, distorted here
    as if on the 0–255 scale, so 255 times too strongly."""
    low, high = torch.aminmax(images) if images.numel() else (images.new_zeros(()), images.new_zeros(()))
    if 0 <= float(low) and 0 < float(high) <= 1:
        warnings.warn("the images all lie in [0, 1], but distortions work on the 0–255 scale (the paper's σ); "
                      "multiply them by 255 first", stacklevel=3)


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected a float image batch of shape (N, C, H, W) on the 0–255 scale, got {shape}")
