"""Record an edition: run pages of one profile and keep their numbers and provenance in a small text file.

``editions/<name>.json`` (``name`` defaults to the profile) holds, per page, the metrics the page saved
(``results/metrics/<page>.json``: its tables and the numbers its findings rest on), the parameters it ran
with, its wall time and its provenance. Recording pages one at a time adds them to the same file; a page
recorded again replaces its earlier record.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from ..checksums import sha256_file
from ..config import Profile, is_override_key, resolve
from ..files import atomic_write
from ..fingerprint import core_fingerprint, package_fingerprint
from ..keys import fingerprint as data_fingerprint
from .pages import declared_parameters, run_page

SCHEMA = 1
LIBRARIES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib")


def page_id(source: Path) -> str:
    """A page's name without its number (``01_distortions_baselines`` → ``distortions_baselines``): editions
    outlive a renumbering of the pages."""
    head, _, rest = source.stem.partition("_")
    return rest if head.isdigit() and rest else source.stem


def page_sources(repo: Path, only: list[str] | None) -> list[Path]:
    """The pages' sources, all or those whose file name starts with one of ``only`` (``01``, ``03_deep``)."""
    found = sorted((repo / "notebooks").glob("[0-9][0-9]_*.py"))
    if not only:
        return found
    chosen = [s for s in found if any(s.stem.startswith(o) or page_id(s) == o for o in only)]
    missing = [o for o in only if not any(s.stem.startswith(o) or page_id(s) == o for s in found)]
    if missing:
        raise ValueError(f"no page matches {', '.join(missing)}; pages: {', '.join(s.stem for s in found)}")
    return chosen


def record_edition(repo: Path, profile: str, params: dict[str, Any], *, only: list[str] | None = None,
                   out_dir: Path | None = None, name: str | None = None, results_dir: str = "results",
                   log: Callable[[str], None] = print) -> Path:
    """Run the chosen pages of ``profile`` with ``params`` (notebook parameters) and write the edition."""
    cfg = resolve(profile, **{k: v for k, v in params.items() if is_override_key(k)})  # bad values fail here
    sources = page_sources(repo, only)
    for src in sources:  # every page's parameters checked before the first one runs
        unknown = sorted(set(params) - set(declared_parameters(src)))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {src.stem}; valid: "
                             f"{', '.join(declared_parameters(src))}")
    path = (out_dir or repo / "editions") / f"{name or profile}.json"
    edition = load_edition(path) if path.is_file() else {"schema": SCHEMA, "name": name or profile,
                                                           "profile": profile, "pages": {}}
    for src in sources:
        log(f"recording {src.stem} on {profile}")
        page_params = {"profile": profile, "results_dir": results_dir, **params}
        metrics_file = repo / results_dir / "metrics" / f"{src.stem}.json"
        metrics_file.unlink(missing_ok=True)  # a page that fails to save its metrics must not leave old ones
        t0 = time.perf_counter()
        cwd = os.getcwd()
        try:
            os.chdir(repo)  # the pages' relative paths (results, data) are the book's
            run_page(src, page_params)
            seconds = time.perf_counter() - t0
            made_by = provenance(repo, cfg)
        finally:
            os.chdir(cwd)
        if not metrics_file.is_file():
            raise RuntimeError(f"{src.name} ran but wrote no metrics file ({metrics_file})")
        edition["pages"][page_id(src)] = {
            "source": src.stem, "parameters": {**declared_parameters(src), **page_params},  # defaults too
            "seconds": round(seconds, 1),
            "metrics": json.loads(metrics_file.read_text()), "provenance": made_by}
        _write(path, edition)  # after every page: a long recording keeps what it finished
        log(f"recorded {src.stem} in {seconds:.0f} s → {path}")
    return path


def settings_of(record: dict, **extra) -> Profile:
    """The settings one recorded page resolves to today, from the parameters it ran with (``extra``: more)."""
    params = {k: v for k, v in record["parameters"].items() if is_override_key(k) and k != "profile"}
    return resolve(record["parameters"]["profile"], **params, **extra)


def load_edition(path: Path) -> dict:
    """An edition file, checked for the fields the book reads."""
    try:
        edition = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"edition {path} is unreadable ({err}); record it again with 'deepcorrect record'") from None
    if not isinstance(edition, dict) or edition.get("schema") != SCHEMA or not isinstance(edition.get("pages"), dict):
        raise ValueError(f"edition {path} is not an edition of schema {SCHEMA}; record it again")
    return edition


def _write(path: Path, edition: dict) -> None:
    text = json.dumps(edition, indent=1, sort_keys=True, default=str) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def provenance(repo: Path, cfg: Profile) -> dict[str, Any]:
    """What made a page's numbers: the commit and code, the data and weights by content, the settings, the
    libraries, the machine and the date."""
    weights = cfg.model.weights
    return {
        "commit": git_output(repo, "rev-parse", "HEAD"),
        "uncommitted changes": bool(git_output(repo, "status", "--porcelain", "--", "deepcorrect", "notebooks")),
        "code": core_fingerprint(), "package": package_fingerprint(),
        "data": data_fingerprint(cfg.data.root) if cfg.data.root else f"{cfg.data.source} (generated or downloaded)",
        "weights": f"sha256:{sha256_file(Path(weights))}" if weights and Path(weights).is_file() else weights,
        "settings": dataclasses.asdict(cfg), "libraries": _versions(), "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def git_output(repo: Path, *args: str) -> str:
    """What ``git args`` prints in ``repo``, stripped; "" where git or the repository is not at hand."""
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def machine() -> str:
    """The CPU (model and cores) or the GPU that computed."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {torch.get_num_threads()} threads (torch {torch.__version__})"
