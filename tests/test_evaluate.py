import torch

from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.evaluate import COLUMNS, accuracy, accuracy_table, features
from deepcorrect.models import AllConvBN


def _setup():
    torch.manual_seed(0)
    x, y = make_embedded(5, seed=1)
    return AllConvBN(10, width=0.125).eval(), TensorData(x, y, CLASSES)


def test_accuracy_table_has_the_papers_layout_and_avg_over_seven_values():
    model, data = _setup()
    table = accuracy_table(model, data, "cifar", batch_size=16)
    assert list(table.index) == ["blur", "awgn"] and list(table.columns) == [*COLUMNS, "Avg"]
    assert table.loc["blur", "Clean"] == table.loc["awgn", "Clean"]
    assert abs(table.loc["awgn", "Avg"] - table.loc["awgn", COLUMNS].mean()) < 1e-12


def test_evaluation_is_paired_and_batch_independent_for_blur():
    model, data = _setup()
    a = accuracy(model, data, "awgn", 4, "cifar", batch_size=16, seed=3)
    b = accuracy(model, data, "awgn", 4, "cifar", batch_size=16, seed=3)
    assert a == b
    assert accuracy(model, data, "blur", 2, "cifar", batch_size=7) == accuracy(model, data, "blur", 2, "cifar",
                                                                               batch_size=50)


def test_features_are_pooled_per_image():
    model, data = _setup()
    f = features(model, model.penultimate, data, "blur", 1, "cifar", batch_size=16)
    assert f.shape == (50, 24) and torch.isfinite(f).all()
