"""ImageFolder trees (CIFAR-10 JPEGs, Imagenette, ImageNet, Caltech …) decoded once into uint8 tensors.

An archive (``.tar.gz``) is extracted once into the cache folder, keyed by its checksum; decoded splits are
cached there too, keyed by what selected them, so later runs start in a second.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import DataConfig

_SPLIT_NAMES = {"train": ("train",), "test": ("test", "val")}
_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp"}


def resolve_tree(root: str, cache_dir: str) -> Path:
    """The folder holding ``train/`` and ``test/`` (or ``val/``), extracting ``root`` first if it is an archive."""
    path = _folder_or_extracted(root, cache_dir, "dataset", "set data_root to an ImageFolder tree with train/ and "
                                "test/ (or val/) folders, or to a .tar.gz of one (the CIFAR-10 JPEGs: "
                                "../shared/data/cifar10-jpg.tar.gz, see that folder's README)")
    for candidate in [path, *sorted(p for p in path.iterdir() if p.is_dir())]:
        if (candidate / "train").is_dir() and any((candidate / s).is_dir() for s in _SPLIT_NAMES["test"]):
            return candidate
    raise FileNotFoundError(f"no train/ and test/ (or val/) folders found in {str(path)!r}")


def load_folder_split(tree: Path, split: str, cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """(images uint8 (N, 3, S, S), labels, class names) of one split, capped per class, cached as a tensor file."""
    folder = next((tree / s for s in _SPLIT_NAMES[split] if (tree / s).is_dir()), None)
    if folder is None:
        raise FileNotFoundError(f"{tree} has no {' or '.join(_SPLIT_NAMES[split])} folder")
    cap = cfg.train_per_class if split == "train" else cfg.test_per_class
    seed = cfg.seed if split == "train" else cfg.seed + 1
    return load_class_folders(folder, cap=cap, seed=seed, size=cfg.image_size, resize=cfg.resize,
                              cache_dir=cfg.cache_dir)


def load_class_folders(folder: Path, *, cap: int = 0, seed: int = 0, size: int = 224, resize: int = 0,
                       cache_dir: str = "~/.cache/deepcorrect", exclude: tuple[str, ...] = ()
                       ) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Every image of a folder of class folders (an ``ImageFolder`` tree), at most ``cap`` per class (seeded),
    the shorter side resized to ``resize`` (0 = ``size``) and centre-cropped to ``size``; decoded in parallel
    once and cached as a tensor file keyed by the file list and the sizes."""
    classes = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in exclude))
    if not classes:
        raise FileNotFoundError(f"{folder} holds no class folders")
    files, labels = [], []
    g = torch.Generator().manual_seed(seed)
    for label, name in enumerate(classes):
        members = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in _EXTENSIONS)
        if cap:
            members = [members[i] for i in torch.randperm(len(members), generator=g)[:cap].sort().values]
        files += members
        labels += [label] * len(members)
    key = hashlib.sha256(repr((str(folder.resolve()), [f.name for f in files], size, resize)).encode())
    cache = Path(cache_dir).expanduser() / "tensors" / f"{folder.name}-{key.hexdigest()[:20]}.pt"
    if cache.is_file():
        try:
            images = torch.load(cache, weights_only=True)
            if images.shape[0] == len(files):
                return images, torch.tensor(labels), classes
        except Exception:  # a truncated cache file is rebuilt below
            pass
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        images = torch.stack(list(pool.map(lambda f: _decode(f, size, resize), files)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    torch.save(images, tmp)
    os.replace(tmp, cache)
    return images, torch.tensor(labels), classes


def resolve_class_folders(root: str, cache_dir: str) -> Path:
    """The folder whose sub-folders are the classes (``caltech101/101_ObjectCategories``), extracting ``root``
    first if it is an archive; descends through single-folder wrappers."""
    path = _folder_or_extracted(root, cache_dir, "transfer dataset", "set transfer_root to a folder of class "
                                "folders or a .tar.gz of one (Caltech-101: ../shared/data/caltech101-224.tar.gz, "
                                "see that folder's README)")
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


def _decode(path: Path, size: int, resize: int = 0) -> torch.Tensor:
    """Read an image as RGB uint8, resize its shorter side to ``resize`` (0 = ``size``) and centre-crop a
    ``size`` square (ImageNet style: 256 then 227)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as pil:
        img = torch.from_numpy(np.array(pil.convert("RGB"))).permute(2, 0, 1)
    h, w = img.shape[1:]
    short = resize or size
    if min(h, w) != short:
        scale = short / min(h, w)
        h, w = max(short, round(h * scale)), max(short, round(w * scale))
        img = F.interpolate(img[None].float(), size=(h, w), mode="bilinear", antialias=True,
                            align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    top, left = (h - size) // 2, (w - size) // 2
    return img[:, top:top + size, left:left + size].contiguous()


def _extract(archive: Path, into: Path) -> Path:
    digest = hashlib.sha256()
    with open(archive, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    target = into / digest.hexdigest()[:16]
    if (target / ".complete").is_file():
        return target
    tmp = into / f".{target.name}.tmp{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / ".complete").touch()
    if target.exists():  # another process won the race
        return target
    os.replace(tmp, target)
    return target
