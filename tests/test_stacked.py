"""Stacked training (one vmapped step for several models) gives each model what its own fit run gives."""

import copy
import functools

import pytest
import torch

from deepcorrect.config import TrainConfig
from deepcorrect.correction import deepcorrect_model, finetune_model, regulariser, set_training_mode
from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.distortions import half_distorted
from deepcorrect.models import AllConvBN
from deepcorrect.stacked import fit_stacked, stack_groups, stack_models
from deepcorrect.train import fit

# §5.1's schedule in small: plain momentum, no weight decay but Eq. 5's regulariser, half of every batch blurred
CORRECTED = TrainConfig(epochs=2, batch_size=10, lr=0.01, nesterov=False, weight_decay=0.0, crop_pad=2,
                        channels_last=False, seed=3)


def _data():
    x, y = make_embedded(3, seed=0)
    return TensorData(x, y, CLASSES)


@functools.cache
def _pretrained() -> AllConvBN:
    """A float64 All-Conv-BN with distinct running statistics (so frozen BNs differ from batch-statistics ones)."""
    torch.manual_seed(0)
    net = AllConvBN(num_classes=10, width=0.125).double()
    fit(net, _data(), TrainConfig(epochs=1, batch_size=10, channels_last=False), progress=False)
    return net.eval()


def _blurred(x, g):
    return half_distorted(x, "blur", "cifar", g)


def _separately_and_stacked(models: list, cfg: TrainConfig, l1: float, l2: float):
    alone = [copy.deepcopy(m) for m in models]
    histories = [fit(m, _data(), cfg, batch_transform=_blurred, set_train_mode=set_training_mode,
                     regularizer=regulariser(m, l1, l2), progress=False) for m in alone]
    together = [copy.deepcopy(m) for m in models]
    stacked = fit_stacked(together, _data(), cfg, batch_transform=_blurred, set_train_mode=set_training_mode,
                          regularizers=[regulariser(m, l1, l2) for m in together])
    return alone, histories, together, stacked


def _assert_same(alone, histories, together, stacked):
    for a, b, ha, hb in zip(alone, together, histories, stacked):
        # fit sums an epoch's losses in float32
        assert [r["loss"] for r in hb] == pytest.approx([r["loss"] for r in ha], rel=1e-6)
        assert [r["accuracy"] for r in hb] == [r["accuracy"] for r in ha]
        for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values()):
            if wa.is_floating_point():
                torch.testing.assert_close(wb, wa, rtol=1e-8, atol=1e-10, msg=name)
            else:
                assert torch.equal(wa, wb), name


def test_finetune_models_stacked_train_as_they_do_alone():
    net = _pretrained()
    models = [finetune_model(net, 1), finetune_model(net, 3), finetune_model(net)]  # frozen BNs differ per model
    alone, histories, together, stacked = _separately_and_stacked(models, CORRECTED, l1=1e-5, l2=3e-4)
    _assert_same(alone, histories, together, stacked)
    frozen = together[0].conv2.weight
    assert torch.equal(frozen, net.conv2.weight) and torch.equal(together[0].bn2.running_mean, net.bn2.running_mean)
    assert not torch.equal(together[2].conv9.weight, net.conv9.weight)


def test_deepcorr_k_and_kc_stacked_train_as_they_do_alone():
    net = _pretrained()
    selection = {"conv1": range(6), "conv2": range(0, 12, 2)}
    models = [deepcorrect_model(net, selection, width=8, train_last=last).double() for last in (0, 3)]
    cfg = TrainConfig(**{**CORRECTED.__dict__, "lr": 0.1})
    _assert_same(*_separately_and_stacked(models, cfg, l1=1e-3, l2=3e-4))


def test_baselines_with_nesterov_and_weight_decay_stacked_train_as_they_do_alone():
    torch.manual_seed(1)
    nets = [AllConvBN(num_classes=10, width=0.125).double() for _ in range(2)]
    cfg = TrainConfig(epochs=1, batch_size=10, lr=0.05, channels_last=False)
    alone = [copy.deepcopy(m) for m in nets]
    histories = [fit(m, _data(), cfg, progress=False) for m in alone]
    together = [copy.deepcopy(m) for m in nets]
    _assert_same(alone, histories, together, fit_stacked(together, _data(), cfg))


def test_stack_groups_by_structure_and_refuses_to_stack_different_ones():
    net = _pretrained()
    models = {"Finetune-1": finetune_model(net, 1), "Deepcorr-1": deepcorrect_model(net, {"conv1": range(6)}),
              "Finetune-9": finetune_model(net),
              "Deepcorr-1c": deepcorrect_model(net, {"conv1": range(6)}, train_last=3),
              "Deepcorr-2": deepcorrect_model(net, {"conv1": range(6), "conv2": range(12)})}
    assert stack_groups(models) == [["Finetune-1", "Finetune-9"], ["Deepcorr-1", "Deepcorr-1c"], ["Deepcorr-2"]]
    with pytest.raises(ValueError, match="one structure"):
        stack_models([models["Finetune-1"], models["Deepcorr-1"]], CORRECTED, [None, None])
