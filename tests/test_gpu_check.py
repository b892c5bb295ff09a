"""bench/gpu_check.sh as the device tool runs it, tried on the CPU at tiny sizes: cold, then from its cache."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

TINY = ["--device", "cpu", "--width", "0.125", "--epochs", "1", "--correct-epochs", "1",
        "--train-per-class", "20", "--test-per-class", "5"]


def _status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
def test_gpu_check_runs_cold_and_again_from_its_cache_leaving_the_tree_clean(shared_data, tmp_path):
    before = _status()
    runs = []
    for _ in range(2):
        out = subprocess.run(["bash", "bench/gpu_check.sh", str(shared_data / "cifar10-jpg.tar.gz"), *TINY,
                              "--results", str(tmp_path / "results"), "--work", str(tmp_path / "work")],
                             cwd=REPO, capture_output=True, text=True,
                             env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(json.loads((tmp_path / "results" / "gpu_check.json").read_text()))
    cold, warm = runs
    assert [r["stage"] for r in cold["stages"]] == [r["stage"] for r in warm["stages"]]
    assert cold["tables"] == warm["tables"]  # the rerun reads every model and table from the store
    trained = {r["stage"]: r["seconds"] for r in warm["stages"]}
    assert trained["baseline training"] <= 0.5
    assert _status() == before


@pytest.mark.slow
def test_the_imagenette_check_runs_the_section_5_2_pipeline_streamed(shared_data, tmp_path):
    before = _status()
    out = subprocess.run(["bash", "bench/gpu_check.sh", "imagenette", str(shared_data / "imagenette160.tar.gz"),
                          "--device", "cpu", "--width", "0.125", "--epochs", "1", "--correct-epochs", "1",
                          "--train-per-class", "20", "--test-per-class", "5", "--results", str(tmp_path / "results"),
                          "--work", str(tmp_path / "work")], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "results" / "gpu_check_imagenet.json").read_text())
    assert report["stream"] and [r["stage"] for r in report["stages"]][-2:] == [
        "Finetune-8 + Deepcorr-5, blur", "Finetune-8 + Deepcorr-5, awgn"]
    assert set(report["tables"]["blur"]["Avg"]) == {"Baseline", "Finetune-8", "Deepcorr-5"}
    assert "Table 7 (blur, Imagenette val, measured)" in out.stdout and _status() == before


def test_the_checks_default_folders_are_ignored_by_git():
    """What the device tool carries is the working tree: data and outputs must not land in it."""
    paths = ["gpu-check/data/cifar10-jpg.tar.gz", "gpu-check/results/x", "gpu-check/cache/x"]
    out = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.split() == paths
