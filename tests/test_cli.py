import subprocess
import sys

import pytest

from conftest import REPO
from deepcorrect.cli import main


TINY = ["-p", "epochs=1", "-p", "train_per_class=20", "-p", "test_per_class=5", "-p", "val_per_class=3", "-p",
        "width=0.125", "-p", "per_class=2", "-p", "levels=1,6"]


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "deepcorrect", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_help_lists_the_commands():
    out = run_cli("--help")
    assert out.returncode == 0 and "book" in out.stdout and "baseline" in out.stdout


@pytest.mark.parametrize("args,message", [
    (["book", "--profile", "nope", "--no-build"], "unknown profile 'nope'; valid profiles: smoke"),
    (["book", "-p", "epoch=2", "--no-build"], "unknown notebook parameter(s) epoch; valid:"),
    (["book", "-p", "width=-2", "--no-build"], "width must be in (0, 4]"),
    (["baseline", "-p", "nonsense=1"], "unknown parameter(s) nonsense"),
    (["baseline", "--profile", "cifar10-jpg", "-p", "data_root=/no/such/folder"], "'/no/such/folder' does not exist"),
    (["rank", "--out", "ranking.txt"], "--out must end in .csv or .json"),
    (["rank", "-p", "levels=0,7"], "ranking levels must be a non-empty subset of 1..6"),
    (["rank", "-p", "layers=conv1,bn1", "-p", "epochs=1", "-p", "train_per_class=20", "-p", "val_per_class=2",
      "-p", "test_per_class=5", "-p", "per_class=1", "-p", "width=0.125"], "is a BatchNorm2d, not a conv layer"),
    (["correct", "--model", "Deepcorr6"], "unknown model name 'Deepcorr6'"),
    (["correct", "--profile", "smoke-alexnet", "--model", "Deepcorr-5-wide"], "unknown model name 'Deepcorr-5-wide'"),
    (["book", "--jobs", "0", "--no-build"], "jobs must be an integer ≥ 1"),
    (["book", "-p", "restore_max=-1", "--no-build"], "restore_max must be an integer ≥ 0"),
    (["correct", "--out", "table.txt"], "--out must end in .csv"),
    (["finetune", "--k", "12", *TINY], "Finetune-k needs 1 ≤ k ≤ 9"),
    (["correct", "--model", "ranked.30", *TINY], "the first ranked layer conv1 has 12 filters"),
    (["correct", "--model", "Deepcorr-7", *TINY], "k must lie in 1..6"),
])
def test_bad_input_is_one_clear_error_and_exit_2(args, message, tmp_path, capsys):
    results = tmp_path / "results"
    code = main([*args, "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.startswith("error:")
    assert not results.exists()  # rejected before any work: nothing written


def test_profiles_command_lists_profiles_and_keys(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "smoke" in out and "cifar10-jpg" in out and "width" in out


@pytest.mark.slow
def test_baseline_command_trains_and_prints_tables(tmp_path):
    out = run_cli("baseline", "-p", "epochs=1", "-p", "train_per_class=20", "-p", "test_per_class=10", "-p",
                  "val_per_class=2",
                  "-p", "width=0.125", "--results", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "Table 1 - Gaussian blur" in out.stdout and "paper (CIFAR-100)" in out.stdout
    assert "0.7028" in out.stdout


@pytest.mark.slow
def test_rank_command_writes_one_row_per_filter(tmp_path):
    out_csv = tmp_path / "ranking.csv"
    out = run_cli("rank", "-p", "epochs=1", "-p", "train_per_class=20", "-p", "test_per_class=5", "-p",
                  "val_per_class=3", "-p", "width=0.125", "-p", "per_class=2", "-p", "levels=1,6",
                  "--results", str(tmp_path / "r"), "--out", str(out_csv))
    assert out.returncode == 0, out.stderr
    import pandas as pd

    frame = pd.read_csv(out_csv)
    assert len(frame) == 2 * (12 * 3 + 24 * 3)
    assert {"kind", "layer", "filter", "tau_L1", "tau_L6", "tau_mean", "rank"} <= set(frame.columns)
    assert sorted(frame[(frame.kind == "blur") & (frame.layer == "conv1")]["rank"]) == list(range(1, 13))


@pytest.mark.slow
def test_correct_command_trains_units_and_writes_the_table(tmp_path):
    out_csv = tmp_path / "table.csv"
    out = run_cli("correct", "--model", "Deepcorr-1", "--kind", "blur", *TINY, "-p", "correct_epochs=1", "-p",
                  "correct_train_per_class=5", "--results", str(tmp_path / "r"), "--out", str(out_csv))
    assert out.returncode == 0, out.stderr
    assert "Table 3 - Gaussian blur" in out.stdout and "0.4917" in out.stdout  # the paper's Deepcorr-1 Avg
    import pandas as pd

    frame = pd.read_csv(out_csv, index_col=0)
    assert list(frame.index) == ["Baseline", "Deepcorr-1"] and (frame["kind"] == "blur").all()
    assert frame.loc["Deepcorr-1", "# Params"] < frame.loc["Baseline", "# Params"]
