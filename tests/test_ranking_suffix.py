"""The torch.fx suffix engine: what it traces, where the one-channel shortcut applies, how it sizes its runs."""

import pytest
import torch
import torchvision
from torch import nn

from deepcorrect.models import CaffeAlexNet
from deepcorrect.ranking.suffix import SuffixSplit, activation_bytes, filters_per_run, trace


def test_untraceable_models_are_reported():
    class Dynamic(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            return y.mean((2, 3)) if y.sum() > 0 else -y.mean((2, 3))

    with pytest.raises(ValueError, match="rank it with method='literal'"):
        SuffixSplit(Dynamic(), "conv")


def test_the_shortcut_applies_where_only_per_channel_maps_lead_to_the_next_conv():
    model = CaffeAlexNet(num_classes=10).eval()
    found = {layer: SuffixSplit(model, layer, shortcut=True).next_conv for layer in ("conv1", "conv3", "conv5")}
    assert found["conv1"] is None  # LRN mixes channels
    assert found["conv3"].target == "conv4"
    assert found["conv5"] is None  # the next layer is fully connected
    resnet = torchvision.models.resnet18(num_classes=10).eval()
    assert SuffixSplit(resnet, "layer1.0.conv1", shortcut=True).next_conv.target == "layer1.0.conv2"
    assert SuffixSplit(resnet, "layer1.0.conv2", shortcut=True).next_conv is None  # the residual add follows


def test_filters_per_run_fills_half_the_free_gpu_memory_and_keeps_the_cpu_small(monkeypatch):
    assert filters_per_run(torch.device("cpu"), 10**6, 96) == 4
    assert filters_per_run(torch.device("cpu"), 10**6, 3) == 3
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (80 * 2**30, 141 * 2**30))
    cuda = torch.device("cuda", 0)
    assert filters_per_run(cuda, 2**30, 96) == 40  # 40 GiB free for copies of 1 GiB
    assert filters_per_run(cuda, 2**20, 96) == 96  # all of the layer in one run
    assert filters_per_run(cuda, 2**40, 96) == 1  # never fewer than one


def test_suffix_bytes_counts_what_the_suffix_computes_and_reads():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(5 * 8 * 8, 10)).eval()
    gm = trace(model)
    sizes = activation_bytes(gm, torch.rand(1, 3, 8, 8))
    assert sizes == {"input_1": 3 * 64 * 4, "_0": 4 * 64 * 4, "_1": 4 * 64 * 4, "_2": 5 * 64 * 4,
                     "_3": 5 * 64 * 4, "_4": 320 * 4, "_5": 10 * 4}
    full = SuffixSplit(gm, "0", shortcut=False)  # the swapped conv-1 output and everything after it
    assert full.suffix_bytes(sizes) == sum(sizes[n] for n in ("_0", "_1", "_2", "_3", "_4", "_5"))
    short = SuffixSplit(gm, "0", shortcut=True)  # conv 2 is not rerun: the suffix starts at its output
    assert short.suffix_bytes(sizes) == sum(sizes[n] for n in ("_2", "_3", "_4", "_5"))
