"""Figures fit the book's column and are shown once: none stays open in pyplot after it is returned (a
returned figure that is still open appears twice in a notebook, once returned and once at the cell's end)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from deepcorrect import plots  # noqa: E402
from deepcorrect.evaluate import COLUMNS  # noqa: E402

RNG = np.random.default_rng(0)
MODELS = ["Baseline", "Finetune-1", "Finetune-3", "Finetune-9", "Deepcorr-1", "Deepcorr-3", "Deepcorr-6c"]


def _table(index) -> pd.DataFrame:
    t = pd.DataFrame(RNG.uniform(0.1, 0.7, (len(index), len(COLUMNS) + 1)), index=index, columns=[*COLUMNS, "Avg"])
    return t.assign(**{"# Params": RNG.integers(1000, 2_000_000, len(index))})


def _examples():
    n, classes = 2, 3
    return {kind: {"images": torch.rand(n, 7, 3, 8, 8) * 255, "probs": torch.rand(n, 7, classes).softmax(-1),
                   "labels": torch.tensor([0, 1])} for kind in ("blur", "awgn")}


def _tsne():
    out = {"labels": torch.tensor([0, 1, 2] * 4), "classes": ["a", "b", "c"]}
    out |= {f"{k}/{lv}": torch.randn(12, 2) for k in ("blur", "awgn") for lv in range(7)}
    return out


FIGURES = {
    "figure_1": lambda: plots.figure_1(_examples(), ["cat", "dog", "ship"], "cifar"),
    "figure_2": lambda: plots.figure_2(_tsne()),
    "accuracy_curves": lambda: plots.accuracy_curves(_table(["blur", "awgn"]).drop(columns="# Params")),
    "training_curve": lambda: plots.training_curve([{"epoch": e, "accuracy": 0.1 * e, "loss": 2 - e / 5}
                                                    for e in range(1, 6)]),
    "correction_tables": lambda: plots.correction_tables({"blur": _table(MODELS), "awgn": _table(MODELS)},
                                                         {"blur": _table(MODELS), "awgn": _table(MODELS)}),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_a_figure_fits_the_column_and_is_not_left_open(name, tmp_path):
    plt.close("all")
    fig = FIGURES[name]()
    assert plt.get_fignums() == [], f"{name} left its figure open in pyplot: a notebook would show it twice"
    assert fig.get_size_inches()[0] <= plots.COLUMN_WIDTH
    fig.savefig(tmp_path / f"{name}.png", dpi=100)  # a detached figure still draws
    assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_the_lines_of_one_family_differ_by_marker_and_dash():
    styles = [plots.line_style(i) for i in range(4)]
    assert len({(s["marker"], s["ls"]) for s in styles}) == 4


def _curves(layers: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{"selection": s, "kind": k, **dict(zip(COLUMNS, RNG.uniform(0.1, 0.9, len(COLUMNS))))}
                         for k in ("blur", "awgn") for s in layers])


def test_a_few_curves_get_a_legend_and_a_deep_networks_layers_a_colour_bar_by_depth():
    few = plots.ideal_curves(_curves(["none", "conv1", "conv2"]), "Figure 5")
    assert len(few.legends) == 1 and len(few.axes) == 2
    deep = plots.ideal_curves(_curves([f"layer{i}" for i in range(plots.MAX_LEGEND_LINES + 1)]), "Figure 5")
    bar = deep.axes[-1]  # a third axes: the colour bar, labelled with the first, middle and last layer
    assert not deep.legends and len(deep.axes) == 3
    assert [t.get_text() for t in bar.get_yticklabels()] == ["layer0", "layer6", "layer12"]
    plt.close("all")


def test_the_gain_by_depth_panel_shows_one_bar_per_layer_and_outlines_the_best():
    from deepcorrect.claims import DepthTrend

    layers = tuple(f"layer{i}" for i in range(20))
    gains = tuple(0.01 * (20 - i) for i in range(20))
    fig = plots.gain_by_depth({"blur": DepthTrend(layers, gains, -1.0, 0.0),
                               "awgn": DepthTrend(layers, gains[::-1], 1.0, 0.0)}, "Figure 5")
    blur, awgn = fig.axes
    assert len(blur.patches) == 20 and blur.patches[0].get_height() == pytest.approx(20.0)
    assert [p.get_linewidth() > 0 and p.get_edgecolor()[3] > 0 for p in awgn.patches].index(True) == 19
    assert "layer19" in [t.get_text() for t in awgn.get_xticklabels()]  # a thinned axis still names the best
    assert blur.get_title().startswith("Gaussian blur: ρ = -1.00")
    assert plt.get_fignums() == []
