"""Artifact keys chain: each artifact's key holds the keys of what it consumed, so a changed setting
recomputes exactly what lies downstream of it, and a fresh run computes each artifact once."""

import time

import pytest
import torch

from deepcorrect import corrected_models
from deepcorrect.baseline import baseline_model
from deepcorrect.config import resolve
from deepcorrect.context import Run
from deepcorrect.keys import derived, key_of, stamp
from deepcorrect.priorities import filter_priorities
from deepcorrect.sections import distortion_effects
from deepcorrect.splits import datasets
from deepcorrect.store import Store

TINY = {"epochs": 1, "width": 0.125, "train_per_class": 12, "test_per_class": 4, "val_per_class": 2,
        "per_class": 1, "correct_epochs": 1, "correct_train_per_class": 3, "correct_test_per_class": 2,
        "tsne_per_class": 3, "tsne_classes": 3, "layers": ("conv1", "conv2")}
MODELS = ["Baseline", "Deepcorr-1", "Finetune-1"]


def pages(root, fresh=False, **change) -> list[str]:
    """Pages 01–03 in miniature; returns the kinds of the artifacts this run computed, in order."""
    cfg = resolve("smoke", **{**TINY, **change})
    run = Run.of(cfg, Store(root, fresh=fresh))
    data = datasets(cfg)
    model, _ = baseline_model(run, data.train, progress=False)
    distortion_effects.baseline_tables(run, model, data.test)
    distortion_effects.tsne_embeddings(run, model, data.test)
    priorities = filter_priorities(run, model, data, progress=False)
    corrected_models.evaluate_models(run, model, data, priorities, "blur", MODELS, progress=False)
    return [entry["kind"] for entry in run.store.ledger if entry["computed"]]


EVERYTHING = ["baseline", "baseline_tables", "tsne", "ranking", "corrected_eval", "corrected", "corrected_eval",
              "corrected", "corrected_eval"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    assert pages(root) == EVERYTHING
    return root


@pytest.mark.parametrize("change, recomputed", [
    ({}, []),
    ({"tsne_per_class": 2}, ["tsne"]),  # an eval field only the t-SNE reads
    ({"eval_seed": 5}, ["baseline_tables", "tsne", "corrected_eval", "corrected", "corrected_eval", "corrected",
                        "corrected_eval"]),  # the noise of every measurement and of the validation draws
    ({"beta": 0.25}, ["corrected", "corrected_eval"]),  # Deepcorr's units; Finetune's training is untouched
    ({"correct_lr_step": 7}, ["corrected", "corrected_eval", "corrected", "corrected_eval"]),
    ({"train_seed": 3}, EVERYTHING),  # a new baseline: everything downstream of it
])
def test_a_changed_setting_recomputes_exactly_what_lies_downstream(root, change, recomputed):
    assert pages(root, **change) == recomputed


def test_a_new_ranking_retrains_at_most_the_deepcorrect_model(root):
    """Finetune-1 never reads the ranking; Deepcorr-1 retrains only if its selected filters changed."""
    computed = pages(root, rank_seed=11, per_class=2)  # per_class is priorities.per_class (one name per setting)
    assert computed[0] == "ranking" and computed.count("corrected") <= 1
    assert set(computed) <= {"ranking", "corrected", "corrected_eval"}


def test_a_fresh_run_computes_each_artifact_once(tmp_path):
    """As `deepcorrect book --fresh` does: one instant for every notebook, each reopening the store."""
    assert pages(tmp_path) == EVERYTHING
    since = time.time()
    assert pages(tmp_path, fresh=since) == EVERYTHING
    assert pages(tmp_path, fresh=since) == []  # the next notebook of the same run


def test_a_code_edit_invalidates_the_whole_chain(root, monkeypatch):
    from deepcorrect import store as store_module

    monkeypatch.setattr(store_module, "code_fingerprint", lambda: "0123456789abcdef")
    assert pages(root) == EVERYTHING


def test_keys_of_inputs_are_stamps_or_content():
    from deepcorrect.data import TensorData

    a = TensorData(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ("x", "y"))
    b = TensorData(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ("x", "y"))
    assert key_of(a) == key_of(b) and key_of(a).startswith("content:")
    b.images[0, 0, 0, 0] = 1
    assert key_of(a) != key_of(b)  # content keys are not remembered: a changed object gets a new key
    stamp(a, "data/abc/train")
    assert key_of(a) == "data/abc/train"
    sub = derived(a.subset(torch.tensor([0])), a, first=1)
    assert key_of(sub) != key_of(derived(a.subset(torch.tensor([0])), a, first=2))
    with pytest.raises(TypeError, match="stamp it"):
        key_of(object())


def test_meta_records_inputs_and_the_ledger_shows_them(tmp_path):
    import json

    store = Store(tmp_path)
    store.get("a", {"x": 1}, lambda f: {"v": 1})
    first = store.key("a", {"x": 1})  # a plain payload is named by its key
    store.get("b", {"y": 2}, lambda f: {"v": 2}, {"source": first})
    meta = json.loads((store.folder("b", {"y": 2}, {"source": first}) / "meta.json").read_text())
    assert meta["inputs"] == {"source": store.key("a", {"x": 1})} and meta["code"] == store.code
    rows = store.provenance()
    assert [r["artifact"].split("/")[0] for r in rows] == ["a", "b"]
    assert rows[1]["inputs"] == f"source={store.key('a', {'x': 1})[:10]}" and rows[1]["this run"] == "computed"
