"""Papermill smoke runs of every notebook with tiny parameters, asserting on the metrics each one saves."""

import json
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from deepcorrect.book import (
    check_parameters,
    notebook_sources,
    run_notebooks,
    startable,
)
from deepcorrect.editions.pages import declared_parameters

TINY = {"epochs": 1, "width": 0.125, "train_per_class": 30, "test_per_class": 10, "val_per_class": 4,
        "tsne_per_class": 5, "per_class": 2, "ideal_per_class": 5, "correct_epochs": 1, "correct_train_per_class": 3,
        "correct_test_per_class": 3, "draws": 1,
        # notebooks 06-07 (AlexNet): a 1-epoch baseline on 32 images per class, 1 BM3D image, 1 SVM split
        "alexnet_epochs": 1, "alexnet_train_per_class": 32, "alexnet_test_per_class": 6, "restore_max": 1,
        "splits": 1, "svm_test_per_class": 2,
        "seeds": 2,  # page 04: two training seeds
        "corrupt_per_class": 3}  # page 05: 30 test images under each of the 75 corruptions


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("book")
    results = tmp / "results"
    outputs = run_notebooks(REPO, "smoke", {**TINY, "results_dir": str(results)}, out_dir=tmp, jobs=2,
                            log=lambda *_: None)
    return outputs, results


def test_every_notebook_has_a_parameters_cell_defaulting_to_the_embedded_profile():
    """Pages of the paper take a profile (default smoke) and a results folder; a page that runs the library on
    a network of its own (page 08) takes neither."""
    for src in notebook_sources(REPO):
        params = declared_parameters(src)
        if "profile" in params or "results_dir" in params:
            assert params["profile"] == "smoke", src
            assert "results_dir" in params, src


def test_a_page_starts_once_the_pages_whose_artifacts_it_reuses_have_finished():
    """The book's schedule on two workers: 01 and 06 first (08 needs nothing but comes later in order); once
    01 is done, 02 and 08; 03–05 only after 02; a page whose prerequisite is not being executed (reused from an
    earlier build) does not wait for it."""
    pending = [(Path(f"{n}_page.py"),) for n in ("01", "02", "03", "04", "05", "06", "07", "08")]
    stems = lambda items: [item[0].stem[:2] for item in items]
    assert stems(startable(pending, pending, set(), 2)) == ["01", "06"]
    waiting = pending[1:5] + pending[6:]
    assert stems(startable(waiting, pending, {"01_page"}, 1)) == ["02"]
    assert stems(startable(waiting, pending, {"01_page"}, 3)) == ["02", "08"]
    assert stems(startable(pending[2:5], pending, {"01_page"}, 2)) == []
    assert stems(startable(pending[2:5], pending, {"01_page", "02_page"}, 2)) == ["03", "04"]
    assert stems(startable(pending[6:7], pending[6:], set(), 2)) == ["07"]
    assert startable(pending, pending, set(), 0) == []


