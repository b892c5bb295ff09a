import os
from pathlib import Path

import pytest
import torch

from deepcorrect.config import RankingConfig
from deepcorrect.data import TensorData
from deepcorrect.models import AllConvBN
from deepcorrect.ranking import rank_filters
from deepcorrect.runtime import keep_freed_memory

REPO = Path(__file__).resolve().parents[1]
#: The conventional data folder of a checkout (CI links it to its data); else the folder beside the checkout.
SHARED_DATA = next((d for d in (REPO / "data", REPO.parent / "shared" / "data") if d.is_dir()), REPO / "data")

torch.set_num_threads(min(2, os.cpu_count() or 1))
keep_freed_memory()  # faster tensors on glibc, for the tests and the notebook kernels they start


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The data folder when present (as in CI); tests using it skip cleanly elsewhere."""
    if not (SHARED_DATA / "cifar10-jpg.tar.gz").is_file():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def small_ranking():
    """A random All-Conv-BN ranked fast on 20 images (blur and AWGN, levels 1–6): the model, the images and the
    ranking, shared by the tests of the ranking's result, selection, ideal correction and errors."""
    torch.manual_seed(0)
    model = AllConvBN(10, width=0.125).eval()
    g = torch.Generator().manual_seed(2)
    images = (torch.rand(20, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    labels = torch.arange(20) % 10
    data = TensorData(images, labels, tuple(map(str, range(10))))
    return model, data, rank_filters(model, data, "cifar", RankingConfig(chunk_filters=32), progress=False)
