import base64

from deepcorrect.book_check import check_pages

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def test_a_sound_page_passes_and_each_defect_is_named(tmp_path):
    (tmp_path / "ok.png").write_bytes(PNG)
    (tmp_path / "good.html").write_text('<img src="ok.png"><table><tr><td>0.70</td></tr></table>')
    assert check_pages(tmp_path) == []
    (tmp_path / "bad.html").write_text(
        '<img src="missing.png"><table><tr><td> </td></tr></table>'
        '<div class="output error">Traceback (most recent call last)</div><p>```{admonition} x</p>')
    problems = check_pages(tmp_path)
    assert problems == ["bad.html: broken image missing.png", "bad.html: table 1 is empty",
                        "bad.html: shows an error or traceback", "bad.html: shows an unrendered MyST directive"]


def test_an_unbuilt_book_is_reported(tmp_path):
    assert "build the book first" in check_pages(tmp_path)[0]
