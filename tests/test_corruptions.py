"""The corruption benchmark against independent references: scipy.ndimage, Pillow, scikit-image, numpy
transcriptions of the published procedures, and distributions for the random ones."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from skimage import color

from deepcorrect.corruptions import CORRUPTIONS, EXTRA_CORRUPTIONS, corrupt, parameters
from deepcorrect.corruptions import blur, digital, filters, weather
from deepcorrect.data import make_embedded


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Eight natural-looking 32×32 images with integer values (so 8-bit references see the same pixels)."""
    x, _ = make_embedded(1, seed=0)
    return x[:8].float()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def hwc(x: torch.Tensor) -> np.ndarray:
    """One image (3, H, W) on 0–255 as a float64 (H, W, 3) array on 0–1."""
    return x.permute(1, 2, 0).double().numpy() / 255


@pytest.mark.parametrize("name", CORRUPTIONS + EXTRA_CORRUPTIONS)
def test_every_corruption_keeps_shape_range_and_repeats_per_seed(images, name):
    a = corrupt(images, name, 5, generator=gen(3))
    b = corrupt(images, name, 5, generator=gen(3))
    assert a.shape == images.shape and a.dtype == images.dtype
    assert float(a.min()) >= 0 and float(a.max()) <= 255
    assert torch.equal(a, b)
    assert not torch.equal(a, images)


@pytest.mark.parametrize("name", ["gaussian_noise", "glass_blur", "elastic_transform", "fog", "snow", "frost"])
def test_random_corruptions_change_with_the_seed(images, name):
    assert not torch.equal(corrupt(images, name, 3, generator=gen(1)), corrupt(images, name, 3, generator=gen(2)))


def test_severity_raises_the_damage(images):
    for name in ("gaussian_noise", "defocus_blur", "contrast", "pixelate", "jpeg_compression"):
        errors = [float((corrupt(images, name, s, generator=gen()) - images).abs().mean()) for s in (1, 3, 5)]
        assert errors == sorted(errors), name


def test_imagenet_family_is_harsher(images):
    cifar = corrupt(images, "gaussian_noise", 5, "cifar", gen())
    imagenet = corrupt(images, "gaussian_noise", 5, "imagenet", gen())
    assert float((imagenet - images).std()) > 2 * float((cifar - images).std())


@pytest.mark.parametrize("bad, match", [
    ({"name": "blurr"}, "unknown corruption 'blurr'; expected one of gaussian_noise, shot_noise"),
    ({"severity": 0}, r"severity must be an integer in 1\.\.5, got 0"),
    ({"severity": 6}, r"severity must be an integer in 1\.\.5, got 6"),
    ({"severity": 2.0}, r"severity must be an integer in 1\.\.5, got 2\.0"),
    ({"family": "mnist"}, "unknown corruption family 'mnist'; expected one of cifar, imagenet"),
])
def test_bad_arguments_name_the_valid_values(images, bad, match):
    args = {"name": "fog", "severity": 1, "family": "cifar"} | bad
    with pytest.raises(ValueError, match=match):
        corrupt(images, args["name"], args["severity"], args["family"], gen())


def test_bad_images_and_generators_are_refused(images):
    with pytest.raises(ValueError, match="float image batch of shape"):
        corrupt(images[0], "fog", 1)
    with pytest.raises(ValueError, match="RGB images"):
        corrupt(images[:, :1], "fog", 1)
    with pytest.raises(ValueError, match="CPU generator"):
        corrupt(images, "fog", 1, generator=SimpleNamespace(device=torch.device("cuda")))


def test_tables_are_the_published_values():
    assert parameters("gaussian_noise", 5, "cifar") == 0.10
    assert parameters("jpeg_compression", 1, "imagenet") == 25
    assert parameters("elastic_transform", 2, "cifar") == pytest.approx((1.6, 6.4, 2.24))
    assert parameters("zoom_blur", 1, "cifar") == pytest.approx(tuple(np.arange(1, 1.06, 0.01)))
    assert len(parameters("zoom_blur", 1, "cifar")) == 7  # numpy's arange includes 1.06 there


# --- the noise families, by their moments ------------------------------------------------------------------

def test_gaussian_and_speckle_noise_moments():
    x = torch.full((2, 3, 64, 64), 0.5 * 255)
    for name, sigma in (("gaussian_noise", 0.10), ("speckle_noise", 0.5 * 0.2)):
        d = (corrupt(x, name, 5, generator=gen()) - x) / 255
        assert abs(float(d.mean())) < 0.003
        assert float(d.std()) == pytest.approx(sigma, rel=0.03)


