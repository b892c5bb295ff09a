"""The loader of the published CIFAR-10-C / CIFAR-100-C arrays, on tiny fake releases made here."""

import numpy as np
import pytest
import torch

from deepcorrect.data import TensorData
from deepcorrect.data.released_c import CIFAR10_CLASSES, load_released, released_files


def fake_release(folder, per_severity=4, classes=10, names=("fog",)):
    """Image k of severity s is filled with 10 s + k; labels cycle through the classes."""
    values = np.concatenate([10 * s + np.arange(per_severity) for s in range(1, 6)]).astype(np.uint8)
    images = np.broadcast_to(values[:, None, None, None], (5 * per_severity, 32, 32, 3)).copy()
    for name in names:
        np.save(folder / f"{name}.npy", images)
    np.save(folder / "labels.npy", (np.arange(5 * per_severity) % classes).astype(np.uint8))
    return folder


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_reads_the_severity_slice_as_tensor_data(tmp_path, severity):
    data = load_released(fake_release(tmp_path), "fog", severity)
    assert isinstance(data, TensorData) and data.images.shape == (4, 3, 32, 32)
    assert data.images.dtype == torch.uint8 and data.labels.dtype == torch.long
    assert data.images[:, 0, 0, 0].tolist() == [10 * severity + k for k in range(4)]
    assert data.labels.tolist() == [(4 * (severity - 1) + k) % 10 for k in range(4)]
    assert data.classes == CIFAR10_CLASSES


def test_a_hundred_classes_get_numbered_names(tmp_path):
    data = load_released(fake_release(tmp_path, per_severity=40, classes=100), "fog", 1)
    assert len(data.classes) == 100 and data.classes[:2] == ("0", "1")


def test_missing_files_are_named_with_the_folder(tmp_path):
    (tmp_path / "labels.npy").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}.* lacks snow\.npy, frost\.npy: a CIFAR-10-C"):
        released_files(tmp_path, ("snow", "frost"))
    (tmp_path / "labels.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks fog\.npy, labels\.npy"):
        load_released(tmp_path, "fog", 1)


def test_bad_arrays_and_arguments_are_refused(tmp_path):
    fake_release(tmp_path)
    with pytest.raises(ValueError, match="unknown corruption 'fogg'"):
        load_released(tmp_path, "fogg", 1)
    with pytest.raises(ValueError, match=r"severity must be an integer in 1\.\.5, got 6"):
        load_released(tmp_path, "fog", 6)
    np.save(tmp_path / "labels.npy", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="holds 3 labels for 20 images in fog.npy"):
        load_released(tmp_path, "fog", 1)
    np.save(tmp_path / "fog.npy", np.zeros((7, 32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"must hold uint8 images \(5 × N, H, W, 3\)"):
        load_released(tmp_path, "fog", 1)
