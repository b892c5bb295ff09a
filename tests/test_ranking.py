"""Ranking: the fast path's counts equal a literal Algorithm 1 written here as the reference."""

from collections import OrderedDict
from dataclasses import replace

import pytest
import torch
import torchvision
from torch import nn

from deepcorrect.data import TensorData
from deepcorrect.distortions import distort, noise_seed
from deepcorrect.models import AllConvBN, CaffeAlexNet, TorchvisionAlexNet, get_conv
from deepcorrect.ranking import (RankingConfig, SuffixSplit, ideal_accuracy, n_selected, rank_filters, ranking_set,
                                 select_global, select_local)


def reference_counts(model, layer, images, labels, kind, level, family, seed_for_level, cropped=lambda x: x):
    """Algorithm 1 as written: one filter at a time, the whole network, a hook swapping one channel.
    ``cropped``: what the network sees of an image (a crop taken after the distortion)."""
    conv = get_conv(model, layer)
    clean_out = {}
    handle = conv.register_forward_hook(lambda m, i, o: clean_out.__setitem__("y", o.detach().clone()))
    model(cropped(images))
    handle.remove()
    distorted = cropped(distort(images, kind, level, family, generator=torch.Generator().manual_seed(seed_for_level)))
    counts = []
    for j in range(conv.out_channels):
        def swap(m, i, o, j=j):
            o = o.clone()
            o[:, j] = clean_out["y"][:, j]
            return o
        handle = conv.register_forward_hook(swap)
        counts.append(int((model(distorted).argmax(1) == labels).sum()))
        handle.remove()
    base = int((model(distorted).argmax(1) == labels).sum())
    return torch.tensor(counts), base


def _small_resnet():
    return torchvision.models.resnet18(num_classes=10)


CASES = [
    ("allconv", lambda: AllConvBN(10, width=0.125), 32, ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6"),
     "cifar"),
    pytest.param("caffe-alexnet", lambda: CaffeAlexNet(num_classes=10), 227, ("conv2",), "imagenet",
                 marks=pytest.mark.slow, id="caffe-alexnet"),
    pytest.param("tv-alexnet", lambda: TorchvisionAlexNet(num_classes=10), 224, ("net.features.3",), "imagenet",
                 marks=pytest.mark.slow, id="tv-alexnet"),
    pytest.param("resnet18", _small_resnet, 32, ("conv1", "layer1.0.conv2", "layer2.0.downsample.0"), "cifar",
                 marks=pytest.mark.slow, id="resnet18"),
]


@pytest.mark.parametrize("name,make,size,layers,family", CASES)
def test_fast_counts_equal_the_literal_algorithm(name, make, size, layers, family):
    """Both fast variants — suffix only in the default layout, and suffix plus the next conv's one-channel
    shortcut in NHWC — must reproduce the literal counts exactly."""
    torch.manual_seed(0)
    model = make().eval()
    g = torch.Generator().manual_seed(1)
    n = 12 if size == 32 else 3
    images = (torch.rand(n, 3, size, size, generator=g) * 255).to(torch.uint8)
    labels = model(images.float()).argmax(1).detach()  # random nets: make the clean predictions the labels
    labels[::3] = (labels[::3] + 1) % 10
    data = TensorData(images, labels, tuple(map(str, range(10))))
    levels = (2, 5) if size == 32 else (4,)  # AlexNet-sized inputs: one level keeps the reference loop short
    cfg = RankingConfig(kinds=("awgn",), levels=levels, layers=layers, chunk_filters=7, chunk_images=1000)
    with torch.inference_mode():
        rankings = [rank_filters(model, data, family, replace(cfg, shortcut=sc, channels_last=sc), progress=False)
                    for sc in (False, True)]
        for layer in layers:
            for li, level in enumerate(cfg.levels):
                expected, base = reference_counts(model, layer, images.float(), labels, "awgn", level, family,
                                                  noise_seed(cfg.seed, "awgn", level, 0))
                for ranking in rankings:
                    assert torch.equal(ranking.counts[layer][0, li], expected), (layer, level)
                    assert int(ranking.base[0, li]) == base


