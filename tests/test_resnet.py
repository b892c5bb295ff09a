"""The CIFAR ResNets: architecture, the pretrained files (loaded, refused, fetched), the profiles built on them."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import REPO

from deepcorrect import keys
from deepcorrect.book import run_notebooks
from deepcorrect.config import RankingConfig, resolve
from deepcorrect.correction import weight_layers
from deepcorrect.data import TensorData
from deepcorrect.data.folders import load_folder_split, resolve_tree
from deepcorrect.models import AllConvBN, CifarResNet, build_model, conv_layers, fetch_pretrained, load_weights
from deepcorrect.ranking import rank_filters
from deepcorrect.sections.cifar_analysis import paper_row_names, table3_models


@pytest.mark.parametrize("depth,convs,params", [(20, 19, 269_722), (32, 31, 464_154), (44, 43, 658_586),
                                                (56, 55, 853_018), (110, 109, 1_727_962)])
def test_depths_have_6n_plus_2_layers_and_he_et_al_parameter_counts(depth, convs, params):
    net = build_model(f"resnet{depth}", 10)
    assert len(conv_layers(net)) == convs and len(weight_layers(net)) == depth
    assert sum(p.numel() for p in net.parameters()) == params  # He et al.: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M


def test_option_a_shortcut_halves_space_and_pads_channels():
    net = CifarResNet(20).eval()
    x = torch.randn(2, 16, 8, 8)
    y = net.layer2[0].shortcut(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2]) and not y[:, :8].any() and not y[:, 24:].any()


def test_bad_depths_and_widths_are_refused():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        CifarResNet(18)
    with pytest.raises(ValueError, match="one width"):
        build_model("resnet20", 10, width=0.5)
    with pytest.raises(ValueError, match="one width"):
        resolve("resnet20-cifar10", width=0.5)


@pytest.fixture(scope="module")
def cifar_test(tmp_path_factory):
    """50 JPEG test images per class (fixed seed) of the CIFAR-10 tree in the data folder."""
    from conftest import SHARED_DATA

    if not (SHARED_DATA / "cifar10-jpg.tar.gz").is_file():
        pytest.skip(f"{SHARED_DATA} is not present")
    cfg = resolve("resnet20-cifar10", test_per_class=50, root=str(SHARED_DATA / "cifar10-jpg.tar.gz"),
                  cache_dir=str(tmp_path_factory.mktemp("cache")))
    tree = resolve_tree(cfg.data.root, cfg.data.cache_dir)
    return TensorData(*load_folder_split(tree, "test", cfg.data))


@pytest.mark.parametrize("arch,expected", [("resnet20", 0.808), ("resnet56", 0.848)])
def test_pretrained_weights_load_and_classify_a_fixed_subset(cifar_test, arch, expected):
    """500 JPEG test images: the accuracy measured when this test was written (the original CIFAR-10 test set
    gives 0.9173 and 0.9339; the JPEG export costs these networks 10-15 points, see page 01)."""
    from conftest import SHARED_DATA

    cfg = resolve(f"{arch}-cifar10")
    net = load_weights(build_model(arch, 10), SHARED_DATA / "pretrained" / Path(cfg.model.weights).name).eval()
    with torch.inference_mode():
        acc = float((net(cifar_test.images.float()).argmax(1) == cifar_test.labels).float().mean())
    assert acc == pytest.approx(expected, abs=0.005)


def test_a_plain_state_dict_without_module_prefix_loads_too(tmp_path):
    net = CifarResNet(20)
    path = tmp_path / "plain.pt"
    torch.save(net.state_dict(), path)
    other = load_weights(CifarResNet(20), path)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))


def test_a_wrong_depth_or_a_foreign_file_is_refused_with_what_was_expected(tmp_path):
    path = tmp_path / "r20.th"
    torch.save({"best_prec1": 90.0, "state_dict": {f"module.{k}": v for k, v in CifarResNet(20).state_dict().items()}},
               path)
    with pytest.raises(ValueError, match="holds a ResNet-20 .* but the model is ResNet-56"):
        load_weights(CifarResNet(56), path)
    foreign = tmp_path / "allconv.pt"
    torch.save(AllConvBN(10, width=0.25).state_dict(), foreign)
    with pytest.raises(ValueError, match="not a CIFAR ResNet checkpoint"):
        load_weights(CifarResNet(20), foreign)
    junk = tmp_path / "junk.th"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read weights"):
        load_weights(CifarResNet(20), junk)
    with pytest.raises(FileNotFoundError, match="download=true"):
        load_weights(CifarResNet(20), tmp_path / "missing.th")


def test_fetching_checks_the_checksum_and_keeps_nothing_bad(shared_data, tmp_path):
    """The download path, served from a local file as if downloaded."""
    good = shared_data / "pretrained" / "resnet20-12fca82f.th"
    got = fetch_pretrained("resnet20", tmp_path / "w", url=good.as_uri())
    assert got.name == good.name and got.read_bytes() == good.read_bytes()
    bad = tmp_path / "bad.th"
    bad.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ValueError, match="SHA-256"):
        fetch_pretrained("resnet20", tmp_path / "w2", url=bad.as_uri())
    assert list((tmp_path / "w2").iterdir()) == []


def test_download_takes_torchvision_cifar_when_the_shared_data_is_absent(tmp_path):
    present = resolve("resnet20-cifar10", download=True, root=str(tmp_path))
    assert present.data.source == "folder"
    absent = resolve("resnet20-cifar10", download=True, root=str(tmp_path / "none"))
    assert (absent.data.source, absent.data.root) == ("cifar10", "data/cifar10")
    assert resolve("resnet20-cifar10", root=str(tmp_path / "none")).data.source == "folder"  # no download: no switch


def test_weights_enter_artifact_keys_by_content(tmp_path):
    a, b = tmp_path / "a.th", tmp_path / "b.th"
    torch.save(CifarResNet(20).state_dict(), a)
    shutil.copy(a, b)
    key = lambda p: keys.artifact_key(resolve("resnet20-cifar10", model_weights=str(p)), "model")  # noqa: E731
    assert key(a) == key(b)  # moved: same result
    torch.manual_seed(1)
    torch.save(CifarResNet(20).state_dict(), b)
    assert key(a) != key(b)  # replaced: recomputed
    published = resolve("resnet20-cifar10", model_weights=str(tmp_path / "gone.th"))
    assert keys.artifact_key(published, "model")["model"]["weights"].startswith("sha256:12fca82f")


def test_residual_network_tables_use_its_full_finetune():
    rows = table3_models(CifarResNet(20))
    assert "Finetune-20" in rows and "Finetune-9" not in rows
    assert paper_row_names(rows)["Finetune-20"] == "Finetune-9"
    assert "Finetune-9" in table3_models(AllConvBN(100))


def test_fast_ranking_counts_equal_literal_on_the_pretrained_resnet20(cifar_test):
    """Exact counts on the real weights, across the residual additions and the option-A downsampling."""
    from conftest import SHARED_DATA

    cfg = resolve("resnet20-cifar10")
    net = load_weights(build_model("resnet20", 10), SHARED_DATA / "pretrained" / Path(cfg.model.weights).name).eval()
    data = cifar_test.per_class(2, 0)
    rc = RankingConfig(kinds=("blur", "awgn"), levels=(3,), chunk_filters=5,
                       layers=("conv1", "layer1.2.conv2", "layer2.0.conv1", "layer2.0.conv2", "layer3.2.conv2"))
    fast = rank_filters(net, data, "cifar", rc, progress=False)
    literal = rank_filters(net, data, "cifar", rc, method="literal", progress=False)
    assert torch.equal(fast.base, literal.base)
    for layer in rc.layers:
        assert torch.equal(fast.counts[layer], literal.counts[layer]), layer


@pytest.mark.slow
def test_the_resnet_profile_runs_pages_01_to_03(shared_data, tmp_path):
    if not (REPO / "data" / "pretrained").is_dir():
        pytest.skip("the profile reads data/…: link the data folder there (as CI does)")
    tiny = {"test_per_class": 6, "val_per_class": 3, "train_per_class": 12, "tsne_per_class": 3, "per_class": 1,
            "ideal_per_class": 2, "correct_epochs": 1, "correct_train_per_class": 2, "correct_test_per_class": 3,
            "draws": 1, "results_dir": str(tmp_path / "results"),
            "figure9": False}  # Figure 9's path is the smoke notebook test's; here it would train 8 more models
    outputs = run_notebooks(REPO, "resnet20-cifar10", tiny, out_dir=tmp_path, only=["01", "02", "03"],
                            log=lambda *_: None)
    assert len(outputs) == 3
    m1 = json.loads((tmp_path / "results" / "metrics" / "01_distortions_baselines.json").read_text())
    assert m1["profile"] == "resnet20-cifar10"
    m2 = json.loads((tmp_path / "results" / "metrics" / "02_ranking.json").read_text())
    assert len(m2["layers"]) == 19 and m2["layers"][0] == "conv1"
    m3 = json.loads((tmp_path / "results" / "metrics" / "03_deepcorrect_cifar.json").read_text())
    assert {"Finetune-20", "Deepcorr-6c"} <= set(m3["tables"]["blur"])
    assert m3["params"]["blur"]["Finetune-20"] == m3["params"]["blur"]["Baseline"] == 269_722
    assert {(r["kind"], r["k"]) for r in m3["deepcorr_vs_finetune"]} == {(k, n) for k in ("blur", "awgn")
                                                                         for n in (1, 3, 6)}
