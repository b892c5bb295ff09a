"""The release's Keras/Theano AlexNet weights load exactly: files written here in its layout (no real weights
exist on this machine), against answers computed the way Theano and Keras compute them."""

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d, correlate2d

from deepcorrect.models import CaffeAlexNet, capture, load_weights
from deepcorrect.models.common import CAFFE_MEAN
from deepcorrect.models.keras_h5 import LAYERS, load_release_weights, save_release_weights

h5py = pytest.importorskip("h5py")
WIDTH, CLASSES = 0.125, 7


def _theano_file(path, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights of a width-0.125 AlexNet in the release's layout, asymmetric kernels included."""
    rng = np.random.default_rng(seed)
    shapes = {n: (tuple(p.shape), p.dim()) for n, p in CaffeAlexNet(CLASSES, width=WIDTH).state_dict().items()}
    arrays = {}
    with h5py.File(path, "w") as f:
        for layer, names in LAYERS.items():
            (out, *rest), dim = shapes[f"{layer}.weight"]
            for n in names:
                part = out // len(names)
                w_shape = (part, *rest) if dim == 4 else (rest[0], part)  # Theano (out, in, kh, kw); Keras (in, out)
                arrays[f"{n}_W"] = (rng.standard_normal(w_shape) * 0.05).astype(np.float32)
                arrays[f"{n}_b"] = (rng.standard_normal(part) * 0.1).astype(np.float32)
                f.create_dataset(f"{n}/{n}_W", data=arrays[f"{n}_W"])
                f.create_dataset(f"{n}/{n}_b", data=arrays[f"{n}_b"])
    return arrays


def _theano_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Theano's conv2d (filter_flip=True): a true convolution, here by scipy.signal.convolve2d."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    return np.stack([sum(convolve2d(x[i], w[o, i], mode="valid") for i in range(w.shape[1]))[::stride, ::stride]
                     + b[o] for o in range(w.shape[0])])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = tmp_path_factory.mktemp("h5") / "alexnet_weights.h5"
    arrays = _theano_file(path)
    model = load_release_weights(CaffeAlexNet(CLASSES, width=WIDTH).eval(), path)
    x = torch.from_numpy(np.random.default_rng(1).uniform(0, 255, (1, 3, 227, 227)).astype(np.float32))
    with torch.no_grad(), capture(model, ["norm", "conv1", "lrn1", "conv2", "relu7", "fc8"]) as acts:
        model(x)
    return model, arrays, {k: v[0].double().numpy() for k, v in acts.items()}, path


def test_conv1_computes_theanos_true_convolution_of_the_stored_kernels(loaded):
    """The known answer that settles the kernel flip: Theano convolves, so the stored kernels are rotated
    when read. Reading them unrotated (torch correlates) would give the correlation, which differs here."""
    _, arrays, acts, _ = loaded
    expected = _theano_conv(acts["norm"], arrays["conv_1_W"], arrays["conv_1_b"], stride=4)
    assert np.allclose(acts["conv1"], expected, rtol=1e-4, atol=1e-3)
    unflipped = np.stack([sum(correlate2d(acts["norm"][i], arrays["conv_1_W"][o, i], mode="valid")
                              for i in range(3))[::4, ::4] + arrays["conv_1_b"][o] for o in range(2)])
    assert not np.allclose(acts["conv1"][:2], unflipped, rtol=1e-2, atol=1e-1)


def test_grouped_conv2_takes_its_halves_in_the_releases_order(loaded):
    """conv_2_1 sees the first half of the channels and gives the first half of the outputs (splittensor)."""
    _, arrays, acts, _ = loaded
    x, half = acts["lrn1"], acts["lrn1"].shape[0] // 2
    expected = np.concatenate([_theano_conv(x[g * half:(g + 1) * half], arrays[f"conv_2_{g + 1}_W"],
                                            arrays[f"conv_2_{g + 1}_b"], pad=2) for g in range(2)])
    assert np.allclose(acts["conv2"], expected, rtol=1e-4, atol=1e-3)


def test_dense_layers_are_keras_x_times_w(loaded):
    _, arrays, acts, _ = loaded
    assert np.allclose(acts["fc8"], acts["relu7"] @ arrays["dense_3_W"] + arrays["dense_3_b"], atol=1e-4)


def test_inputs_are_mean_subtracted_and_lrn_is_the_releases(loaded):
    model, _, acts, _ = loaded
    x = torch.rand(1, 3, 8, 8) * 255
    assert torch.allclose(model.norm(x), x - torch.tensor(CAFFE_MEAN).view(1, 3, 1, 1))
    y = torch.rand(1, 6, 4, 4) * 20  # heuritech's crosschannelnormalization: x / (2 + 1e-4·Σ_5 x²)^0.75
    sq = torch.nn.functional.pad(y.pow(2), (0, 0, 0, 0, 2, 2))
    window = sum(sq[:, i:i + 6] for i in range(5))
    assert torch.allclose(model.lrn1(y), y / (2 + 1e-4 * window) ** 0.75, rtol=1e-5)
    caffe = CaffeAlexNet(CLASSES, width=WIDTH, lrn="caffe", inputs="standardized")
    assert torch.allclose(caffe.lrn1(y), y / (2 + 1e-4 / 5 * window) ** 0.75, rtol=1e-5)


def test_saving_in_the_release_layout_round_trips(loaded, tmp_path):
    model, _, _, _ = loaded
    out = save_release_weights(model, tmp_path / "again.h5")
    again = load_weights(CaffeAlexNet(CLASSES, width=WIDTH).eval(), out)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_bad_weight_files_are_clear_errors(loaded, tmp_path):
    _, _, _, path = loaded
    with pytest.raises(ValueError, match=r"conv1.weight is \(12, 3, 11, 11\) in the file but \(24, 3, 11, 11\)"):
        load_release_weights(CaffeAlexNet(CLASSES, width=0.25), path)
    partial = tmp_path / "partial.h5"
    with h5py.File(path, "r") as src, h5py.File(partial, "w") as dst:
        for name in ("conv_1", "conv_2_1"):
            src.copy(name, dst)
    with pytest.raises(ValueError, match="missing dataset.*conv_2_2/conv_2_2_W"):
        load_release_weights(CaffeAlexNet(CLASSES, width=WIDTH), partial)
    text = tmp_path / "weights.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="cannot read .* as HDF5"):
        load_release_weights(CaffeAlexNet(CLASSES, width=WIDTH), text)
    with pytest.raises(FileNotFoundError, match="alexnet_weights.h5"):
        load_release_weights(CaffeAlexNet(CLASSES, width=WIDTH), tmp_path / "absent.h5")
    from deepcorrect.models import AllConvBN
    with pytest.raises(ValueError, match="load into arch=alexnet_caffe"):
        load_weights(AllConvBN(10, width=0.125), path)
    with pytest.raises(ValueError, match="build the model with inputs=caffe"):
        load_weights(CaffeAlexNet(CLASSES, width=WIDTH, inputs="standardized"), path)
    with pytest.raises(ValueError, match="inputs must be one of"):
        CaffeAlexNet(10, inputs="bgr")