@pytest.mark.slow
def test_notebook_01_runs_and_saves_its_tables(executed):
    outputs, results = executed
    assert [p.stem for p in outputs] == [s.stem for s in notebook_sources(REPO)]
    for out in outputs:
        nb = nbformat.read(out, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, out
    metrics = json.loads((results / "metrics" / "01_distortions_baselines.json").read_text())
    tables = metrics["tables"]
    assert set(tables) == {"blur", "awgn"}
    for row in tables.values():
        assert set(row) == {"Clean", *(f"Level {i}" for i in range(1, 7)), "Avg"}
        assert all(0 <= v <= 1 for v in row.values())
    assert set(metrics["tsne_separation"]) == {f"{k}/{lv}" for k in ("blur", "awgn") for lv in range(7)}


@pytest.mark.slow
def test_notebook_02_ranks_every_filter_and_saves_figures_4_5(executed):
    _, results = executed
    metrics = json.loads((results / "metrics" / "02_ranking.json").read_text())
    assert metrics["layers"] == [f"conv{i}" for i in range(1, 7)] and metrics["n_images"] == 20
    fig4 = metrics["figure4"]
    assert {row["selection"] for row in fig4} == {"none", "β₁=10%", "β₁=25%", "β₁=50%", "β₁=75%", "β₁=90%"}
    assert all(0 <= row["Level 6"] <= 1 for row in fig4)
    local = [r for r in metrics["selection_counts"] if r["ranking"] == "local" and r["source"] == "measured"]
    assert [local[0][f"conv{i}"] for i in range(1, 7)] == [6, 6, 6, 12, 12, 12]  # β = 50 % of 12 / 24 filters
    glob = [r for r in metrics["selection_counts"] if r["ranking"] == "global" and r["source"] == "measured"]
    assert sum(glob[0][f"conv{i}"] for i in range(1, 7)) == 54


@pytest.mark.slow
def test_notebook_03_trains_every_model_of_tables_3_to_6(executed):
    _, results = executed
    metrics = json.loads((results / "metrics" / "03_deepcorrect_cifar.json").read_text())
    names = {"Baseline", "Finetune-1", "Finetune-3", "Finetune-6", "Finetune-9", "Deepcorr-1", "Deepcorr-3",
             "Deepcorr-6", "Deepcorr-1c", "Deepcorr-3c", "Deepcorr-6c", "Deepcorr-6c-global"}
    for kind in ("blur", "awgn"):
        assert set(metrics["tables"][kind]) == names
        assert all(0 <= v <= 1 for row in metrics["tables"][kind].values() for v in row.values())
        params = metrics["params"][kind]
        assert params["Finetune-9"] == params["Baseline"] and params["Deepcorr-1"] < params["Deepcorr-1c"]
        groups = [(r["group"], r["filters"]) for r in metrics["figure9"][kind]]
        # the smoke profile's two Figure 9 sizes, 12 and 48 of the paper's 96, on a first layer of 12 filters
        assert groups == [("ranked", n) for n in (2, 6)] + [("random", n) for n in (2, 6)] + [("least", 6)]
    assert set(metrics["table6"]["p-value"]) == {f"{n} filters" for n in (2, 6)}
    assert 0 <= metrics["local_vs_global"]["p-value"] <= 1


@pytest.mark.slow
def test_notebook_04_trains_the_alexnet_models_and_restoration_rows(executed):
    _, results = executed
    metrics = json.loads((results / "metrics" / "06_imagenet_alexnet.json").read_text())
    assert metrics["profile"] == "smoke-alexnet"
    names = {"Baseline", "Finetune-8", "Deepcorr-5c", "Deepcorr-5", "Deepcorr-5-no-bn", "Deepcorr-5-lite",
             "Deepcorr-5-bottleneck", "Deepcorr-5-global"}
    for kind in ("blur", "awgn"):
        assert set(metrics["tables"][kind]) == names
        params = metrics["params"][kind]
        assert params["Finetune-8"] == params["Baseline"] > params["Deepcorr-5c"] - params["Deepcorr-5"]
        assert params["Deepcorr-5-bottleneck"] < params["Deepcorr-5"]
        assert set(metrics["restoration"][kind]) == {"Baseline (same 1 image)",
                                                     "BM3D" if kind == "awgn" else "Richardson–Lucy (NCSR stand-in)"}
        assert metrics["restoration_seconds"][kind] > 0
        assert sum(metrics["figure11"][kind].values()) == 10  # every embedded class counted once


@pytest.mark.slow
def test_notebook_05_fits_svms_for_every_model_and_kind(executed):
    _, results = executed
    metrics = json.loads((results / "metrics" / "07_transfer.json").read_text())
    assert set(metrics["table"]) == {"clean/Baseline", *(f"{k}/{m}" for k in ("blur", "awgn")
                                                          for m in ("Baseline", "Finetune-8", "Deepcorr-5"))}
    for row in metrics["table"].values():
        assert 0 <= row["Avg"] <= 1
    assert all(len(c) == 1 for c in metrics["C"].values())  # one split


@pytest.mark.slow
def test_notebook_06_sets_every_model_beside_the_baselines_with_paired_tests(executed):
    _, results = executed
    metrics = json.loads((results / "metrics" / "04_what_the_gain_consists_of.json").read_text())
    assert metrics["seeds"] == 2
    for kind in ("blur", "awgn"):
        rows = metrics["summary"][kind]
        assert set(rows) == {"Baseline", "BN-adapt", "TENT", "Finetune-BN", "Finetune-1", "Finetune-9", "Deepcorr-6",
                             "Deepcorr-6-adapt", "Deepcorr-6-release", "Deepcorr-6-release-adapt", "Deepcorr-6c"}
        assert all(0 <= row["Avg"] <= 1 and row["± Avg (std over seeds)"] >= 0 for row in rows.values())
        tests = metrics["contrasts"][kind]
        assert len(tests) == 4 and all(0 <= t["p-value"] <= 1 for t in tests.values())


@pytest.mark.slow
def test_the_profile_page_names_the_alexnet_counterpart(executed):
    outputs, _ = executed
    text = (outputs[0].parent / "_profile.md").read_text()
    assert "profile `smoke`" in text and "counterpart `smoke-alexnet`" in text


@pytest.mark.slow
def test_an_unchanged_notebook_is_not_executed_again(executed, tmp_path):
    outputs, results = executed
    lines = []
    run_notebooks(REPO, "smoke", {**TINY, "results_dir": str(results)}, out_dir=outputs[0].parent, log=lines.append)
    assert len(lines) == len(outputs) and all(line.startswith("unchanged") for line in lines)


def test_unknown_notebook_parameters_are_rejected():
    with pytest.raises(ValueError, match="unknown notebook parameter"):
        check_parameters(notebook_sources(REPO), {"widht": 1})


def test_one_tiny_notebook_runs_in_the_fast_tier(tmp_path):
    """Page 01 alone through papermill (the slow tier runs them all): executed without an error cell, its
    tables saved, its stamp recorded."""
    params = {k: TINY[k] for k in ("epochs", "width", "train_per_class", "test_per_class", "val_per_class",
                                   "tsne_per_class")}
    (out,) = run_notebooks(REPO, "smoke", {**params, "results_dir": str(tmp_path / "r")}, out_dir=tmp_path,
                           only=["01"], log=lambda *_: None)
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata["deepcorrect_stamp"]
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    tables = json.loads((tmp_path / "r" / "metrics" / "01_distortions_baselines.json").read_text())["tables"]
    assert set(tables) == {"blur", "awgn"} and tables["blur"]["Clean"] == tables["awgn"]["Clean"]


def test_notebook_lines_fit_the_books_column():
    """The book shows code cells at about 120 characters; longer lines scroll sideways."""
    long = [f"{src.name}:{i}" for src in notebook_sources(REPO)
            for i, line in enumerate(src.read_text().splitlines(), 1) if len(line) > 120]
    assert not long, long


@pytest.mark.slow
def test_notebook_05_measures_the_corruption_benchmark(executed):
    _, results = executed
    metrics = json.loads((results / "metrics" / "05_beyond_blur_and_noise.json").read_text())
    assert len(metrics["error_grid"]) == 15 and all(len(row) == 5 for row in metrics["error_grid"].values())
    assert set(metrics["mean_error"]) == {"Source", "BN adaptation", "TENT"}
    assert all(0 <= v <= 100 for v in metrics["mean_error"].values())
    # the blur- and AWGN-trained Deepcorr-6c and full fine-tune, each against the baseline on the four families
    assert {t["family"] for t in metrics["transfer_tests"]} == {"noise", "blur", "weather", "digital", "all"}
    assert {t["model"] for t in metrics["held_out_tests"]} == {"Deepcorr-6c (mix)", "Finetune-9 (mix)"}
    assert len({t["model"] for t in metrics["transfer_tests"]}) == 4 and len(metrics["transfer"]) == 15 + 4 + 1
