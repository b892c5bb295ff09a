from dataclasses import replace

import pytest
import torch

from deepcorrect.config import TrainConfig
from deepcorrect.data import make_embedded, TensorData
from deepcorrect.data.embedded import CLASSES
from deepcorrect.models import AllConvBN
from deepcorrect.train import augment, fit, lr_at

CFG = TrainConfig(epochs=3, batch_size=32, lr=0.05, seed=1)


def _data():
    x, y = make_embedded(8, seed=0)
    return TensorData(x, y, CLASSES)


def _model():
    torch.manual_seed(0)
    return AllConvBN(num_classes=10, width=0.125)


class Killed(Exception):
    pass


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path):
    data = _data()
    reference = _model()
    fit(reference, data, CFG, checkpoint=tmp_path / "a.pt", progress=False)

    def kill_after_first_epoch(epoch, _row):
        if epoch == 1:
            raise Killed

    victim = _model()
    with pytest.raises(Killed):
        fit(victim, data, CFG, checkpoint=tmp_path / "b.pt", progress=False, on_epoch_end=kill_after_first_epoch)
    torch.manual_seed(123)  # the global RNG moved on in the meantime: resume must not depend on it
    resumed = _model()  # turning a speed-only knob does not orphan the checkpoint
    history = fit(resumed, data, replace(CFG, cudnn_benchmark=not CFG.cudnn_benchmark), checkpoint=tmp_path / "b.pt",
                  progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_corrupt_checkpoints_are_discarded_and_foreign_ones_are_errors(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"\x00garbage")
    with pytest.warns(UserWarning, match="discarding checkpoint .*c.pt: its checksum file c.pt.sha256 is missing"):
        history = fit(_model(), _data(), CFG, checkpoint=path, progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3]  # started over
    fit(_model(), _data(), TrainConfig(epochs=1, batch_size=32), checkpoint=tmp_path / "d.pt", progress=False)
    with pytest.raises(ValueError, match="different training config"):
        fit(_model(), _data(), CFG, checkpoint=tmp_path / "d.pt", progress=False)


def test_training_learns_and_logs_each_epoch():
    data = _data()
    history = fit(_model(), data, TrainConfig(epochs=4, batch_size=16, lr=0.05), progress=False)
    assert len(history) == 4 and history[-1]["loss"] < history[0]["loss"]
    assert {"loss", "accuracy", "images_per_s", "lr"} <= set(history[0])


def test_a_page_shows_the_training_log_as_one_table_and_prints_nothing(capsys):
    """Page 01 trains quietly and shows the log as one table: lines printed per epoch rendered as one grey
    box each, and not at all when the model came from the store."""
    import yaml

    from conftest import REPO
    from deepcorrect.report import training_log

    history = fit(_model(), _data(), replace(CFG, epochs=2), progress=False)
    assert capsys.readouterr().out == ""
    table = training_log(history)
    assert list(table.index) == [1, 2] and list(table.columns) == ["loss", "train accuracy", "learning rate",
                                                                   "seconds"]
    assert "progress=False" in (REPO / "notebooks" / "01_distortions_baselines.py").read_text()
    config = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]
    assert config["nb_merge_streams"] is True  # what other cells print shows as one block


def test_nan_loss_stops_with_a_clear_error():
    data = _data()
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        fit(_model(), data, TrainConfig(epochs=1, batch_size=16, lr=1e6), progress=False)


def test_frozen_models_are_rejected():
    model = _model().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(model, _data(), CFG, progress=False)


def test_step_schedule():
    assert [lr_at(TrainConfig(epochs=8, lr=1.0), e) for e in range(8)] == [1, 1, 1, 1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]
    assert lr_at(TrainConfig(epochs=110, lr=0.1, lr_step=30), 95) == pytest.approx(1e-4)


def test_augment_crops_and_flips_on_the_batch():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    y = augment(x, g, pad=0, flip=True)
    assert all(torch.equal(y[i], x[i]) or torch.equal(y[i], x[i].flip(2)) for i in range(2))
    z = augment(x, g, pad=2, flip=False)
    assert z.shape == x.shape
    # every crop is a shifted window of the zero-padded image
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        assert any(torch.equal(z[i], padded[i, :, a:a + 8, b:b + 8]) for a in range(5) for b in range(5))


