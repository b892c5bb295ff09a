"""Correction units, Deepcorr / Finetune builders, exact parameter and MAC counts, frozen-weight guarantees."""


import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from deepcorrect import corrected_models, model_names, statistics
from deepcorrect.config import TrainConfig
from deepcorrect.correction import (
    VARIANTS,
    CorrectedConv,
    check_frozen,
    corrected_layers,
    correction_unit,
    deepcorrect_model,
    finetune_model,
    frozen_state,
    regulariser,
    set_training_mode,
    unit_macs,
    unit_weights,
)
from deepcorrect.data import TensorData
from deepcorrect.distortions import half_distorted
from deepcorrect.models import AllConvBN, build_model, count_params
from deepcorrect.ranking import n_selected
from deepcorrect.sections import cifar_analysis
from deepcorrect.train import fit

ALEX_FILTERS = {"conv1": 72, "conv2": 192, "conv3": 192, "conv4": 192, "conv5": 128}


def first(n_per_layer: dict[str, int]) -> dict[str, range]:
    return {layer: range(n) for layer, n in n_per_layer.items()}


@pytest.fixture(scope="module")
def cifar100_net():
    return AllConvBN(100, width=1.0)


@pytest.fixture(scope="module")
def caffe_alexnet():
    return build_model("alexnet_caffe", 1000)


@pytest.mark.parametrize("name, expected", [
    ("Finetune-1", 2_880), ("Finetune-3", 169_344), ("Finetune-6", 1_000_512), ("Finetune-9", 1_389_804),
    ("Deepcorr-1", 80_954), ("Deepcorr-3", 242_862), ("Deepcorr-6", 505_674),
    ("Deepcorr-1c", 470_246), ("Deepcorr-3c", 632_154), ("Deepcorr-6c", 894_966)])
def test_table_3_trainable_parameters_are_exact(cifar100_net, name, expected):
    spec = model_names.parse_model(name)
    if spec.method == "finetune":
        model = finetune_model(cifar100_net, spec.k)
    else:  # the release corrects round(β·N·1.0417) filters: 50 of 96, 100 of 192
        sel = {f"conv{i}": range(n_selected(0.5, 96 if i <= 3 else 192, release=True)) for i in range(1, spec.k + 1)}
        model = deepcorrect_model(cifar100_net, sel, "identity", train_last=spec.train_last)
    assert count_params(model, trainable_only=True) == expected


def test_table_10_units_parameters_and_macs(caffe_alexnet):
    paper = {"cw": ([270_288, 739_200, 739_200, 739_200, 328_960], [8.16e8, 5.38e8, 1.24e8, 1.24e8, 5.54e7], 2_816_848),
             "lite": ([314_568, 345_408, 345_408, 345_408, 328_960], [9.49e8, 2.51e8, 5.82e7, 5.82e7, 5.54e7], None),
             "bottleneck": ([40_680, 287_040, 287_040, 287_040, 127_872],
                            [1.22e8, 2.08e8, 4.83e7, 4.83e7, 2.15e7], None)}
    for variant, (params, flops, total) in paper.items():
        model = deepcorrect_model(caffe_alexnet, first(ALEX_FILTERS), variant)
        units = corrected_layers(model)
        assert [count_params(u.unit) for u in units.values()] == params, variant
        assert count_params(model, trainable_only=True) == total or total is None
        macs = unit_macs(model, torch.zeros(1, 3, 227, 227))
        for layer, f in zip(units, flops):
            assert abs(macs[layer] / f - 1) < 0.01, (variant, layer, macs[layer], f)


def test_deepcorr_5c_and_finetune_8(caffe_alexnet):
    assert count_params(deepcorrect_model(caffe_alexnet, first(ALEX_FILTERS), "cw", train_last=3), True) == 61_447_992
    assert count_params(finetune_model(caffe_alexnet), True) == 60_965_224


