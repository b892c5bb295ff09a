"""ImageFolder trees (CIFAR-10 JPEGs, Imagenette, ImageNet, Caltech …) decoded once into uint8 tensors.

An archive (``.tar.gz``) is extracted once into the cache folder, keyed by its checksum; decoded splits are
cached there too, keyed by the content of the files they were decoded from (and the sizes asked for), so
later runs start in a second and changed images under the same names are decoded again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checksums import load_checked, write_checked
from ..config import DataConfig
from ..keys import content_digests, fingerprint

_SPLIT_NAMES = {"train": ("train",), "test": ("test", "val")}
_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp"}


def resolve_tree(root: str, cache_dir: str) -> Path:
    """The folder holding ``train/`` and ``test/`` (or ``val/``), extracting ``root`` first if it is an archive."""
    path = _folder_or_extracted(root, cache_dir, "dataset", "set data_root to an ImageFolder tree with train/ and "
                                "test/ (or val/) folders, or to a .tar.gz of one (the CIFAR-10 JPEGs: "
                                "data/cifar10-jpg.tar.gz), e.g. -p data_root=PATH; or -p download=true "
                                "for torchvision's CIFAR-10")
    for candidate in [path, *sorted(p for p in path.iterdir() if p.is_dir())]:
        if (candidate / "train").is_dir() and any((candidate / s).is_dir() for s in _SPLIT_NAMES["test"]):
            return candidate
    raise FileNotFoundError(f"no train/ and test/ (or val/) folders found in {str(path)!r}")


def load_folder_split(tree: Path, split: str, cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """(images uint8 (N, 3, S, S), labels, class names) of one split, capped per class, cached as a tensor file."""
    folder = split_folder(tree, split)
    cap = cfg.train_per_class if split == "train" else cfg.test_per_class
    seed = cfg.seed if split == "train" else cfg.seed + 1
    return load_class_folders(folder, cap=cap, seed=seed, size=cfg.image_size, resize=cfg.resize,
                              stretch=cfg.stretch, cache_dir=cfg.cache_dir)


def list_class_files(folder: Path, *, cap: int = 0, seed: int = 0, exclude: tuple[str, ...] = ()
                     ) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """(image files, their labels, class names) of a folder of class folders, at most ``cap`` per class
    chosen with a seeded permutation: the one selection both the in-memory and the streamed path read."""
    classes = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in exclude))
    if not classes:
        raise FileNotFoundError(f"{folder} holds no class folders")
    files, labels = [], []
    g = torch.Generator().manual_seed(seed)
    for label, name in enumerate(classes):
        members = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in _EXTENSIONS)
        if not members:  # an empty folder, or a link back up the tree: no class, not an empty one
            raise ValueError(f"class folder {folder / name} holds no image files ({', '.join(sorted(_EXTENSIONS))}); "
                             f"remove it or put its images in it")
        if cap:
            members = [members[i] for i in torch.randperm(len(members), generator=g)[:cap].sort().values]
        files += members
        labels += [label] * len(members)
    return files, labels, classes


def split_folder(tree: Path, split: str) -> Path:
    """The folder of one split (``train``; ``test`` or ``val``) of an ImageFolder tree."""
    folder = next((tree / s for s in _SPLIT_NAMES[split] if (tree / s).is_dir()), None)
    if folder is None:
        raise FileNotFoundError(f"{tree} has no {' or '.join(_SPLIT_NAMES[split])} folder")
    return folder


def load_class_folders(folder: Path, *, cap: int = 0, seed: int = 0, size: int = 224, resize: int = 0,
                       stretch: bool = False, cache_dir: str = "~/.cache/deepcorrect", exclude: tuple[str, ...] = ()
                       ) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Every image of a folder of class folders (an ``ImageFolder`` tree), at most ``cap`` per class (seeded),
    the shorter side resized to ``resize`` (0 = ``size``) and centre-cropped to ``size`` — or, with
    ``stretch``, resized to ``size``×``size`` whatever its aspect (the release's ImageNet input); decoded in
    parallel once and cached as a tensor file keyed by every file's content, label and name and the sizes
    (:func:`content_digests`), checksummed, and checked on reading against that key."""
    files, labels, classes = list_class_files(folder, cap=cap, seed=seed, exclude=exclude)
    key = _content_key(folder, files, labels, (size, resize, stretch))
    cache = Path(cache_dir).expanduser() / "tensors" / f"{folder.name}-{key[:20]}.pt"
    cached = _read_cache(cache, key)
    if cached is not None:
        return (*cached, classes)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        decoded = list(pool.map(lambda f: _decode(f, size, resize, stretch), files))
    kept = [i for i, img in enumerate(decoded) if img is not None]
    _report_unreadable(folder, [files[i] for i, img in enumerate(decoded) if img is None], len(files))
    images = torch.stack([decoded[i] for i in kept])
    labels = torch.tensor([labels[i] for i in kept])
    write_checked(cache, lambda tmp: torch.save({"images": images, "labels": labels, "key": key}, tmp))
    return images, labels, classes


