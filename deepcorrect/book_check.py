"""Look at the built book as a reader would: a screenshot of every page in headless Chromium, and checks
that no page has a broken or repeated image, an empty table, a number printed with more than 4 decimals, an
open provenance table, a citation of a file that is not part of the book or a visible traceback; in Chromium,
that no table runs past the content column or cuts a cell off. Installs nothing: a missing Chromium is
reported with the package that provides it."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

_SKIP = {"genindex.html", "search.html", "index.html"}
_ERROR_MARKERS = ("Traceback (most recent call last)", "PapermillExecutionError")


#: A table cell printing more decimals than the book's style (:data:`tables.MAX_DECIMALS`).
_UNFORMATTED = re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?![\w.])")
#: Names of files a page might cite: Markdown files, and UPPER_SNAKE names such as notes files.
_FILE_NAME = re.compile(r"\b[\w-]+\.md\b|\b[A-Z]{2,}(?:_[A-Z]{2,})+\b")
#: The columns of a provenance table (``Store.provenance``).
_PROVENANCE_HEADERS = {"inputs", "this run"}


class _Page(HTMLParser):
    """Collects one page's image sources, its tables (header and cell texts, whether inside a collapsed
    ``<details>``), its prose outside code, and its error outputs."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.tables: list[list[str]] = []
        self.headers: list[list[str]] = []
        self.collapsed: list[bool] = []
        self.prose: list[str] = []
        self.error_outputs = 0
        self._cells: list[str] | None = None
        self._heads: list[str] = []
        self._in: str | None = None
        self._details = 0
        self._code = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        elif tag == "details" and "open" not in a:
            self._details += 1
        elif tag in ("pre", "code", "style", "script"):
            self._code += 1
        elif tag == "table":
            self._cells, self._heads = [], []
            self.collapsed.append(self._details > 0)
        elif tag in ("td", "th") and self._cells is not None:
            self._in = tag
            (self._cells if tag == "td" else self._heads).append("")
        classes = (a.get("class") or "").split()
        if "traceback" in classes or ("output" in classes and "error" in classes):
            self.error_outputs += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in = None
        elif tag == "details" and self._details:
            self._details -= 1
        elif tag in ("pre", "code", "style", "script") and self._code:
            self._code -= 1
        elif tag == "table" and self._cells is not None:
            self.tables.append(self._cells)
            self.headers.append(self._heads)
            self._cells = None

    def handle_data(self, data):
        if self._in == "td" and self._cells:
            self._cells[-1] += data.strip()
        elif self._in == "th" and self._heads:
            self._heads[-1] += data.strip()
        if not self._code:
            self.prose.append(data)


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
        problems += [f"{page.name}: {p}" for p in _image_problems(page, parsed.images)]
        problems += [f"{page.name}: {p}" for p in _table_problems(parsed)]
        if parsed.error_outputs or any(m in text for m in _ERROR_MARKERS):
            problems.append(f"{page.name}: shows an error or traceback")
        if "```{" in text or ":::{" in text:
            problems.append(f"{page.name}: shows an unrendered MyST directive")
        book = {p.stem for p in html_dir.glob("*.html")}
        outside = sorted({name for name in _FILE_NAME.findall(" ".join(parsed.prose))
                          if name.removesuffix(".md") not in book})
        if outside:
            problems.append(f"{page.name}: cites {', '.join(outside)}, not part of the book")
    return problems


def _image_problems(page: Path, sources: list[str]) -> list[str]:
    """Broken images, and the same image shown twice on one page (one figure returned and displayed)."""
    problems, seen = [], {}
    for src in sources:
        if src.startswith(("http:", "https:")):
            continue
        if src.startswith("data:"):
            data = src.encode()
        else:
            target = (page.parent / src.split("#")[0].split("?")[0]).resolve()
            if not target.is_file() or target.stat().st_size == 0 or not _decodes(target):
                problems.append(f"broken image {src}")
                continue
            data = target.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            problems.append(f"shows the same image twice ({seen[digest][:60]} and {src[:60]})")
        seen.setdefault(digest, src)
    return problems


