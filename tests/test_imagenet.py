"""§5.2–5.3: AlexNet at any width, model names with unit variants, restoration, per-class accuracy, transfer."""

import numpy as np
import pytest
import torch
from PIL import Image

from deepcorrect import corrected_models, model_names
from deepcorrect.config import RestoreConfig, TransferConfig, alexnet_profile, resolve
from deepcorrect.context import Run
from deepcorrect.correction import CorrectedConv, finetune_model
from deepcorrect.data import TensorData, load_transfer
from deepcorrect.data.folders import _decode
from deepcorrect.distortions import gaussian_blur
from deepcorrect.evaluate import accuracy, per_class_accuracy
from deepcorrect.models import CaffeAlexNet, build_model, count_params
from deepcorrect.restoration import blur_psf, restore_batch, restore_image
from deepcorrect.sections.imagenet_analysis import restoration_subset
from deepcorrect.store import Store
from deepcorrect.transfer import feature_module, make_splits, svm_accuracy


def test_caffe_alexnet_width_scales_every_layer_and_keeps_the_paper_count_at_full_width():
    assert count_params(CaffeAlexNet(1000)) == 60_965_224
    small = CaffeAlexNet(10, width=0.25)
    assert [small.get_submodule(f"conv{i}").out_channels for i in range(1, 6)] == [24, 64, 96, 96, 64]
    assert small.fc6.out_features == 1024 and small.fc8.out_features == 10
    assert small.eval()(torch.zeros(2, 3, 72, 72)).shape == (2, 10)  # the adaptive pool lets 72 px through
    with pytest.raises(ValueError, match="one width"):
        build_model("alexnet_tv", 10, 0.5)


def test_the_adaptive_pool_is_the_identity_at_227_px():
    net = CaffeAlexNet(10, width=0.25).eval()
    x = torch.rand(1, 3, 227, 227) * 255
    feats = {}
    net.pool5.register_forward_hook(lambda _m, _i, y: feats.__setitem__("pool5", y))
    net.fit6.register_forward_hook(lambda _m, _i, y: feats.__setitem__("fit6", y))
    net(x)
    assert feats["pool5"].shape[-1] == 6 and torch.equal(feats["pool5"], feats["fit6"])


def test_alexnet_model_names_carry_the_unit_variant():
    assert model_names.parse_model("Deepcorr-5-lite").variant == "lite"
    assert model_names.parse_model("Deepcorr-5-no-bn").variant == "nobn"
    assert model_names.parse_model("Deepcorr-5-bottleneck").variant == "bottleneck"
    spec = model_names.parse_model("Deepcorr-5c")
    assert (spec.k, spec.train_last, spec.variant) == (5, 3, "")
    assert model_names.parse_model("Deepcorr-5-global").selection == "global"
    with pytest.raises(ValueError, match="unknown model name"):
        model_names.parse_model("Deepcorr-5-wide")


def test_finetune_8_trains_every_alexnet_parameter():
    net = CaffeAlexNet(10, width=0.25)
    assert corrected_models._finetune_k(net, 8) is None
    ft = finetune_model(net, corrected_models._finetune_k(net, 8))
    assert count_params(ft, trainable_only=True) == count_params(net)
    cfg = resolve("smoke-alexnet")
    corrected_models.check_specs(cfg, 10, [model_names.parse_model("Finetune-8"), model_names.parse_model("Deepcorr-5")])
    with pytest.raises(ValueError, match="1 ≤ k ≤ 5"):
        corrected_models.check_specs(cfg, 10, [model_names.parse_model("Finetune-7")])


