"""The noise corruptions on the 0–1 scale: Gaussian, shot (Poisson), impulse (salt and pepper), speckle."""

from __future__ import annotations

import torch

from .filters import normal


def gaussian_noise(x: torch.Tensor, sigma: float, g: torch.Generator) -> torch.Tensor:
    """x + N(0, σ²) per value."""
    return x + normal(x.shape, 0.0, sigma, g, x)


def shot_noise(x: torch.Tensor, photons: float, g: torch.Generator) -> torch.Tensor:
    """Poisson(x · photons) / photons: the counts are drawn on the CPU (torch's Poisson sampler there)."""
    rates = (x * photons).to("cpu", torch.float64)
    return (torch.poisson(rates, generator=g) / photons).to(device=x.device, dtype=x.dtype)


def impulse_noise(x: torch.Tensor, amount: float, g: torch.Generator) -> torch.Tensor:
    """scikit-image's ``random_noise(mode='s&p', amount=…)``: each value is replaced with probability
    ``amount``, by 1 or 0 with equal odds."""
    flipped = torch.rand(x.shape, generator=g) <= amount
    salted = torch.rand(x.shape, generator=g) <= 0.5
    values = salted.to(x.dtype).to(x.device)
    return torch.where(flipped.to(x.device), values, x)


def speckle_noise(x: torch.Tensor, sigma: float, g: torch.Generator) -> torch.Tensor:
    """x + x · N(0, σ²): noise proportional to the signal."""
    return x + x * normal(x.shape, 0.0, sigma, g, x)
