import pytest
import torch
from torch import nn

from deepcorrect.correction import weight_layers
from deepcorrect.models import (ARCHS, AllConvBN, CaffeAlexNet, TorchvisionAlexNet, build_model, capture, conv_layers,
                                count_params, get_conv, load_weights, swap_filters)
from deepcorrect.ranking import ranked_layers
from deepcorrect.ranking.suffix import trace


def test_allconv_has_the_papers_parameter_counts():
    net = AllConvBN(num_classes=100)
    assert count_params(net) == 1_389_804
    per_layer = [count_params(getattr(net, f"conv{i}")) + count_params(getattr(net, f"bn{i}")) for i in range(1, 10)]
    assert per_layer == [2_880, 83_232, 83_232, 166_464, 332_352, 332_352, 332_352, 37_440, 19_500]
    assert sum(get_conv(net, f"conv{i}").out_channels for i in range(1, 7)) == 864


def test_allconv_shapes_and_width_multiplier():
    net = AllConvBN(num_classes=10, width=0.25).eval()
    x = torch.rand(2, 3, 32, 32) * 255
    with capture(net, ["conv3", "conv6", "conv7"]) as out:
        y = net(x)
    assert y.shape == (2, 10)
    assert out["conv3"].shape == (2, 24, 16, 16)
    assert out["conv6"].shape == (2, 48, 8, 8)
    assert out["conv7"].shape == (2, 48, 6, 6)


def test_caffe_alexnet_has_the_papers_parameter_counts_and_sizes():
    net = CaffeAlexNet().eval()
    assert count_params(net) == 60_965_224
    assert sum(count_params(get_conv(net, n)) for n in conv_layers(net)) == 2_334_080
    assert sum(count_params(getattr(net, f"fc{i}")) for i in (6, 7, 8)) == 58_631_144
    x = torch.rand(1, 3, 227, 227) * 255
    with capture(net, conv_layers(net)) as out:
        assert net(x).shape == (1, 1000)
    assert [out[n].shape[-1] for n in conv_layers(net)] == [55, 27, 13, 13, 13]
    assert sum(out[n].shape[1] for n in conv_layers(net)) == 1376


def test_torchvision_alexnet_loads_a_local_weights_file(tmp_path):
    from torchvision.models import alexnet

    reference = alexnet(weights=None)
    assert count_params(reference) == 61_100_840
    path = tmp_path / "alexnet.pth"
    torch.save(reference.state_dict(), path)
    net = load_weights(TorchvisionAlexNet(), path).eval()
    x = torch.rand(1, 3, 224, 224) * 255
    expected = reference.eval()(net.norm(x))
    assert torch.allclose(net(x), expected, atol=1e-5)


def test_missing_and_corrupt_weights_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_weights(AllConvBN(10), tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read weights"):
        load_weights(AllConvBN(10), bad)


def test_layer_addressing_works_on_any_module_and_names_valid_layers():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3))
    assert conv_layers(net) == ["0", "2"]
    with pytest.raises(ValueError, match="unknown layer 'conv9'; the conv layers of this model are: 0, 2"):
        get_conv(net, "conv9")
    with pytest.raises(ValueError, match="is a ReLU, not a conv layer"):
        get_conv(net, "1")


def test_swap_filters_replaces_exactly_the_chosen_channels_and_hooks_are_removed():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1)).eval()
    clean, noisy = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    with capture(net, "0") as acts:
        net(clean)
    with swap_filters(net, "0", [1, 3], acts["0"]), capture(net, ["0", "2"]) as swapped:
        net(noisy)
    plain = net[0](noisy)
    assert torch.equal(swapped["0"][:, [1, 3]], acts["0"][:, [1, 3]])
    assert torch.equal(swapped["0"][:, [0, 2]], plain[:, [0, 2]])
    assert not net[0]._forward_hooks


#: The input each architecture takes (Caffe's AlexNet crops 227 px, torchvision's 224 px, CIFAR networks 32 px).
INPUT_SIZE = {"allconv": 32, "alexnet_caffe": 227, "alexnet_tv": 224}


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_builds_classifies_and_is_ranked_by_the_suffix_engine(arch):
    """One test for every network of the catalogue: built from its name, it maps a batch to class scores, its
    conv layers are addressable and the ranking's torch.fx trace reproduces its forward pass exactly."""
    torch.manual_seed(0)
    width = 1.0 if arch.startswith("alexnet") or arch.startswith("resnet") else 0.25
    net = build_model(arch, 7, width).eval()
    size = INPUT_SIZE.get(arch, 32)
    x = torch.rand(2, 3, size, size) * 255
    with torch.no_grad():
        out = net(x)
        traced = trace(net)(x)
    assert out.shape == (2, 7)
    assert torch.equal(out, traced)
    layers = ranked_layers(net)
    assert layers and all(isinstance(get_conv(net, name), torch.nn.Conv2d) for name in layers)
    assert len(weight_layers(net)) == len(conv_layers(net)) + sum(
        isinstance(m, torch.nn.Linear) for m in net.modules())
