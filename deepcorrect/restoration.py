"""Restoration baselines of Tables 7–8: restore the distorted image first, then classify it with the baseline.

- AWGN: BM3D (the ``bm3d`` package, ``bm3d_rgb`` in its opponent colour space) with the noise σ known.
- Blur: the paper uses NCSR, which has no Python implementation; the stand-in is a non-blind deconvolution
  that knows the exact kernel — scikit-image's Richardson–Lucy (default) or Wiener filter.

Restoration is per image and CPU-bound, so images are spread over worker processes; the cost per image is
measured and reported next to the accuracies.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from .config import RestoreConfig
from .distortions import gaussian_kernel1d

#: What each restoration row is called in the tables.
METHOD_NAMES = {"awgn": "BM3D", "richardson_lucy": "Richardson–Lucy (NCSR stand-in)",
                "wiener": "Wiener (NCSR stand-in)"}


def method_name(kind: str, cfg: RestoreConfig) -> str:
    return METHOD_NAMES["awgn" if kind == "awgn" else cfg.deblur]


def blur_psf(sigma: float) -> np.ndarray:
    """The 2-D kernel the blur distortion applies (4σ+1 taps, the release's window), for deconvolution."""
    k = gaussian_kernel1d(sigma, dtype=torch.float64).numpy()
    return np.outer(k, k)


def restore_image(image: np.ndarray, kind: str, sigma: float, cfg: RestoreConfig) -> np.ndarray:
    """One distorted image, float (H, W, 3) on the 0–255 scale → its restoration on the same scale."""
    x = image / 255.0
    if kind == "awgn":
        import bm3d

        out = bm3d.bm3d_rgb(x, sigma / 255.0)
    elif kind == "blur":
        from skimage import restoration

        psf = blur_psf(sigma)
        if cfg.deblur == "richardson_lucy":
            # RL needs non-negative data; the blurred image is, up to float error.
            out = np.stack([restoration.richardson_lucy(np.clip(x[..., c], 0, None), psf,
                                                        num_iter=cfg.rl_iterations, clip=False)
                            for c in range(x.shape[-1])], -1)
        else:
            out = np.stack([restoration.wiener(x[..., c], psf, cfg.wiener_balance, clip=False)
                            for c in range(x.shape[-1])], -1)
    else:
        raise ValueError(f"no restoration for distortion {kind!r}; expected blur or awgn")
    return np.asarray(out, dtype=np.float32) * 255.0


def _restore_many(args: tuple) -> tuple[np.ndarray, float]:
    images, kind, sigma, cfg = args
    t0 = time.perf_counter()
    out = np.stack([restore_image(im, kind, sigma, cfg) for im in images])
    return out, time.perf_counter() - t0


def restore_batch(images: torch.Tensor, kind: str, sigma: float, cfg: RestoreConfig
                  ) -> tuple[torch.Tensor, float]:
    """Restore a batch (N, 3, H, W) float 0–255 in parallel over ``cfg.workers`` processes (0 = every
    core); returns the restored batch and the CPU seconds spent per image (summed over workers)."""
    if sigma == 0:
        return images, 0.0
    arr = images.detach().cpu().permute(0, 2, 3, 1).numpy().astype(np.float64)
    workers = cfg.workers or os.cpu_count() or 1
    chunks = [c for c in np.array_split(arr, min(workers, len(arr))) if len(c)]
    if len(chunks) == 1:
        results = [_restore_many((chunks[0], kind, sigma, cfg))]
    else:
        with ProcessPoolExecutor(max_workers=len(chunks)) as pool:
            results = list(pool.map(_restore_many, [(c, kind, sigma, cfg) for c in chunks]))
    out = torch.from_numpy(np.concatenate([r[0] for r in results])).permute(0, 3, 1, 2).contiguous()
    return out.to(images.dtype), sum(r[1] for r in results) / len(arr)
