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


def test_images_are_distorted_whole_and_seen_cropped_so_the_blur_border_falls_outside():
    """The release's ImageNet order (256×256 → distort → centre 227): a flat image stays flat in the crop
    under the strongest blur, where blurring the crop itself darkens its edge through the zero border."""
    from deepcorrect.evaluate import distorted_batches
    flat = torch.full((2, 3, 256, 256), 200, dtype=torch.uint8)
    seen = TensorData(flat, torch.zeros(2, dtype=torch.long), ("a",), crop=227)
    (x, _), = distorted_batches(seen, "blur", 6, "imagenet", device="cpu", batch_size=2)
    assert x.shape == (2, 3, 227, 227) and float((x - 200).abs().max()) < 0.01
    cropped_first = TensorData(flat[..., 14:241, 14:241].contiguous(), torch.zeros(2, dtype=torch.long), ("a",))
    (y, _), = distorted_batches(cropped_first, "blur", 6, "imagenet", device="cpu", batch_size=2)
    assert float(y[0, 0, 0, 0]) < 120 and float(y[0, 0, 113, 113]) == pytest.approx(200, abs=0.01)
    (z, _), = distorted_batches(seen, "blur", 6, "imagenet", device="cpu", batch_size=2, whole=True)
    assert z.shape[-1] == 256 and float(z[0, 0, 0, 0]) < 120  # whole: for restoring before the crop


def test_a_crop_travels_with_subsets_and_must_fit_the_images():
    data = TensorData(torch.zeros(6, 3, 10, 10, dtype=torch.uint8), torch.arange(6) % 2, ("a", "b"), crop=8)
    assert data.subset(torch.tensor([0, 3])).crop == data.per_class(2, 0).crop == data.to("cpu").crop == 8
    assert data.input_size == 8 and TensorData(data.images, data.labels, data.classes).input_size == 10
    with pytest.raises(ValueError, match="crop must be 0 .* at most the image size"):
        TensorData(data.images, data.labels, data.classes, crop=11)
    with pytest.raises(ValueError, match=r"crop \(300\) must be 0 or at most image_size \(256\)"):
        DataConfig(image_size=256, crop=300)
    with pytest.raises(ValueError, match="leave resize at 0"):
        DataConfig(image_size=256, stretch=True, resize=300)


def test_training_distorts_the_whole_image_then_takes_a_random_crop():
    from deepcorrect.config import TrainConfig
    from deepcorrect.train import fit
    seen = []
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))
    model.register_forward_pre_hook(lambda m, args: seen.append(("model", tuple(args[0].shape[-2:]))))

    def transform(x, g):
        seen.append(("distort", tuple(x.shape[-2:])))
        return x

    model(torch.zeros(1, 3, 8, 8))
    data = TensorData(torch.randint(0, 255, (8, 3, 12, 12), dtype=torch.uint8), torch.arange(8) % 2, ("a", "b"),
                      crop=8)
    fit(model, data, TrainConfig(epochs=1, batch_size=4, lr=0.01, crop_pad=0), batch_transform=transform,
        progress=False)
    assert seen[1:] == [("distort", (12, 12)), ("model", (8, 8))] * 2


def test_stretch_resizes_to_a_square_whatever_the_aspect(tmp_path, cache_dir):
    """The release's cv2.resize to 256×256: the whole picture, squeezed — not a centre crop of it."""
    from deepcorrect.data.folders import _decode
    ramp = np.tile(np.linspace(0, 255, 60).astype(np.uint8)[None, :, None], (30, 1, 3))  # dark left, bright right
    Image.fromarray(ramp).save(tmp_path / "wide.png")
    squeezed = _decode(tmp_path / "wide.png", 20, stretch=True)
    cropped = _decode(tmp_path / "wide.png", 20)
    assert squeezed.shape == cropped.shape == (3, 20, 20)
    assert int(squeezed[0, 0, 0]) < 10 and int(squeezed[0, 0, -1]) > 245  # both ends of the picture kept
    assert int(cropped[0, 0, 0]) > 50  # a crop loses the ends


def test_one_cap_rule_keeps_at_most_k_per_class_and_small_classes_whole():
    from deepcorrect.data import cap_per_class
    labels = torch.tensor([0] * 6 + [1] * 2 + [2] * 4)
    data = TensorData(torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).expand(12, 3, 2, 2).contiguous(),
                      labels, ("a", "b", "c"))
    capped = cap_per_class(data, 3, seed=1)
    assert torch.bincount(capped.labels).tolist() == [3, 2, 3]
    assert cap_per_class(data, 6, 1) is data and cap_per_class(data, 0, 1) is data
    assert torch.equal(capped.images, cap_per_class(data, 3, seed=1).images)  # seeded
    assert torch.equal(data.per_class(2, 1).labels, cap_per_class(data, 2, 1).labels)  # exact where it can be


def test_the_embedded_draw_is_generated_once_per_cache_and_a_damaged_copy_is_made_again(tmp_path, monkeypatch):
    from deepcorrect.data import embedded

    calls = []
    generate = embedded.make_embedded
    monkeypatch.setattr(embedded, "make_embedded", lambda *a: calls.append(a) or generate(*a))
    load_embedded = embedded.load_embedded
    first = load_embedded(3, seed=4, cache_dir=tmp_path)
    (saved,) = (tmp_path / "embedded").glob("*.pt")
    again = load_embedded(3, seed=4, cache_dir=tmp_path)
    assert len(calls) == 1  # the second draw is read back, not generated
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert all(torch.equal(a, b) for a, b in zip(first, make_embedded(3, seed=4)))
    saved.write_bytes(b"not a tensor file")  # damaged: its checksum no longer matches
    with pytest.warns(UserWarning, match="discarding cached embedded images"):
        repaired = load_embedded(3, seed=4, cache_dir=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(first, repaired)) and len(calls) == 2
    assert load_embedded(3, seed=4, cache_dir=tmp_path)[0].shape == (30, 3, 32, 32) and len(calls) == 2
