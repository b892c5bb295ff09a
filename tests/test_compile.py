"""``TrainConfig.compile`` (torch.compile of the training step's model) trains as the eager model does."""

import copy
import shutil
from dataclasses import replace

import pytest
import torch

from deepcorrect.config import TrainConfig
from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.models import AllConvBN
from deepcorrect.train import fit


def _compile_unavailable() -> str:
    """Why torch.compile cannot run here ('' when it can): its CPU backend builds C++ kernels."""
    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile is not supported on this Python / platform"
    if shutil.which("c++") is None and shutil.which("g++") is None:
        return "torch.compile's CPU backend needs a C++ compiler and none is on PATH"
    return ""


@pytest.mark.slow  # inductor compiles the forward and backward for a minute or more on a CPU
@pytest.mark.skipif(bool(_compile_unavailable()), reason=_compile_unavailable() or "available")
def test_compiled_training_gives_the_eager_losses():
    x, y = make_embedded(2, seed=0)
    data = TensorData(x, y, CLASSES)  # 20 images: two full batches, one batch shape to compile
    cfg = TrainConfig(epochs=2, batch_size=10, lr=0.05, crop_pad=2, channels_last=False)
    torch.manual_seed(0)
    net = AllConvBN(num_classes=10, width=0.125)
    eager, compiled = copy.deepcopy(net), copy.deepcopy(net)
    expected = fit(eager, data, cfg, progress=False)
    got = fit(compiled, data, replace(cfg, compile=True), progress=False)
    assert [r["loss"] for r in got] == pytest.approx([r["loss"] for r in expected], rel=1e-5)
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)
