"""Recorded editions: pages run as scripts, editions written with their provenance, the staleness check, and
the claims decided from them (both sides of each verdict)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deepcorrect import claims, statistics
from deepcorrect.config import resolve
from deepcorrect.editions import check, pages, record, render, staleness
from deepcorrect.evaluate import COLUMNS
from deepcorrect.fingerprint import core_fingerprint
from deepcorrect.metrics import save_metrics
from deepcorrect.sections import cifar_analysis

PAGE = '''# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # A page

# %% tags=["hide-cell"]
from IPython.display import Markdown, display
from deepcorrect.metrics import save_metrics

# %% tags=["parameters", "hide-cell"]
profile = "smoke"
scale = 1.0
results_dir = "results"

# %%
display(Markdown("shown in the book only"))
value = 2 * scale

# %% tags=["hide-cell"]
saved = save_metrics(results_dir, "01_fake_page", {"profile": profile, "value": value})
'''


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_fake_page.py").write_text(PAGE)
    return tmp_path


def test_a_page_runs_as_a_script_with_its_parameters_injected_after_its_parameters_cell(repo):
    source = repo / "notebooks" / "01_fake_page.py"
    kinds = [(c.markdown, c.tags) for c in pages.cells(source)]
    assert kinds == [(True, ()), (False, ("hide-cell",)), (False, ("parameters", "hide-cell")), (False, ()),
                     (False, ("hide-cell",))]
    assert pages.declared_parameters(source) == {"profile": "smoke", "scale": 1.0, "results_dir": "results"}
    namespace = pages.run_page(source, {"scale": 3.0, "results_dir": str(repo / "r")})
    assert namespace["value"] == 6.0
    assert json.loads((repo / "r" / "metrics" / "01_fake_page.json").read_text())["value"] == 6.0
    with pytest.raises(ValueError, match="unknown parameter.*widht.*valid: profile, scale, results_dir"):
        pages.run_page(source, {"widht": 0.5})


def test_a_page_runs_where_ipython_is_not_installed(repo, monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython now raises ImportError
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    namespace = pages.run_page(repo / "notebooks" / "01_fake_page.py", {"results_dir": str(repo / "r")})
    assert namespace["value"] == 2.0


def test_an_edition_keeps_each_page_with_its_provenance_and_refuses_bad_parameters_first(repo):
    path = record.record_edition(repo, "smoke", {"scale": 2.0}, out_dir=repo / "editions", log=lambda _: None)
    edition = record.load_edition(path)
    page = edition["pages"]["fake_page"]
    assert page["metrics"] == {"profile": "smoke", "value": 4.0}
    # what it ran with, the page's defaults too: an edition read later must not depend on today's defaults
    assert page["parameters"] == {"profile": "smoke", "scale": 2.0, "results_dir": "results"}
    made = page["provenance"]
    assert {"commit", "code", "package", "data", "weights", "settings", "libraries", "machine", "date"} <= set(made)
    assert made["settings"]["name"] == "smoke" and torch.__version__.startswith(made["libraries"]["torch"])
    before = path.read_text()
    with pytest.raises(ValueError, match="unknown parameter"):
        record.record_edition(repo, "smoke", {"nope": 1}, out_dir=repo / "editions", log=lambda _: None)
    with pytest.raises(ValueError, match="no page matches 09"):
        record.record_edition(repo, "smoke", {}, only=["09"], out_dir=repo / "editions", log=lambda _: None)
    assert path.read_text() == before  # nothing ran, nothing changed
    (repo / "editions" / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json is unreadable"):
        render.load_editions(repo / "editions")


def test_the_staleness_check_names_what_moved():
    assert check._compare("Tables 1–2", {"blur": {"Clean": 0.9, "Avg": 0.5}}, {"blur": {"Clean": 0.9, "Avg": 0.5}}) == []
    moved = check._compare("Tables 1–2", {"blur": {"Clean": 0.9, "Avg": 0.5}}, {"blur": {"Clean": 0.9, "Avg": 0.51}})
    assert moved == ["Tables 1–2 (blur) moved by up to 0.01"]
    assert check._compare("τ̄", {"blur": [0.1, 0.2]}, {}) == ["τ̄ (blur) moved by up to inf"]
    # a recorded row's columns come back sorted from JSON; the fresh table's are in the page's order
    assert check._compare("Tables 1–2", {"blur": {"Avg": 0.5, "Clean": 0.9}}, {"blur": {"Clean": 0.9, "Avg": 0.5}}) == []


def test_the_staleness_check_skips_an_edition_whose_data_are_absent(tmp_path):
    folder = tmp_path / "editions"
    folder.mkdir()
    page = {"parameters": {"profile": "resnet20-cifar10", "data_root": str(tmp_path / "absent.tar.gz")},
            "metrics": {"tables": {}}, "seconds": 1.0, "provenance": {}, "source": "01_x"}
    (folder / "e.json").write_text(json.dumps({"schema": 1, "name": "e", "profile": "resnet20-cifar10",
                                               "pages": {"distortions_baselines": page}}))
    lines = []
    assert check.check_editions(folder, log=lines.append) == []
    assert "skipped" in lines[0] and "absent.tar.gz" in lines[0]


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_pairs():
    first = torch.tensor([True] * 10 + [False] * 2 + [True] * 5)
    second = torch.tensor([False] * 10 + [True] * 2 + [True] * 5)
    paired = statistics.mcnemar(first, second)
    assert (paired.first_only, paired.second_only) == (10, 2)
    assert paired.p == pytest.approx(2 * (1 + 12 + 66) / 4096)  # 2 · P(X ≤ 2), X ~ Bin(12, ½)
    assert statistics.mcnemar(first, first).p == 1.0
    assert statistics.verdict(+0.1, 0.01) == "holds" and statistics.verdict(-0.1, 0.01) == "fails"
    assert statistics.verdict(+0.1, 0.2) == "undecided"


def _metrics(tmp_path, profile: str, deepcorr_edge: float) -> dict:
    """Page 03's metrics file for a run whose Deepcorr models are right on ``deepcorr_edge`` more of 2,000
    test images than the Finetune models at every column."""
    g = torch.Generator().manual_seed(0)
    base = torch.rand(7, 2000, generator=g) < 0.5
    names = ["Baseline", "Finetune-1", "Finetune-3", "Finetune-6", "Finetune-9", "Deepcorr-1", "Deepcorr-3",
             "Deepcorr-6", "Deepcorr-6c", "Deepcorr-6c-global"]
    tables, records = {}, {}
    for kind in ("blur", "awgn"):
        rows, recs = {}, {}
        for i, name in enumerate(names):
            hits = base.clone() if name != "Baseline" else torch.rand(7, 2000, generator=g) < 0.3
            if name.startswith("Deepcorr"):
                hits[:, : int(deepcorr_edge * 2000)] = True
            acc = hits.double().mean(1).tolist()
            rows[name] = {**dict(zip(COLUMNS, acc)), "Avg": float(np.mean(acc)), "# Params": 100 if
                          name.startswith("Deepcorr") else 1000}
            recs[name] = {"history": [{"seconds": 1.0}], "hits": hits}
        tables[kind], records[kind] = pd.DataFrame.from_dict(rows, orient="index"), recs
    versus = cifar_analysis.deepcorr_vs_finetune(tables, records)
    paired = cifar_analysis.paired_comparisons(tables, records, "Finetune-9")
    m = {"profile": profile, "tables": {k: t.drop(columns="# Params") for k, t in tables.items()},
         "params": {k: t["# Params"].to_dict() for k, t in tables.items()},
         "deepcorr_vs_finetune": versus.reset_index().to_dict(orient="records"),
         "paired": paired.to_dict(orient="records"), "training": {"steps": 500}, "figure9": {}, "table6_rows": []}
    return {"deepcorrect_cifar": json.loads(save_metrics(tmp_path, "03_x", m).read_text())}


@pytest.mark.parametrize("edge,expected", [(0.2, "holds"), (0.0, "undecided")])
def test_deepcorr_against_finetune_is_decided_by_the_sign_test_over_images(tmp_path, edge, expected):
    metrics = _metrics(tmp_path, "resnet20-cifar10", edge)
    rows = claims.deepcorr_beats_finetune(metrics)
    assert len(rows) == 6 and {r.verdict for r in rows} == {expected}
    assert all("sign test over images" in r.test and "500 steps" in r.test for r in rows)
    similar = claims.global_vs_local(metrics)  # global and local identical here: similar, as the paper says
    assert {r.verdict for r in similar} == {"holds"}


def test_a_smoke_budget_decides_nothing_and_says_so(tmp_path):
    metrics = _metrics(tmp_path, "smoke", 0.2)
    verdicts = {r.verdict for c in claims.CLAIMS if "deepcorrect_cifar" in c.pages for r in claims.decide(c, metrics)}
    assert verdicts == {"code path only", "not measured"}  # Table 6 is absent from these metrics
    assert claims.guard("smoke", "Deepcorr wins.").startswith("**Code path only.**")
    assert claims.guard("resnet20-cifar10", "Deepcorr wins.") == "Deepcorr wins."


def test_the_scoreboard_has_a_row_per_claim_and_shows_who_made_each_edition(tmp_path):
    metrics = _metrics(tmp_path, "resnet20-cifar10", 0.2)
    made = {"commit": "abc", "code": "0" * 16, "date": "today", "machine": "a CPU", "weights": None,
            "data": "sha256:1234", "settings": {"model": {"arch": "resnet20", "width": 1.0}, "data": {"source": "folder"}}}
    edition = {"schema": 1, "name": "e", "pages": {"deepcorrect_cifar": {
        "metrics": metrics["deepcorrect_cifar"], "seconds": 60.0, "provenance": made, "parameters": {},
        "source": "03_deepcorrect_cifar"}}}
    board = render.scoreboard({"e": edition})
    assert set(board["#"]) == {c.number for c in claims.CLAIMS}
    assert (board[board["#"] == "6"]["verdict"] == "✓ holds").all()
    assert (board[board["#"] == "1"]["verdict"] == "not measured").all()
    text = render.describe_edition("e", edition)
    assert "page 03 recorded today at commit `abc`" in text and "has changed since" in text


@pytest.mark.slow
def test_the_staleness_check_fails_when_a_recorded_number_no_longer_matches_the_code(shared_data, tmp_path):
    """The committed ResNet-20 edition with one filter's recorded τ̄ of conv1 moved by 0.001: the check recomputes
    the slice and names the number (the unmoved edition passes in `make check-editions`). The ranking slice is
    the cheaper of the two (one layer on the ranking set, against Tables 1–2 on 10,000 test images)."""
    source = Path(__file__).resolve().parents[1] / "editions" / "resnet20-cifar10.json"
    if not source.is_file():
        pytest.skip("no recorded resnet20-cifar10 edition")
    edition = json.loads(source.read_text())
    edition["pages"] = {"ranking": edition["pages"]["ranking"]}
    edition["pages"]["ranking"]["metrics"]["first_layer_tau"]["awgn"][3] += 0.001
    (tmp_path / "resnet20-cifar10.json").write_text(json.dumps(edition))
    problems = check.check_editions(tmp_path, log=lambda _: None)
    assert problems == ["resnet20-cifar10 ranking: τ̄ of conv1 (awgn) moved by up to 0.001"]


def _record_at_head(profile: str = "smoke") -> tuple[dict, dict[str, str]]:
    repo = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, check=False, text=True).stdout.strip()
    then = staleness.core_sources_at(head) if head else None
    if then is None:
        pytest.skip("no git history here")
    settings = json.loads(json.dumps(dataclasses.asdict(resolve(profile)), sort_keys=True, default=str))
    return ({"parameters": {"profile": profile, "width": None}, "provenance": {
        "commit": head, "code": staleness.digest(then), "uncommitted changes": False, "settings": settings}}, then)


def test_the_per_module_fingerprints_combine_into_the_core_fingerprint():
    assert staleness.digest(staleness.core_sources_now()) == core_fingerprint()


def test_an_edition_is_stale_where_a_computing_module_moved_and_not_where_only_another_profile_did():
    record, then = _record_at_head()
    assert staleness.moved_modules(record, then) == []
    assert staleness.moved_modules(record, {**then, "ranking.ideal": "edited"}) == ["ranking.ideal"]
    assert staleness.moved_modules(record, {**then, "config.profiles": "edited"}) == []  # the settings still equal
    record["provenance"]["settings"]["correct"]["correct_epochs"] += 1  # its own profile's budget changed
    assert staleness.moved_modules(record, {**then, "config.profiles": "edited"}) == ["config.profiles"]
    assert staleness.moved_modules({**record, "provenance": {**record["provenance"], "commit": "f" * 40}},
                                   {**then, "ranking.ideal": "edited"}) is None  # its commit is not here
    dirty = {**record, "provenance": {**record["provenance"], "uncommitted changes": True}}
    assert staleness.moved_modules(dirty, {**then, "ranking.ideal": "edited"}) is None
