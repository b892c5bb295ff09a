"""One table style for the book: every notebook shows a frame through :func:`show`, so the visible code is the
call that computed the numbers, not pandas styling.

The style: fractions to 4 decimals (differences signed), p-values in compact scientific notation that never
wraps, whole numbers with thousands separators, text as given ("2.81 M" stays a string), padded cells, a
wide table scrolling sideways inside the page's column instead of running off it, and provenance collapsed
under a ``<details>`` element. The HTML is built with ``DataFrame.to_html`` (no Styler, no random ids), so a
page renders the same bytes every time.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

#: Inline CSS carried by every table, so the style holds in the book and in a plain notebook alike.
STYLE = ("<style>"
         ".dc-scroll{overflow-x:auto;max-width:100%;margin:0.5em 0 1em}"
         ".dc-table{border-collapse:collapse;font-size:0.85em;margin:0}"
         ".dc-table th,.dc-table td{padding:0.3em 0.7em;text-align:right;vertical-align:top;"
         "border-bottom:1px solid #ddd}"
         ".dc-table td{white-space:nowrap;font-variant-numeric:tabular-nums}"
         ".dc-table td .dc-text{white-space:normal;display:inline-block;min-width:12em;text-align:left}"
         ".dc-table caption{caption-side:top;text-align:left;font-weight:600;padding:0.3em 0}"
         "</style>")
#: A number with more decimals than the book shows: the check of built pages looks for these.
MAX_DECIMALS = 4


@dataclass(frozen=True)
class Table:
    """A formatted table: ``html`` is what the book shows; ``frame`` keeps the numbers for code."""

    frame: pd.DataFrame
    html: str

    def _repr_html_(self) -> str:
        return self.html


def is_p_value(column) -> bool:
    name = str(column).lower()
    return "p-value" in name or name in ("p", "p value") or name.startswith("p (")


def is_signed(column) -> bool:
    """Differences read better with their sign: Δ columns, "a − b" columns, gains and differences."""
    name = str(column).lower()
    return name.startswith("δ") or " − " in name or "difference" in name or name.startswith("gain")


def format_value(value, column="") -> str:
    """One cell as the book prints it (see the module docstring); NaN and None print as "–"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    value = float(value)
    if is_p_value(column):
        return f"{value:.1e}" if 0 < value < 1e-3 else f"{value:.4f}"  # 1.4e-04, never 0.00014
    if value.is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1e5:
        return f"{value:.3g}"
    return f"{value:+.4f}" if is_signed(column) else f"{value:.4f}"


def show(frame: pd.DataFrame, caption: str | None = None, *, highlight: Iterable = (),
         formats: dict[str, str | Callable] | None = None, collapsed: bool = False) -> Table:
    """``frame`` in the book's table style. ``highlight``: columns whose largest value is set in bold;
    ``formats``: a format string (``"{:+.1%}"``) or function per column where the default does not fit;
    ``collapsed``: inside a closed ``<details>`` headed by ``caption`` (provenance tables). A row whose label
    names a difference (``measured − paper``: :func:`is_signed`) prints signed, like a difference column."""
    formats = formats or {}
    highlight = set(highlight)
    cells = pd.DataFrame(index=frame.index, columns=frame.columns, dtype=object)
    for j, column in enumerate(frame.columns):
        best = frame[column].max() if column in highlight else None
        for i, label in enumerate(frame.index):
            signed = any(is_signed(part) for part in (label if isinstance(label, tuple) else (label,)))
            cells.iat[i, j] = _cell(frame.iat[i, j], "Δ" if signed else column, formats.get(column), best)
    body = cells.to_html(escape=False, border=0, classes="dc-table", na_rep="–")
    if caption and not collapsed:
        start = body.index(">") + 1
        body = f"{body[:start]}\n<caption>{html.escape(caption)}</caption>{body[start:]}"
    page = f'{STYLE}<div class="dc-scroll">{body}</div>'
    if collapsed:
        summary = html.escape(caption or "Table")
        page = (f'<details class="dc-collapsed"><summary>{summary} ({len(frame):,} rows)</summary>'
                f"{page}</details>")
    return Table(frame, page)


def _cell(value, column, given: str | Callable | None, best) -> str:
    """One cell's HTML: ``given`` format where there is one, else :func:`format_value`; long text wraps."""
    if given is None or value is None or (isinstance(value, float) and math.isnan(value)):
        text = format_value(value, column)
    else:
        text = given(value) if callable(given) else given.format(value)
    if not isinstance(value, numbers.Number):
        return f'<span class="dc-text">{html.escape(text)}</span>' if len(text) > 24 else html.escape(text)
    text = html.escape(text)
    return f"<strong>{text}</strong>" if best is not None and value == best else text
