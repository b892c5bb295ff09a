"""The conda environment and pyproject.toml name the same dependencies; the repository keeps its shape."""

import re
import tomllib

from conftest import REPO


def _names(specs):
    return {re.split(r"[<>=!~ \[]", s.strip(), maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"] + project["optional-dependencies"]["book"]
                    + project["optional-dependencies"]["test"])
    text = (REPO / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1]
    conda = set()
    for line in deps.splitlines():
        m = re.match(r"\s+- ([A-Za-z][\w.-]*)", line)
        if m and m.group(1) not in ("python", "pip"):
            conda.add(m.group(1).lower())
    conda = {"torch" if n == "pytorch" else n for n in conda}
    assert conda == wanted


def test_top_level_layout():
    for name in ("deepcorrect", "notebooks", "book", "tests", "bench", "_config.yml", "_toc.yml",
                 "environment.yml", "pyproject.toml", "Makefile", "README.md", ".ci/run"):
        assert (REPO / name).exists(), name
    assert (REPO / "book" / "_toc.yml").resolve() == (REPO / "_toc.yml").resolve()
