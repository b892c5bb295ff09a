"""Execute the notebooks with papermill and build the Jupyter Book.

Notebook sources are Jupytext py:percent files in ``notebooks/``; executed copies land in ``book/`` (not in
git). A notebook is re-executed only when its source, its parameters or the library's source changed: the
stamp of what made it is kept in the executed notebook's metadata. Parameters unknown to every notebook are
an error naming the valid ones (papermill itself only warns).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import PROFILES, Profile, alexnet_profile, is_override_key, resolve
from .contents import map_markdown
from .editions.pages import declared_parameters
from .editions.record import page_id
from .editions.render import load_editions, scoreboard_markdown
from .files import atomic_write
from .fingerprint import package_fingerprint
from .runtime import keep_freed_memory
from .store import code_fingerprint


def notebook_sources(repo: Path) -> list[Path]:
    found = sorted((repo / "notebooks").glob("[0-9][0-9]_*.py"))
    if not found:
        raise FileNotFoundError(f"no notebooks (NN_name.py) found in {repo / 'notebooks'}")
    return found


def check_parameters(sources: list[Path], params: dict[str, Any]) -> dict[Path, dict[str, Any]]:
    """Split ``params`` among the notebooks that declare them; an unknown name or profile is an error."""
    declared = {src: declared_parameters(src) for src in sources}  # read from the source: no kernel, no papermill
    valid = sorted(set().union(*declared.values()))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown notebook parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return {src: {k: v for k, v in params.items() if k in names} for src, names in declared.items()}


#: The notebooks whose cached artifacts a notebook reuses (the baseline, the ranking, the AlexNet): it starts
#: once those have finished, so that no baseline or ranking is computed twice at once. 03–05 share a few trained
#: models and may each train them side by side, which costs less than waiting. A page not named here (08)
#: needs nothing and starts whenever a worker is free.
NEEDS = {"02": ("01",), "03": ("02",), "04": ("02",), "05": ("02",), "07": ("06",)}


def run_notebooks(repo: Path, profile: str, params: dict[str, Any], *, out_dir: Path | None = None,
                  force: bool = False, only: list[str] | None = None, jobs: int = 1, log=print) -> list[Path]:
    """Execute every notebook (or those whose name starts with one of ``only``) into ``out_dir`` (default
    ``book/``); skips the ones whose stamp is unchanged unless ``force``. ``jobs`` > 1 runs up to ``jobs``
    notebooks at once in worker processes, each as soon as the pages it :data:`NEEDS` have finished, each
    kernel with ``cores // jobs`` threads. Returns the executed notebooks."""
    out_dir = out_dir or repo / "book"
    import nbformat

    if params.get("fresh") is True:  # one instant for every notebook: each artifact is recomputed once
        params = {**params, "fresh": time.time()}
    overrides = {k: v for k, v in params.items() if is_override_key(k)}
    cfg = resolve(profile, **overrides)  # bad values fail here, before any notebook runs
    sources = notebook_sources(repo)
    if only:
        sources = [s for s in sources if any(s.stem.startswith(o) for o in only)]
        if not sources:
            raise ValueError(f"no notebook matches {only}; notebooks: "
                             f"{', '.join(s.stem for s in notebook_sources(repo))}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer ≥ 1, got {jobs!r}")
    split = check_parameters(sources, {"profile": profile, **params})
    _write_profile_page(out_dir / "_profile.md", cfg, overrides)
    _write_if_changed(out_dir / "_map.md", map_markdown(links=True))
    _write_if_changed(out_dir / "_scoreboard.md", scoreboard_markdown(load_editions(repo / "editions")))
    pending: list[tuple] = []
    for src in sources:
        out = out_dir / f"{src.stem}.ipynb"
        stamp = _stamp(src, split[src], repo / "editions")
        if not force and out.is_file() and nbformat.read(out, as_version=4).metadata.get("deepcorrect_stamp") == stamp:
            log(f"unchanged, reusing {out}")
            continue
        log(f"executing {src.relative_to(repo)} with {split[src]}")
        pending.append((src, out, split[src], repo, stamp))
    keep_freed_memory()  # the kernels inherit it; without it they spend much of their time in page faults
    if jobs == 1 or len(pending) < 2:
        for item in pending:
            log(f"done {item[0].stem} in {_execute_timed(item):.0f} s")
    else:
        _run_scheduled(pending, jobs, log)
    return [out_dir / f"{src.stem}.ipynb" for src in sources]


