"""Ideal correction: swapping in the clean output of every filter restores clean accuracy, of none changes
nothing."""

from deepcorrect.evaluate import accuracy
from deepcorrect.ranking import ideal_accuracy


def test_ideal_correction_of_every_filter_restores_clean_accuracy(small_ranking):
    model, data, _ = small_ranking
    clean = ideal_accuracy(model, data, "blur", 0, "cifar", {})
    full = ideal_accuracy(model, data, "awgn", 6, "cifar", {"conv1": range(12)})
    assert full == clean
    none = ideal_accuracy(model, data, "awgn", 6, "cifar", {"conv1": []})
    assert none == accuracy(model, data, "awgn", 6, "cifar")


def _answering_network(data):
    """A random All-Conv-BN whose BNs hold the statistics of ``data`` (so its answer depends on the image, unlike
    an uncalibrated one's) and labels that are its clean answers: clean accuracy 1, distorted accuracy below."""
    import torch
    from deepcorrect.data import TensorData
    from deepcorrect.models import AllConvBN

    torch.manual_seed(1)
    model = AllConvBN(10, width=0.125)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.momentum = None  # a cumulative average over the calibration pass
    with torch.no_grad():
        model.train()(data.images.float())
        labels = model.eval()(data.images.float()).argmax(1)
    return model, TensorData(data.images, labels, data.classes)


def test_a_curve_keeps_its_levels_order_and_reads_level_0_off_the_clean_pass(small_ranking):
    """Levels in any order, repeated or clean: each position is its own level's ideal accuracy, and level 0 is
    the plain clean accuracy (the capture pass, no swap), on a network whose answers the distortion moves."""
    from deepcorrect.ranking import ideal_curve

    model, data = _answering_network(small_ranking[1])
    selection = {"conv1": range(3)}
    curve = ideal_curve(model, data, "awgn", "cifar", selection, levels=[3, 0, 6, 3])
    at = {lv: ideal_accuracy(model, data, "awgn", lv, "cifar", selection) for lv in (3, 6)}
    assert curve == [at[3], accuracy(model, data, "awgn", 0, "cifar"), at[6], at[3]]
    assert curve[1] == 1.0 and min(at.values()) < 1.0  # the levels differ, so a mixed-up order would show
