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


def test_the_paper_map_names_real_functions_and_sections_and_readme_holds_it():
    """Every function the map names exists, every page has the section it names, and README's copy is
    the current one."""
    import importlib

    from deepcorrect.contents import PAPER_MAP, map_markdown

    for item, page, section, functions in PAPER_MAP:
        source = (REPO / "notebooks" / f"{page}.py").read_text()
        assert any(line.startswith("# #") and section in line for line in source.splitlines()), (item, section)
        for name in re.findall(r"[a-z_.]+\.[a-zA-Z_0-9]+", functions.replace("→", " ")):
            module, _, attr = name.rpartition(".")
            assert hasattr(importlib.import_module(f"deepcorrect.{module}"), attr), (item, name)
    assert map_markdown(links=False) in (REPO / "README.md").read_text()
