"""torchrun / DDP on the CPU with gloo: two processes end where one process with the same global batch ends,
and sharded ranking gives the very same counts."""

import os
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
import torch.multiprocessing as mp

from conftest import REPO
from deepcorrect import distributed as dd
from deepcorrect.cli import main
from deepcorrect.config import RankingConfig, TrainConfig
from deepcorrect.data import TensorData
from deepcorrect.models import AllConvBN
from deepcorrect.ranking import rank_filters
from deepcorrect.train import fit

# 42 images in global batches of 8: five full batches (4 + 4 per rank) and a last one of 2 (1 + 1)
CFG = TrainConfig(epochs=2, batch_size=8, lr=0.05, crop_pad=2, channels_last=False)


def _data(n=42) -> TensorData:
    g = torch.Generator().manual_seed(3)
    images = (torch.rand(n, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    return TensorData(images, torch.arange(n) % 10, tuple(map(str, range(10))))


def _model(dtype=torch.float32) -> AllConvBN:
    torch.manual_seed(0)
    return AllConvBN(10, width=0.125).to(dtype)


def _worker(rank: int, world: int, init_file: str, out: str, task: str, cfg) -> None:
    torch.set_num_threads(1)
    group = dd.init(rank, world, init_method=f"file://{init_file}", backend="gloo")
    model = _model(torch.float64 if task == "train" else torch.float32)
    if task == "train":
        fit(model, _data(), cfg, progress=False, group=group)
        result = model.state_dict()
    else:
        result = rank_filters(model.eval(), _data(20), "cifar", cfg, progress=False, group=group).counts
    torch.save(result, f"{out}.{rank}")
    torch.distributed.destroy_process_group()


def _spawn(tmp_path, task: str, cfg) -> list:
    out = tmp_path / "result"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out), task, cfg), nprocs=2, join=True)
    return [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [8, 7], ids=["even-shards", "uneven-shards"])
def test_two_processes_train_the_weights_of_one_with_the_same_global_batch(tmp_path, batch_size):
    """In float64: in float32 the shards' sums differ from the whole batch's by ~1e-6, enough for a ReLU
    input near 0 to change side within a few steps and the weights to drift apart by ~1 % (measured)."""
    cfg = replace(CFG, batch_size=batch_size)
    single = _model(torch.float64)
    fit(single, _data(), cfg, progress=False)
    ranks = _spawn(tmp_path, "train", cfg)
    for name, value in single.state_dict().items():
        for state in ranks:
            assert torch.allclose(state[name], value, rtol=1e-9, atol=1e-11), name
    start = _model(torch.float64).state_dict()
    assert not torch.allclose(single.state_dict()["conv1.weight"], start["conv1.weight"])  # it trained
    assert not torch.allclose(single.state_dict()["bn1.running_var"], start["bn1.running_var"])


@pytest.mark.slow
def test_filters_sharded_over_two_processes_give_identical_counts(tmp_path):
    cfg = RankingConfig(kinds=("awgn",), levels=(2, 5), layers=("conv1", "conv4"), chunk_filters=5)
    single = rank_filters(_model().eval(), _data(20), "cifar", cfg, progress=False).counts
    for counts in _spawn(tmp_path, "rank", cfg):
        for layer in cfg.layers:
            assert torch.equal(counts[layer], single[layer]), layer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_ranks_like_one_process(tmp_path):
    tiny = ["--profile", "smoke", "-p", "epochs=1", "-p", "train_per_class=16", "-p", "test_per_class=5", "-p",
            "val_per_class=2", "-p", "width=0.125", "-p", "per_class=2", "-p", "levels=1,6", "-p", "train_batch_size=32"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "deepcorrect", "rank", *tiny, "--results", str(tmp_path / "one"),
                          "--out", str(tmp_path / "one.csv")], cwd=REPO, capture_output=True, text=True, env=env,
                         timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                          str(_free_port()), "-m", "deepcorrect", "rank", *tiny, "--results", str(tmp_path / "two"),
                          "--out", str(tmp_path / "two.csv")], cwd=REPO, capture_output=True, text=True, env=env,
                         timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("rows written") == 1  # rank 0 alone prints
    import pandas as pd

    a, b = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "two.csv")
    assert len(a) == len(b) > 0
    # the two baselines were trained by 1 and 2 processes: equal weights up to float rounding, and so equal τ
    # up to a prediction that flips on a near-tie; require almost all of them to agree exactly
    assert (a["score"].round(9) == b["score"].round(9)).mean() > 0.95


def test_the_book_is_refused_under_torchrun(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["book", "--no-build", "--results", str(tmp_path / "r")]) == 2
    assert "'book' runs in one process; under torchrun use one of baseline, rank" in capsys.readouterr().err


def test_a_global_batch_smaller_than_the_world_is_an_error():
    with pytest.raises(ValueError, match="batch_size 2 is smaller than the 4 processes"):
        fit(_model(), _data(), replace(CFG, batch_size=2), progress=False, group=dd.Group(rank=0, world_size=4))


def test_cpu_processes_use_gloo_even_where_cuda_exists(monkeypatch):
    from deepcorrect.distributed import backend_for

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert [backend_for(d) for d in ("cpu", "cuda", "cuda:1", "auto")] == ["gloo", "nccl", "nccl", "nccl"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert backend_for("auto") == "gloo"