def _table_problems(parsed: _Page) -> list[str]:
    problems = []
    for i, (cells, heads, collapsed) in enumerate(zip(parsed.tables, parsed.headers, parsed.collapsed), 1):
        if not any(cells):
            problems.append(f"table {i} is empty")
        raw = [c for c in cells if _UNFORMATTED.search(c)]
        if raw:
            problems.append(f"table {i} prints unformatted numbers ({raw[0]}: more than 4 decimals)")
        if _PROVENANCE_HEADERS <= set(heads) and not collapsed:
            problems.append(f"table {i} (provenance) is open; collapse it (tables.show(..., collapsed=True))")
    return problems


#: Run in each page by :func:`check_layout`: tables wider than the content column outside a scroll
#: container, and cells whose content overflows them; the findings land in a ``<pre>`` that --dump-dom prints.
_LAYOUT_SCRIPT = """<script>window.addEventListener("load", () => {
  const out = [], column = document.querySelector(".bd-article, main, article") || document.body;
  const width = column.clientWidth;
  const scrolls = e => { for (; e && e !== column; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX; if (o === "auto" || o === "scroll") return true; } return false; };
  document.querySelectorAll("table").forEach((t, i) => {
    const w = Math.round(t.getBoundingClientRect().width);
    if (w > width + 1 && !scrolls(t.parentElement)) out.push(`table ${i + 1} is ${w} px wide in a ${width} px column`);
    t.querySelectorAll("td, th").forEach(c => { if (c.scrollWidth > c.clientWidth + 1)
      out.push(`table ${i + 1}: cell "${c.textContent.trim().slice(0, 30)}" is cut off`); });
  });
  const pre = document.createElement("pre"); pre.id = "dc-layout"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def check_layout(html_dir: Path, chromium: str | None = None) -> list[str]:
    """Tables overflowing the content column or with cut-off cells, measured in headless Chromium on a
    temporary copy of each page (removed afterwards)."""
    chromium = _chromium(chromium)
    problems = []
    for page in sorted(p for p in html_dir.glob("*.html") if p.name not in _SKIP):
        probe = page.with_name(f".layout-{page.name}")
        try:
            probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _LAYOUT_SCRIPT + "</body>"),
                             encoding="utf-8")
            with tempfile.TemporaryDirectory() as profile:
                dom = subprocess.run([chromium, *_HEADLESS, f"--user-data-dir={profile}", "--window-size=1280,2000",
                                      "--virtual-time-budget=10000", "--dump-dom", probe.resolve().as_uri()],
                                     check=True, capture_output=True, text=True, timeout=120).stdout
        finally:
            probe.unlink(missing_ok=True)
        found = re.search(r'<pre id="dc-layout"[^>]*>(.*?)</pre>', dom, re.S)  # the theme adds attributes
        if not found:
            problems.append(f"{page.name}: the layout probe did not run")
            continue
        problems += [f"{page.name}: {p}" for p in json.loads(_unescape(found.group(1)))]
    return problems


def _unescape(text: str) -> str:
    return html.unescape(text)


def _chromium(chromium: str | None) -> str:
    chromium = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError("chromium is not installed; install Debian's 'chromium' package "
                                "(apt-get install chromium) and rerun make check-book")
    return chromium


_HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def screenshot_pages(html_dir: Path, out_dir: Path, chromium: str | None = None) -> list[Path]:
    """One PNG per page (1280 px wide, tall enough for long pages) in ``out_dir``."""
    chromium = _chromium(chromium)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    for page in sorted(p for p in html_dir.glob("*.html") if p.name not in _SKIP):
        shot = out_dir / f"{page.stem}.png"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([chromium, *_HEADLESS, f"--user-data-dir={profile}", "--window-size=1280,12000",
                            f"--screenshot={shot}", page.resolve().as_uri()],
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
