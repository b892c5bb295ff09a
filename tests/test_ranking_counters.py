"""The counters: the fast path's counts equal a literal Algorithm 1 written here as the reference, for every
architecture the fast path ranks (All-Conv-BN, both AlexNets, a torchvision ResNet, functional ReLUs, crops)."""

from collections import OrderedDict
from dataclasses import replace

import pytest
import torch
import torchvision
from torch import nn

from deepcorrect.config import RankingConfig
from deepcorrect.data import TensorData
from deepcorrect.distortions import distort, noise_seed
from deepcorrect.models import AllConvBN, CaffeAlexNet, TorchvisionAlexNet, get_conv
from deepcorrect.ranking import rank_filters
from deepcorrect.ranking.suffix import SuffixSplit


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


def test_literal_method_gives_the_same_counts(small_ranking):
    model, data, fast = small_ranking
    literal = rank_filters(model, data, "cifar", RankingConfig(kinds=("blur",), levels=(3,)), method="literal",
                           progress=False)
    for layer in literal.layers:
        assert torch.equal(literal.counts[layer][0, 0], fast.counts[layer][0, 2])


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
