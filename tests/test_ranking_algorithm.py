"""Algorithm 1's loop: what it ranks, on which images, and the clear errors for what it cannot rank."""

import pytest
import torch

from deepcorrect.config import RankingConfig
from deepcorrect.data import TensorData
from deepcorrect.ranking import rank_filters, ranking_set, select_local
from deepcorrect.ranking.suffix import SuffixSplit
from deepcorrect.runtime import float32_exact


def test_ranking_set_is_per_class_and_bounded():
    labels = torch.arange(30) % 3
    data = TensorData(torch.zeros(30, 3, 4, 4, dtype=torch.uint8), labels, ("a", "b", "c"))
    assert torch.bincount(ranking_set(data, 4, 0).labels).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="needs 11 images per class but the split has only 10"):
        ranking_set(data, 11, 0)


def test_bad_ranking_input_is_a_clear_error(small_ranking):
    model, data, r = small_ranking
    with pytest.raises(ValueError, match="unknown layer 'conv99'"):
        rank_filters(model, data, "cifar", RankingConfig(layers=("conv99",)), progress=False)
    with pytest.raises(ValueError, match="is a BatchNorm2d, not a conv layer"):
        rank_filters(model, data, "cifar", RankingConfig(layers=("bn1",)), progress=False)
    for beta in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"β must be in \(0, 1\]"):
            select_local(r, "blur", beta)
    with pytest.raises(ValueError, match="differ in shape"):
        split = SuffixSplit(model, "conv1")
        split.swap_counts(torch.zeros(2, 12, 32, 32), torch.zeros(3, 3, 32, 32), torch.zeros(3, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="levels must be a non-empty subset"):
        RankingConfig(levels=(0,))
    with pytest.raises(ValueError, match="unknown ranking method"):
        rank_filters(model, data, "cifar", method="quick", progress=False)


def test_float32_ranking_turns_tf32_off_inside_and_restores_it():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with float32_exact(True):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        with float32_exact(False):  # bf16 rankings leave the settings alone
            assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
