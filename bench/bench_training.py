"""Benchmark: training images/s of the device-resident pipeline vs a torchvision DataLoader, one run.

Both train the same All-Conv-BN for the same steps with the same batch size and the same work per image:
random 4-pixel-padded crop, horizontal flip, and half of the batch distorted (blur) at a random level.
The library's ``fit`` keeps the uint8 data set on the device and does all of it per batch; the reference is
the usual pipeline — a ``Dataset`` of uint8 images with torchvision's per-image ``RandomCrop`` and
``RandomHorizontalFlip`` and a per-image distortion, batched by a ``DataLoader`` (``--workers`` processes).
Prints images/s for both and, on the last line, device-resident / DataLoader; writes bench/out/training.json.

Usage: python bench/bench_training.py [--width 0.25] [--images 2000] [--batch 128] [--workers 0] [--device cpu]
"""

from __future__ import annotations

import time

import torch
from _report import dataloader_options, embedded_images, save
from _report import parser as bench_parser  # bench/ is on sys.path when a benchmark runs as a script
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from deepcorrect.config import TrainConfig
from deepcorrect.distortions import distort, half_distorted
from deepcorrect.models import AllConvBN
from deepcorrect.runtime import keep_freed_memory
from deepcorrect.train import fit


class PerImage(Dataset):
    """uint8 images → per-image crop, flip and, for every other image, blur at a random level."""

    def __init__(self, data):
        self.data = data
        self.transform = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        x = self.transform(self.data.images[i]).float()
        if i % 2:
            x = distort(x[None], "blur", int(torch.randint(1, 7, ())), "cifar")[0]
        return x, self.data.labels[i]


def dataloader_images_per_s(model: nn.Module, data, batch: int, workers: int, device: torch.device,
                            epochs: int = 2) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loader = DataLoader(PerImage(data), batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    model.to(device).train()
    rate = 0.0
    for _ in range(epochs):  # the last epoch counts: warm allocator, started workers
        t0 = time.perf_counter()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = len(data) / (time.perf_counter() - t0)
    return rate


def main() -> None:
    keep_freed_memory()
    args = dataloader_options(bench_parser(__doc__), images=2000, batch=128).parse_args()
    device = torch.device(args.device)
    data = embedded_images(args.images)
    torch.manual_seed(0)
    ours_model, ref_model = AllConvBN(10, width=args.width), AllConvBN(10, width=args.width)
    ref_model.load_state_dict(ours_model.state_dict())
    cfg = TrainConfig(epochs=2, batch_size=args.batch, lr=0.01, channels_last=device.type == "cuda")
    history = fit(ours_model, data, cfg, device=device, progress=False,
                  batch_transform=lambda x, g: half_distorted(x, "blur", "cifar", g))
    ours = history[-1]["images_per_s"]
    ref = dataloader_images_per_s(ref_model, data, args.batch, args.workers, device)
    result = {"device": str(device), "width": args.width, "images": len(data), "batch": args.batch,
              "workers": args.workers, "device_resident_images_per_s": ours, "dataloader_images_per_s": ref,
              "ratio": ours / ref}
    save("training", result)
    print(f"All-Conv-BN width {args.width:g}, {len(data)} images, batch {args.batch}, {device}")
    print(f"device-resident fit : {ours:8.0f} images/s")
    print(f"DataLoader ({args.workers} workers): {ref:8.0f} images/s")
    print(f"ratio device-resident / DataLoader images/s: {result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
