import os
from pathlib import Path

import pytest
import torch

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
