"""Page 05's measurements on a tiny BN network: the error grid, BN adaptation and TENT, the verdict."""

import json

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


class Wrong(nn.Module):
    """Always answers class 9: right on the images of class 9 only."""
    def forward(self, x):
        return torch.zeros(len(x), 10).index_fill_(1, torch.tensor([9]), 1.0)


def test_hit_grids_show_every_model_the_same_corrupted_images(test_set):
    hits = beyond.hit_grids({"Baseline": Scaled(), "again": Scaled()}, test_set, "cifar", seed=1, device="cpu",
                            names=NAMES)
    assert hits["Baseline"].shape == (3, 5, 30) and hits["Baseline"].dtype == torch.bool
    assert torch.equal(hits["Baseline"], hits["again"])  # same weights, same images: same answers
    grid = beyond.grid_of(hits["Baseline"], NAMES)
    assert np.allclose(grid.to_numpy(), beyond.error_grid(Scaled(), test_set, "cifar", seed=1, device="cpu",
                                                          names=NAMES).to_numpy())


def test_transfer_table_and_tests_against_the_baseline(test_set):
    hits = beyond.hit_grids({"Baseline": Scaled(), "same": Scaled(), "wrong": Wrong()}, test_set, "cifar",
                            seed=0, device="cpu", names=NAMES)
    table = beyond.transfer_table(hits, NAMES)
    assert list(table.index) == [*NAMES, "noise (mean)", "digital (mean)", "all 3 (mean)"]
    assert table.loc["gaussian_noise", "Baseline"] == pytest.approx(beyond.grid_of(hits["Baseline"], NAMES)
                                                                     .loc["gaussian_noise"].mean())
    right = int((test_set.labels == 9).sum())  # Wrong is right only on class 9
    assert table.loc["all 3 (mean)", "wrong"] == pytest.approx(100 * (1 - right / 30))
    tests = beyond.transfer_tests(hits, names=NAMES).set_index(["model", "family"])
    assert tests.loc[("same", "noise"), "Δ error (points)"] == 0 and tests.loc[("same", "noise"), "p-value"] == 1
    worse = tests.loc[("wrong", "digital")]
    base_err = table.loc["digital (mean)", "Baseline"]
    assert worse["Δ error (points)"] == pytest.approx(table.loc["digital (mean)", "wrong"] - base_err)
    assert tests.loc[("wrong", "all"), "corruptions"] == 3  # every corruption together, beside the families
    alone, alone_tests = beyond.against_baseline(hits, ["wrong"], ("contrast",), NAMES)
    assert list(alone.columns) == ["Baseline", "wrong"] and set(alone_tests["family"]) == {"digital", "all"}
    held = beyond.only(hits, ("contrast",), NAMES)
    assert torch.equal(held["wrong"][0], hits["wrong"][1]) and held["wrong"].shape[0] == 1
    text = beyond.describe_transfer(tests.reset_index())
    assert text.count("- **") == 2 and "not distinguishable" in text
    fig = beyond.transfer_heatmap(table)
    assert len(fig.axes[0].texts) == table.shape[0] * 2


def test_an_editions_page_05_draws_and_decides_claim_c(test_set):
    """An edition's metrics of page 05 draw its At scale section, and claim C is decided from them (the
    smoke profile decides nothing)."""
    from deepcorrect import claims
    from deepcorrect.editions import render

    hits = beyond.hit_grids({"Baseline": Scaled(), "Deepcorr-6c (blur)": Wrong(), "Deepcorr-6c (awgn)": Scaled()},
                            test_set, "cifar", seed=0, device="cpu", names=NAMES)
    grid = beyond.grid_of(hits["Baseline"], NAMES)
    adapted = beyond.adaptation_errors(Scaled(), test_set, "cifar", 5, seed=0, device="cpu", source=grid[5],
                                       names=NAMES)
    saved = beyond.metrics("resnet20-cifar10", grid, adapted, beyond.contrasts(adapted), len(test_set), 5,
                           transfer=beyond.transfer_table(hits, NAMES),
                           transfer_tests=beyond.transfer_tests(hits, names=NAMES))
    plain = json.loads(json.dumps(saved, default=float))  # as an edition file holds it
    parts = render.PAGE_PARTS["beyond_blur_and_noise"](plain, "cifar")
    assert len(parts) == 8  # the counts, the grid, BN adaptation and TENT, their mean and tests, the transfer
    rows = {v.kind: v for v in claims.carries_over({"beyond_blur_and_noise": plain})}
    assert set(rows) == {"AWGN"}  # no blur family in NAMES: the blur-trained model's row is absent
    measured = rows["AWGN"].measured
    assert rows["AWGN"].verdict == "undecided"
    assert f"+0.0 (s.e. 0.0) points against the baseline; on all {len(NAMES)}:" in measured
    mixed = beyond.transfer_tests({"Baseline": hits["Baseline"], "Deepcorr-6c (mix)": hits["Deepcorr-6c (blur)"]},
                                  names=NAMES)
    decided = claims.held_out_gain({"beyond_blur_and_noise": {**plain, "training_mix": ["snow"],
                                                              "held_out_tests": mixed.to_dict(orient="records")}})
    assert len(decided) == 1 and decided[0].claim == "D" and "3 held-out corruptions" in decided[0].measured
    smoke = {**plain, "profile": "smoke"}
    assert {v.verdict for v in claims.carries_over({"beyond_blur_and_noise": smoke})} == {"code path only"}


def test_the_adaptation_set_says_when_tent_cannot_differ_from_bn_adaptation():
    one = beyond.describe_adaptation_set(100, 5, 10)
    assert "fit in one batch" in one and "equals BN adaptation's" in one and "`adapt_per_class` above 20" in one
    many = beyond.describe_adaptation_set(10_000, 5, 10)
    assert many == ("BN adaptation and TENT run on 10,000 test images at severity 5, in 50 batches of 200 per "
                    "corruption.")