def _content_key(folder: Path, files: list[Path], labels: list[int], how: tuple) -> str:
    """What decoded images are cached by: each file's relative path, label and SHA-256, and how it is decoded."""
    digest = hashlib.sha256(repr(how).encode())
    for path, label, content in zip(files, labels, content_digests(files)):
        digest.update(f"{path.relative_to(folder)}\0{label}\0{content}\n".encode())
    return digest.hexdigest()


def _read_cache(cache: Path, key: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(images, labels) of a decoded-image cache file when it is intact and was made for ``key``; otherwise
    ``None``, and a damaged file is discarded with a warning naming it."""
    def accept(cached: dict) -> str | None:
        fits = cached["key"] == key and cached["labels"].numel() == cached["images"].shape[0]
        return None if fits else "it was decoded from other files"

    cached = load_checked(cache, "decoded-image cache", "the images are decoded again", accept)
    return None if cached is None else (cached["images"], cached["labels"])


#: Share of unreadable files above which a folder is refused rather than read without them.
MAX_UNREADABLE = 0.01


def _report_unreadable(folder: Path, bad: list[Path], total: int) -> None:
    """Skip a few unreadable images with a warning naming them; refuse a folder where more than
    :data:`MAX_UNREADABLE` of the files are unreadable (a wrong folder or a damaged copy, not a stray file)."""
    if not bad:
        return
    names = ", ".join(str(p.relative_to(folder)) for p in bad[:5]) + (", …" if len(bad) > 5 else "")
    if len(bad) > MAX_UNREADABLE * total:
        raise ValueError(f"{len(bad)} of {total} image files in {folder} cannot be decoded ({names}); more than "
                         f"{MAX_UNREADABLE:.0%} means a damaged or wrong dataset: replace it")
    warnings.warn(f"skipped {len(bad)} unreadable image file(s) of {total} in {folder}: {names}", stacklevel=3)


def resolve_class_folders(root: str, cache_dir: str) -> Path:
    """The folder whose sub-folders are the classes (``caltech101/101_ObjectCategories``), extracting ``root``
    first if it is an archive; descends through single-folder wrappers."""
    path = _folder_or_extracted(root, cache_dir, "transfer dataset", "set transfer_root to a folder of class "
                                "folders or a .tar.gz of one (Caltech-101: data/caltech101-224.tar.gz), e.g. "
                                "-p transfer_root=PATH")
    while True:
        subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        has_images = any(f.suffix.lower() in _EXTENSIONS for d in subdirs[:3] for f in d.iterdir())
        if len(subdirs) == 1 and not has_images:
            path = subdirs[0]
            continue
        if not subdirs or not has_images:
            raise FileNotFoundError(f"{str(path)!r} is not a folder of class folders holding images")
        return path


def _folder_or_extracted(root: str, cache_dir: str, what: str, hint: str) -> Path:
    """``root`` as a folder: itself, or where its archive was extracted (once, into the cache)."""
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{what} path {str(path)!r} does not exist; {hint}")
    if path.is_file():
        if not path.name.endswith((".tar.gz", ".tgz", ".tar")):
            raise ValueError(f"{what} path {str(path)!r} is a file but not a .tar.gz archive")
        path = _extract(path, Path(cache_dir).expanduser() / "data")
    return path


def _decode(path: Path, size: int, resize: int = 0, stretch: bool = False) -> torch.Tensor | None:
    """Read an image as RGB uint8, resize its shorter side to ``resize`` (0 = ``size``) and centre-crop a
    ``size`` square (ImageNet style: 256 then 227) — or with ``stretch`` resize it to ``size``×``size`` as the
    release's ``cv2.resize`` does (bilinear from the 2×2 nearest pixels, no antialiasing, aspect not kept);
    ``None`` when the file cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(path) as pil:
            img = torch.from_numpy(_rgb8(pil)).permute(2, 0, 1)
    except (OSError, SyntaxError, ValueError):  # not an image, truncated, or an unsupported variant
        return None
    h, w = img.shape[1:]
    if stretch:
        if (h, w) == (size, size):
            return img.contiguous()
        return F.interpolate(img[None].float(), size=(size, size), mode="bilinear", antialias=False,
                             align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    short = resize or size
    if min(h, w) != short:
        scale = short / min(h, w)
        h, w = max(short, round(h * scale)), max(short, round(w * scale))
        img = F.interpolate(img[None].float(), size=(h, w), mode="bilinear", antialias=True,
                            align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    top, left = (h - size) // 2, (w - size) // 2
    return img[:, top:top + size, left:left + size].contiguous()


#: Pillow modes of 16-bit greyscale images; PNG's 16-bit greyscale opens as one of them (or as 32-bit "I").
_MODES_16BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _rgb8(pil) -> np.ndarray:
    """The image as an (H, W, 3) uint8 array. A 16-bit greyscale image is scaled to 8 bits (÷257, so 65535 →
    255): Pillow's own conversion clips its values at 255 and turns nearly every picture white."""

    if pil.mode in _MODES_16BIT or (pil.mode == "I" and pil.format == "PNG"):
        grey = np.asarray(pil, dtype=np.float64) / 257.0
        return np.repeat(np.clip(np.rint(grey), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return np.array(pil.convert("RGB"))


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _extract(archive: Path, into: Path) -> Path:
    target = into / fingerprint(archive).removeprefix("sha256:")[:16]
    if (target / ".complete").is_file():
        return target
    for stale in into.glob(f".{target.name}.tmp*"):  # left by a killed extraction: nothing reads it
        if not _alive(stale.name.rpartition(".tmp")[2]):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = into / f".{target.name}.tmp{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(_archive_problem(archive, err)) from None
    (tmp / ".complete").touch()
    if target.exists():  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
        return target
    os.replace(tmp, target)
    return target


def _archive_problem(archive: Path, err: BaseException) -> str:
    """One line on why ``archive`` was not extracted: a member that would land outside the target (``../``, an
    absolute path or link), not a tar archive at all, or a damaged one."""
    if isinstance(err, tarfile.FilterError):
        return (f"archive {archive} holds an unsafe member {err.tarinfo.name!r} (a path or link leading outside "
                f"its folder); nothing was extracted: "
                f"rebuild the archive with paths relative to its own folder")
    if isinstance(err, tarfile.ReadError) and str(err).startswith("file could not be opened"):
        return (f"archive {archive} is not a tar archive (neither gzip, bzip2 nor xz compressed, nor plain); "
                f"replace it with a .tar.gz of the dataset folder")
    reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return (f"archive {archive} is truncated or corrupt ({type(err).__name__}{': ' + reason if reason else ''}); "
            f"replace it with a complete copy (check it against the checksum its source publishes)")
