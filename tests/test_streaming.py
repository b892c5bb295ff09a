"""The streamed path (JPEGs decoded batch by batch in DataLoader workers) gives the in-memory path's batches
for the same seed, and its memory does not grow with the dataset. On Imagenette from ../shared/data."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import REPO
from deepcorrect.config import DataConfig, TrainConfig
from deepcorrect.data import StreamedData, TensorData, load_dataset, split_validation
from deepcorrect.distortions import half_distorted
from deepcorrect.evaluate import accuracy
from deepcorrect.models import AllConvBN
from deepcorrect.train import fit


def _cfg(shared_data, cache_dir, **kw) -> DataConfig:
    return DataConfig(source="folder", root=str(shared_data / "imagenette160.tar.gz"), family="imagenet",
                      image_size=48, stretch=True, crop=40, train_per_class=6, test_per_class=3,
                      cache_dir=str(cache_dir), **kw)


@pytest.fixture(scope="module")
def both(shared_data, tmp_path_factory):
    cfg = _cfg(shared_data, tmp_path_factory.mktemp("cache"))
    return load_dataset(cfg), load_dataset(replace(cfg, stream=True, decode_workers=2))


def test_both_paths_read_the_same_images_in_the_same_order(both):
    (mem_train, mem_test), (st_train, st_test) = both
    assert isinstance(st_train, StreamedData) and isinstance(mem_train, TensorData)
    assert st_train.classes == mem_train.classes and torch.equal(st_train.labels, mem_train.labels)
    assert len(st_test) == len(mem_test) == 30 and st_train.crop == mem_train.crop == 40
    order = torch.randperm(len(mem_train), generator=torch.Generator().manual_seed(0)).split(16)
    for a, b in zip(mem_train.batches(order, "cpu"), st_train.batches(order, "cpu"), strict=True):
        assert torch.equal(a, b)
    held_mem, held_st = split_validation(mem_train, 2, 5)[1], split_validation(st_train, 2, 5)[1]
    assert torch.equal(held_st.materialize().images, held_mem.images)


def test_training_and_evaluation_match_on_both_paths(both):
    """One epoch of half-distorted training with random crops, then Table 1's clean and blurred top-1: the
    same weights and the same numbers, whichever path fed them."""
    (mem_train, mem_test), (st_train, st_test) = both
    runs = []
    for train, test in ((mem_train, mem_test), (st_train, st_test)):
        torch.manual_seed(0)
        model = AllConvBN(10, width=0.125)
        fit(model, train, TrainConfig(epochs=1, batch_size=20, lr=0.05, crop_pad=0, seed=3), progress=False,
            batch_transform=lambda x, g: half_distorted(x, "blur", "imagenet", g))
        runs.append((model.state_dict(), [accuracy(model, test, "blur", lv, "imagenet", batch_size=7)
                                          for lv in (0, 4)]))
    (state_a, acc_a), (state_b, acc_b) = runs
    assert acc_a == acc_b
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


def test_a_broken_file_is_named_when_streamed(tmp_path):
    bad = tmp_path / "broken.JPEG"
    bad.write_bytes(b"not a jpeg")
    broken = StreamedData((str(bad),), torch.zeros(1, dtype=torch.long), ("a",), 48, workers=0)
    with pytest.raises(ValueError, match="broken.JPEG cannot be decoded"):
        next(broken.batches([torch.tensor([0])], "cpu"))
    with pytest.raises(ValueError, match="stream=true reads an ImageFolder tree"):
        DataConfig(source="embedded", stream=True)


PEAK = """
import re, sys, torch
from deepcorrect.config import DataConfig
from deepcorrect.data import load_dataset
stream, per_class, root, cache = sys.argv[1] == "1", int(sys.argv[2]), sys.argv[3], sys.argv[4]
cfg = DataConfig(source="folder", root=root, family="imagenet", image_size=160, train_per_class=per_class,
                 test_per_class=1, cache_dir=cache, stream=stream, decode_workers=0)
train, _ = load_dataset(cfg)
seen = sum(int(x.shape[0]) for x in train.batches(torch.arange(len(train)).split(50), "cpu"))
# VmHWM: this process image's peak RSS. (getrusage's ru_maxrss would carry the parent's peak across the
# fork and exec: under a grown pytest process every run reported the same number.)
print(seen, int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) // 1024)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the peak RSS from /proc (Linux)")
def test_streamed_memory_does_not_grow_with_the_dataset(shared_data, tmp_path):
    """Peak RSS over every training image at 160 px: 100 vs 400 per class (1,000 vs 4,000 images, 77 MB vs
    307 MB decoded). Streamed: about the same; in memory: the decoded images' size more."""
    def peak(stream: bool, per_class: int) -> int:
        out = subprocess.run([sys.executable, "-c", PEAK, str(int(stream)), str(per_class),
                              str(shared_data / "imagenette160.tar.gz"), str(tmp_path / "cache")],
                             capture_output=True, text=True, cwd=REPO, check=True)
        seen, mb = map(int, out.stdout.split())
        assert seen == 10 * per_class
        return mb

    streamed = peak(True, 400) - peak(True, 100)
    in_memory = peak(False, 400) - peak(False, 100)
    assert streamed < 40 and in_memory > 150, (streamed, in_memory)
