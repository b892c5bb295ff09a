"""The paper's tables are shown with the paper's value per column beside the measured one, and a measured −
paper difference only where the data are comparable."""

import numpy as np
import pandas as pd
import torch

from deepcorrect.evaluate import COLUMNS
from deepcorrect.paper import alexnet_table, correction_table
from deepcorrect.sections import cifar_analysis, generalization, imagenet_analysis
from deepcorrect.tables import show


def _measured(paper: pd.DataFrame, names: list[str], params: list[int], shift: float = 0.01) -> pd.DataFrame:
    """Rows ``names`` of a paper table moved by ``shift``, with this network's own parameter counts."""
    out = paper.loc[names, [*COLUMNS, "Avg"]] + shift
    out["# Params"] = params
    return out


def test_tables_3_4_show_every_column_of_the_papers_row_and_subtract_only_on_cifar_100():
    measured = _measured(correction_table("blur"), ["Baseline", "Deepcorr-1"], [348, 1_000])
    ten = cifar_analysis.compare_table(measured, "blur", num_classes=10)
    assert list(ten.index) == [("Baseline", "measured"), ("Baseline", "paper"), ("Deepcorr-1", "measured"),
                               ("Deepcorr-1", "paper")]
    assert list(ten.columns) == [*COLUMNS, "Avg", "# Params"]
    assert ten.loc[("Deepcorr-1", "paper"), "Level 3"] == 0.5217 and ten.loc[("Deepcorr-1", "paper"), "# Params"] == 80954
    hundred = cifar_analysis.compare_table(measured, "blur", num_classes=100)
    difference = hundred.loc[("Deepcorr-1", "measured − paper")]
    assert np.allclose(difference[[*COLUMNS, "Avg"]].astype(float), 0.01) and np.isnan(difference["# Params"])
    page = show(hundred).html
    assert "+0.0100" in page and ">348<" in page and "80,954" in page  # differences signed, counts whole


def test_a_resnets_full_fine_tune_stands_beside_finetune_9():
    measured = _measured(correction_table("awgn"), ["Finetune-9"], [270_000]).rename(index={"Finetune-9": "Finetune-20"})
    table = cifar_analysis.compare_table(measured, "awgn")
    assert table.loc[("Finetune-20", "paper"), "Clean"] == correction_table("awgn").loc["Finetune-9", "Clean"]


def test_tables_7_8_and_11_12_print_the_papers_parameters_as_printed_and_match_the_restoration_row():
    measured = _measured(alexnet_table("blur"), ["Deepcorr-5", "Deepcorr-5-lite"], [2_812_392, 1_674_000])
    restoration = pd.DataFrame([[0.5] * 8, [0.4] * 8], columns=[*COLUMNS, "Avg"],
                               index=["Baseline (same 3 images)", "Richardson–Lucy"])
    restoration["s / image"] = [0.0, 1.5]
    table = imagenet_analysis.compare_alexnet(measured, "blur", restoration, num_classes=10)
    assert table.loc[("Deepcorr-5", "paper"), "# Params"] == "2.81 M"
    assert table.loc[("Deepcorr-5-lite", "paper"), "Level 6"] == 0.4270
    assert table.loc[("Richardson–Lucy (paper: NCSR)", "paper"), "Avg"] == 0.2193
    assert "measured − paper" not in table.index.get_level_values("source")
    full = imagenet_analysis.compare_alexnet(measured, "blur", num_classes=1000)
    assert np.isclose(full.loc[("Deepcorr-5", "measured − paper"), "Avg"], 0.01)
    assert "2,812,392" in show(full).html and "2.81 M" in show(full).html


def _transfer_results() -> dict:
    rows = {"clean": {"Baseline": {"accuracy": torch.tensor([[0.80]])}}}
    for kind in ("blur", "awgn"):
        rows[kind] = {m: {"accuracy": torch.full((2, 7), a)} for m, a in
                      (("Baseline", 0.3), ("Finetune-8", 0.6), ("Deepcorr-5", 0.7))}
    return rows


def test_table_13_is_clean_only_and_transfer_differences_need_the_papers_dataset_and_features():
    table = generalization.transfer_table(_transfer_results())
    t13 = generalization.paper_table(table, 13, "Caltech-101", difference=True)
    assert list(t13.columns) == ["Clean", "± (std over splits)", "paper Clean", "Δ Clean"]  # no Avg repeating Clean
    assert np.isclose(t13.loc["Baseline", "Δ Clean"], 0.80 - 0.85)
    assert "Δ Avg" not in generalization.paper_table(table, 14, "Caltech-101", difference=False)
    assert generalization.transfer_comparable("Caltech-101", 1000)
    assert not generalization.transfer_comparable("Caltech-101", 10)
    assert not generalization.transfer_comparable("embedded (second draw)", 1000)
    assert "not comparable" in generalization.transfer_comparability("embedded (second draw)", "Caltech-101", 10)
    assert generalization.transfer_comparability("Caltech-101", "Caltech-101", 1000) == ""
