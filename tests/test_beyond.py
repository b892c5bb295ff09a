"""Page 05's measurements on a tiny BN network: the error grid, BN adaptation and TENT, the verdict."""

import numpy as np
import pytest
import torch
from torch import nn

from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.sections import beyond_blur_and_noise as beyond


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(16, 10, bias=False))

    def forward(self, x):
        return self.net(x / 255)


#: a cheap subset for speed; the page itself runs all 15 (its notebook run checks the 15 × 5 grid)
NAMES = ("gaussian_noise", "contrast", "pixelate")


@pytest.fixture(scope="module")
def test_set():
    x, y = make_embedded(3, seed=0)
    return beyond.test_images(TensorData(x, y, CLASSES), 3, seed=0)


def test_test_images_mix_the_classes(test_set):
    assert len(test_set) == 30 and torch.bincount(test_set.labels).tolist() == [3] * 10
    assert len(set(test_set.labels[:10].tolist())) > 3  # not stored class by class


def test_error_grid_covers_every_severity_and_repeats(test_set):
    a = beyond.error_grid(Scaled(), test_set, "cifar", seed=1, device="cpu", names=NAMES)
    assert a.shape == (3, 5) and list(a.index) == list(NAMES) and list(a.columns) == [1, 2, 3, 4, 5]
    assert ((a >= 0) & (a <= 100)).all().all()
    assert a.equals(beyond.error_grid(Scaled(), test_set, "cifar", seed=1, device="cpu", names=NAMES))


def test_tent_acts_only_after_its_first_batch(test_set):
    model = Scaled()
    one = beyond.adaptation_errors(model, test_set, "cifar", 5, seed=0, device="cpu", batch_size=30,
                                  names=NAMES)
    assert np.allclose(one["TENT"], one["BN adaptation"])  # one batch: predicted before the only step
    many = beyond.adaptation_errors(model, test_set, "cifar", 5, seed=0, device="cpu", batch_size=5, lr=0.5,
                                   names=NAMES)
    assert not np.allclose(many["TENT"], many["BN adaptation"])  # later batches see the steps
    assert list(one.columns) == list(beyond.METHODS)
    assert all(p.requires_grad for p in model.parameters())  # the source model is untouched


def test_verdict_and_published_row(test_set):
    model = Scaled()
    grid = beyond.error_grid(model, test_set, "cifar", seed=0, device="cpu", names=NAMES)
    adapted = beyond.adaptation_errors(model, test_set, "cifar", 5, seed=0, device="cpu", source=grid[5],
                                       names=NAMES)
    tests = beyond.contrasts(adapted)
    text = beyond.verdict(grid, adapted, tests, beyond.clean_error(model, test_set, device="cpu"))
    assert "BN adaptation − Source" in text and "one batch of 200" in text
    side = beyond.beside_published(adapted, "tiny", 5)
    assert side.iloc[:, 1].tolist() == [43.5, 20.4, 18.6]
    assert side.iloc[:, 0].tolist() == pytest.approx(adapted.mean().tolist())
