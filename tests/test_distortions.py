import numpy as np
import pytest
import torch
from scipy import ndimage

from deepcorrect import distortions as D


@pytest.mark.parametrize("family", ["cifar", "imagenet"])
@pytest.mark.parametrize("level", range(1, 7))
def test_blur_matches_scipy_reference_with_release_window_and_zero_border(family, level):
    sigma = D.sigma_for("blur", level, family)
    g = torch.Generator().manual_seed(level)
    x = torch.rand(2, 3, 40, 37, generator=g, dtype=torch.float64) * 255
    ours = D.distort(x, "blur", level, family).numpy()
    # truncate=2 gives a radius of int(2σ + 0.5) taps: the release's 4σ+1 window at every paper level
    ref = np.stack([[ndimage.gaussian_filter(c, sigma, mode="constant", cval=0.0, truncate=2.0) for c in img]
                    for img in x.numpy()])
    assert np.abs(ours - ref).max() < 1e-4


def test_blur_windows_are_the_release_sizes():
    assert [D.blur_window(s) for s in D.LEVELS["cifar"]["blur"]] == [3, 5, 7, 9, 11, 13]
    assert [D.blur_window(s) for s in D.LEVELS["imagenet"]["blur"]] == [5, 9, 13, 17, 21, 25]
    k = D.gaussian_kernel1d(1.5)
    assert k.numel() == 7 and abs(float(k.sum()) - 1) < 1e-6


def test_blur_keeps_a_constant_image_constant_away_from_the_zero_border():
    x = torch.full((1, 3, 32, 32), 100.0)
    y = D.distort(x, "blur", 3, "cifar")
    assert torch.allclose(y[..., 4:-4, 4:-4], x[..., 4:-4, 4:-4], atol=1e-4)
    assert y[0, 0, 0, 0] < 100  # the zero border darkens the corner


@pytest.mark.parametrize("level", range(1, 7))
def test_awgn_has_the_table_sigma_and_is_unclipped_by_default(level):
    g = torch.Generator().manual_seed(0)
    x = torch.full((64, 3, 32, 32), 128.0)
    y = D.distort(x, "awgn", level, "imagenet", generator=g)
    sigma = D.LEVELS["imagenet"]["awgn"][level - 1]
    assert abs(float((y - x).std()) / sigma - 1) < 0.01
    assert abs(float((y - x).mean())) < 0.02 * sigma
    if sigma >= 60:
        assert y.max() > 255 and y.min() < 0
        clipped = D.distort(x, "awgn", level, "imagenet", generator=g, clip=True)
        assert clipped.min() >= 0 and clipped.max() <= 255


def test_awgn_is_reproducible_with_a_seeded_generator():
    x = torch.zeros(2, 3, 8, 8)
    a = D.awgn(x, 10, torch.Generator().manual_seed(3))
    b = D.awgn(x, 10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_level_zero_is_clean():
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(D.distort(x, "blur", 0), x) and torch.equal(D.distort(x, "awgn", 0), x)


def test_half_distorted_keeps_exactly_half_clean_and_distorts_the_rest():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 16, 16, generator=g) * 255
    y = D.half_distorted(x, ("blur", "awgn"), "cifar", generator=g)
    unchanged = (y == x).flatten(1).all(1)
    assert int(unchanged.sum()) == 32
    assert y.shape == x.shape


@pytest.mark.parametrize("family", ["cifar", "imagenet"])
def test_distort_per_image_blurs_each_image_at_its_own_level_as_distort_does(family):
    x = torch.rand(14, 3, 40, 40, generator=torch.Generator().manual_seed(0)) * 255
    levels = torch.arange(14) % 7
    y = D.distort_per_image(x, "blur", levels, family)
    for i, lv in enumerate(levels.tolist()):
        assert torch.allclose(y[i:i + 1], D.distort(x[i:i + 1], "blur", lv, family), atol=1e-3)
    assert torch.equal(y[levels == 0], x[levels == 0])  # clean images come back bit-identical


def test_distort_per_image_adds_each_images_noise_sigma_and_clips_only_the_noisy():
    x = torch.full((700, 1, 32, 32), 250.0)
    levels = torch.arange(700) % 7
    y = D.distort_per_image(x, "awgn", levels, "cifar", torch.Generator().manual_seed(0))
    spread = (y - x).flatten(1).std(1)
    for lv in range(7):
        expected = D.sigma_for("awgn", lv, "cifar")
        assert spread[levels == lv].mean().item() == pytest.approx(expected, abs=0.1)
    clipped = D.distort_per_image(x, "awgn", levels, "cifar", torch.Generator().manual_seed(0), clip=True)
    assert clipped.max() == 255 and torch.equal(clipped[levels == 0], x[levels == 0])


def test_half_distorted_never_makes_the_host_wait():
    """Every value it draws stays on the device: no .item(), nonzero, unique or boolean mask per batch."""
    from deepcorrect.runtime import HostSyncCounter
    x = torch.rand(64, 3, 32, 32) * 255
    with HostSyncCounter() as syncs:
        D.half_distorted(x, ("blur", "awgn"), "cifar", torch.Generator().manual_seed(0))
    assert syncs.ops == []


@pytest.mark.parametrize("level", [-1, 7, 1.5, True])
def test_a_level_outside_the_table_is_an_error(level):
    with pytest.raises(ValueError, match="level must be an integer in 0..6"):
        D.distort(torch.zeros(1, 3, 8, 8), "blur", level)


def test_unknown_kind_family_and_bad_sigma_are_errors():
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="unknown distortion 'jpeg'; expected one of blur, awgn"):
        D.distort(x, "jpeg", 1)
    with pytest.raises(ValueError, match="unknown level family"):
        D.distort(x, "blur", 1, family="mnist")
    with pytest.raises(ValueError, match="positive finite"):
        D.gaussian_blur(x, -1.0)
    with pytest.raises(ValueError, match="float image batch"):
        D.gaussian_blur(torch.zeros(3, 8, 8), 1.0)
