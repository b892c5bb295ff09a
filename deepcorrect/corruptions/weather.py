"""The weather corruptions on the 0–1 scale: snow, frost, fog."""

from __future__ import annotations

import torch

from .filters import apply_axes, motion_blur, normal, plasma_fractal, uniform, zoom_matrix

#: OpenCV's ``COLOR_RGB2GRAY`` weights (ITU-R BT.601 luma), which the sources' snow brightens by.
LUMA = (0.299, 0.587, 0.114)
#: The span of the frost photographs the sources overlay, measured on the six ImageNet-C ships (0–255 scale,
#: per channel): mean brightness 78–215 (bluish: blue brightest) and spread (std) 15–45.
FROST_MEAN = (110.0, 205.0)
FROST_TINT = (-14.0, 0.0, 12.0)
FROST_STD = (15.0, 40.0)


def _plasma_size(h: int, w: int, size: int) -> int:
    """The family's plasma side, doubled until it covers the image (the sources assume it does)."""
    while size < max(h, w):
        size *= 2
    return size


def fog(x: torch.Tensor, p: tuple[float, float], g: torch.Generator, plasma_size: int) -> torch.Tensor:
    """Add ``strength`` × a plasma-fractal haze, rescaled so the image's maximum keeps its place."""
    strength, decay = p
    n, _, h, w = x.shape
    haze = plasma_fractal(n, _plasma_size(h, w, plasma_size), decay, g)[:, :h, :w]
    haze = haze.to(device=x.device, dtype=x.dtype).unsqueeze(1)
    top = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + strength * haze) * top / (top + strength)


def frost_layer(n: int, h: int, w: int, g: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Procedural frost on the 0–1 scale (N, 3, H, W), in place of the sources' six photographs: a ridged
    plasma fractal (thin bright crystal edges where the height map crosses its mid-level) with a per-image
    brightness, spread and blue tint drawn within the photographs' span (``FROST_*``)."""
    size = _plasma_size(h, w, 32)
    ridges = 1 - (2 * plasma_fractal(n, size, 1.6, g) - 1).abs()
    ridges = ridges[:, :h, :w] ** 3
    z = (ridges - ridges.mean(dim=(1, 2), keepdim=True)) / ridges.std(dim=(1, 2), keepdim=True).clamp_min(1e-6)
    mean = torch.rand((n, 1, 1, 1), generator=g, dtype=torch.float64) * (FROST_MEAN[1] - FROST_MEAN[0])
    std = torch.rand((n, 1, 1, 1), generator=g, dtype=torch.float64) * (FROST_STD[1] - FROST_STD[0])
    tint = torch.tensor(FROST_TINT, dtype=torch.float64).view(1, 3, 1, 1)
    layer = (FROST_MEAN[0] + mean + tint + (FROST_STD[0] + std) * z.unsqueeze(1)).clamp(0, 255) / 255
    return layer.to(device=like.device, dtype=like.dtype)


def frost(x: torch.Tensor, p: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    """``a`` · image + ``b`` · frost."""
    n, _, h, w = x.shape
    return p[0] * x + p[1] * frost_layer(n, h, w, g, x)


def snow(x: torch.Tensor, p: tuple, g: torch.Generator) -> torch.Tensor:
    """Zoomed, thresholded Gaussian flakes (8-bit, as the sources' PNG round trip), motion-blurred at an angle
    from U(-135°, -45°), added twice (the layer and its 180° turn) to an image brightened towards its luma."""
    mean, std, zoom, threshold, radius, sigma, keep = p
    n, _, h, w = x.shape
    flakes = normal((n, 1, h, w), mean, std, g, x)
    flakes = apply_axes(flakes, zoom_matrix(h, zoom), zoom_matrix(w, zoom))
    flakes = torch.where(flakes < threshold, torch.zeros_like(flakes), flakes)
    flakes = torch.floor(flakes.clamp(0, 1) * 255) / 255
    angles = uniform((n,), -135.0, -45.0, g, torch.empty((), dtype=torch.float64))
    flakes = motion_blur(flakes, radius, sigma, angles)
    luma = sum(wt * x[:, i:i + 1] for i, wt in enumerate(LUMA))
    x = keep * x + (1 - keep) * torch.maximum(x, luma * 1.5 + 0.5)
    return x + flakes + flakes.flip(-1, -2)
