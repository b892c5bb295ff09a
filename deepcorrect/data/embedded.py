"""The embedded default dataset: synthetic 32×32 photographs-in-miniature, generated in code from a seed.

It exists so that the whole companion runs on a laptop with no download. Ten classes; each class is a
shape (disc, square, triangle, cross, ring) filled with a fine, oriented texture and a class colour, on a
background cropped from the natural photographs that ship inside scikit-image. Pairs of classes share a
shape and a hue and differ only in fine texture (a grating of 3.4–4.7 px period at a class-specific orientation mixed
with a natural texture crop), and the hue, jittered per image, follows the shape. So blur — which
removes the fine texture first and the contour later — and noise — which swamps both — hurt a network trained
on clean images the way Tables 1–2 show for CIFAR. It is synthetic: numbers measured on it show the code
path and the qualitative picture, not the paper's values.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checksums import checksum_path, load_checked, remove_checked, write_checked
from ..fingerprint import source_fingerprint

SHAPES = ("disc", "square", "triangle", "cross", "ring")
CLASSES = tuple(f"{shape}-{tex}" for tex in ("striped", "woven") for shape in SHAPES)
_BACKGROUNDS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "page")
_TEXTURES = ("brick", "grass", "gravel")


def make_embedded(n_per_class: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images uint8 (N, 3, size, size), labels int64 (N,))`` with ``n_per_class`` images of each of the
    10 classes, in a seeded random order. Deterministic for a given seed on any machine."""
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be ≥ 1, got {n_per_class}")
    g = torch.Generator().manual_seed(seed)
    n_classes = len(CLASSES)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    labels = labels[torch.randperm(labels.numel(), generator=g)]
    n = labels.numel()
    shape_id, tex_id = labels % len(SHAPES), labels // len(SHAPES)

    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    centre = size / 2 - 0.5 + (torch.rand(n, 2, generator=g) - 0.5) * size * 0.3
    radius = size * (0.22 + 0.12 * torch.rand(n, generator=g))
    angle = torch.rand(n, generator=g) * 2 * math.pi
    dy = yy[None] - centre[:, 0, None, None]
    dx = xx[None] - centre[:, 1, None, None]
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    u, v = (c * dx + s * dy) / radius[:, None, None], (-s * dx + c * dy) / radius[:, None, None]
    mask = _shape_masks(u, v, shape_id)

    # Fine texture: an oriented grating (orientation and period depend on the texture id) times a natural
    # texture crop; blur at σ ≥ 1 removes most of it while the contour survives longer.
    period = torch.where(tex_id == 0, 3.4, 4.4) + 0.3 * torch.rand(n, generator=g)
    theta = torch.where(tex_id == 0, 0.0, math.pi / 2) + (torch.rand(n, generator=g) - 0.5) * 0.6 + angle
    phase = torch.rand(n, generator=g) * 2 * math.pi
    proj = torch.cos(theta)[:, None, None] * xx + torch.sin(theta)[:, None, None] * yy
    grating = torch.cos(2 * math.pi * proj / period[:, None, None] + phase[:, None, None])
    woven = torch.cos(2 * math.pi * (torch.sin(theta)[:, None, None] * xx - torch.cos(theta)[:, None, None] * yy)
                      / period[:, None, None])
    grating = torch.where((tex_id == 1)[:, None, None], 0.5 * (grating + woven), grating)
    natural = _crops(_TEXTURES, n, size, g, zoom=(0.6, 1.2)).mean(1)
    texture = 0.65 * grating + 0.35 * (natural - natural.mean((1, 2), keepdim=True)) / 64.0

    hue = (shape_id.float() / len(SHAPES) * 0.8 + 0.05 * tex_id + 0.06 * torch.randn(n, generator=g)) % 1.0
    colour = _hsv_to_rgb(hue, 0.55 + 0.3 * torch.rand(n, generator=g), 0.55 + 0.35 * torch.rand(n, generator=g))
    fg = 255.0 * colour[:, :, None, None] * (0.78 + 0.22 * texture[:, None])

    background = _crops(_BACKGROUNDS, n, size, g, zoom=(0.25, 0.6))
    dim = 0.35 + 0.4 * torch.rand(n, 1, 1, 1, generator=g)
    background = background * dim + 255.0 * 0.5 * (1 - dim)
    soft = mask.float()[:, None]
    img = soft * fg + (1 - soft) * background
    img = img + 1.5 * torch.randn(img.shape, generator=g)  # sensor grain, well below the AWGN levels
    return img.round().clamp(0, 255).to(torch.uint8), labels


