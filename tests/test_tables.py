import numpy as np
import pandas as pd

from deepcorrect.tables import format_value, show


def test_numbers_print_in_the_books_style():
    assert format_value(0.542143) == "0.5421"
    assert format_value(0.0119) == "0.0119"
    assert format_value(1.14e-06, "p-value") == "1.1e-06" and format_value(0.2151, "p-value") == "0.2151"
    assert format_value(np.int64(2810000), "# Params") == "2,810,000"
    assert format_value(2810000.0) == "2,810,000" and format_value(8.16e8 + 0.5) == "8.16e+08"
    assert format_value("2.81 M") == "2.81 M" and format_value(float("nan")) == "–"
    assert format_value(-0.149, "Δ Avg") == "-0.1490" and format_value(0.02, "measured − paper") == "+0.0200"


def test_a_table_is_padded_scrolls_in_its_column_and_bolds_the_best():
    frame = pd.DataFrame({"Avg": [0.5, 0.612345], "# Params": [1389804, 2880], "p-value": [1.1e-6, 0.3]},
                         index=pd.Index(["Baseline", "Deepcorr-6"], name="Method"))
    page = show(frame, "Table 3", highlight=["Avg"])._repr_html_()
    assert '<div class="dc-scroll">' in page and "overflow-x:auto" in page and "padding" in page
    assert "<caption>Table 3</caption>" in page and "<strong>0.6123</strong>" in page
    assert "1,389,804" in page and "1.1e-06" in page and "white-space:nowrap" in page
    assert "0.612345" not in page and "<details" not in page
    assert show(frame, "Table 3")._repr_html_() == show(frame, "Table 3")._repr_html_()  # no random ids


def test_a_provenance_table_is_collapsed_and_text_is_escaped():
    frame = pd.DataFrame({"key": ["a<b", "c"]}, index=["x", "y"])
    page = show(frame, "Provenance", collapsed=True).html
    assert page.startswith('<details class="dc-collapsed"><summary>Provenance (2 rows)</summary>')
    assert "<details open" not in page and "a&lt;b" in page


def test_a_column_may_keep_its_own_format():
    page = show(pd.DataFrame({"relative gain": [0.123]}), formats={"relative gain": "{:+.1%}"}).html
    assert "+12.3%" in page


def test_the_notebooks_show_tables_through_the_library_and_return_their_figures():
    """No pandas styling in the visible code; a figure is the cell's value (a trailing ';' would hide it now
    that figures are detached from pyplot); provenance collapsed."""
    import ast

    import jupytext

    from conftest import REPO
    from deepcorrect.book import notebook_sources

    for src in notebook_sources(REPO):
        text = src.read_text()
        assert ".style." not in text and "highlight_max" not in text, src.name
        assert "collapsed=True" in text or "provenance(" not in text, src.name
        for cell in jupytext.read(src).cells:
            if cell.cell_type == "code":
                ast.parse(cell.source)
                assert not cell.source.rstrip().endswith(";"), (src.name, cell.source[-80:])