def test_parameter_count_table_in_the_book_is_all_equal_at_the_papers_precision():
    table = cifar_analysis.parameter_counts()
    assert table["equal at the printed precision"].all() and len(table) == 12
    assert table.loc["Deepcorr-5c", "paper (as printed)"] == "61.44 M"  # Table 7 prints millions
    assert table.loc["Deepcorr-5c", "computed"] == 61_447_992


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    """Bit-equal parameters and buffers, name by name."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_seeded_model_has_the_same_units_whatever_ran_before_and_leaves_the_global_random_state():
    net = AllConvBN(10, width=0.25).eval()
    selection = {"conv1": [0, 5, 7]}
    torch.manual_seed(3)
    first = deepcorrect_model(net, selection, "release", seed=11)
    after = torch.rand(3)
    torch.manual_seed(3)
    torch.rand(50)
    second = deepcorrect_model(net, selection, "release", seed=11)
    assert _same_weights(first, second)
    torch.manual_seed(3)
    deepcorrect_model(net, selection, "release", seed=11)
    assert torch.equal(torch.rand(3), after)  # building it drew nothing from the global state
    other = deepcorrect_model(net, selection, "release", seed=12)
    assert not torch.equal(other.conv1.unit.body[1].weight, first.conv1.unit.body[1].weight)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "release"])  # release: no identity start
def test_attached_units_leave_predictions_unchanged(variant):
    torch.manual_seed(0)
    net = AllConvBN(10, width=0.25).eval()
    x = torch.rand(6, 3, 32, 32) * 255
    model = deepcorrect_model(net, {"conv1": [0, 5, 7], "conv4": range(0, 48, 2)}, variant).eval()
    assert torch.equal(model(x), net(x))
    # and the wrapped conv still computes the same activations for the other filters
    assert isinstance(model.conv1, CorrectedConv) and model.conv1.conv.weight is not net.conv1.weight


def test_units_on_the_alexnet_first_layer_keep_its_output_size():
    torch.manual_seed(0)
    net = build_model("alexnet_tv", 10).eval()
    x = torch.rand(2, 3, 224, 224) * 255
    for variant in ("cw", "lite", "bottleneck", "nobn"):
        model = deepcorrect_model(net, {"net.features.0": range(8)}, variant).eval()
        assert torch.equal(model(x), net(x)), variant


def _tiny_data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.arange(n) % 10, [str(i) for i in range(10)])


def test_training_changes_only_what_trains_and_bn_statistics_of_frozen_layers_stay():
    torch.manual_seed(0)
    net = AllConvBN(10, width=0.25)
    net.train()(torch.rand(16, 3, 32, 32) * 255)  # non-trivial running statistics
    model = deepcorrect_model(net, {"conv2": range(6)}, "identity", train_last=3)
    before = frozen_state(model)
    assert "conv2.conv.weight" in before and "bn2.running_mean" in before and "bn9.running_mean" not in before
    unit_before = [w.clone() for w in unit_weights(model)]
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.1, crop_pad=2, channels_last=False)
    fit(model, _tiny_data(), cfg, set_train_mode=set_training_mode, regularizer=regulariser(model, 1e-5, 3e-4),
        progress=False)
    check_frozen(model, before)  # raises if any frozen tensor moved
    assert any(not torch.equal(a, b) for a, b in zip(unit_before, unit_weights(model)))
    assert not torch.equal(model.conv9.weight, net.conv9.weight)


def test_check_frozen_reports_a_changed_frozen_weight():
    model = finetune_model(AllConvBN(10, width=0.25), 1)
    before = frozen_state(model)
    with torch.no_grad():
        model.conv5.weight[0, 0, 0, 0] += 1
    with pytest.raises(RuntimeError, match="conv5.weight"):
        check_frozen(model, before)


def test_finetune_k_trains_the_first_k_convs_and_their_bn():
    model = finetune_model(AllConvBN(10, width=0.25), 3)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3"}


def test_training_mode_keeps_frozen_bn_in_eval_and_dropout_active():
    model = deepcorrect_model(build_model("alexnet_caffe", 10), {"conv2": range(4)}, "cw", train_last=3)
    set_training_mode(model)
    unit_bns = [m for m in model.conv2.unit.modules() if isinstance(m, nn.BatchNorm2d)]
    assert unit_bns and all(m.training for m in unit_bns)
    assert not model.conv1.training and model.fc6.training
    assert all(m.training for m in model.modules() if isinstance(m, nn.Dropout))
    ft = finetune_model(AllConvBN(10, width=0.25), 2)
    set_training_mode(ft)
    assert ft.bn2.training and not ft.bn3.training


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_no_backward_pass_through_the_frozen_prefix_before_the_first_unit():
    net = AllConvBN(10, width=0.25)
    model = deepcorrect_model(net, {"conv3": range(6)}, "identity")
    calls = []
    model.conv2.register_full_backward_hook(lambda *_: calls.append("conv2"))
    model.conv3.register_full_backward_hook(lambda *_: calls.append("conv3"))
    set_training_mode(model)
    model(torch.rand(4, 3, 32, 32) * 255).sum().backward()
    assert calls == ["conv3"]


def test_regulariser_is_l1_on_unit_weights_plus_l2_on_finetuned_weights():
    model = deepcorrect_model(AllConvBN(10, width=0.25), {"conv1": range(3)}, "identity", train_last=1)
    with torch.no_grad():
        for w in unit_weights(model):
            w.fill_(0.5)
    penalty = regulariser(model, 1e-3, 2e-3)()
    l1 = sum(w.numel() * 0.5 for w in unit_weights(model)) * 1e-3
    l2 = model.conv9.weight.pow(2).sum() * 1e-3
    assert torch.allclose(torch.as_tensor(penalty), torch.as_tensor(l1 + l2))
    assert regulariser(model, 0.0, 0.0) is None



class _OpCounter(TorchDispatchMode):
    """Counts the aten ops (each a kernel launch or more on a GPU) run inside the block."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _eq5_as_written(model, l1, l2):
    """Eq. (5)'s penalty as a loop over the weights, differentiated by autograd: the reference."""
    units = unit_weights(model)
    ids = {id(w) for w in units}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in ids and p.dim() > 1]
    return lambda: sum(w.abs().sum() for w in units) * l1 + sum(w.pow(2).sum() for w in others) * (l2 / 2)