def _execute_timed(item: tuple, threads: int = 0) -> float:
    """Execute one notebook (in a worker process: its kernel with ``threads`` threads); its wall time."""
    if threads:  # read by torch in the kernel this process starts: one share of the cores
        os.environ["OMP_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    _execute(*item)
    return time.perf_counter() - t0


def startable(waiting: list[tuple], pending: list[tuple], done: set[str], free: int) -> list[tuple]:
    """The first ``free`` of ``waiting`` (in order) whose :data:`NEEDS` among ``pending`` are all ``done``
    (stems); an item's first element is its source path."""
    def ready(item: tuple) -> bool:
        needs = NEEDS.get(item[0].stem[:2], ())
        return {other[0].stem for other in pending if other[0].stem[:2] in needs} <= done

    return [item for item in waiting if ready(item)][:max(free, 0)]


def _run_scheduled(pending: list[tuple], jobs: int, log) -> None:
    """Run ``pending`` on ``jobs`` worker processes, in order, each once what it needs has finished. After a
    failure no notebook starts; the first error is raised once the running ones have ended."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // jobs)
    waiting, running, done, error = list(pending), {}, set(), None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while running or (waiting and error is None):
            for item in startable(waiting, pending, done, jobs - len(running)) if error is None else ():
                waiting.remove(item)
                running[pool.submit(_execute_timed, item, threads)] = item
            if not running:  # what is left waits for a notebook that failed
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                stem = running.pop(future)[0].stem
                try:
                    log(f"done {stem} in {future.result():.0f} s")
                    done.add(stem)
                except Exception as exc:  # noqa: BLE001 - re-raised below, after the running ones end
                    error = error or exc
    if error is not None:
        raise error


def _write_profile_page(path: Path, cfg: Profile, overrides: dict[str, Any]) -> None:
    """The front page's "which profile produced these pages" paragraph."""
    shown = ", ".join(f"`{k}={v!r}`" for k, v in overrides.items()) or "none"
    text = (f":::{{admonition}} These pages were produced by profile `{cfg.name}`\n"
            f"{cfg.description}\n\nOverrides: {shown}. Data source: `{cfg.data.source}`"
            f"{f' ({cfg.data.root})' if cfg.data.root else ''}; network: `{cfg.model.arch}` at width "
            f"{cfg.model.width:g}; {cfg.train.epochs} training epochs; device `{cfg.device}`. Library code "
            f"fingerprint `{code_fingerprint()}`: every cached result was made by this code.\n"
            f"{_alexnet_line(cfg)}:::\n")
    _write_if_changed(path, text)


def _write_if_changed(path: Path, text: str) -> None:
    """Leave an unchanged page alone, so Sphinx does not rebuild it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def _alexnet_line(cfg: Profile) -> str:
    """Which profile the AlexNet pages (06–07) ran, when it is not the book's own."""
    name = alexnet_profile(cfg.name)
    if name == cfg.name:
        return ""
    other = PROFILES[name]
    return (f"\nThe AlexNet pages (§5.2–5.3) ran its counterpart `{name}`: {other.description}\n")


def build_book(repo: Path, strict: bool = False) -> Path:
    """``jupyter-book build book/`` (with ``-W -n --keep-going`` when ``strict``); returns the HTML folder."""
    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        raise FileNotFoundError("jupyter-book is not installed; install the book extras: pip install -e '.[book]'")
    cmd = [exe, "build", "book/"] + (["-W", "-n", "--keep-going"] if strict else [])
    subprocess.run(cmd, cwd=repo, check=True)
    return repo / "_build" / "html"  # Jupyter Book writes next to the _config.yml it found


def _stamp(src: Path, params: dict[str, Any], editions: Path) -> str:
    """What an executed page depends on: its source, its parameters, the package's source and the records of
    this page in the editions its "At scale" section shows (an edition of another page leaves it alone)."""
    digest = hashlib.sha256(src.read_bytes())
    digest.update(repr(sorted(params.items())).encode())
    digest.update(package_fingerprint().encode())
    for name, edition in load_editions(editions).items():
        record = edition["pages"].get(page_id(src))
        if record is not None:
            digest.update(name.encode() + b"\0" + json.dumps(record, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


@contextlib.contextmanager
def _kernel_stderr(log: Path, name: str):
    """Send what the kernel writes to stderr (its startup warnings, every progress bar) to ``log`` instead of
    the terminal — the kernel inherits file descriptor 2 — and show the log's tail if the notebook fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            tail = log.read_text(errors="replace").splitlines()[-40:]
            print(f"--- the kernel's stderr while running {name} (last {len(tail)} lines):", *tail, sep="\n",
                  file=sys.stderr)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _execute(src: Path, out: Path, params: dict[str, Any], repo: Path, stamp: str) -> None:
    import jupytext
    import nbformat
    import papermill

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source_nb = Path(tmp) / f"{src.stem}.ipynb"
        executed = Path(tmp) / f"{src.stem}.out.ipynb"
        jupytext.write(jupytext.read(src), source_nb)
        with _kernel_stderr(Path(tmp) / "kernel.log", src.stem):
            papermill.execute_notebook(str(source_nb), str(executed), parameters=params, cwd=str(repo),
                                       kernel_name="python3", progress_bar=False, log_output=False)
        nb = nbformat.read(executed, as_version=4)
        nb.metadata["deepcorrect_stamp"] = stamp
        for cell in nb.cells:  # papermill's injected parameters: collapsed, as the parameters cell is
            tags = cell.metadata.setdefault("tags", [])
            if "injected-parameters" in tags and "hide-cell" not in tags:
                tags.append("hide-cell")
        atomic_write(out, lambda tmp: nbformat.write(nb, tmp))