@pytest.mark.parametrize("kind", ["blur", "awgn"])
def test_images_seen_cropped_are_ranked_distorted_whole_then_cropped(kind):
    """The release's ImageNet order (distort the whole image, then crop): the fast counts equal the literal
    algorithm fed the same crops of the same distorted images."""
    torch.manual_seed(0)  # a small net whose predictions depend on the input (a random All-Conv-BN's do not)
    model = nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 8, 3), relu1=nn.ReLU(), conv2=nn.Conv2d(8, 8, 3),
                                      relu2=nn.ReLU(), pool=nn.AdaptiveAvgPool2d(4), flat=nn.Flatten(),
                                      fc=nn.Linear(128, 10))).eval()
    images = (torch.rand(24, 3, 40, 40, generator=torch.Generator().manual_seed(3)) * 255).to(torch.uint8)
    cfg = RankingConfig(kinds=(kind,), levels=(6,), layers=("conv2",), chunk_filters=5, chunk_images=1000)
    g = torch.Generator().manual_seed(noise_seed(cfg.seed, kind, 6, 0))
    with torch.inference_mode():  # labels: the predictions on the right images, so any other images lose some
        labels = model(distort(images.float(), kind, 6, "imagenet", generator=g)[..., 4:36, 4:36]).argmax(1)
    data = TensorData(images, labels, tuple(map(str, range(10))), crop=32)
    with torch.inference_mode():
        ranking = rank_filters(model, data, "imagenet", cfg, progress=False)
        expected, base = reference_counts(model, "conv2", images.float(), data.labels, kind, 6, "imagenet",
                                          noise_seed(cfg.seed, kind, 6, 0), cropped=data.cropped)
    assert base == int(ranking.base[0, 0]) == 24 and len(labels.unique()) > 2
    assert torch.equal(ranking.counts["conv2"][0, 0], expected)


@pytest.fixture(scope="module")
def small_ranking():
    torch.manual_seed(0)
    model = AllConvBN(10, width=0.125).eval()
    g = torch.Generator().manual_seed(2)
    images = (torch.rand(20, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    labels = torch.arange(20) % 10
    data = TensorData(images, labels, tuple(map(str, range(10))))
    return model, data, rank_filters(model, data, "cifar", RankingConfig(chunk_filters=32), progress=False)


def test_literal_method_gives_the_same_counts(small_ranking):
    model, data, fast = small_ranking
    literal = rank_filters(model, data, "cifar", RankingConfig(kinds=("blur",), levels=(3,)), method="literal",
                           progress=False)
    for layer in literal.layers:
        assert torch.equal(literal.counts[layer][0, 0], fast.counts[layer][0, 2])


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


def test_ideal_correction_of_every_filter_restores_clean_accuracy(small_ranking):
    model, data, _ = small_ranking
    clean = ideal_accuracy(model, data, "blur", 0, "cifar", {})
    full = ideal_accuracy(model, data, "awgn", 6, "cifar", {"conv1": range(12)})
    assert full == clean
    none = ideal_accuracy(model, data, "awgn", 6, "cifar", {"conv1": []})
    from deepcorrect.evaluate import accuracy
    assert none == accuracy(model, data, "awgn", 6, "cifar")


def test_ranking_set_is_per_class_and_bounded():
    labels = torch.arange(30) % 3
    data = TensorData(torch.zeros(30, 3, 4, 4, dtype=torch.uint8), labels, ("a", "b", "c"))
    assert torch.bincount(ranking_set(data, 4, 0).labels).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="needs 11 images per class but the split has only 10"):
        ranking_set(data, 11, 0)


def test_bad_ranking_input_is_a_clear_error(small_ranking):
    model, data, r = small_ranking
    with pytest.raises(ValueError, match="unknown layer 'conv99'"):
        rank_filters(model, data, "cifar", RankingConfig(layers=("conv99",)), progress=False)
    with pytest.raises(ValueError, match="is a BatchNorm2d, not a conv layer"):
        rank_filters(model, data, "cifar", RankingConfig(layers=("bn1",)), progress=False)
    for beta in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"β must be in \(0, 1\]"):
            select_local(r, "blur", beta)
    with pytest.raises(ValueError, match="differ in shape"):
        split = SuffixSplit(model, "conv1")
        split.swap_counts(torch.zeros(2, 12, 32, 32), torch.zeros(3, 3, 32, 32), torch.zeros(3, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="levels must be a non-empty subset"):
        RankingConfig(levels=(0,))
    with pytest.raises(ValueError, match="unknown ranking method"):
        rank_filters(model, data, "cifar", method="quick", progress=False)


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



#: Every way research code writes a ReLU, one per place in the network below.
_RELUS = (nn.functional.relu, torch.relu, lambda t: t.relu(), lambda t: t.relu_(),
          lambda t: nn.functional.relu(t, inplace=True), torch.relu_, nn.functional.relu_)


class _FunctionalBlock(nn.Module):
    def __init__(self, c: int, relu1, relu2):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu1, self.relu2 = relu1, relu2  # plain functions, not modules: the trace records calls

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + x)


