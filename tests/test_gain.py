"""Page 04's parts: the release-exact unit, the base-network BN modes, the release's training options and the
baselines that correct no filter (BN-adapt, TENT, Finetune-BN)."""


import pytest
import torch
from torch import nn

from deepcorrect import corrected_models, model_names
from deepcorrect.adaptation import adapt_batchnorm, tent_model, tent_table
from deepcorrect.config import CorrectConfig, TrainConfig, resolve
from deepcorrect.correction import (
    ChannelTrainableBN,
    check_frozen,
    deepcorrect_model,
    finetune_bn_model,
    finetune_model,
    frozen_state,
    regulariser,
    set_training_mode,
)
from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.distortions import half_distorted
from deepcorrect.models import AllConvBN, build_model, count_params
from deepcorrect.train import fit


def _net(width=0.125):
    torch.manual_seed(0)
    return AllConvBN(10, width=width)


def _data(per_class=6):
    x, y = make_embedded(per_class, seed=0)
    return TensorData(x, y, CLASSES)


def _train(model, base_bn="frozen", epochs=1):
    cfg = TrainConfig(epochs=epochs, batch_size=20, lr=0.05, seed=1, weight_decay=0.0)
    return fit(model, _data(), cfg, progress=False,
               batch_transform=lambda x, g: half_distorted(x, "blur", "cifar", g),
               set_train_mode=lambda m: set_training_mode(m, base_bn))


def test_release_unit_has_the_tables_80954_parameters_for_50_filters():
    net = AllConvBN(100, width=1.0)
    release = deepcorrect_model(net, {"conv1": range(50)}, "release")
    identity = deepcorrect_model(net, {"conv1": range(50)}, "identity")
    assert count_params(release, trainable_only=True) == count_params(identity, trainable_only=True) == 80_954
    assert isinstance(release.bn1, ChannelTrainableBN) and release.bn1.own.weight.numel() == 50


def test_release_unit_trains_exactly_the_corrected_channels_gamma_and_beta():
    net = _net()
    picked = [0, 3, 5]
    model = deepcorrect_model(net, {"conv1": picked}, "release")
    x = torch.rand(4, 3, 32, 32) * 255
    assert not torch.equal(model.eval()(x), net.eval()(x))  # he_normal init: no identity start, as in the release
    frozen = frozen_state(model)
    own = model.bn1.own
    gamma, beta, mean = own.weight.detach().clone(), own.bias.detach().clone(), own.running_mean.clone()
    assert torch.equal(gamma, net.bn1.weight[picked]) and torch.equal(beta, net.bn1.bias[picked])
    assert torch.equal(mean, net.bn1.running_mean[picked])
    _train(model)
    check_frozen(model, frozen)  # the pretrained BN itself (every channel, its statistics) is bit-identical
    assert not torch.equal(own.weight, gamma) and not torch.equal(own.bias, beta)
    assert not torch.equal(own.running_mean, mean)  # the corrected channels' BN trains, as in the release


def test_release_unit_needs_a_batchnorm_after_the_conv():
    with pytest.raises(ValueError, match="release's unit ends in the BatchNorm after the corrected conv"):
        deepcorrect_model(build_model("alexnet_tv", 10), {"net.features.0": range(4)}, "release")


def test_adapting_base_bn_updates_frozen_statistics_and_nothing_else():
    net = _net()
    model = deepcorrect_model(net, {"conv1": range(4)}, "identity")
    frozen = frozen_state(model, "adapt")
    stats = model.bn5.running_mean.clone()
    _train(model, base_bn="adapt")
    check_frozen(model, frozen)  # every frozen weight and every γ, β
    assert not torch.equal(model.bn5.running_mean, stats)
    frozen_model = deepcorrect_model(net, {"conv1": range(4)}, "identity")
    kept = frozen_state(frozen_model)
    _train(frozen_model)
    check_frozen(frozen_model, kept)  # the paper's reading: the statistics stay as they were
    assert torch.equal(frozen_model.bn5.running_mean, stats)


def test_bn_adapt_changes_only_running_statistics():
    net = _net().eval()
    adapted = adapt_batchnorm(net, _data(), "awgn", "cifar", batch_size=20, seed=0)
    before, after = net.state_dict(), adapted.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)
    assert all(bn.momentum == 0.1 for bn in adapted.modules() if isinstance(bn, nn.BatchNorm2d))


def test_tent_updates_only_bn_affine_parameters_and_reports_online_accuracy():
    net = _net().eval()
    model = tent_model(net)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in net.named_parameters() if n.startswith("bn")}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    logits = model(torch.rand(8, 3, 32, 32) * 255)
    (-(logits.softmax(1) * logits.log_softmax(1)).sum(1).mean()).backward()
    opt.step()
    for (name, p), (_, q) in zip(model.named_parameters(), net.named_parameters()):
        assert torch.equal(p, q) != (name in trainable), name
    table = tent_table(net, _data(2), "blur", "cifar", seed=0)
    assert list(table.index) == ["blur"] and table.shape == (1, 8) and ((table >= 0) & (table <= 1)).all().all()


