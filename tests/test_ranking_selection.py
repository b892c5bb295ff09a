"""Selection: how many filters β chooses (the paper's and the release's rounding), locally and globally."""

import torch

from deepcorrect.ranking import n_selected, select_global, select_local


def test_selection_counts_follow_the_paper_and_the_release():
    assert [n_selected(0.5, 96), n_selected(0.5, 192)] == [48, 96]
    assert [n_selected(0.5, 96, release=True), n_selected(0.5, 192, release=True)] == [50, 100]
    assert [n_selected(b, n) for b, n in [(0.75, 96), (0.75, 256), (0.5, 384), (0.5, 256)]] == [72, 192, 192, 128]


def test_local_and_global_selection(small_ranking):
    _, _, r = small_ranking
    local = select_local(r, "awgn", 0.5)
    assert {k: len(v) for k, v in local.items()} == {"conv1": 6, "conv2": 6, "conv3": 6, "conv4": 12, "conv5": 12,
                                                     "conv6": 12}
    assert torch.equal(local["conv1"], r.order("conv1", "awgn")[:6])
    glob = select_global(r, "awgn", 0.5)
    assert sum(len(v) for v in glob.values()) == 54
    worst_chosen = min(float(r.score(layer, "awgn")[j]) for layer, idx in glob.items() for j in idx)
    best_left = max(float(r.score(layer, "awgn")[j]) for layer in glob for j in range(r.counts[layer].shape[-1])
                    if j not in glob[layer].tolist())
    assert worst_chosen >= best_left
    again = select_global(r, "awgn", 0.5)
    assert all(torch.equal(glob[k], v) for k, v in again.items())  # deterministic
