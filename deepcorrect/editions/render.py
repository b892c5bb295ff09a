"""What the book shows of the recorded editions: the front page's scoreboard of the paper's claims and each
page's "At scale" section, whose tables and figures are drawn by the same functions as the live page's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .. import claims as claims_module
from .. import plots
from ..distortions import kind_label
from ..fingerprint import core_fingerprint
from ..paper import correction_table
from ..tables import show
from . import staleness
from .record import load_edition

VERDICT_MARK = {"holds": "✓ holds", "fails": "✗ fails", "undecided": "undecided",
                "code path only": "code path only", "not measured": "not measured"}


def load_editions(folder: str | Path = "editions") -> dict[str, dict]:
    """Every edition file of ``folder`` by name, sorted; none when the folder is absent."""
    folder = Path(folder)
    return {p.stem: load_edition(p) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def edition_metrics(edition: dict) -> dict[str, dict]:
    """Page id → the metrics that page recorded."""
    return {page: record["metrics"] for page, record in edition["pages"].items()}


def describe_edition(name: str, edition: dict, pages: list[str] | None = None) -> str:
    """Which network and data, then per recording (the pages made at one commit and code): when, where, on what
    machine, at what cost, and whether the computing code changed since."""
    records = sorted((edition["pages"][p] for p in (pages or edition["pages"]) if p in edition["pages"]),
                     key=lambda r: r["source"])
    if not records:
        return ""
    made = records[0]["provenance"]
    s = made["settings"]
    head = (f"**Edition `{name}`** — network `{s['model']['arch']}` (width {s['model']['width']:g}"
            f"{', published weights ' + str(made['weights'])[:19] + '…' if made.get('weights') else ''}), data "
            f"`{s['data']['source']}` ({str(made['data'])[:23]}…)")
    recordings: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        recordings.setdefault((record["provenance"]["commit"], record["provenance"]["code"]), []).append(record)
    lines = [_describe_recording(group) for group in recordings.values()]
    if len(lines) == 1:
        return f"{head}; {lines[0]}."
    return f"{head}, in {len(lines)} recordings:\n\n" + "\n".join(f"- {line}." for line in lines)


def _describe_recording(records: list[dict]) -> str:
    """One recording's line: its pages, date, commit and code, machine, cost and what changed since."""
    made = records[-1]["provenance"]
    pages = ", ".join(r["source"][:2] for r in records)
    return (f"page{'s' * (len(records) > 1)} {pages} recorded {made['date']} at commit `{made['commit'][:10] or '?'}`"
            f"{' with uncommitted changes' if made.get('uncommitted changes') else ''}, code `{made['code']}`, on "
            f"{made['machine']}, in {sum(r['seconds'] for r in records) / 60:.0f} min; {code_since(records)}")


def code_since(records: list[dict]) -> str:
    """Whether the computing code changed since these recorded pages were made, and where (module by module
    at their commits, :func:`~deepcorrect.editions.staleness.moved_modules`)."""
    moved = [staleness.moved_modules(r) for r in records]
    if all(m == [] for m in moved):
        if all(r["provenance"]["code"] == core_fingerprint() for r in records):
            return "the computing code is unchanged since"
        return (f"the computing code is unchanged since (today's fingerprint `{core_fingerprint()}` differs only by "
                "other profiles' settings)")
    where, now = "", f"now `{core_fingerprint()}`"
    if None not in moved:
        modules = sorted({m for ms in moved for m in ms})
        more = f" and {len(modules) - 4} more" if len(modules) > 4 else ""
        where = f" in {len(modules)} core module{'s' * (len(modules) > 1)}"
        now = ", ".join(f"`{m}`" for m in modules[:4]) + f"{more}; {now}"
    return (f"the computing code has changed since{where} ({now}): the edition check recomputes a slice of it "
            "and fails when its numbers move")