@pytest.mark.parametrize("name", ["Finetune-9", "Deepcorr-6c"])
def test_the_fused_regulariser_trains_as_eq5_written_out_with_few_kernels_per_step(name):
    """Finetune-9 and Deepcorr-6c trained a few half-distorted steps with the library's regulariser (one fused
    L1 gradient, the L2 as SGD weight decay) end with the losses and weights of Eq. (5) written as a loop over the
    weights, to float noise; and a step costs only a handful of ops more than with no regulariser (plus, on
    the CPU, whose SGD loops over tensors, one add per decayed weight: a single foreach op on a GPU), where
    the loop costs several per weight."""
    torch.manual_seed(0)
    net = AllConvBN(10, width=0.125)
    net.train()(torch.rand(16, 3, 32, 32) * 255)
    if name == "Finetune-9":
        make = lambda: finetune_model(net)  # noqa: E731
    else:
        make = lambda: deepcorrect_model(net, {f"conv{i}": range(4) for i in range(1, 7)}, train_last=3)  # noqa: E731
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.05, weight_decay=0.0, nesterov=False, channels_last=False)
    distort = lambda x, g: half_distorted(x, "blur", "cifar", g)  # noqa: E731
    runs, ops = {}, {}
    for reg in (None, regulariser, _eq5_as_written):  # the first run also builds the blur's cached kernels
        torch.manual_seed(1)
        model = make()
        counter = _OpCounter()
        with counter:
            history = fit(model, _tiny_data(16), cfg, batch_transform=distort, set_train_mode=set_training_mode,
                          regularizer=reg(model, 1e-3, 3e-3) if reg else None, progress=False)
        runs[reg], ops[reg] = (history, model.state_dict()), counter.count / 2  # per step
    (fused, fused_state), (written, written_state) = runs[regulariser], runs[_eq5_as_written]
    for a, b in zip(fused, written):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6, abs=1e-7)
    for key, value in written_state.items():
        assert torch.allclose(fused_state[key].float(), value.float(), rtol=1e-5, atol=1e-6), key
    decayed = regulariser(model, 1e-3, 3e-3).decayed
    penalised = len(decayed) + len(unit_weights(model))
    assert ops[regulariser] - ops[None] <= len(decayed) + 12, ops
    assert ops[_eq5_as_written] - ops[None] >= 3 * penalised, ops