def load_embedded(n_per_class: int, seed: int, size: int = 32, cache_dir: str | Path | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`make_embedded`, kept under ``cache_dir`` (``embedded/``) so that the pages of a book, which
    each need the same draw, generate it once (seconds each time otherwise). The file's name holds the
    generator's code fingerprint and the versions of torch and scikit-image (whose photographs it crops); a
    damaged or mismatched file is discarded and the images generated again, older versions of the same draw
    are removed, and an unwritable cache only costs the generation."""
    if cache_dir is None:
        return make_embedded(n_per_class, seed, size)
    import skimage

    folder, draw = Path(cache_dir).expanduser() / "embedded", f"{n_per_class}x{size}-seed{seed}"
    code = source_fingerprint(Path(__file__).read_text())[:12]
    path = folder / f"{draw}-{code}-torch{torch.__version__}-skimage{skimage.__version__}.pt"
    n = len(CLASSES) * n_per_class

    def accept(saved: dict) -> str | None:
        images, labels = saved["images"], saved["labels"]
        fits = images.shape == (n, 3, size, size) and images.dtype == torch.uint8 and labels.shape == (n,)
        return None if fits else f"it holds images of shape {tuple(images.shape)}, not {(n, 3, size, size)}"

    if checksum_path(path).is_file():  # no checksum yet: another process is writing it, or none did
        saved = load_checked(path, "cached embedded images", "they are generated again", accept)
        if saved is not None:
            return saved["images"], saved["labels"]
    images, labels = make_embedded(n_per_class, seed, size)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_checked(path, lambda tmp: torch.save({"images": images, "labels": labels}, tmp))
        for older in folder.glob(f"{draw}-*.pt"):
            if older != path:
                remove_checked(older)
    except OSError:
        pass
    return images, labels


def _shape_masks(u: torch.Tensor, v: torch.Tensor, shape_id: torch.Tensor) -> torch.Tensor:
    r = torch.sqrt(u**2 + v**2)
    masks = torch.stack([
        r <= 1.0,                                                            # disc
        torch.maximum(u.abs(), v.abs()) <= 0.8,                              # square
        (v >= -0.5) & (v <= 1.0 - 1.732 * u.abs() * 0.87) & (v <= 1.0),      # triangle
        ((u.abs() <= 0.3) | (v.abs() <= 0.3)) & (torch.maximum(u.abs(), v.abs()) <= 1.0),  # cross
        (r <= 1.0) & (r >= 0.55),                                            # ring
    ])
    return masks[shape_id, torch.arange(u.shape[0])]


def _crops(names: tuple[str, ...], n: int, size: int, g: torch.Generator, zoom: tuple[float, float]) -> torch.Tensor:
    """n random crops (with random zoom and flips) of scikit-image's bundled photographs, (n, 3, size, size)."""
    sources = [_photo(name) for name in names]
    pick = torch.randint(0, len(sources), (n,), generator=g)
    scale = zoom[0] + (zoom[1] - zoom[0]) * torch.rand(n, generator=g)
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * (1 - scale[:, None])
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    out = torch.empty(n, 3, size, size)
    for k, src in enumerate(sources):
        idx = (pick == k).nonzero().squeeze(1)
        if idx.numel():
            grid = F.affine_grid(theta[idx], [idx.numel(), 3, size, size], align_corners=False)
            out[idx] = F.grid_sample(src.expand(idx.numel(), -1, -1, -1), grid, mode="bilinear",
                                     padding_mode="reflection", align_corners=False)
    return out


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> torch.Tensor:
    """A scikit-image sample photograph as (1, 3, 128, 128) float 0–255, pre-shrunk with antialiasing so
    the crops carry natural texture rather than aliasing."""
    import skimage.data

    arr = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    t = torch.from_numpy(arr[..., :3]).permute(2, 0, 1)[None]
    return F.interpolate(t, size=(128, 128), mode="bilinear", antialias=True, align_corners=False)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    k = (torch.tensor([5.0, 3.0, 1.0])[None] + h[:, None] * 6) % 6
    return v[:, None] - v[:, None] * s[:, None] * torch.clamp(torch.minimum(k, 4 - k), 0, 1)
