import json

import pytest
import torch

from deepcorrect.store import CHECKPOINT, Store


def test_store_computes_once_then_loads(tmp_path):
    calls = []

    def compute(folder):
        calls.append(folder)
        (folder / CHECKPOINT).write_bytes(b"training in progress")
        return {"x": torch.arange(3), "note": "hi"}

    store = Store(tmp_path)
    a = store.get("kind", {"a": 1}, compute)
    b = store.get("kind", {"a": 1}, compute)
    assert len(calls) == 1 and torch.equal(a["x"], b["x"]) and b["note"] == "hi"
    meta = json.loads((calls[0] / "meta.json").read_text())
    assert meta["config"] == {"a": 1} and meta["version"]
    assert sorted(p.name for p in calls[0].iterdir()) == ["meta.json", "payload.pt"]  # the checkpoint went
    store.get("kind", {"a": 2}, compute)
    assert len(calls) == 2
    Store(tmp_path, fresh=True).get("kind", {"a": 1}, compute)
    assert len(calls) == 3


def test_truncated_or_mismatching_artifacts_are_detected_and_recomputed(tmp_path):
    store = Store(tmp_path)
    store.get("k", {"a": 1}, lambda f: {"x": torch.ones(1000)})
    payload = store.folder("k", {"a": 1}) / "payload.pt"
    payload.write_bytes(payload.read_bytes()[:100])
    with pytest.warns(UserWarning, match="does not match the recorded checksum"):
        out = store.get("k", {"a": 1}, lambda f: {"x": torch.zeros(2)})
    assert torch.equal(out["x"], torch.zeros(2))
    meta_path = store.folder("k", {"a": 1}) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["config"] = {"a": 99}
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="different config"):
        assert store.load("k", {"a": 1}) is None


def test_speed_only_fields_leave_artifact_keys_alone_and_result_fields_change_them():
    from deepcorrect.config import resolve
    from deepcorrect.keys import artifact_key, training_key

    sections = ("data", "model", "train", "eval", "rank", "correct", "restore", "transfer")
    base = resolve("smoke")
    faster = resolve("smoke", chunk_filters=32, shortcut=False, rank_channels_last=False, cudnn_benchmark=False,
                     cache_dir="/elsewhere", download=True, workers=3)
    assert artifact_key(base, *sections) == artifact_key(faster, *sections)
    for change in ({"chunk_images": 7}, {"train_channels_last": False}, {"width": 0.5}, {"train_seed": 1}):
        assert artifact_key(base, *sections) != artifact_key(resolve("smoke", **change), *sections), change
    assert training_key(base) != training_key(resolve("smoke", width=0.5))
    assert training_key(base) == training_key(resolve("smoke", draws=3))  # more Figure 9 draws: no retraining


def test_fresh_recomputes_each_artifact_once_per_run(tmp_path):
    """A --fresh book run hands every notebook the same instant: what page 01 retrains, pages 02-03 reuse."""
    import time

    calls = []
    Store(tmp_path).get("baseline", {"a": 1}, lambda f: calls.append(f) or {"x": 1})
    since = time.time()
    for _notebook in range(3):
        store = Store(tmp_path, fresh=since)
        for _use in range(2):  # page 06 asks for Deepcorr-5 twice
            store.get("baseline", {"a": 1}, lambda f: calls.append(f) or {"x": 2})
    assert len(calls) == 2  # once before, once in the fresh run
    assert Store(tmp_path).get("baseline", {"a": 1}, lambda f: {"x": 3}) == {"x": 2}


def test_a_code_edit_invalidates_every_artifact(tmp_path, monkeypatch):
    from deepcorrect import store as store_module

    store = Store(tmp_path)
    store.get("k", {"a": 1}, lambda f: {"x": 1})
    assert json.loads((store.folder("k", {"a": 1}) / "meta.json").read_text())["code"] == store.code
    edited = Store(tmp_path)
    monkeypatch.setattr(edited, "code", "0123456789abcdef")  # what another version of the source hashes to
    assert edited.folder("k", {"a": 1}) != store.folder("k", {"a": 1})
    assert edited.get("k", {"a": 1}, lambda f: {"x": 2}) == {"x": 2}
    assert store_module.code_fingerprint() == store.code  # the real fingerprint: stable within a process


def test_a_meta_json_that_is_not_utf8_is_a_missing_artifact_fresh_or_not(tmp_path):
    Store(tmp_path).get("k", {"a": 1}, lambda f: {"x": 1})
    meta = Store(tmp_path).folder("k", {"a": 1}) / "meta.json"
    meta.write_bytes(meta.read_bytes().replace(b"{", b"{\xff", 1))
    with pytest.warns(UserWarning, match=f"{meta.parent}: its meta.json does not read .* recomputed"):
        assert Store(tmp_path).get("k", {"a": 1}, lambda f: {"x": 2}) == {"x": 2}
    meta.write_bytes(b"\xff")
    assert Store(tmp_path, fresh=True).get("k", {"a": 1}, lambda f: {"x": 3}) == {"x": 3}
    assert Store(tmp_path).get("k", {"a": 1}, lambda f: {"x": 4}) == {"x": 3}  # the recomputed one is kept