@pytest.mark.parametrize("bad, match", [
    (lambda net: correction_unit("wide", 4), "unknown correction unit"),
    (lambda net: deepcorrect_model(net, {}), "at least one corrected layer"),
    (lambda net: deepcorrect_model(net, {"conv1": []}), "no filters selected"),
    (lambda net: deepcorrect_model(net, {"conv1": [0, 24]}), r"0\.\.23"),
    (lambda net: deepcorrect_model(net, {"relu1": [0]}), "not a conv layer"),
    (lambda net: finetune_model(net, 0), "1 ≤ k ≤ 9"),
    (lambda net: model_names.parse_model("Deepcorr6"), "unknown model name"),
    (lambda net: model_names.parse_model("random.12"), "unknown model name"),
])
def test_bad_input_is_one_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        bad(AllConvBN(10, width=0.25))


def test_model_names_parse_as_in_the_paper():
    assert model_names.parse_model("Deepcorr-6c") == model_names.ModelSpec("Deepcorr-6c", "deepcorr", 6, 3, "local")
    assert model_names.parse_model("Deepcorr-6c-global").selection == "global"
    assert model_names.parse_model("Finetune-9") == model_names.ModelSpec("Finetune-9", "finetune", 9)
    assert model_names.parse_model("random.12#3") == model_names.ModelSpec("random.12#3", "deepcorr", 1, 0, "random", 12, 3)
    assert model_names.parse_model("least.48").filters == 48


def test_figure_9_sizes_scale_with_the_first_layer():
    from deepcorrect.config import resolve

    cfg = resolve("smoke", draws=3, fig9_filters=(6, 12, 24, 48))
    assert cifar_analysis.figure9_sizes(cfg, 96) == [6, 12, 24, 48]
    assert cifar_analysis.figure9_sizes(cfg, 24) == [2, 3, 6, 12]
    names = cifar_analysis.figure9_names(cfg, 24)
    assert names[:4] == ["ranked.2", "ranked.3", "ranked.6", "ranked.12"] and names[-1] == "least.12"
    assert len(names) == 4 + 4 * 3 + 1
    assert cifar_analysis.figure9_sizes(resolve("smoke"), 24) == [3, 12]  # the smoke budget: two sizes


def test_ranked_vs_random_t_test_pairs_levels_of_both_kinds():
    from scipy.stats import ttest_rel

    cols = ["Clean", *[f"Level {i}" for i in range(1, 7)]]
    frames = {}
    for k, kind in enumerate(("blur", "awgn")):
        rows = {"ranked.3": [0.8 - 0.05 * i + 0.01 * k for i in range(7)],
                "random.3#0": [0.7 - 0.06 * i for i in range(7)], "random.3#1": [0.72 - 0.05 * i for i in range(7)]}
        t = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
        t["Avg"] = t[cols].mean(axis=1)
        frames[kind] = cifar_analysis.figure9_frame(t)
    table = cifar_analysis.ttest_ranked_vs_random(frames)
    ranked = [0.8 - 0.05 * i + 0.01 * k for k in range(2) for i in range(7)]
    random = [(0.7 - 0.06 * i + 0.72 - 0.05 * i) / 2 for _ in range(2) for i in range(7)]
    assert table.loc["3 filters", "pairs"] == 14
    assert table.loc["3 filters", "p-value"] == pytest.approx(ttest_rel(ranked, random).pvalue)


