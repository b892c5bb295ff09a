"""A page's Jupytext (py:percent) source run as a script: the notebook's own cells, in order, in one
namespace, with the parameters injected after its ``parameters`` cell as papermill does — so an edition is
made by the code path the book shows, also where Jupyter is not installed (a GPU machine with torch only)."""

from __future__ import annotations

import ast
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CELL = re.compile(r"^# %%(?P<rest>.*)$")


@dataclass(frozen=True)
class Cell:
    markdown: bool
    tags: tuple[str, ...]
    source: str


def cells(path: Path) -> list[Cell]:
    """The cells of a py:percent file (its Jupytext header, before the first ``# %%``, is not a cell)."""
    found: list[Cell] = []
    header, lines = None, []
    for line in path.read_text().splitlines():
        match = _CELL.match(line)
        if match:
            if header is not None:
                found.append(_cell(header, lines))
            header, lines = match["rest"], []
        elif header is not None:
            lines.append(line)
    if header is not None:
        found.append(_cell(header, lines))
    return found


def _cell(header: str, lines: list[str]) -> Cell:
    tags = re.search(r"tags=\[(.*?)\]", header)
    names = tuple(t.strip().strip("'\"") for t in tags[1].split(",")) if tags else ()
    return Cell("[markdown]" in header, names, "\n".join(lines))


def declared_parameters(path: Path) -> dict[str, Any]:
    """Names and default values of the page's ``parameters`` cell."""
    for cell in cells(path):
        if "parameters" in cell.tags:
            tree = ast.parse(cell.source)
            return {t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
    raise ValueError(f"{path} has no cell tagged 'parameters'")


def run_page(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Execute the page's code cells with ``params`` injected; returns its namespace. An unknown parameter is
    an error naming the valid ones."""
    valid = declared_parameters(path)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {path.name}; valid: {', '.join(valid)}")
    _headless()
    import matplotlib.pyplot as plt

    namespace: dict[str, Any] = {"__name__": f"page_{path.stem}"}
    for cell in cells(path):
        if cell.markdown:
            continue
        exec(compile(cell.source, f"{path.name} (cell)", "exec"), namespace)  # noqa: S102 — the project's own pages
        if "parameters" in cell.tags:
            namespace.update(params)
        if "display" in namespace:  # what a page displays is for the book; a script keeps its output quiet
            namespace["display"] = _quiet
        plt.close("all")
    return namespace


def _quiet(*_objects: Any, **_options: Any) -> None:
    """``display`` in a page run as a script."""


def _headless() -> None:
    """Figures to memory; ``IPython.display`` stood in for where IPython is not installed."""
    import matplotlib

    matplotlib.use("Agg")
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        display = types.ModuleType("IPython.display")
        display.Markdown = str  # type: ignore[attr-defined]
        display.display = _quiet  # type: ignore[attr-defined]
        package = types.ModuleType("IPython")
        package.display = display  # type: ignore[attr-defined]
        sys.modules["IPython"], sys.modules["IPython.display"] = package, display