def test_deepcorr_5_variants_build_on_the_ranked_alexnet_selection():
    cfg = resolve("smoke-alexnet")
    net = CaffeAlexNet(10, width=0.25)
    rank = _random_ranking_of(net)
    for name, variant in (("Deepcorr-5", "cw"), ("Deepcorr-5-lite", "lite"), ("Deepcorr-5-no-bn", "nobn")):
        model, chosen = corrected_models.build(cfg, net, rank, "blur", model_names.parse_model(name))
        wrapped = [m for m in model.modules() if isinstance(m, CorrectedConv)]
        assert len(wrapped) == 5, name
        assert [len(v) for v in chosen.values()] == [18, 48, 48, 48, 32]  # β = .75, .75, .5, .5, .5 of 24…64
        assert chosen["conv1"] == sorted(rank.order("conv1", "blur")[:18].tolist())
        has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for w in wrapped for m in w.unit.modules())
        assert has_bn == (variant != "nobn"), name
        assert count_params(model, trainable_only=True) == sum(count_params(w.unit) for w in wrapped)


def test_blur_psf_is_the_kernel_the_distortion_applies():
    from scipy.ndimage import convolve

    img = torch.rand(1, 1, 40, 40, dtype=torch.float64) * 255
    ours = gaussian_blur(img, 2.0)[0, 0].numpy()
    ref = convolve(img[0, 0].numpy(), blur_psf(2.0), mode="constant", cval=0.0)
    assert blur_psf(2.0).shape == (9, 9) and abs(blur_psf(2.0).sum() - 1) < 1e-12
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def _photo(size: int = 64) -> torch.Tensor:
    from skimage import data

    img = torch.from_numpy(data.astronaut()[100:100 + 4 * size:4, 150:150 + 4 * size:4].copy()).permute(2, 0, 1)
    return img[None].double()


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(255.0**2 / ((a - b) ** 2).mean()))


def test_richardson_lucy_and_wiener_undo_part_of_a_known_blur():
    clean = _photo()
    blurred = gaussian_blur(clean, 1.0)
    for deblur in ("richardson_lucy", "wiener"):
        restored, seconds = restore_batch(blurred.float(), "blur", 1.0, RestoreConfig(deblur=deblur, workers=1))
        inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))  # away from the zero border
        assert _psnr(restored.double()[inner], clean[inner]) > _psnr(blurred[inner], clean[inner]) + 1, deblur
        assert seconds > 0


def test_bm3d_denoises_awgn_with_known_sigma():
    clean = _photo(48)
    noisy = clean + 30 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    restored = torch.from_numpy(restore_image(noisy[0].permute(1, 2, 0).numpy(), "awgn", 30.0, RestoreConfig()))
    assert _psnr(restored.permute(2, 0, 1)[None].double(), clean) > _psnr(noisy, clean) + 4
    with pytest.raises(ValueError, match="no restoration"):
        restore_image(noisy[0].permute(1, 2, 0).numpy(), "jpeg", 1.0, RestoreConfig())


def test_clean_images_are_not_touched_by_restoration():
    x = torch.rand(2, 3, 8, 8) * 255
    out, seconds = restore_batch(x, "awgn", 0.0, RestoreConfig())
    assert out is x and seconds == 0.0


def test_restoration_subset_spreads_the_cap_over_classes(tmp_path):
    cfg = resolve("smoke-alexnet", restore_per_class=2, restore_max=5, correct_test_per_class=4)
    labels = torch.arange(10).repeat_interleave(6)
    test = TensorData(torch.zeros(60, 3, 4, 4, dtype=torch.uint8), labels, tuple("abcdefghij"))

    class Data:  # the three splits of splits.Splits
        train, val = test, None
    Data.test = test
    picked = restoration_subset(Run.of(cfg, Store(tmp_path)), Data)
    assert len(picked) == 5 and len(set(picked.labels.tolist())) == 5


def test_per_class_accuracy_averages_back_to_accuracy():
    torch.manual_seed(0)
    net = CaffeAlexNet(3, width=0.125).eval()
    data = TensorData((torch.rand(12, 3, 72, 72) * 255).to(torch.uint8), torch.tensor([0, 1, 2] * 4), ("a", "b", "c"))
    per = per_class_accuracy(net, data, "awgn", 2, "imagenet", batch_size=5)
    total = accuracy(net, data, "awgn", 2, "imagenet", batch_size=5)
    assert per.shape == (3,) and abs(float(per.mean()) - total) < 1e-12  # balanced classes