def test_shot_noise_is_poisson():
    x = torch.full((2, 3, 64, 64), 0.4 * 255)
    y = corrupt(x, "shot_noise", 5, generator=gen()) / 255  # λ = 50 photons
    assert float(y.mean()) == pytest.approx(0.4, rel=0.01)
    assert float(y.var()) == pytest.approx(0.4 / 50, rel=0.05)


def test_impulse_noise_fractions():
    x = torch.full((2, 3, 64, 64), 100.0)
    y = corrupt(x, "impulse_noise", 5, generator=gen())  # amount 0.07
    assert float((y == 0).float().mean()) == pytest.approx(0.035, rel=0.1)
    assert float((y == 255).float().mean()) == pytest.approx(0.035, rel=0.1)
    assert float((y == 100).float().mean()) == pytest.approx(0.93, rel=0.01)


# --- deterministic filters against scipy, scikit-image, Pillow -----------------------------------------------

@pytest.mark.parametrize("severity", [1, 5])
def test_defocus_blur_matches_scipy(images, severity):
    radius, alias = parameters("defocus_blur", severity)
    grid = np.arange(-8, 9)
    disk = ((grid[:, None] ** 2 + grid[None] ** 2) <= radius**2).astype(float)
    disk /= disk.sum()
    taps = np.exp(-np.arange(-1, 2) ** 2 / (2 * alias**2))
    kernel = ndimage.correlate1d(ndimage.correlate1d(disk, taps / taps.sum(), 0, mode="mirror"),
                                 taps / taps.sum(), 1, mode="mirror")
    ours = corrupt(images, "defocus_blur", severity)
    for i in range(2):
        x = hwc(images[i])
        ref = np.stack([ndimage.correlate(x[..., c], kernel, mode="mirror") for c in range(3)], -1)
        np.testing.assert_allclose(hwc(ours[i]), np.clip(ref, 0, 1), atol=1e-4)


def test_gaussian_blur_matches_scipy(images):
    ours = corrupt(images, "gaussian_blur", 5)
    x = hwc(images[0])
    ref = ndimage.gaussian_filter(x, sigma=(1.0, 1.0, 0), mode="nearest", truncate=4.0)
    np.testing.assert_allclose(hwc(ours[0]), ref, atol=1e-3)


def clipped_zoom_reference(x: np.ndarray, z: float) -> np.ndarray:
    h = x.shape[0]
    ch = int(np.ceil(h / z))
    top = (h - ch) // 2
    out = ndimage.zoom(x[top:top + ch, top:top + ch], (z, z, 1), order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim:trim + h, trim:trim + h]


@pytest.mark.parametrize("severity", [1, 5])
def test_zoom_blur_matches_scipy_zoom(images, severity):
    factors = parameters("zoom_blur", severity)
    ours = corrupt(images[:1], "zoom_blur", severity)
    x = hwc(images[0]).astype(np.float32)
    ref = (x + sum(clipped_zoom_reference(x, z) for z in factors)) / (len(factors) + 1)
    np.testing.assert_allclose(hwc(ours[0]), np.clip(ref, 0, 1), atol=1e-3)


@pytest.mark.parametrize("name, index", [("brightness", 2), ("saturate", 1)])
@pytest.mark.parametrize("severity", [1, 5])
def test_hsv_corruptions_match_scikit_image(images, name, index, severity):
    p = parameters(name, severity)
    x = hwc(images[0]).copy()
    x[0, :3] = (0, 0, 0), (0.5, 0.5, 0.5), (1, 1, 1)  # black, grey and white: no hue
    hsv = color.rgb2hsv(x)
    hsv[..., index] = np.clip(hsv[..., 2] + p, 0, 1) if name == "brightness" else np.clip(hsv[..., 1] * p[0] + p[1],
                                                                                         0, 1)
    ref = np.clip(color.hsv2rgb(hsv), 0, 1)
    ours = corrupt(torch.from_numpy(x * 255).permute(2, 0, 1)[None].float(), name, severity)
    np.testing.assert_allclose(hwc(ours[0]), ref, atol=1e-3)


def test_contrast_matches_numpy(images):
    x = hwc(images[0])
    means = x.mean(axis=(0, 1), keepdims=True)
    np.testing.assert_allclose(hwc(corrupt(images, "contrast", 5)[0]), np.clip((x - means) * 0.15 + means, 0, 1),
                               atol=1e-4)


