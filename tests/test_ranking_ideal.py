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


def test_a_curve_keeps_its_levels_order_and_reads_level_0_off_the_clean_pass(small_ranking):
    """Levels in any order, repeated or clean: each position is its own level's ideal accuracy, and level 0 is
    the plain clean accuracy (the capture pass, no swap)."""
    from deepcorrect.ranking import ideal_curve

    model, data, _ = small_ranking
    selection = {"conv1": range(3)}
    curve = ideal_curve(model, data, "awgn", "cifar", selection, levels=[3, 0, 6, 3])
    at = {lv: ideal_accuracy(model, data, "awgn", lv, "cifar", selection) for lv in (3, 6)}
    assert curve == [at[3], accuracy(model, data, "awgn", 0, "cifar"), at[6], at[3]]