def test_splits_are_seeded_disjoint_and_sized():
    labels = torch.arange(4).repeat_interleave(12)
    splits = make_splits(labels, 3, 5, 2, seed=1)
    assert len(splits) == 3
    for tr, va, te in splits:
        assert len(tr) == 20 and len(va) == 8 and len(te) == 20
        assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
    again = make_splits(labels, 3, 5, 2, seed=1)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again))
    assert not np.array_equal(splits[0][0], splits[1][0])
    with pytest.raises(ValueError, match="at least one to test"):
        make_splits(labels, 1, 10, 2, seed=0)


def test_svm_picks_c_on_validation_and_separates_separable_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20)) * 5

    def draw(n):
        y = np.repeat(np.arange(3), n)
        return np.maximum(centres[y] + rng.normal(size=(len(y), 20)), 0) + 1, y

    for solver in ("liblinear", "lbfgs"):
        acc, c = svm_accuracy(draw(10), draw(3), [draw(20), draw(5)], (0.1, 1.0, 10.0), solver=solver)
        assert len(acc) == 2 and min(acc) > 0.95 and c in (0.1, 1.0, 10.0)
    with pytest.raises(ValueError, match="unknown SVM solver 'sgd'"):
        svm_accuracy(draw(10), draw(3), [draw(5)], (1.0,), solver="sgd")


@pytest.mark.parametrize("c", [0.1, 1.0, 10.0])
def test_the_torch_svm_reaches_liblinears_minimum(c):
    """Same objective (squared hinge, L2, one-vs-rest, regularised intercept): the same minimum to 1e-5 and
    the same predictions, on overlapping classes where the margin constraints bind."""
    from sklearn.preprocessing import normalize
    from sklearn.svm import LinearSVC

    from deepcorrect.linear_svm import TorchLinearSVC

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(6, 40))
    y = rng.integers(0, 6, 400)
    x = normalize(np.maximum(centres[y] + 2 * rng.normal(size=(400, 40)), 0))
    x_test = normalize(np.maximum(centres[y[:200]] + 2 * rng.normal(size=(200, 40)), 0))

    def objective(coef, intercept):
        t = np.where(y[:, None] == np.arange(6), 1.0, -1.0)
        slack = np.maximum(0, 1 - t * (x @ coef.T + intercept))
        return 0.5 * ((coef ** 2).sum() + (intercept ** 2).sum()) + c * (slack ** 2).sum()

    ref = LinearSVC(C=c, tol=1e-8, max_iter=100_000).fit(x, y)
    ours = TorchLinearSVC(C=c).fit(x, y)
    assert objective(ours.coef_, ours.intercept_) == pytest.approx(objective(ref.coef_, ref.intercept_), rel=1e-5)
    assert (ours.predict(x_test) == ref.predict(x_test)).mean() >= 0.99
    warm = TorchLinearSVC(C=c, init=ours.weights_).fit(x, y)  # from the optimum: next to nothing left to do
    assert warm.n_iter_ <= 5 < ours.n_iter_


def test_features_come_from_fc6_or_fc7_after_relu():
    assert feature_module(CaffeAlexNet(10, width=0.25), "fc6") == "relu6"
    assert feature_module(build_model("alexnet_tv", 10), "fc7") == "net.classifier.5"
    with pytest.raises(ValueError, match="AlexNet"):
        feature_module(build_model("allconv", 10, 0.125), "fc6")