def scoreboard(editions: dict[str, dict]) -> pd.DataFrame:
    """One row per claim, kind and edition: the paper's number, the measured one, the verdict and its test."""
    rows = []
    for claim in claims_module.CLAIMS:
        verdicts = [(name, v) for name, e in editions.items() for v in claims_module.decide(claim, edition_metrics(e))]
        if not editions:
            verdicts = [("—", claims_module.decide(claim, {})[0])]
        for name, v in verdicts:
            rows.append({"#": claim.number, "claim": f"{claim.text} ({claim.where})",
                         "edition": name if v.kind == "—" else f"{name} · {v.kind}", "paper": v.paper,
                         "measured": v.measured, "verdict": VERDICT_MARK.get(v.verdict, v.verdict),
                         "decided by": v.test})
    return pd.DataFrame(rows)


def _first_of_each_claim(numbers: pd.Series) -> pd.Series:
    """Whether each row is its claim's first (a claim's text is shown once, on that row)."""
    return ~numbers.eq(numbers.shift())


def scoreboard_markdown(editions: dict[str, dict]) -> str:
    """The front page's scoreboard: a sentence per edition, the count of verdicts, then the table (each claim's
    text once, on its first row)."""
    board = scoreboard(editions)
    counts = board["verdict"].value_counts()
    lines = [describe_edition(name, e) for name, e in editions.items()]
    lines.append("Verdicts: " + ", ".join(f"{v} {n}" for v, n in counts.items()) + f" ({len(board)} rows, "
                 f"{board['#'].nunique()} claims).")
    shown = board.copy()
    first = _first_of_each_claim(shown["#"])
    shown["claim"] = [f"**{n}** {c}" if f else "" for n, c, f in zip(shown["#"], shown["claim"], first)]
    shown = shown.drop(columns="#")
    header = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns)
    body = "\n".join("| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
                     for row in shown.itertuples(index=False))
    return "\n\n".join(lines) + "\n\n" + header + "\n" + body + "\n"


# -- the pages' "At scale" sections -------------------------------------------------------------------------

def _frame(rows: dict) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index")


def _in_page_order(frame: pd.DataFrame, order: tuple[str, ...]) -> pd.DataFrame:
    """``frame``'s rows in ``order`` (an edition's JSON holds them sorted by name)."""
    return frame.loc[[r for r in order if r in frame.index]]


def _baselines(metrics: dict, family: str) -> list[Any]:
    from ..sections.distortion_effects import compare_with_paper

    measured = _frame(metrics["tables"])
    t1, t2 = (compare_with_paper(measured, kind, family) for kind in ("blur", "awgn"))
    return [show(t1, "Table 1 — Gaussian blur"), show(t2, "Table 2 — AWGN"),
            plots.accuracy_curves(measured, {"blur": t1.iloc[1], "awgn": t2.iloc[1]})]


def _ranking(metrics: dict, family: str) -> list[Any]:
    fig4, fig5 = pd.DataFrame(metrics["figure4"]), pd.DataFrame(metrics["figure5"])
    counts = pd.DataFrame(metrics["selection_counts"]).set_index(["ranking", "kind", "source"])
    return [plots.ideal_curves(fig4, "Figure 4 — ideal correction of the top β₁ filters of the first layer"),
            plots.ideal_curves(fig5, "Figure 5 — ideal correction of the filters of a single layer"),
            plots.gain_by_depth(claims_module.depth_trends(metrics["figure5"], metrics["figure4"]),
                                "Figure 5 — the gain of correcting one layer, by depth"),
            show(counts, "Tables 5 and 9 — filters corrected per layer")]


