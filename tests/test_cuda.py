"""What only a GPU can show: the CUDA paths give the answers the CPU paths are tested for. Every test here skips
where CUDA is absent (this machine, CI); `bench/gpu_check.sh` runs them on a lent GPU before its timings."""



import pytest
import torch

from deepcorrect.config import RankingConfig, TrainConfig
from deepcorrect.data import TensorData, make_embedded
from deepcorrect.data.embedded import CLASSES
from deepcorrect.distortions import distort, distort_per_image, half_distorted
from deepcorrect.evaluate import accuracy
from deepcorrect.models import AllConvBN
from deepcorrect.ranking import rank_filters
from deepcorrect.ranking.suffix import filters_per_run
from deepcorrect.runtime import HostSyncCounter
from deepcorrect.train import fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


def _data(per_class: int = 4) -> TensorData:
    x, y = make_embedded(per_class, seed=0)
    return TensorData(x, y, CLASSES)


def _model() -> AllConvBN:
    torch.manual_seed(0)
    return AllConvBN(num_classes=10, width=0.25).eval()


def test_fast_ranking_on_cuda_equals_the_literal_algorithm_on_cuda():
    """Algorithm 1's counts are exact on the GPU too (float32, TF32 off): fast suffix path == one filter at a
    time through the whole network, for blur and AWGN."""
    model, data = _model(), _data()
    cfg = RankingConfig(kinds=("blur", "awgn"), levels=(2, 5), layers=("conv1", "conv4"), chunk_filters=0)
    fast = rank_filters(model, data, "cifar", cfg, device=CUDA, progress=False)
    literal = rank_filters(model, data, "cifar", cfg, device=CUDA, method="literal", progress=False)
    for layer in cfg.layers:
        assert torch.equal(fast.counts[layer], literal.counts[layer]), layer
    assert torch.equal(fast.base, literal.base)


def test_blur_on_cuda_equals_blur_on_the_cpu_and_awgn_has_each_images_sigma():
    images = _data().images[:16].float()
    levels = torch.arange(16) % 7
    cpu = distort_per_image(images, "blur", levels, "cifar")
    gpu = distort_per_image(images.to(CUDA), "blur", levels.to(CUDA), "cifar").cpu()
    assert torch.allclose(cpu, gpu, atol=1e-3)
    for level in (1, 6):
        assert torch.allclose(distort(images, "blur", level), distort(images.to(CUDA), "blur", level).cpu(), atol=1e-3)
    flat = torch.full((64, 3, 32, 32), 128.0, device=CUDA)
    g = torch.Generator(CUDA).manual_seed(0)
    noisy = distort_per_image(flat, "awgn", torch.full((64,), 6, device=CUDA), "cifar", generator=g)
    expected = distort(flat[:1], "awgn", 6).sub(128).std()  # a CPU draw of the same sigma
    assert abs(float((noisy - 128).std()) / float(expected) - 1) < 0.05


def test_a_training_step_on_cuda_never_makes_the_host_wait():
    """On the GPU, where a host sync costs a pipeline stall: twice the batches, the same (per-epoch) count."""
    data = _data(8)
    counts = []
    for batch in (40, 20):
        with HostSyncCounter() as syncs:
            fit(_model().train(), data, TrainConfig(epochs=1, batch_size=batch, lr=0.05, seed=1), device=CUDA,
                progress=False, batch_transform=lambda x, g: half_distorted(x, ("blur", "awgn"), "cifar", g))
        counts.append(syncs.count)
    assert counts[0] == counts[1] <= 2, counts


def test_bf16_evaluation_agrees_with_float32_on_cuda():
    model, data = _model().to(CUDA), _data(10)
    exact = accuracy(model, data, "blur", 3, "cifar", device=CUDA)
    fast = accuracy(model, data, "blur", 3, "cifar", device=CUDA, bf16=True)
    assert abs(exact - fast) <= 0.03, (exact, fast)


def test_filters_per_run_reads_the_real_free_memory():
    free, _ = torch.cuda.mem_get_info(CUDA)
    assert filters_per_run(CUDA, 2**30, 10_000) == max(1, min(10_000, int(free // 2 // 2**30)))
    assert filters_per_run(CUDA, 2**20, 96) == 96
