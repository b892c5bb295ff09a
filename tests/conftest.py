import os
from pathlib import Path

import pytest
import torch

from deepcorrect.runtime import keep_freed_memory

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

torch.set_num_threads(min(2, os.cpu_count() or 1))
keep_freed_memory()  # faster tensors on glibc, for the tests and the notebook kernels they start


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data when present (as in CI); tests using it skip cleanly elsewhere."""
    if not (SHARED_DATA / "cifar10-jpg.tar.gz").is_file():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")