@pytest.mark.slow
def test_a_sigkilled_cli_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    """Kill -9 a real `deepcorrect baseline` process once its first checkpoint exists, rerun the same command,
    and compare the final weights with those of a run that was never interrupted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    args = [sys.executable, "-m", "deepcorrect", "baseline", "-p", "epochs=4", "-p", "width=0.125",
            "-p", "train_per_class=200", "-p", "val_per_class=2", "-p", "test_per_class=5"]

    def run(results, **kw):
        return subprocess.run([*args, "--results", str(results)], cwd=REPO, capture_output=True, text=True,
                              timeout=600, **kw)

    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--results", str(killed_dir)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(killed_dir.glob("baseline/*/checkpoint.pt")) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ckpt = next(killed_dir.glob("baseline/*/checkpoint.pt"))
    epoch_at_kill = torch.load(ckpt, weights_only=True)["epoch"]
    assert epoch_at_kill < 4, "the run finished before it could be killed"
    assert not list(killed_dir.glob("baseline/*/payload.pt"))
    assert run(killed_dir).returncode == 0
    assert run(tmp_path / "clean").returncode == 0
    resumed = torch.load(next(killed_dir.glob("baseline/*/payload.pt")), weights_only=True)
    reference = torch.load(next((tmp_path / "clean").glob("baseline/*/payload.pt")), weights_only=True)
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3, 4]
    for name, value in reference["state"].items():
        assert torch.equal(value, resumed["state"][name]), name


def test_device_timer_and_cudnn_benchmark_scope_on_the_cpu():
    import time as _time

    from deepcorrect.runtime import DeviceTimer, cudnn_benchmark

    timer = DeviceTimer("cpu").start()
    _time.sleep(0.05)
    assert 0.05 <= timer.seconds() < 5
    before = torch.backends.cudnn.benchmark
    with cudnn_benchmark(not before):
        assert torch.backends.cudnn.benchmark == (not before)
    assert torch.backends.cudnn.benchmark == before


def test_a_training_step_never_makes_the_host_wait():
    """Host syncs come once per epoch (the logged loss and accuracy), never per batch: twice the batches of
    half-distorted training, the same count."""
    from deepcorrect.distortions import half_distorted
    from deepcorrect.runtime import HostSyncCounter
    data = _data()
    counts = []
    for batch in (40, 20):
        with HostSyncCounter() as syncs:
            fit(_model(), data, replace(CFG, epochs=1, batch_size=batch), progress=False,
                batch_transform=lambda x, g: half_distorted(x, ("blur", "awgn"), "cifar", g))
        counts.append(syncs.count)
    assert counts[0] == counts[1] <= 2, counts


def test_the_host_sync_counter_sees_what_stalls_a_gpu():
    from deepcorrect.runtime import HostSyncCounter
    x = torch.arange(10.0)
    with HostSyncCounter() as syncs:
        x.sum().item()
        (x > 3).nonzero()
        x[x > 3]
        torch.unique(x)
        x * 2 + x[2:5].sum()
    assert syncs.ops == ["_local_scalar_dense", "nonzero", "index", "_unique2"]


def test_steps_per_epoch_makes_an_epoch_of_that_many_full_batches_from_fresh_orders():
    """The paper's ImageNet schedule counts steps (62,500 of 256), not passes: 7 steps of 4 over 10 images
    are 28 indices, the first 10 and the next 10 each a permutation."""
    from deepcorrect.train import epoch_batches
    g = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, replace(CFG, batch_size=4, steps_per_epoch=7), g, torch.device("cpu"))
    flat = torch.cat(batches)
    assert len(batches) == 7 and all(len(b) == 4 for b in batches)
    assert sorted(flat[:10].tolist()) == sorted(flat[10:20].tolist()) == list(range(10))
    assert [len(b) for b in epoch_batches(10, replace(CFG, batch_size=4), g, torch.device("cpu"))] == [4, 4, 2]
    data = _data()
    history = fit(_model(), data, replace(CFG, epochs=2, batch_size=16, steps_per_epoch=3), progress=False)
    assert [row["iteration"] for row in history] == [3, 6]
