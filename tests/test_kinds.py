"""Kinds of degradation: the paper's two distortions unchanged, the corruptions and mixes on the same footing."""

import pytest
import torch

from deepcorrect import kinds
from deepcorrect.corruptions import corrupt
from deepcorrect.distortions import distort, half_distorted, noise_seed


@pytest.fixture(scope="module")
def images():
    return torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255


def test_the_papers_kinds_are_the_distortions_seed_for_seed(images):
    for kind in ("blur", "awgn"):
        for level in range(7):
            assert torch.equal(kinds.degrade(images, kind, level, "cifar", torch.Generator().manual_seed(3)),
                               distort(images, kind, level, "cifar", torch.Generator().manual_seed(3)))
        assert kinds.level_seed(1, kind, 4, 2) == noise_seed(1, kind, 4, 2)
    assert torch.equal(kinds.half_degraded(images, ("blur", "awgn"), "cifar", torch.Generator().manual_seed(5)),
                       half_distorted(images, ("blur", "awgn"), "cifar", torch.Generator().manual_seed(5)))


def test_a_corruption_is_the_benchmarks_and_has_five_severities(images):
    assert kinds.num_levels("defocus_blur") == 5 and kinds.num_levels("blur") == 6
    assert torch.equal(kinds.degrade(images, "defocus_blur", 3, "cifar", torch.Generator().manual_seed(1)),
                       corrupt(images, "defocus_blur", 3, "cifar", torch.Generator().manual_seed(1)))
    assert kinds.degrade(images, "contrast", 0) is images
    assert len({kinds.level_seed(0, k, 1, 0) for k in kinds.SINGLE_KINDS}) == len(kinds.SINGLE_KINDS)


def test_a_mix_degrades_each_image_by_one_member(images):
    mix = "gaussian_noise+contrast"
    out = kinds.degrade(images, mix, 2, "cifar", torch.Generator().manual_seed(4))
    again = kinds.degrade(images, mix, 2, "cifar", torch.Generator().manual_seed(4))
    assert torch.equal(out, again)  # seeded
    contrast = corrupt(images, "contrast", 2)  # deterministic corruption: each image is it, or noise
    is_contrast = (out - contrast).abs().flatten(1).amax(1) < 1e-3
    assert 0 < int(is_contrast.sum()) < len(images)
    assert kinds.num_levels(mix) == 5 and kinds.level_seed(0, mix, 1, 0) != kinds.level_seed(0, "contrast", 1, 0)


def test_half_degraded_keeps_half_clean_for_corruptions(images):
    out = kinds.half_degraded(images, "gaussian_noise+contrast", "cifar", torch.Generator().manual_seed(2))
    clean = (out == images).flatten(1).all(1)
    assert int(clean.sum()) == len(images) // 2
    assert torch.equal(out, kinds.half_degraded(images, "gaussian_noise+contrast", "cifar",
                                                torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("kind, message", [("defocus", "unknown kind 'defocus'"), ("", "non-empty"),
                                           ("blur+blur", "names a kind twice"), ("blur+fog", "one sort")])
def test_a_wrong_kind_is_refused_with_one_message(kind, message):
    with pytest.raises(ValueError, match=message):
        kinds.check(kind)
