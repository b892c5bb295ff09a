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
