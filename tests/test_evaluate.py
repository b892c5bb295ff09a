import torch

from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.evaluate import COLUMNS, accuracy, accuracy_table, distorted_batches, features
from deepcorrect.models import AllConvBN


def _setup():
    torch.manual_seed(0)
    x, y = make_embedded(5, seed=1)
    return AllConvBN(10, width=0.125).eval(), TensorData(x, y, CLASSES)


def test_accuracy_table_has_the_papers_layout_and_each_cell_is_its_own_measurement():
    model, data = _setup()
    table = accuracy_table(model, data, "cifar", batch_size=16)
    assert list(table.index) == ["blur", "awgn"] and list(table.columns) == [*COLUMNS, "Avg"]
    with torch.no_grad():  # the clean column, computed here without the library's batching or seeds
        clean = int((model(data.images.float()).argmax(1) == data.labels).sum()) / len(data)
    assert table.loc["blur", "Clean"] == table.loc["awgn", "Clean"] == clean
    for kind in ("blur", "awgn"):
        for level in (1, 6):
            assert table.loc[kind, f"Level {level}"] == accuracy(model, data, kind, level, "cifar", batch_size=16)
        assert abs(table.loc[kind, "Avg"] - table.loc[kind, COLUMNS].mean()) < 1e-12


def test_every_model_sees_the_same_distorted_images_and_blur_is_batch_independent():
    _, data = _setup()
    first = [x for x, _ in distorted_batches(data, "awgn", 4, "cifar", device="cpu", batch_size=16, seed=3)]
    again = [x for x, _ in distorted_batches(data, "awgn", 4, "cifar", device="cpu", batch_size=16, seed=3)]
    other = [x for x, _ in distorted_batches(data, "awgn", 4, "cifar", device="cpu", batch_size=16, seed=4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))  # paired comparisons between models
    assert not torch.equal(first[0], other[0])  # and the seed does change the noise
    whole = next(distorted_batches(data, "blur", 2, "cifar", device="cpu", batch_size=len(data)))[0]
    pieces = torch.cat([x for x, _ in distorted_batches(data, "blur", 2, "cifar", device="cpu", batch_size=7)])
    assert torch.allclose(whole, pieces, atol=1e-4) and not torch.equal(whole, data.images.float())


def test_features_are_pooled_per_image():
    model, data = _setup()
    f = features(model, model.penultimate, data, "blur", 1, "cifar", batch_size=16)
    assert f.shape == (50, 24) and torch.isfinite(f).all()


def test_a_network_is_measured_in_one_layout_whether_trained_now_or_loaded(tmp_path):
    """Training leaves a network NHWC, a loaded one is NCHW: ``Run.ready`` gives every measurement the layout
    of ``eval.channels_last``, and the table is the same in either layout (the knob is speed only)."""
    from deepcorrect.baseline import baseline_model
    from deepcorrect.config import resolve
    from deepcorrect.context import Run
    from deepcorrect.evaluate import hit_table
    from deepcorrect.store import Store

    cfg = resolve("smoke", epochs=1, train_per_class=80, val_per_class=10, test_per_class=20)
    data = TensorData(*make_embedded(20, seed=5), CLASSES)
    train = TensorData(*make_embedded(12, seed=6), CLASSES)
    trained, _ = baseline_model(Run.of(cfg, Store(tmp_path)), train, progress=False)
    loaded, _ = baseline_model(Run.of(cfg, Store(tmp_path)), train, progress=False)
    first = next(p for p in trained.parameters() if p.dim() == 4)
    again = next(p for p in loaded.parameters() if p.dim() == 4)
    assert first.is_contiguous(memory_format=torch.channels_last)
    assert again.is_contiguous(memory_format=torch.channels_last)
    nhwc = hit_table(loaded, data, "cifar", batch_size=50)[1]
    nchw = hit_table(Run.of(resolve("smoke", eval_channels_last=False), Store(tmp_path)).ready(loaded), data, "cifar",
                     batch_size=50)[1]
    assert next(p for p in loaded.parameters() if p.dim() == 4).is_contiguous()
    assert all(torch.equal(nhwc[k], nchw[k]) for k in nhwc)
