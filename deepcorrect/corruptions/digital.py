"""The digital corruptions on the 0–1 scale: brightness, contrast, saturate, pixelate, JPEG, elastic."""

from __future__ import annotations

import functools
import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..runtime import float32_exact
from .filters import apply_axes, gaussian, uniform


def brightness(x: torch.Tensor, shift: float, g: torch.Generator) -> torch.Tensor:
    """HSV value + ``shift`` (clipped to 1), hue and saturation kept: every channel scales by V'/V, and a
    black pixel (V = 0, no hue) becomes grey V'."""
    v = x.amax(dim=1, keepdim=True)
    v_new = (v + shift).clamp(0, 1)
    return torch.where(v > 0, x * (v_new / v.clamp_min(1e-12)), v_new.expand_as(x))


def saturate(x: torch.Tensor, p: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    """HSV saturation × a + b (clipped to [0, 1]), hue and value kept. A channel is V (1 - S t) with t its
    place between the maximum (0) and minimum (1); a grey pixel has hue 0 (red), as scikit-image's."""
    v = x.amax(dim=1, keepdim=True)
    delta = v - x.amin(dim=1, keepdim=True)
    s = torch.where(v > 0, delta / v.clamp_min(1e-12), torch.zeros_like(v))
    red = torch.tensor((0.0, 1.0, 1.0), device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    t = torch.where(delta > 0, (v - x) / delta.clamp_min(1e-12), red)
    return v * (1 - (s * p[0] + p[1]).clamp(0, 1) * t)


def contrast(x: torch.Tensor, factor: float, g: torch.Generator) -> torch.Tensor:
    """Each channel's deviations from its mean scaled by ``factor``."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean) * factor + mean


@functools.lru_cache(maxsize=64)
def box_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of Pillow's ``BOX`` resampling along one axis: output ``j`` averages the inputs
    whose centres fall in its box ``((j + ½) s ± ½ max(s, 1))``, s = n_in / n_out (Pillow's Resample.c)."""
    scale = n_in / n_out
    support = 0.5 * max(scale, 1.0)
    out = np.zeros((n_out, n_in))
    for j in range(n_out):
        centre = (j + 0.5) * scale
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        u = (np.arange(lo, hi) - centre + 0.5) / max(scale, 1.0)
        out[j, lo:hi] = (u > -0.5) & (u <= 0.5)
    return torch.from_numpy(out / out.sum(axis=1, keepdims=True))


def pixelate(x: torch.Tensor, factor: float, g: torch.Generator) -> torch.Tensor:
    """Box-downsample to ``int(side · factor)`` and box-upsample back, as the sources do with Pillow."""
    h, w = x.shape[-2:]
    sh, sw = int(h * factor), int(w * factor)
    return apply_axes(x, box_matrix(sh, h) @ box_matrix(h, sh), box_matrix(sw, w) @ box_matrix(w, sw))


def jpeg_compression(x: torch.Tensor, quality: int, g: torch.Generator) -> torch.Tensor:
    """Encode and decode each image at ``quality`` with Pillow's libjpeg, as the sources do (its defaults:
    4:2:0 chroma), from 8-bit pixels; on the CPU whatever the images' device, so the result does not depend
    on it."""
    pixels = (x * 255).round().clamp(0, 255).to("cpu", torch.uint8).permute(0, 2, 3, 1).numpy()
    out = np.empty_like(pixels)
    for i, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=int(quality))
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype) / 255


def _sample(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, corners: bool) -> torch.Tensor:
    """Bilinear samples of ``x`` at pixel coordinates (N, H, W) with a mirror border: about the edge pixels'
    centres (``corners``: OpenCV's REFLECT_101) or about their outer edges (scipy's half-sample ``reflect``)."""
    h, w = x.shape[-2:]
    if corners:
        grid = torch.stack((2 * cols / max(w - 1, 1) - 1, 2 * rows / max(h - 1, 1) - 1), dim=-1)
    else:
        grid = torch.stack(((2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1), dim=-1)
    with float32_exact(x.is_cuda):
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection", align_corners=corners)


def affine_points(h: int, w: int) -> torch.Tensor:
    """The three anchor points (x, y) the sources jitter: centre ± a third of the side."""
    cy, cx, s = h // 2, w // 2, min(h, w) // 3
    return torch.tensor(((cy + s, cx + s), (cy + s, cx - s), (cy - s, cx - s)), dtype=torch.float64)


def affine_warp(x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """OpenCV's ``warpAffine(getAffineTransform(anchors, targets))`` with a REFLECT_101 border: output pixel p
    reads the input at M⁻¹ p, M the affine map sending the anchors to ``targets`` (N, 3, 2)."""
    n, _, h, w = x.shape
    anchors = affine_points(h, w)
    a = torch.cat((anchors, torch.ones(3, 1, dtype=torch.float64)), dim=1)
    m = torch.linalg.solve(a.expand(n, 3, 3), targets.to(torch.float64)).transpose(1, 2)  # (N, 2, 3)
    inv = torch.linalg.inv(m[:, :, :2])
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    p = torch.stack((xs, ys), dim=-1).view(1, h * w, 2) - m[:, :, 2].view(n, 1, 2)
    src = (p @ inv.transpose(1, 2)).view(n, h, w, 2).to(x.device)
    return _sample(x, src[..., 1], src[..., 0], corners=True)


def displace(x: torch.Tensor, drow: torch.Tensor, dcol: torch.Tensor) -> torch.Tensor:
    """scipy's ``map_coordinates(order=1, mode='reflect')`` at (row + drow, col + dcol) for each image."""
    h, w = x.shape[-2:]
    rows = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1) + drow
    cols = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w) + dcol
    return _sample(x, rows, cols, corners=False)


def elastic_transform(x: torch.Tensor, p: tuple[float, float, float], g: torch.Generator) -> torch.Tensor:
    """A random affine warp (anchors jittered by U(-j, j)), then a smooth random displacement: uniform noise
    on [-1, 1] Gaussian-smoothed with σ (reflect border, truncated at 3σ) and scaled by α."""
    alpha, sigma, jitter = p
    n, _, h, w = x.shape
    targets = affine_points(h, w) + uniform((n, 3, 2), -jitter, jitter, g, torch.empty((), dtype=torch.float64))
    x = affine_warp(x, targets)
    field = uniform((n, 2, h, w), -1.0, 1.0, g, x)
    field = gaussian(field, sigma, border="reflect", truncate=3.0) * alpha
    return displace(x, field[:, 1], field[:, 0])