def test_finetune_bn_trains_only_gamma_and_beta_and_is_not_applicable_without_bn():
    net = _net()
    model = finetune_bn_model(net)
    assert count_params(model, trainable_only=True) == sum(
        m.weight.numel() * 2 for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    with pytest.raises(ValueError, match="not applicable"):
        finetune_bn_model(build_model("alexnet_tv", 10))


def test_best_validation_selection_returns_the_best_epochs_weights(tmp_path):
    net = _net()
    best = corrected_models._BestEpoch(tmp_path / "best.pt")
    states = []
    for epoch, acc in ((1, 0.4), (2, 0.7), (3, 0.7), (4, 0.5)):
        with torch.no_grad():
            net.conv1.weight.fill_(float(epoch))
        best.offer(epoch, acc, net)
        states.append(net.conv1.weight.clone())
    resumed = corrected_models._BestEpoch(tmp_path / "best.pt")  # a killed run reads it back
    assert resumed.epoch == 2 and resumed.accuracy == 0.7
    resumed.restore(net, None)
    assert torch.equal(net.conv1.weight, states[1]) and not (tmp_path / "best.pt").exists()
    best.offer(1, 0.9, net)
    (tmp_path / "best.pt").write_bytes((tmp_path / "best.pt").read_bytes()[:-10])  # damaged: start over
    (tmp_path / "checkpoint.pt").write_bytes(b"epoch 1")
    with pytest.warns(UserWarning, match="discarding best-epoch weights .*best.pt: its bytes .* starts over"):
        assert corrected_models._BestEpoch(tmp_path / "best.pt", tmp_path / "checkpoint.pt").state is None
    assert list(tmp_path.iterdir()) == []  # without the best epoch, resuming the checkpoint would choose wrong


def test_keras_l2_is_twice_the_weight_decay_convention():
    model = finetune_model(_net(), 2)
    half, keras = regulariser(model, 0.0, 1e-3)(), regulariser(model, 0.0, 1e-3, keras=True)()
    assert torch.allclose(keras, 2 * half)


@pytest.mark.parametrize("name, method, variant, base_bn", [
    ("BN-adapt", "bn-adapt", "", ""), ("TENT", "tent", "", ""), ("Finetune-BN", "finetune-bn", "", ""),
    ("Deepcorr-6-release-adapt", "deepcorr", "release", "adapt"), ("Deepcorr-6-identity", "deepcorr", "identity", ""),
    ("Finetune-9-adapt", "finetune", "", "adapt"), ("Deepcorr-6c", "deepcorr", "", "")])
def test_model_names_of_page_06(name, method, variant, base_bn):
    spec = model_names.parse_model(name)
    assert (spec.method, spec.variant, spec.base_bn) == (method, variant, base_bn)


@pytest.mark.parametrize("bad, message", [
    ({"base_bn": "train"}, "base_bn must be one of"), ({"select": "best"}, "select must be one of"),
    ({"l2_convention": "torch"}, "l2_convention must be one of"), ({"passes": 0}, "passes"),
    ({"variant": "exact"}, "variant must be one of")])
def test_bad_modes_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        CorrectConfig(**bad)


def test_bad_baseline_names_are_clear_errors():
    for name in ("BN-adapted", "Deepcorr-6-adaptive", "TENT-2"):
        with pytest.raises(ValueError, match="unknown model name"):
            model_names.parse_model(name)


def test_best_val_needs_a_validation_split():
    profile = resolve("smoke", select="best_val")
    with pytest.raises(ValueError, match="select=best_val .* no validation split"):
        corrected_models.train_corrected(_net(), _data(), None, profile, "blur", lr=0.1, device=torch.device("cpu"))


def test_two_passes_per_epoch_see_every_training_image_twice():
    net = _net()
    model = deepcorrect_model(net, {"conv1": range(2)}, "identity")
    profile = resolve("smoke", correct_epochs=1, correct_batch_size=20)
    one = corrected_models.train_corrected(model, _data(), None, profile, "blur", lr=0.01, device=torch.device("cpu"),
                              progress=False)
    two = corrected_models.train_corrected(deepcorrect_model(net, {"conv1": range(2)}, "identity"), _data(), None,
                              resolve("smoke", correct_epochs=1, correct_batch_size=20, passes=2), "blur", lr=0.01,
                              device=torch.device("cpu"), progress=False)
    assert two[-1]["iteration"] == 2 * one[-1]["iteration"] == 6


def test_tent_sees_the_test_images_in_a_mixed_order_not_class_by_class(monkeypatch):
    """A class-sorted test set would give TENT batches of one class: its batch statistics would be useless."""
    from deepcorrect import adaptation

    seen = []
    real = adaptation.distorted_batches

    def spy(data, *args, **kwargs):
        seen.append(data.labels.clone())
        return real(data, *args, **kwargs)

    monkeypatch.setattr(adaptation, "distorted_batches", spy)
    data = _data(4)  # stored class by class
    order = torch.argsort(data.labels, stable=True)
    tent_table(_net().eval(), data.subset(order), "blur", "cifar", seed=0, batch_size=8)
    first_batch = seen[0][:8]
    assert len(set(first_batch.tolist())) > 2 and sorted(seen[0].tolist()) == sorted(data.labels.tolist())
