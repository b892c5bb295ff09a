"""The blur corruptions on the 0–1 scale: defocus, glass, motion, zoom and (held out) Gaussian blur."""

from __future__ import annotations

import numpy as np
import torch

from .filters import apply_axes, correlate2d, gaussian, separable, uniform, zoom_matrix
from .filters import motion_blur as _motion


def disk_kernel(radius: float, alias_sigma: float) -> torch.Tensor:
    """The sources' defocus kernel: a disk ``x² + y² ≤ r²`` on a grid of half-width max(8, r), normalised,
    then anti-aliased by OpenCV's ``GaussianBlur`` (3×3, or 5×5 past radius 8; mirror border) with σ
    ``alias_sigma``. float64 (K, K)."""
    half = 8 if radius <= 8 else int(radius)
    size = 3 if radius <= 8 else 5
    grid = torch.arange(-half, half + 1, dtype=torch.float64)
    disk = ((grid.view(-1, 1) ** 2 + grid.view(1, -1) ** 2) <= radius**2).to(torch.float64)
    disk /= disk.sum()
    i = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-(i**2) / (2 * alias_sigma**2))
    return separable(disk, taps / taps.sum(), "mirror")


def trimmed(kernel: torch.Tensor) -> torch.Tensor:
    """``kernel`` without its all-zero outer rings (the sources' 17×17 grid holds a disk of radius ≤ 1.5 for
    CIFAR): the same correlation, a fraction of the work."""
    r = kernel.shape[-1] // 2
    nonzero = torch.nonzero(kernel)
    keep = int((nonzero - r).abs().max()) if nonzero.numel() else 0
    return kernel[r - keep:r + keep + 1, r - keep:r + keep + 1]


def defocus_blur(x: torch.Tensor, p: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    return correlate2d(x, trimmed(disk_kernel(*p)), "mirror")


def gaussian_blur(x: torch.Tensor, sigma: float, g: torch.Generator) -> torch.Tensor:
    return gaussian(x, sigma)


def glass_permutation(offsets: np.ndarray, h: int, w: int, delta: int) -> np.ndarray:
    """The sources' local pixel shuffle as a permutation: for each iteration, pixel (r, c) for r from
    ``h - δ`` down to ``δ + 1`` (and c likewise) swaps with (r + dy, c + dx), dx, dy ∈ [-δ, δ).
    ``offsets`` (iterations, rows, cols, N, 2) holds (dx, dy); returns (N, h·w) source pixel indices. The
    swaps are sequential (one pixel can travel several times), so they run here on integer indices, for
    all images at once, and the images are then gathered once."""
    n = offsets.shape[3]
    perm = np.tile(np.arange(h * w), (n, 1))
    images = np.arange(n)
    span_r, span_c = range(h - delta, delta, -1), range(w - delta, delta, -1)
    for it in range(offsets.shape[0]):
        for i, r in enumerate(span_r):
            for j, c in enumerate(span_c):
                dx, dy = offsets[it, i, j, :, 0], offsets[it, i, j, :, 1]
                a, b = r * w + c, (r + dy) * w + (c + dx)
                here = perm[:, a].copy()
                perm[:, a] = perm[images, b]
                perm[images, b] = here
    return perm


def glass_offsets(n: int, h: int, w: int, delta: int, iterations: int, g: torch.Generator) -> np.ndarray:
    rows, cols = max(h - 2 * delta, 0), max(w - 2 * delta, 0)
    return torch.randint(-delta, delta, (iterations, rows, cols, n, 2), generator=g).numpy()


def glass_blur(x: torch.Tensor, p: tuple[float, int, int], g: torch.Generator) -> torch.Tensor:
    """Gaussian blur, quantised to 8 bits (the sources' ``np.uint8``), locally shuffled, blurred again."""
    sigma, delta, iterations = p
    n, c, h, w = x.shape
    y = torch.floor(gaussian(x, sigma) * 255) / 255
    perm = glass_permutation(glass_offsets(n, h, w, delta, iterations, g), h, w, delta)
    index = torch.from_numpy(perm).to(x.device).view(n, 1, h * w).expand(n, c, h * w)
    y = y.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)
    return gaussian(y, sigma)


def motion_blur(x: torch.Tensor, p: tuple[int, float], g: torch.Generator) -> torch.Tensor:
    """ImageMagick's motion blur at an angle drawn per image from U(-45°, 45°)."""
    angles = uniform((x.shape[0],), -45.0, 45.0, g, torch.empty((), dtype=torch.float64))
    return _motion(x, p[0], p[1], angles)


def zoom_blur(x: torch.Tensor, factors: tuple[float, ...], g: torch.Generator) -> torch.Tensor:
    """The mean of the image and its centre zooms by each factor (``clipped_zoom``), as separable matrices."""
    h, w = x.shape[-2:]
    out = x.clone()
    for z in factors:
        out += apply_axes(x, zoom_matrix(h, z), zoom_matrix(w, z))
    return out / (len(factors) + 1)
