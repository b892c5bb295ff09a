"""The fingerprint of the code that computes: what a cached artifact's key holds of the library.

A key must change when an edit can change a number, and only then: fixing a sentence of a page, a plot or a
docstring must not throw away hours of trained models. So the fingerprint hashes

- the **core** modules (everything but :data:`REPRODUCTION`: distortions, data, models, ranking, correction,
  training, evaluation, the store …) as their syntax trees with docstrings removed — comments, docstrings and
  layout do not count, every statement does;
- for a computation handed in from the reproduction layer (a section's closure given to ``Store.get``), that
  function's own syntax tree and those of the reproduction-layer functions it names, recursively
  (:func:`function_fingerprint`).

The reproduction layer — the section modules' prose and verdicts, plots, diagrams, tables, the book runner,
the command line, the editions and their scoreboard — renders numbers; it never makes them. The paper's
numbers stay in the core: some of them (the β per layer) choose what is computed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path

#: Modules and packages (relative to the package, without ``.py``) that render results and never make them.
REPRODUCTION = ("sections", "plots", "diagrams", "contents", "book", "book_check", "cli", "__main__", "editions",
                "tables", "claims")

PACKAGE = Path(__file__).resolve().parent


def is_reproduction(module: str) -> bool:
    """Whether a module given relative to the package (``sections.cifar_analysis``) renders only."""
    return module.split(".")[0] in REPRODUCTION


def _relative(module: str) -> str | None:
    """``deepcorrect.sections.x`` → ``sections.x``; ``None`` outside the package."""
    head, _, rest = module.partition(".")
    return rest if head == PACKAGE.name and rest else None


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_fingerprint(source: str) -> str:
    """SHA-256 of Python source as a syntax tree without docstrings, comments or layout."""
    tree = _strip_docstrings(ast.parse(textwrap.dedent(source)))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def core_fingerprint() -> str:
    """The fingerprint of every core module: part of every artifact's key."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if is_reproduction(module):
            continue
        digest.update(module.encode() + b"\0" + source_fingerprint(path.read_text()).encode())
    return digest.hexdigest()[:16]


def function_fingerprint(fn: Callable) -> str:
    """The fingerprint of a computation given from the reproduction layer: its own source and that of the
    reproduction-layer functions it names (found in its globals), recursively; "" for core functions and for
    callables without source (their code is in the core fingerprint or not Python)."""
    seen: dict[str, str] = {}
    _visit(fn, seen)
    if not seen:
        return ""
    blob = "\n".join(f"{name}:{digest}" for name, digest in sorted(seen.items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _visit(fn: Callable, seen: dict[str, str]) -> None:
    fn = inspect.unwrap(getattr(fn, "func", fn))  # functools.partial and decorated functions
    module = _relative(getattr(fn, "__module__", "") or "")
    name = f"{module}.{getattr(fn, '__qualname__', repr(fn))}"
    if name in seen or module is None or not is_reproduction(module):
        return
    try:
        source = inspect.getsource(fn)
        seen[name] = source_fingerprint(source)
    except (OSError, TypeError, SyntaxError):  # a lambda inside an expression: its code object stands in
        code = getattr(fn, "__code__", None)
        seen[name] = hashlib.sha256(code.co_code + repr(code.co_names).encode()).hexdigest() if code else ""
        return
    names = {n.id for n in ast.walk(ast.parse(textwrap.dedent(source))) if isinstance(n, ast.Name)}
    namespace = getattr(fn, "__globals__", {})
    for ref in sorted(names):
        target = namespace.get(ref)
        if inspect.isfunction(target):
            _visit(target, seen)


@functools.lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """SHA-256 of every source file of the package as it is, prose included: what an executed page depends on
    (a reworded verdict must show), unlike a cached artifact."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
