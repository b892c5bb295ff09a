"""The closing "What this page found" bullets follow the numbers they summarise."""

import pandas as pd
import pytest
import torch

from deepcorrect.distortions import KINDS, NUM_LEVELS
from deepcorrect.evaluate import COLUMNS
from deepcorrect.paper import baseline_row
from deepcorrect.sections import distortion_effects, imagenet_analysis


def _embedding(spread: float) -> torch.Tensor:
    """Two classes of 20 points: centres 10 apart, each point ``spread`` around its centre."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]]).repeat_interleave(20, 0)
    return centres + spread * torch.randn(40, 2, generator=g)


@pytest.mark.parametrize("merges", [True, False])
def test_page_01_says_whether_features_merge_and_how_much_accuracy_is_lost(merges):
    tsne = {"labels": torch.arange(2).repeat_interleave(20)}
    for kind in KINDS:
        for level in range(NUM_LEVELS + 1):
            tsne[f"{kind}/{level}"] = _embedding(1.0 + (6.0 * level / NUM_LEVELS if merges else 0.0))
    measured = pd.DataFrame({kind: baseline_row(kind, "cifar") for kind in KINDS}).T  # exactly the paper's
    text = distortion_effects.findings(measured, tsne, "cifar")
    assert ("they widen and merge under blur and awgn, as in the paper" in text) == merges
    assert "as damaging as the paper's" in text
    mild = measured.copy()
    for column in [*COLUMNS[1:], "Avg"]:
        mild[column] = mild["Clean"]  # no loss at any level
    assert text.count("milder than") == 0 and "milder than the paper's" in distortion_effects.findings(
        mild, tsne, "cifar")


@pytest.mark.parametrize("gap,verdict", [(0.10, "agrees with the paper"), (-0.10, "disagrees with the paper"),
                                         (0.001, "too close to call")])
def test_page_04_calls_deepcorr_vs_finetune_only_beyond_two_standard_errors(gap, verdict):
    t = pd.DataFrame({"Avg": {"Deepcorr-5": 0.5 + gap, "Finetune-8": 0.5}})
    text = imagenet_analysis.findings({"blur": t}, {}, {}, n_test=1000)
    assert verdict in text and "standard error ≈ 0.008" in text


@pytest.mark.parametrize("diff,p,says", [(0.002, 0.6, "similar, as the paper finds"),
                                         (0.083, 0.2, "cannot tell the two apart, which is not the same as similar"),
                                         (0.03, 0.01, "significant (p < 0.05), unlike the paper's")])
def test_page_03_calls_global_and_local_similar_only_when_the_difference_is_small(diff, p, says):
    from deepcorrect.sections import cifar_analysis
    text = cifar_analysis.describe_local_global({"global − local (mean)": diff, "p-value": p, "pairs": 14})
    assert says in text and ("as in the paper" not in text)


def _figure(kind_gains: dict[str, list[float]], clean: float = 0.8, uncorrected: float = 0.3):
    """Figure 5 rows whose levels sit ``gain`` above Figure 4's uncorrected row, and that row."""
    levels = COLUMNS[1:]
    fig4 = [{"kind": k, "selection": "none", "Clean": clean, **dict.fromkeys(levels, uncorrected)} for k in kind_gains]
    fig5 = [{"kind": k, "selection": f"conv{i + 1}", "Clean": clean, **dict.fromkeys(levels, uncorrected + g)}
            for k, gains in kind_gains.items() for i, g in enumerate(gains)]
    return pd.DataFrame(fig5), pd.DataFrame(fig4)


def test_page_02_the_panel_and_claim_3_read_one_gain_by_depth():
    from deepcorrect import claims
    from deepcorrect.sections import correction_priority as priority

    fig5, fig4 = _figure({"blur": [0.3, 0.2, 0.1, 0.05], "awgn": [0.1, 0.2, 0.3, 0.4]})
    trends = priority.depth_trends(fig5, fig4)
    assert trends["blur"].gains == pytest.approx((0.3, 0.2, 0.1, 0.05)) and trends["blur"].best == "conv1"
    assert trends["blur"].rho == pytest.approx(-1.0) and trends["awgn"].rho == pytest.approx(1.0)
    metrics = {"ranking": {"profile": "resnet20-cifar10", "figure4": fig4.to_dict("records"),
                           "figure5": fig5.to_dict("records")}}
    rows = {v.kind: v for v in claims.best_layer(metrics)}
    assert rows["blur"].verdict == "holds" and rows["AWGN"].verdict == "fails"
    assert "Spearman ρ = -1.00" in rows["blur"].measured and "best conv4" in rows["AWGN"].measured
