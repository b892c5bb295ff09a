"""The MAC cost model the benchmarks compare against: the network's own layer costs, summed as each path runs
them."""

import torch

from deepcorrect.models import AllConvBN
from deepcorrect.ranking.cost import layer_macs, literal_macs, ranking_macs


def test_mac_counts_of_the_bound_are_the_layers_own_costs():
    """All-Conv-BN at width 0.125 (12 / 24 filters): conv8 (1×1, 24→24) and conv9 (1×1, 24→10) run on 6×6."""
    net = AllConvBN(10, width=0.125)
    x = torch.zeros(1, 3, 32, 32)
    macs = layer_macs(net, x)
    assert list(macs) == [f"conv{i}" for i in range(1, 10)]
    assert macs["conv1"] == 12 * 3 * 9 * 32 * 32 and macs["conv9"] == 10 * 24 * 36
    assert ranking_macs(net, ["conv9"], x, shortcut=False) == 0
    assert ranking_macs(net, ["conv8"], x, shortcut=False) == 24 * macs["conv9"]
    assert ranking_macs(net, ["conv8"], x) == 24 * macs["conv9"] // 24  # the next conv at 1/C_in of its cost
    assert literal_macs(net, ["conv1", "conv2"], x) == 2 * sum(macs.values()) * 24
