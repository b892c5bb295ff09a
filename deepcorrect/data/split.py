"""What every split offers whether it is held in memory (:class:`~deepcorrect.data.TensorData`) or read from
disk batch by batch (:class:`~deepcorrect.data.StreamedData`): class count, seeded per-class draws, and the
crop the network sees of a distorted batch."""

from __future__ import annotations

import torch


def centre_crop(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The centre ``size``×``size`` of every image of a (N, C, H, W) batch (a view, no copy)."""
    h, w = batch.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return batch[..., top:top + size, left:left + size]


def per_class_index(labels: torch.Tensor, k: int, seed: int, at_most: bool = False) -> torch.Tensor:
    """Indices of the first k images of each class in a seeded random order, sorted; a class with fewer is an
    error, or with ``at_most`` kept whole."""
    if k < 1:
        raise ValueError(f"need at least one image per class, got {k}")
    g = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    order = torch.randperm(labels.numel(), generator=g)
    picked = []
    for c in torch.unique(labels).tolist():
        members = order[labels[order] == c]
        if members.numel() < k and not at_most:
            raise ValueError(f"class {c} has only {members.numel()} images, fewer than the {k} requested")
        picked.append(members[:k])
    return torch.cat(picked).sort().values


class Split:
    """Shared by the two kinds of split; each defines ``labels``, ``classes``, ``crop`` and ``subset``.

    ``crop`` > 0: the network sees the centre ``crop``×``crop`` of each image (a random one in training),
    taken *after* the distortion, as the release does for ImageNet (256×256 → distort → 227): the blur's zero
    border then falls outside what the network sees. 0: the images are seen whole."""

    def __len__(self) -> int:
        return self.labels.numel()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def cropped(self, batch: torch.Tensor) -> torch.Tensor:
        """What the network sees of a (distorted) batch of these images: its centre crop, or the batch itself."""
        return centre_crop(batch, self.crop) if self.crop else batch

    def per_class(self, k: int, seed: int):
        """k images of every class, chosen with a seeded permutation (deterministic tie-free order)."""
        return self.subset(per_class_index(self.labels, k, seed))