@pytest.mark.parametrize("family, size", [("cifar", 32), ("imagenet", 40)])
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_pixelate_matches_pillow(images, family, size, severity):
    x = torch.nn.functional.interpolate(images[:2], size=size).round() if size != 32 else images[:2]
    c = parameters("pixelate", severity, family)
    ours = corrupt(x, "pixelate", severity, family)
    for i in range(2):
        im = Image.fromarray(x[i].permute(1, 2, 0).numpy().astype(np.uint8))
        ref = im.resize((int(size * c), int(size * c)), Image.BOX).resize((size, size), Image.BOX)
        diff = np.abs(ours[i].permute(1, 2, 0).numpy() - np.asarray(ref, dtype=np.float32))
        assert diff.max() <= 1.0 + 1e-3  # Pillow rounds to 8 bits between its two passes


@pytest.mark.parametrize("severity", [1, 5])
def test_jpeg_matches_another_libjpeg_build(images, severity):
    """Pillow's codec (the library's) against torchvision's libjpeg, where torchvision still ships one."""
    io = pytest.importorskip("torchvision.io")
    quality = parameters("jpeg_compression", severity)
    ours = corrupt(images, "jpeg_compression", severity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = io.decode_jpeg(io.encode_jpeg(list(images.to(torch.uint8)), quality=quality))
    diff = (ours - torch.stack(ref).float()).abs()
    assert float(diff.mean()) < 1.0 and float(diff.max()) <= 8
    assert float((ours - images).abs().mean()) > 2  # and the codec did compress


def test_motion_blur_matches_shift_and_add(images):
    angles = torch.tensor([-45.0, 10.0, 33.3])
    radius, sigma = 9, 2.5
    ours = filters.motion_blur(images[:3] / 255, radius, sigma, angles)
    taps = np.exp(-np.arange(2 * radius + 1) ** 2 / (2 * sigma**2))
    taps /= taps.sum()
    for n, angle in enumerate(angles.tolist()):
        x = hwc(images[n])
        padded = np.pad(x, ((40, 40), (40, 40), (0, 0)), mode="edge")
        ref = np.zeros_like(x)
        for i, t in enumerate(taps):
            dr = int(np.ceil(i * np.sin(np.deg2rad(angle)) - 0.5))
            dc = int(np.ceil(i * np.cos(np.deg2rad(angle)) - 0.5))
            ref += t * padded[40 + dr:40 + dr + 32, 40 + dc:40 + dc + 32]
        np.testing.assert_allclose(hwc(ours[n] * 255), ref, atol=1e-4)


def test_motion_blur_streaks_a_point_along_its_angle():
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 16, 16] = 1.0
    out = filters.motion_blur(x, 6, 3.0, torch.tensor([0.0]))[0, 0]
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.nonzero(out).tolist() == [[16, c] for c in range(4, 17)]  # reads to the right: smears left


# --- the shuffles and warps --------------------------------------------------------------------------------

def glass_reference(offsets: np.ndarray, h: int, w: int, delta: int, n: int) -> np.ndarray:
    """The published per-image loop, swapping the pixels of an index image."""
    img = np.arange(h * w).reshape(h, w).copy()
    for it in range(offsets.shape[0]):
        for i, r in enumerate(range(h - delta, delta, -1)):
            for j, c in enumerate(range(w - delta, delta, -1)):
                dx, dy = offsets[it, i, j, n]
                img[r, c], img[r + dy, c + dx] = img[r + dy, c + dx], img[r, c]
    return img.reshape(-1)


