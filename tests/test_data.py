import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from deepcorrect.config import DataConfig
from deepcorrect.data import TensorData, load_dataset, make_embedded, per_class_index
from deepcorrect.data.embedded import CLASSES


def test_embedded_data_is_deterministic_balanced_and_32px():
    a, ya = make_embedded(20, seed=5)
    b, yb = make_embedded(20, seed=5)
    c, _ = make_embedded(20, seed=6)
    assert torch.equal(a, b) and torch.equal(ya, yb) and not torch.equal(a, c)
    assert a.shape == (200, 3, 32, 32) and a.dtype == torch.uint8
    assert torch.bincount(ya).tolist() == [20] * len(CLASSES) == [20] * 10
    assert a.float().std() > 30  # real contrast, not a flat image


def test_embedded_profile_split_meets_the_minimum_sizes():
    train, test = load_dataset(DataConfig(source="embedded", train_per_class=1000, test_per_class=200))
    assert len(train) == 10_000 and len(test) == 2_000
    assert torch.bincount(test.labels).tolist() == [200] * 10
    # train and test images are different draws
    assert not (train.images[:50, None] == test.images[None, :50]).flatten(2).all(2).any()


def test_per_class_index_is_seeded_and_exact():
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 2, 2, 2])
    idx = per_class_index(labels, 2, seed=1)
    assert torch.bincount(labels[idx]).tolist() == [2, 2, 2]
    assert torch.equal(idx, per_class_index(labels, 2, seed=1))
    with pytest.raises(ValueError, match="fewer than the 4 requested"):
        per_class_index(labels, 4, seed=1)


def _write_tree(root, per_class=3, size=(40, 30)):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_imagefolder_tree_and_archive_load_resized_and_capped(tmp_path, cache_dir):
    _write_tree(tmp_path / "tree" / "mini")
    cfg = DataConfig(source="folder", root=str(tmp_path / "tree"), image_size=16, train_per_class=2,
                     cache_dir=str(cache_dir))
    train, test = load_dataset(cfg)
    assert train.images.shape == (4, 3, 16, 16) and len(test) == 6
    assert train.classes == ("cat", "dog")
    archive = tmp_path / "mini.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "tree" / "mini", arcname="mini")
    train2, _ = load_dataset(DataConfig(source="folder", root=str(archive), image_size=16, train_per_class=2,
                                        cache_dir=str(cache_dir)))
    assert torch.equal(train.images, train2.images)


def test_a_missing_dataset_names_the_path_and_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; set data_root"):
        load_dataset(DataConfig(source="folder", root=str(tmp_path / "nowhere")))
    with pytest.raises(FileNotFoundError, match="data_download=true"):
        load_dataset(DataConfig(source="cifar10", root=str(tmp_path / "cifar")))


def test_tensor_data_rejects_bad_shapes():
    with pytest.raises(ValueError, match="uint8"):
        TensorData(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long), ("a",))
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        TensorData(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), ("a",))


def test_shared_cifar10_jpegs_load_as_an_imagefolder(shared_data, cache_dir):
    cfg = DataConfig(source="folder", root=str(shared_data / "cifar10-jpg.tar.gz"), train_per_class=5,
                     test_per_class=3, cache_dir=str(cache_dir))
    train, test = load_dataset(cfg)
    assert train.images.shape == (50, 3, 32, 32) and len(test) == 30
    assert train.classes[0] == "airplane" and len(train.classes) == 10