def test_transfer_folder_loads_class_folders_without_the_background_class(tmp_path, cache_dir):
    root = tmp_path / "caltech101" / "101_ObjectCategories"
    for cls, n in (("ant", 5), ("bee", 6), ("BACKGROUND_Google", 4)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((30, 50, 3), 40 * i, np.uint8)).save(root / cls / f"image_{i:04d}.jpg")
    data_cfg = resolve("smoke-alexnet").data
    data_cfg = type(data_cfg)(**{**data_cfg.__dict__, "cache_dir": str(cache_dir), "image_size": 24, "crop": 20})
    cfg = TransferConfig(transfer_source="folder", transfer_root=str(tmp_path), svm_train_per_class=2,
                         svm_val_per_class=1)
    data = load_transfer(cfg, data_cfg)
    assert data.classes == ("ant", "bee") and len(data) == 11 and data.images.shape[1:] == (3, 24, 24)
    assert data.crop == 20 and data.input_size == 20  # the transfer images are seen as the network sees its own
    with pytest.raises(ValueError, match="has only 5 images"):
        load_transfer(TransferConfig(transfer_source="folder", transfer_root=str(tmp_path), svm_train_per_class=4,
                                     svm_val_per_class=1), data_cfg)
    with pytest.raises(FileNotFoundError, match="transfer_root"):
        load_transfer(TransferConfig(transfer_source="folder", transfer_root=str(tmp_path / "nope")), data_cfg)


def test_images_are_resized_then_centre_cropped(tmp_path):
    Image.fromarray(np.zeros((50, 100, 3), np.uint8)).save(tmp_path / "wide.png")
    assert _decode(tmp_path / "wide.png", 32, resize=40).shape == (3, 32, 32)
    assert _decode(tmp_path / "wide.png", 32).shape == (3, 32, 32)


def test_alexnet_profiles_and_their_bad_inputs():
    assert alexnet_profile("smoke") == "smoke-alexnet" and alexnet_profile("imagenette") == "imagenette"
    assert alexnet_profile("cifar10-jpg") == "imagenette"
    with pytest.raises(ValueError, match="unknown profile"):
        alexnet_profile("mnist")
    with pytest.raises(ValueError, match="resize"):
        resolve("smoke-alexnet", resize=50)
    with pytest.raises(ValueError, match="transfer_root"):
        resolve("smoke-alexnet", transfer_source="folder")
    with pytest.raises(ValueError, match="deblur"):
        resolve("smoke-alexnet", deblur="ncsr")
    assert resolve("smoke-alexnet", svm_c="0.5, 2").transfer.svm_c == (0.5, 2.0)
    with pytest.raises(ValueError, match="svm_solver"):
        resolve("smoke-alexnet", svm_solver="sgd")


def test_deepcorr_5_and_finetune_8_build_on_torchvision_alexnet_too():
    cfg = resolve("smoke-alexnet", arch="alexnet_tv", width=1.0)
    net = build_model("alexnet_tv", 10)
    rank = _random_ranking_of(net)
    model, chosen = corrected_models.build(cfg, net, rank, "awgn", model_names.parse_model("Deepcorr-5c"))
    assert [len(v) for v in chosen.values()] == [48, 144, 192, 128, 128]  # β = .75, .75, .5, .5, .5 of 64…256
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad and ".unit." not in n}
    assert trainable == {"net.classifier.1", "net.classifier.4", "net.classifier.6"}  # fc6–fc8
    finetune = corrected_models.build(cfg, net, rank, "awgn", model_names.parse_model("Finetune-8"))[0]
    assert count_params(finetune, trainable_only=True) == count_params(net)


def _random_ranking_of(net):
    from deepcorrect.models import conv_layers
    from deepcorrect.ranking import Ranking

    g = torch.Generator().manual_seed(1)
    layers = conv_layers(net)
    counts = {ly: torch.randint(0, 50, (2, 6, net.get_submodule(ly).out_channels), generator=g) for ly in layers}
    return Ranking(layers, ["blur", "awgn"], list(range(1, 7)), 50, torch.full((2, 6), 25), counts)
