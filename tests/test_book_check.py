import base64
import shutil

import pytest

from deepcorrect.book_check import check_layout, check_pages

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
PROVENANCE = "<table><tr><th>artifact</th><th>inputs</th><th>this run</th></tr><tr><td>a/1</td><td>–</td><td>x</td></tr></table>"


def test_a_sound_page_passes_and_each_defect_is_named(tmp_path):
    (tmp_path / "ok.png").write_bytes(PNG)
    (tmp_path / "good.html").write_text('<img src="ok.png"><table><tr><td>0.70</td></tr></table>'
                                        f'<details><summary>Provenance</summary>{PROVENANCE}</details>'
                                        "<p>see good.md</p><pre>TABLE_5_P = 0.2151234</pre>")
    assert check_pages(tmp_path) == []
    (tmp_path / "bad.html").write_text(
        '<img src="missing.png"><table><tr><td> </td></tr></table>'
        '<div class="output error">Traceback (most recent call last)</div><p>```{admonition} x</p>')
    problems = check_pages(tmp_path)
    assert problems == ["bad.html: broken image missing.png", "bad.html: table 1 is empty",
                        "bad.html: shows an error or traceback", "bad.html: shows an unrendered MyST directive"]


@pytest.mark.parametrize("defect, html", [
    ("shows the same image twice", '<img src="ok.png"><p>x</p><img src="copy.png">'),
    ("prints unformatted numbers (0.542143", "<table><tr><td>0.542143</td></tr></table>"),
    ("(provenance) is open", PROVENANCE),
    ("cites PAPER_NOTES, not part of the book", "<p>as the notes say (PAPER_NOTES)</p>"),
    ("cites CLAIMS.md, not part of the book", "<p>see CLAIMS.md</p>"),
])
def test_each_planted_defect_fails_the_check(tmp_path, defect, html):
    (tmp_path / "ok.png").write_bytes(PNG)
    (tmp_path / "copy.png").write_bytes(PNG)
    (tmp_path / "page.html").write_text(html)
    problems = check_pages(tmp_path)
    assert len(problems) == 1 and defect in problems[0], problems


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no chromium")
def test_a_table_overflowing_the_column_fails_and_a_scrolling_one_passes(tmp_path):
    wide = "<table><tr>" + "<td>0.1234</td>" * 300 + "</tr></table>"
    (tmp_path / "ok.html").write_text(f'<html><body><main style="width:700px"><div style="overflow-x:auto">{wide}'
                                      "</div></main></body></html>")
    (tmp_path / "bad.html").write_text(f'<html><body><main style="width:700px">{wide}</main></body></html>')
    problems = check_layout(tmp_path)
    assert len(problems) == 1 and problems[0].startswith("bad.html: table 1 is") and "700 px column" in problems[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.html", "ok.html"]  # no probe left behind


def test_an_unbuilt_book_is_reported(tmp_path):
    assert "build the book first" in check_pages(tmp_path)[0]
