"""The ranking's result: Eq. 1 and the release's score read from the counts, the table of every filter."""

import pytest
import torch


def test_tau_is_eq1_and_the_release_score_is_relative_error_reduction(small_ranking):
    _, data, r = small_ranking
    tau = r.tau("conv1", "blur")
    assert tau.shape == (6, 12)
    expected = (r.counts["conv1"][0, 3, 5] - r.base[0, 3]).item() / len(data)
    assert tau[3, 5].item() == pytest.approx(expected)
    err_swp = 1 - r.counts["conv1"][0].double() / 20
    err_dist = 1 - r.base[0].double() / 20
    rel = ((err_swp - err_dist[:, None]).abs() / err_dist[:, None]).mean(0)
    assert torch.allclose(r.score("conv1", "blur", "release"), rel)
    frame = r.to_frame()
    assert len(frame) == 2 * (12 * 3 + 24 * 3)
    assert set(frame.loc[frame.layer == "conv1"].groupby("kind")["rank"].apply(sorted).iloc[0]) == set(range(1, 13))
