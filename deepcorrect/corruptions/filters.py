"""The batched building blocks the corruptions share: seeded draws, borders, filters, resampling matrices.

Every random number is drawn on a CPU generator and then moved, so one seed gives the same corrupted batch on
the CPU and on a GPU (up to float rounding). Borders follow the sources' libraries: ``edge`` (scikit-image's
``gaussian`` default, ``mode='nearest'``), ``mirror`` (OpenCV's default ``BORDER_REFLECT_101``, scipy's
``mirror``) and ``reflect`` (scipy's half-sample ``reflect``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..runtime import float32_exact

BORDERS = ("edge", "mirror", "reflect")


def cpu_generator(generator: torch.Generator | None) -> torch.Generator:
    """``generator`` itself (it must live on the CPU: draws there are the same whatever the images' device),
    or a fresh nondeterministically seeded one."""
    if generator is None:
        return torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
    if generator.device.type != "cpu":
        raise ValueError(f"corruptions draw their random numbers on a CPU generator so that one seed gives the "
                         f"same images on every device; got a generator on {generator.device}")
    return generator


def uniform(shape, low: float, high: float, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """U(low, high) of ``shape``, drawn on the CPU in float64, returned on ``like``'s device and dtype."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64) * (high - low) + low
    return u.to(device=like.device, dtype=like.dtype)


def normal(shape, mean: float, std: float, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    z = torch.randn(shape, generator=generator, dtype=like.dtype)
    return (z * std + mean).to(like.device)


def border_index(n: int, r: int, border: str, device=None) -> torch.Tensor:
    """Indices of a length-``n`` axis padded by ``r`` on both sides with ``border`` (any ``r``: the mirror
    images repeat periodically, as scipy's do)."""
    i = torch.arange(-r, n + r, device=device)
    if border == "edge" or n == 1:
        return i.clamp(0, n - 1)
    if border == "mirror":
        p = 2 * (n - 1)
        i = i.remainder(p)
        return torch.where(i > n - 1, p - i, i)
    if border == "reflect":
        i = i.remainder(2 * n)
        return torch.where(i > n - 1, 2 * n - 1 - i, i)
    raise ValueError(f"unknown border {border!r}; expected one of {', '.join(BORDERS)}")


def pad(x: torch.Tensor, rh: int, rw: int, border: str) -> torch.Tensor:
    """(…, H, W) padded by ``rh`` rows and ``rw`` columns on each side with ``border``."""
    h, w = x.shape[-2:]
    x = x.index_select(-1, border_index(w, rw, border, x.device))
    return x.index_select(-2, border_index(h, rh, border, x.device))


def gaussian_taps(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """scipy's ``gaussian_filter`` kernel (scikit-image's ``gaussian``): radius ``int(truncate σ + 0.5)``."""
    radius = int(truncate * float(sigma) + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * x**2 / float(sigma) ** 2)
    return k / k.sum()


def separable(x: torch.Tensor, taps: torch.Tensor, border: str) -> torch.Tensor:
    """Correlate every (H, W) plane of ``x`` (…, H, W) with ``taps`` along both axes."""
    shape = x.shape
    r = taps.numel() // 2
    if r == 0:
        return x
    k = taps.to(device=x.device, dtype=x.dtype)
    planes = pad(x.reshape(-1, 1, *shape[-2:]), r, r, border)
    with float32_exact(x.is_cuda):
        planes = F.conv2d(planes, k.view(1, 1, 1, -1))
        planes = F.conv2d(planes, k.view(1, 1, -1, 1))
    return planes.reshape(shape)


def gaussian(x: torch.Tensor, sigma: float, border: str = "edge", truncate: float = 4.0) -> torch.Tensor:
    """scikit-image's ``gaussian(x, sigma, mode=…, truncate=…)`` of each channel; σ = 0 is the identity."""
    return x if sigma == 0 else separable(x, gaussian_taps(sigma, truncate), border)


def correlate2d(x: torch.Tensor, kernel: torch.Tensor, border: str) -> torch.Tensor:
    """OpenCV's ``filter2D`` of every channel with an odd square ``kernel`` (centre anchor)."""
    n, c, h, w = x.shape
    r = kernel.shape[-1] // 2
    planes = pad(x.reshape(n * c, 1, h, w), r, r, border)
    with float32_exact(x.is_cuda):
        out = F.conv2d(planes, kernel.to(device=x.device, dtype=x.dtype).view(1, 1, *kernel.shape))
    return out.reshape(n, c, h, w)


@functools.lru_cache(maxsize=256)
def zoom_matrix(n: int, factor: float) -> torch.Tensor:
    """(n, n) rows of the sources' ``clipped_zoom`` on one axis: crop the centre ``ceil(n / z)`` samples, zoom
    them with scipy's ``zoom(order=1)`` (its corner-aligned grid: output ``o`` reads input ``o (in-1)/(out-1)``)
    to ``round(crop z)`` samples, keep the centre ``n``."""
    crop = math.ceil(n / factor)
    top = (n - crop) // 2
    size = round(crop * factor)
    trim = (size - n) // 2
    coord = (np.arange(n) + trim) * ((crop - 1) / (size - 1) if size > 1 else 0.0)
    lo = np.minimum(np.floor(coord).astype(int), crop - 1)
    hi = np.minimum(lo + 1, crop - 1)
    frac = coord - lo
    out = np.zeros((n, n))
    np.add.at(out, (np.arange(n), top + lo), 1 - frac)
    np.add.at(out, (np.arange(n), top + hi), frac)
    return torch.from_numpy(out)


def apply_axes(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``rows @ x @ cols.T`` on each (H, W) plane: a separable linear resampling of the batch."""
    rows = rows.to(device=x.device, dtype=x.dtype)
    cols = cols.to(device=x.device, dtype=x.dtype)
    with float32_exact(x.is_cuda):
        return rows @ x @ cols.transpose(-1, -2)


def motion_offsets(radius: int, sigma: float, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                              torch.Tensor]:
    """ImageMagick's ``MotionBlurImage`` (as the sources call it): a one-sided Gaussian of ``2 radius + 1``
    taps ``exp(-i² / 2σ²)`` (normalised), tap ``i`` reading the pixel ``ceil(i cos θ - ½)`` columns and
    ``ceil(i sin θ - ½)`` rows away. Returns the taps and the (N, taps) row and column offsets per angle θ
    (degrees, float64 on the CPU)."""
    width = 2 * int(radius) + 1
    i = torch.arange(width, dtype=torch.float64)
    taps = torch.exp(-(i**2) / (2 * float(sigma) ** 2))
    rad = torch.deg2rad(angles.to(torch.float64)).view(-1, 1)
    px, py = width * torch.sin(rad), width * torch.cos(rad)
    hyp = torch.hypot(px, py)
    dcol = torch.ceil(i * py / hyp - 0.5).long()
    drow = torch.ceil(i * px / hyp - 0.5).long()
    return taps / taps.sum(), drow, dcol


def motion_blur(x: torch.Tensor, radius: int, sigma: float, angles: torch.Tensor) -> torch.Tensor:
    """Blur image n of ``x`` (N, C, H, W) along ``angles[n]`` with ImageMagick's kernel and edge pixels
    repeated past the border (its default virtual pixels): one gather per tap for the whole batch."""
    taps, drow, dcol = motion_offsets(radius, sigma, angles)
    n, c, h, w = x.shape
    drow, dcol = drow.to(x.device), dcol.to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    flat = x.reshape(n, c, h * w)
    out = torch.zeros_like(flat)
    for t, weight in enumerate(taps.tolist()):
        r = (rows + drow[:, t].view(n, 1, 1)).clamp(0, h - 1)
        q = (cols + dcol[:, t].view(n, 1, 1)).clamp(0, w - 1)
        index = (r * w + q).view(n, 1, h * w).expand(n, c, h * w)
        out += weight * flat.gather(2, index)
    return out.view(n, c, h, w)


def plasma_fractal(n: int, size: int, wibble_decay: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` diamond-square height maps of side ``size`` (a power of two) in [0, 1], as the sources' fog draws
    them (after github.com/FLHerne/mapgen): at each halving of the step, the new points are the mean of their
    neighbours plus U(-w, w)·w noise, with w = 100 shrinking by ``wibble_decay``. float64 on the CPU."""
    if size & (size - 1):
        raise ValueError(f"plasma size must be a power of two, got {size}")
    m = torch.zeros(n, size, size, dtype=torch.float64)
    step, wibble = size, 100.0

    def wibbled(a: torch.Tensor) -> torch.Tensor:
        return a / 4 + wibble * (torch.rand(a.shape, generator=generator, dtype=torch.float64) * 2 - 1) * wibble

    while step >= 2:
        half = step // 2
        corners = m[:, 0::step, 0::step]
        squares = corners + corners.roll(-1, 1)
        squares = squares + squares.roll(-1, 2)
        m[:, half::step, half::step] = wibbled(squares)
        centres = m[:, half::step, half::step]
        corners = m[:, 0::step, 0::step]
        m[:, 0::step, half::step] = wibbled(centres + centres.roll(1, 1) + corners + corners.roll(-1, 2))
        m[:, half::step, 0::step] = wibbled(centres + centres.roll(1, 2) + corners + corners.roll(-1, 1))
        step //= 2
        wibble /= wibble_decay
    m -= m.amin(dim=(1, 2), keepdim=True)
    return m / m.amax(dim=(1, 2), keepdim=True)
