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


def test_the_paper_map_names_real_functions_and_sections():
    """Every function the map names exists and every page has the section it names."""
    import importlib

    from deepcorrect.contents import PAPER_MAP, map_markdown

    for item, page, section, functions in PAPER_MAP:
        source = (REPO / "notebooks" / f"{page}.py").read_text()
        assert any(line.startswith("# #") and section in line for line in source.splitlines()), (item, section)
        for name in re.findall(r"[a-z_.]+\.[a-zA-Z_0-9]+", functions.replace("→", " ")):
            module, _, attr = name.rpartition(".")
            assert hasattr(importlib.import_module(f"deepcorrect.{module}"), attr), (item, name)
    assert map_markdown(links=False)


def test_readme_shows_the_recorded_result_first_and_stays_short():
    """README's scoreboard block is the one the committed editions give (`deepcorrect scoreboard
    --update-readme README.md` refreshes it); the README stays a page, names no sibling folder of a checkout."""
    from deepcorrect.editions.render import README_END, README_START, load_editions, readme_summary

    text = (REPO / "README.md").read_text()
    block = text.split(README_START)[1].split(README_END)[0].strip()
    assert block == readme_summary(load_editions(REPO / "editions")).strip()
    assert len(text.splitlines()) <= 130 and "../shared" not in text
    assert text.index("## The result") < text.index("## The two commands")


LAYERS = {"reproduction": ["sections", "plots", "diagrams", "contents", "book", "book_check", "cli", "__main__",
                           "editions", "tables", "claims"],
          "shared artifacts": ["context", "splits", "baseline", "priorities", "model_names", "corrected_models",
                               "report", "metrics"]}


def _imports(path) -> set[str]:
    """The deepcorrect modules a file imports, at its top or inside functions (relative imports resolved)."""
    import ast

    package = ["deepcorrect", *path.relative_to(REPO / "deepcorrect").parent.parts]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if module.startswith("deepcorrect"):
                out.add(module)
                out.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("deepcorrect"))
    return out


def test_the_core_never_imports_the_layers_above_it():
    """Three layers: the core (distortions, models, ranking, correction, training, evaluation, the store, …),
    the shared artifacts (the run context, splits, baseline, filter priorities, the named and corrected models,
    what every page prints and saves), the reproduction (one module per paper section, the book,
    the CLI). A module may import its own layer or those below, never above."""
    rank = {}
    for path in (REPO / "deepcorrect").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        top = name.split(".")[1] if "." in name else ""
        rank[name] = 2 if top in LAYERS["reproduction"] else 1 if top in LAYERS["shared artifacts"] else 0
    for path in (REPO / "deepcorrect").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for imported in _imports(path):
            if imported in rank:
                assert rank[imported] <= rank[name], f"{name} (layer {rank[name]}) imports {imported} ({rank[imported]})"
    assert rank["deepcorrect.sections.cifar_analysis"] == 2 and rank["deepcorrect.ranking"] == 0
    assert rank["deepcorrect.keys"] == 0 and rank["deepcorrect.context"] == 1
    # the parse sees relative imports, at the top and inside functions, one package level up too
    assert "deepcorrect.context" in _imports(REPO / "deepcorrect" / "corrected_models.py")
    assert "deepcorrect.analysis.tsne" in _imports(REPO / "deepcorrect" / "sections" / "distortion_effects.py")


def test_the_map_runs_in_the_papers_order():
    from deepcorrect.contents import map_markdown, paper_order

    items = [line.split(" | ")[0].lstrip("| ") for line in map_markdown(links=False).splitlines()[2:]]
    assert items == sorted(items, key=paper_order)
    assert items[0] == "Figure 1" and items.index("Figure 12") < items.index("Tables 1–2 (CIFAR)")
    assert items.index("Tables 1–2 (CIFAR)") < items.index("Tables 1–2 (ImageNet)") < items.index("Tables 3–4")


def _heading_slugs(page: str) -> dict[str, str]:
    """Slug → heading of every heading (levels 1–3, as ``myst_heading_anchors: 3``) in a notebook's markdown
    cells, computed as MyST computes them: markdown-it's inline text, MyST's slugify, "-1" for a later twin."""
    import jupytext
    import pytest

    myst = pytest.importorskip("myst_parser.mdit_to_docutils.base")
    from markdown_it import MarkdownIt

    slugs: dict[str, str] = {}
    for cell in jupytext.read(REPO / "notebooks" / f"{page}.py").cells:
        if cell.cell_type != "markdown":
            continue
        tokens = MarkdownIt("commonmark").parse(cell.source)
        for opening, inline in zip(tokens, tokens[1:]):
            if opening.type == "heading_open" and int(opening.tag[1]) <= 3:
                text = "".join(c.content for c in inline.children if c.type in ("text", "code_inline"))
                slug, i = myst.default_slugify(text), 1
                while slug in slugs:
                    slug, i = f"{myst.default_slugify(text)}-{i}", i + 1
                slugs[slug] = text
    return slugs


def test_every_map_row_links_to_a_heading_its_page_has():
    """The book's map links each row to its section's anchor (page.ipynb#slug); the anchor is one the page's
    headings get, so a renamed heading fails here before the strict book build."""
    from deepcorrect.contents import PAPER_MAP, map_markdown, slug

    links = re.findall(r"\]\(([0-9]{2}_\w+)\.ipynb#([^)]+)\)", map_markdown(links=True))
    assert len(links) == len(PAPER_MAP)
    for page, anchor in links:
        headings = _heading_slugs(page)
        assert anchor in headings and slug(headings[anchor]) == anchor, (page, anchor)
    assert slug("Figure 1 — predictions as distortion grows") == "figure-1--predictions-as-distortion-grows"