class _FunctionalResNet(nn.Module):
    """A CIFAR ResNet as research code writes it: no ReLU module anywhere."""

    def __init__(self, c: int = 6):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.blocks = nn.Sequential(*(_FunctionalBlock(c, _RELUS[1 + 2 * i], _RELUS[2 + 2 * i]) for i in range(3)))
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        x = self.blocks(nn.functional.relu(self.bn1(self.conv1(x / 255 - 0.5))))
        return self.fc(x.mean((2, 3)))


def test_functional_relus_get_the_shortcut_and_in_place_suffix_and_exact_counts():
    """F.relu, torch.relu, relu_, .relu() and inplace=True in a ResNet: the trace sees each as the per-channel
    map an nn.ReLU is (so each block's conv2 takes the one-channel shortcut and the suffix's ReLUs run in
    place), and the fast counts still equal Algorithm 1 exactly."""
    torch.manual_seed(0)
    model = _FunctionalResNet().eval()
    for m in model.modules():  # BN statistics away from the identity, so folding them is tested too
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 2)
    layers = ("conv1", "blocks.0.conv1", "blocks.1.conv1", "blocks.2.conv1", "blocks.1.conv2")
    split = SuffixSplit(model, "blocks.0.conv1", shortcut=True)
    assert [SuffixSplit(model, f"blocks.{i}.conv1", shortcut=True).next_conv.target for i in range(3)] == [
        f"blocks.{i}.conv2" for i in range(3)]
    assert len(split.inplace) == len(_RELUS)  # each reads a value nothing else reads: it may overwrite it
    g = torch.Generator().manual_seed(4)
    images = (torch.rand(16, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    with torch.no_grad():
        labels = model(images.float()).argmax(1)
    labels[::3] = (labels[::3] + 1) % 10
    data = TensorData(images, labels, tuple(map(str, range(10))))
    cfg = RankingConfig(kinds=("awgn",), levels=(4,), layers=layers, chunk_filters=4, chunk_images=1000)
    with torch.inference_mode():
        ranking = rank_filters(model, data, "cifar", cfg, progress=False)
        for layer in layers:
            expected, base = reference_counts(model, layer, images.float(), labels, "awgn", 4, "cifar",
                                              noise_seed(cfg.seed, "awgn", 4, 0))
            assert torch.equal(ranking.counts[layer][0, 0], expected), layer
            assert int(ranking.base[0, 0]) == base

def test_mac_counts_of_the_bound_are_the_layers_own_costs():
    """All-Conv-BN at width 0.125 (12 / 24 filters): conv8 (1×1, 24→24) and conv9 (1×1, 24→10) run on 6×6."""
    from deepcorrect.ranking import layer_macs, literal_macs, ranking_macs

    net = AllConvBN(10, width=0.125)
    x = torch.zeros(1, 3, 32, 32)
    macs = layer_macs(net, x)
    assert list(macs) == [f"conv{i}" for i in range(1, 10)]
    assert macs["conv1"] == 12 * 3 * 9 * 32 * 32 and macs["conv9"] == 10 * 24 * 36
    assert ranking_macs(net, ["conv9"], x, shortcut=False) == 0
    assert ranking_macs(net, ["conv8"], x, shortcut=False) == 24 * macs["conv9"]
    assert ranking_macs(net, ["conv8"], x) == 24 * macs["conv9"] // 24  # the next conv at 1/C_in of its cost
    assert literal_macs(net, ["conv1", "conv2"], x) == 2 * sum(macs.values()) * 24


def test_float32_ranking_turns_tf32_off_inside_and_restores_it():
    from deepcorrect.runtime import float32_exact

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with float32_exact(True):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        with float32_exact(False):  # bf16 rankings leave the settings alone
            assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_filters_per_run_fills_half_the_free_gpu_memory_and_keeps_the_cpu_small(monkeypatch):
    from deepcorrect.ranking import filters_per_run
    assert filters_per_run(torch.device("cpu"), 10**6, 96) == 4
    assert filters_per_run(torch.device("cpu"), 10**6, 3) == 3
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (80 * 2**30, 141 * 2**30))
    cuda = torch.device("cuda", 0)
    assert filters_per_run(cuda, 2**30, 96) == 40  # 40 GiB free for copies of 1 GiB
    assert filters_per_run(cuda, 2**20, 96) == 96  # all of the layer in one run
    assert filters_per_run(cuda, 2**40, 96) == 1  # never fewer than one


def test_suffix_bytes_counts_what_the_suffix_computes_and_reads():
    from deepcorrect.ranking import SuffixSplit, activation_bytes, trace
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
