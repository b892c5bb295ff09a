"""The fingerprint of what computes: prose, plots and docstrings keep every key; code that computes does not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deepcorrect import fingerprint
from deepcorrect.store import Store

PACKAGE = Path(fingerprint.__file__).parent


def _fingerprint_of(tree: Path) -> str:
    """The core fingerprint of a copy of the package, computed in a fresh interpreter."""
    code = "from deepcorrect.fingerprint import core_fingerprint; print(core_fingerprint())"
    return subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pkg")
    shutil.copytree(PACKAGE, root / "deepcorrect", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _edit(copy: Path, relative: str, old: str, new: str) -> str:
    """Apply one edit, read the fingerprint, undo the edit; returns the fingerprint under the edit."""
    path = copy / "deepcorrect" / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))
    try:
        return _fingerprint_of(copy)
    finally:
        path.write_text(text)


def test_prose_plots_and_docstrings_keep_the_fingerprint_and_code_changes_it(copy):
    base = _fingerprint_of(copy)
    assert base == fingerprint.core_fingerprint()
    # a verdict sentence, a plot, a core docstring and a comment: no number can change
    assert _edit(copy, "sections/cifar_analysis.py", "similar, as the paper finds", "similar, which the paper finds too") == base
    assert _edit(copy, "plots.py", "import", "# a comment\nimport") == base
    assert _edit(copy, "ranking/algorithm.py", '"""', '"""Reworded. ') == base
    assert _edit(copy, "train.py", "\n", "\n# a comment\n") == base
    # a statement of the ranking or of the training loop: every key changes
    assert _edit(copy, "ranking/algorithm.py", "\nimport", "\nLIMIT = 1\nimport") != base
    assert _edit(copy, "train.py", "\nimport", "\nSTEP = 2\nimport") != base


def _compute(folder):
    """A section's computation."""
    return {"value": _helper()}


def _helper():
    return 1


def _other_helper():
    return 2


def test_a_source_is_fingerprinted_without_its_docstrings_comments_or_layout():
    f = fingerprint.source_fingerprint
    one = f('def f(x):\n    """Say it."""\n    return x + 1\n')
    assert one == f('def f(x):\n    """Say it otherwise."""\n    # why\n    return (x +\n            1)\n')
    assert one != f('def f(x):\n    """Say it."""\n    return x + 2\n')


def test_a_computation_from_the_reproduction_layer_is_keyed_by_its_code_and_its_helpers(tmp_path, monkeypatch):
    # this test module stands in for a section module: its functions are fingerprinted
    monkeypatch.setattr(fingerprint, "_relative", lambda module: "sections.test" if module == __name__ else None)
    store = Store(tmp_path)
    before = store.key("x", {}, compute=_compute)
    assert fingerprint.function_fingerprint(_compute) and before == store.key("x", {}, compute=_compute)
    assert before != store.key("x", {}, compute=lambda folder: {"value": 2})
    monkeypatch.setitem(globals(), "_helper", _other_helper)  # the helper it calls now computes another number
    assert store.key("x", {}, compute=_compute) != before
    assert store.key("x", {}) != before  # a core computation: the core fingerprint alone