def _cifar(metrics: dict, family: str) -> list[Any]:
    from ..sections.cifar_analysis import compare_table, paper_row_names

    out: list[Any] = []
    main = {}
    for kind, rows in metrics["tables"].items():
        t = _frame(rows)
        t["# Params"] = pd.Series(metrics["params"][kind])
        main[kind] = t
        out.append(show(compare_table(t, kind), f"Table {3 if kind == 'blur' else 4} — "
                        f"{kind_label(kind, full=True)}, measured beside the paper"))
    as_measured = {paper: name for name, paper in paper_row_names(next(iter(main.values())).index).items()}
    out.insert(0, plots.correction_tables(main, {k: correction_table(k).rename(index=as_measured) for k in main}))
    versus = pd.DataFrame(metrics["deepcorr_vs_finetune"]).set_index(["kind", "k"])
    keep = [c for c in ("Deepcorr Avg", "Finetune Avg", "Baseline Avg", "gain", "p (images)", "p-value")
            if c in versus]
    out.append(show(versus[keep], "Deepcorr-k against Finetune-k"))
    return out


def _gain(metrics: dict, family: str) -> list[Any]:
    summaries = {}
    for kind, rows in metrics["summary"].items():
        s = _frame(rows)
        s.attrs["seeds"] = metrics.get("seeds", 1)
        summaries[kind] = s
    return [plots.gain_bars(summaries)] + [
        show(s[["Clean", "Avg", "± Avg (std over seeds)"]],
             f"{kind_label(kind, full=True)} — mean over {s.attrs['seeds']} seeds")
        for kind, s in summaries.items()]


def _beyond(metrics: dict, family: str) -> list[Any]:
    from IPython.display import Markdown

    from ..sections import beyond_blur_and_noise as beyond

    grid = _in_page_order(_frame(metrics["error_grid"]), beyond.CORRUPTIONS)  # not the file's sorted order
    grid.columns = [int(c) for c in grid.columns]
    adapted = _in_page_order(_frame(metrics["adaptation"]), beyond.CORRUPTIONS)[list(beyond.METHODS)]
    severity, adapt_images = metrics["adapt_severity"], metrics.get("adapt_images", metrics["images"])
    published = beyond.beside_published(adapted, metrics["profile"], severity)
    contrasts = pd.DataFrame(metrics["contrasts"])
    out: list[Any] = [
        Markdown(f"The grids and the trained models' tables: {metrics['images']:,} test images, each corrupted 15 × "
                 f"5 times. {beyond.describe_adaptation_set(adapt_images, severity)}"),
        beyond.heatmap(grid, f"Top-1 error (%) on {metrics['images']:,} test images"),
        show(adapted, f"BN adaptation and TENT at severity {severity}, error (%) on {adapt_images:,} test images",
             formats=beyond.percent_formats(adapted)),
        show(published, "Mean error over the 15 corruptions (%), beside the published row",
             formats=beyond.percent_formats(published)),
        show(contrasts, "Paired tests over the 15 corruptions", formats=beyond.CONTRAST_FORMATS)]
    for part, names, where in (("transfer", beyond.CORRUPTIONS, "on all 15"),
                               ("held_out", beyond.HELD_OUT, "on the 11 held out")):
        if part in metrics:
            table = _frame(metrics[part])
            table = table.loc[[r for r in beyond.transfer_table_rows(names) if r in table.index]]
            tests = pd.DataFrame(metrics[f"{part}_tests"])[beyond.TEST_COLUMNS]
            out += beyond.comparison_parts(table, tests, where)
    return out


#: Page id → what its "At scale" section draws from an edition's metrics of that page.
PAGE_PARTS: dict[str, Callable[[dict, str], list[Any]]] = {
    "distortions_baselines": _baselines, "ranking": _ranking, "deepcorrect_cifar": _cifar,
    "what_the_gain_consists_of": _gain, "beyond_blur_and_noise": _beyond}


def verdict_table(page: str, metrics: dict[str, dict]) -> pd.DataFrame:
    """The claims ``page`` decides, on ``metrics`` (page id → metrics), as a table."""
    table = pd.DataFrame([{"#": c.number, "claim": c.text, "kind": v.kind,  # the verdict early: a narrow
                           "verdict": VERDICT_MARK.get(v.verdict, v.verdict),  # window keeps it in view
                           "measured": v.measured, "paper": v.paper, "decided by": v.test}
                          for c, v in claims_module.page_verdicts(page, metrics)])
    if len(table):
        table["claim"] = table["claim"].where(_first_of_each_claim(table["#"]), "")
    return table