def test_glass_shuffle_matches_the_sequential_loop_and_stays_local():
    h = w = 16
    offsets = blur.glass_offsets(3, h, w, 2, 2, gen())
    perm = blur.glass_permutation(offsets, h, w, 2)
    for n in range(3):
        np.testing.assert_array_equal(perm[n], glass_reference(offsets, h, w, 2, n))
        assert sorted(perm[n]) == list(range(h * w))
    moved = np.abs(perm // w - np.arange(h * w) // w) + np.abs(perm % w - np.arange(h * w) % w)
    assert 0.5 < (moved > 0).mean() < 1.0 and np.median(moved[moved > 0]) <= 4


def test_glass_blur_equals_blur_shuffle_blur(images):
    sigma, delta, iterations = parameters("glass_blur", 5)
    ours = corrupt(images[:2], "glass_blur", 5, generator=gen(7))
    perm = blur.glass_permutation(blur.glass_offsets(2, 32, 32, delta, iterations, gen(7)), 32, 32, delta)
    for n in range(2):
        x = np.floor(ndimage.gaussian_filter(hwc(images[n]), (sigma, sigma, 0), mode="nearest") * 255) / 255
        x = x.reshape(-1, 3)[perm[n]].reshape(32, 32, 3)
        ref = np.clip(ndimage.gaussian_filter(x, (sigma, sigma, 0), mode="nearest"), 0, 1)
        diff = np.abs(hwc(ours[n]) - ref)  # float32 vs float64 can floor a value to the next grey level
        assert diff.max() < 0.02 and (diff > 1e-4).mean() < 0.01


def test_displacement_matches_map_coordinates(images):
    x = images[:2] / 255
    field = torch.randn(2, 2, 32, 32, generator=gen()) * 3
    ours = digital.displace(x, field[:, 1], field[:, 0])
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    for n in range(2):
        coords = [rows + field[n, 1].numpy(), cols + field[n, 0].numpy()]
        for c in range(3):
            ref = ndimage.map_coordinates(x[n, c].double().numpy(), coords, order=1, mode="reflect")
            np.testing.assert_allclose(ours[n, c].numpy(), ref, atol=1e-4)


def test_affine_warp_matches_scipy_affine_transform(images):
    x = images[:1] / 255
    targets = digital.affine_points(32, 32) + torch.tensor([[1.5, -2.0], [0.5, 2.5], [-1.0, 0.7]], dtype=torch.float64)
    ours = digital.affine_warp(x, targets[None])
    a = np.c_[digital.affine_points(32, 32).numpy(), np.ones(3)]
    m = np.linalg.solve(a, targets.numpy()).T  # (x, y) → (x', y')
    inv = np.linalg.inv(m[:, :2])
    # scipy works in (row, col): swap the axes of the inverse map
    matrix = inv[::-1, ::-1]
    offset = -(matrix @ m[::-1, 2])
    for c in range(3):
        ref = ndimage.affine_transform(x[0, c].double().numpy(), matrix, offset, order=1, mode="mirror")
        np.testing.assert_allclose(ours[0, c].numpy(), ref, atol=1e-4)


def test_elastic_severity_one_is_the_affine_warp_alone(images):
    """CIFAR-10-C's severity 1 has α = 0: only the jittered affine moves pixels."""
    ours = corrupt(images[:2], "elastic_transform", 1, generator=gen(5))
    jitter = parameters("elastic_transform", 1)[2]
    targets = digital.affine_points(32, 32) + filters.uniform((2, 3, 2), -jitter, jitter, gen(5),
                                                              torch.empty((), dtype=torch.float64))
    torch.testing.assert_close(ours, digital.affine_warp(images[:2] / 255, targets).clamp(0, 1) * 255)


# --- the weather layers --------------------------------------------------------------------------------------

def test_plasma_fractal_spans_zero_to_one_and_is_smooth():
    m = filters.plasma_fractal(4, 32, 2.0, gen()).float()
    assert torch.allclose(m.amin(dim=(1, 2)), torch.zeros(4)) and torch.allclose(m.amax(dim=(1, 2)), torch.ones(4))
    neighbours = torch.corrcoef(torch.stack((m[:, :, :-1].reshape(-1), m[:, :, 1:].reshape(-1))))[0, 1]
    assert float(neighbours) > 0.8


def test_fog_is_the_published_formula(images):
    strength, decay = parameters("fog", 4)
    ours = corrupt(images[:2], "fog", 4, generator=gen(9))
    haze = filters.plasma_fractal(2, 32, decay, gen(9)).numpy()
    for n in range(2):
        x = hwc(images[n])
        top = x.max()
        ref = np.clip((x + strength * haze[n][..., None]) * top / (top + strength), 0, 1)
        np.testing.assert_allclose(hwc(ours[n]), ref, atol=1e-4)


def test_frost_layer_stays_within_the_photographs_span():
    layer = weather.frost_layer(64, 32, 32, gen(), torch.empty(())) * 255
    means = layer.mean(dim=(2, 3))
    assert float(means.min()) > 80 and float(means.max()) < 230
    assert bool((means[:, 2] > means[:, 0]).all())  # bluish, as frost on glass is
    assert 10 < float(layer.std(dim=(2, 3)).mean()) < 50


def test_snow_brightens_and_adds_streaks(images):
    out = corrupt(images, "snow", 5, generator=gen())
    assert float(out.mean()) > float(images.mean()) + 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", CORRUPTIONS + EXTRA_CORRUPTIONS)
def test_same_seed_same_images_on_cpu_and_gpu(images, name):
    cpu = corrupt(images, name, 4, generator=gen(11))
    gpu = corrupt(images.cuda(), name, 4, generator=gen(11)).cpu()
    diff = (cpu - gpu).abs()
    assert float(diff.max()) <= 1.5 and float((diff > 0.01).float().mean()) < 0.01
