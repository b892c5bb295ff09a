"""A notebook's own refusal of parameters it does not declare.

papermill injects ``-p NAME VALUE`` as a cell of assignments (its source starts ``# Parameters``, the cell
tagged ``injected-parameters``) right after the notebook's ``parameters`` cell, and for a name that cell does
not declare it only warns: ``-p widht 0.5`` would run the page on the default width. The cell after the
parameters calls :func:`refuse_unknown_parameters` with its ``globals()``; the kernel's input history (IPython's
``In``) holds the sources of both cells, so the names each assigns can be compared.
"""

from __future__ import annotations

import ast
from typing import Any

#: The first line of the cell papermill injects (its Python translator's comment).
INJECTED_HEADER = "# Parameters"


def refuse_unknown_parameters(namespace: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the injected parameters that the notebook's ``parameters`` cell does not
    assign, and the valid ones. A notebook run without papermill, or with only known names, passes."""
    history = [src for src in namespace.get("In", ()) if isinstance(src, str)]
    injected = [i for i, src in enumerate(history) if src.lstrip().startswith(INJECTED_HEADER)]
    if not injected or injected[-1] == 0:
        return
    given, declared = assigned_names(history[injected[-1]]), assigned_names(history[injected[-1] - 1])
    unknown = sorted(given - declared)
    if unknown:
        raise ValueError(f"unknown notebook parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(declared))}")


def assigned_names(source: str) -> set[str]:
    """The names a cell of flat assignments (``width = 0.5  # comment``) binds."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)}
