"""Look at the built book as a reader would: a screenshot of every page in headless Chromium, and a check
that no page has a broken image, an empty table or a visible traceback. Installs nothing: a missing
Chromium is reported with the package that provides it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

_SKIP = {"genindex.html", "search.html", "index.html"}
_ERROR_MARKERS = ("Traceback (most recent call last)", "PapermillExecutionError")


class _Page(HTMLParser):
    """Collects image sources, the text of every table's cells and error outputs of one page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.tables: list[list[str]] = []
        self.error_outputs = 0
        self._cells: list[str] | None = None
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        elif tag == "table":
            self._cells = []
        elif tag == "td" and self._cells is not None:
            self._in_cell = True
            self._cells.append("")
        classes = (a.get("class") or "").split()
        if "traceback" in classes or ("output" in classes and "error" in classes):
            self.error_outputs += 1

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_cell = False
        elif tag == "table" and self._cells is not None:
            self.tables.append(self._cells)
            self._cells = None

    def handle_data(self, data):
        if self._in_cell and self._cells:
            self._cells[-1] += data.strip()


def check_pages(html_dir: Path) -> list[str]:
    """Problems found in the built HTML (empty list when every page is sound)."""
    pages = sorted(p for p in html_dir.glob("*.html") if p.name not in _SKIP)
    if not pages:
        return [f"no pages in {html_dir}; build the book first (make book)"]
    problems = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parsed = _Page()
        parsed.feed(text)
        for src in parsed.images:
            if src.startswith(("http:", "https:", "data:")):
                continue
            target = (page.parent / src.split("#")[0].split("?")[0]).resolve()
            if not target.is_file() or target.stat().st_size == 0 or not _decodes(target):
                problems.append(f"{page.name}: broken image {src}")
        for i, cells in enumerate(parsed.tables):
            if not any(cells):
                problems.append(f"{page.name}: table {i + 1} is empty")
        if parsed.error_outputs or any(m in text for m in _ERROR_MARKERS):
            problems.append(f"{page.name}: shows an error or traceback")
        if "```{" in text or ":::{" in text:
            problems.append(f"{page.name}: shows an unrendered MyST directive")
    return problems


def screenshot_pages(html_dir: Path, out_dir: Path, chromium: str | None = None) -> list[Path]:
    """One PNG per page (1280 px wide, tall enough for long pages) in ``out_dir``."""
    chromium = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError("chromium is not installed; install Debian's 'chromium' package "
                                "(apt-get install chromium) and rerun make check-book")
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    for page in sorted(p for p in html_dir.glob("*.html") if p.name not in _SKIP):
        shot = out_dir / f"{page.stem}.png"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                            "--window-size=1280,12000", f"--screenshot={shot}", page.resolve().as_uri()],
                           check=True, capture_output=True, timeout=120)
        shots.append(shot)
    return shots


def _decodes(path: Path) -> bool:
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        return True
    try:
        from PIL import Image

        with Image.open(path) as img:
            img.verify()
        return True
    except Exception:
        return False