def test_corrected_model_is_cached_and_its_selection_follows_the_ranking(tmp_path):
    from deepcorrect.config import resolve
    from deepcorrect.context import Run
    from deepcorrect.ranking import Ranking, select_local
    from deepcorrect.splits import Splits
    from deepcorrect.store import Store

    torch.manual_seed(0)
    cfg = resolve("smoke", width=0.125, correct_epochs=1, correct_train_per_class=2, correct_test_per_class=2)
    net = AllConvBN(10, width=0.125).eval()
    data = Splits(_tiny_data(40), _tiny_data(20, 1), _tiny_data(20, 2))
    counts = {f"conv{i}": torch.randint(0, 20, (2, 6, 12 if i <= 3 else 24)) for i in range(1, 7)}
    rank = Ranking([f"conv{i}" for i in range(1, 7)], ["blur", "awgn"], list(range(1, 7)), 20,
                   torch.full((2, 6), 5), counts)
    run = Run.of(cfg, Store(tmp_path))
    model, record = corrected_models.corrected_model(run, net, data, rank, "blur", "Deepcorr-3", progress=False)
    assert record["selection"] == {k: sorted(v.tolist()) for k, v in select_local(rank, "blur", 0.5).items()
                                   if k in ("conv1", "conv2", "conv3")}
    assert len(record["history"]) == 1 and "val_accuracy" in record["history"][0]
    again, _ = corrected_models.corrected_model(run, net, data, rank, "blur", "Deepcorr-3", progress=False)
    assert _same_weights(model, again)
    torch.rand(1000)  # other models built before it in another process: its units start the same all the same
    anew, _ = corrected_models.corrected_model(Run.of(cfg, Store(tmp_path / "anew")), net, data, rank, "blur",
                                               "Deepcorr-3", progress=False)
    assert _same_weights(model, anew)
    least = corrected_models.selection_for(cfg, rank, "awgn", model_names.parse_model("least.4"))["conv1"]
    assert least == sorted(rank.order("conv1", "awgn")[-4:].tolist())
    r1 = corrected_models.selection_for(cfg, rank, "awgn", model_names.parse_model("random.4#1"))
    assert r1 == corrected_models.selection_for(cfg, rank, "awgn", model_names.parse_model("random.4#1"))
    assert r1 != corrected_models.selection_for(cfg, rank, "awgn", model_names.parse_model("random.4#2"))


def test_identical_paired_samples_give_p_1_not_nan():
    import numpy as np

    a = np.array([0.5, 0.4, 0.3])
    assert statistics.paired_ttest(a, a.copy()) == (0.0, 1.0)
    t, p = statistics.paired_ttest(a, a - np.array([0.01, 0.02, 0.0]))
    assert t > 0 and 0 < p < 1


def test_the_deepcorr_vs_finetune_verdict_follows_the_numbers():
    import pandas as pd

    from deepcorrect.sections.cifar_analysis import (
        deepcorr_vs_finetune,
        describe_deepcorr_vs_finetune,
    )

    cols = ["Clean", *[f"Level {i}" for i in range(1, 7)]]
    ft = [0.80, 0.70, 0.50, 0.40, 0.30, 0.20, 0.10]
    rows = {"Finetune-1": ft, "Deepcorr-1": [v + 0.05 + 0.001 * i for i, v in enumerate(ft)],  # always ahead
            "Finetune-3": ft, "Deepcorr-3": [v + (0.01 if i % 2 else -0.01) for i, v in enumerate(ft)]}  # a wash
    table = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    table["Avg"] = table[cols].mean(axis=1)
    table["# Params"] = [100, 1000, 300, 600]
    hist = {n: {"history": [{"seconds": s}]} for n, s in zip(rows, (1.0, 2.0, 1.0, 4.0))}
    frame = deepcorr_vs_finetune({"blur": table}, {"blur": hist}, ks=(1, 3))
    assert frame.loc[("blur", 1), "p-value"] < 0.05 < frame.loc[("blur", 3), "p-value"]
    assert frame.loc[("blur", 1), "params Deepcorr / Finetune"] == 10 and frame.loc[("blur", 3),
                                                                                     "train time Deepcorr / Finetune"] == 4
    text = describe_deepcorr_vs_finetune(frame)
    assert "Deepcorr-k for k = 1; significantly behind for no k; undecided (p ≥ 0.05) for k = 3" in text