def at_scale(page: str, folder: str | Path = "editions") -> list[Any]:
    """The page's section of every edition that recorded it: a paragraph of provenance, the verdicts, then
    its tables and figures; a sentence when no edition has the page."""
    from IPython.display import Markdown

    out: list[Any] = []
    for name, edition in load_editions(folder).items():
        if page not in edition["pages"]:
            continue
        family = edition["pages"][page]["provenance"]["settings"]["data"]["family"]
        out.append(Markdown(f"### {name}\n\n" + describe_edition(name, edition, [page])))
        verdicts = verdict_table(page, edition_metrics(edition))
        if len(verdicts):
            out.append(show(verdicts.set_index("#"), f"The claims on {name}"))
        out += PAGE_PARTS.get(page, lambda m, f: [])(edition["pages"][page]["metrics"], family)
    return out or [Markdown("No recorded edition has this page yet: `deepcorrect record --profile … --only …` "
                            "makes one.")]


def live_verdicts(page: str, metrics_file: str | Path) -> pd.DataFrame:
    """The verdicts of the live run's page, from the metrics file it just saved."""
    return verdict_table(page, {page: json.loads(Path(metrics_file).read_text())})


def findings(page: str, metrics_file: str | Path, described: str = "") -> str:
    """A page's closing "What this page found": the claims it decides, as bullets computed from the metrics
    file it saved (the same computation as the scoreboard's), then ``described`` — the page's own reading of
    its numbers — where the run can decide; on a smoke budget, the code-path-only sentence instead."""
    metrics = {page: json.loads(Path(metrics_file).read_text())}
    profile = metrics[page].get("profile", "")
    bullets = [f"- **Claim {c.number}** ({c.where}{'' if v.kind == '—' else ', ' + v.kind}) — {c.text}: "
               f"**{v.verdict}**. Measured: {v.measured}; the paper: {v.paper}. Decided by: {v.test}."
               for c, v in claims_module.page_verdicts(page, metrics)]
    smoke = profile in claims_module.SMOKE_PROFILES
    parts = [claims_module.guard(profile, "")] if smoke else []
    parts += ["\n".join(bullets)] if bullets else []
    parts += [described] if described and not smoke else []
    return "\n\n".join(p for p in parts if p)


README_START, README_END = "<!-- scoreboard:start -->", "<!-- scoreboard:end -->"


def readme_summary(editions: dict[str, dict]) -> str:
    """The README's short scoreboard: every decided row (claim, edition and kind, paper, measured, verdict),
    the rows no edition decides counted in one sentence."""
    board = scoreboard(editions)
    decided = board[~board["verdict"].isin(["not measured"])]
    lines = ["| claim | edition | paper | measured | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {r['#']}. {r['claim'].split(' (')[0]} | {r['edition']} | {r['paper']} | {r['measured']} | "
              f"{r['verdict']} |" for _, r in decided.iterrows()]
    order = [c.number for c in claims_module.CLAIMS]  # the paper's claims, then those beyond it
    missing = sorted(set(board["#"]) - set(decided["#"]), key=order.index)
    if missing:
        lines.append(f"\nNot yet decided by any edition: claims {', '.join(missing)} (see the book's scoreboard).")
    return "\n".join(lines)


def update_readme(readme: Path, editions: dict[str, dict]) -> bool:
    """Rewrite the block between the README's scoreboard markers; whether it changed."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no {README_START} … {README_END} block to fill")
    head, _, rest = text.partition(README_START)
    _, _, tail = rest.partition(README_END)
    new = f"{head}{README_START}\n{readme_summary(editions)}\n{README_END}{tail}"
    if new != text:
        readme.write_text(new)
    return new != text
