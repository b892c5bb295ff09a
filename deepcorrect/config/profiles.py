"""The named profiles: what each runs, in words for the book and as settings, and the §5.2–5.3 (AlexNet)
profile that goes with each CIFAR-style one. A profile's values are the facts its pages report on."""

from __future__ import annotations

from ..models import PRETRAINED, REPORTED_ERROR
from .schema import (CorrectConfig, DataConfig, EvalConfig, ModelConfig, Profile, RankingConfig, RestoreConfig,
                     TrainConfig, TransferConfig)


#: The conventional data folder, relative to the working directory (``data/README``-style layout: archives and
#: ``pretrained/`` weights side by side); ``-p data_root=…`` points elsewhere.
_CIFAR10_JPG = "data/cifar10-jpg.tar.gz"


#: The input normalisation of Caffe AlexNets trained here from scratch: He initialisation assumes inputs of unit
#: variance, and the release's mean-only inputs (σ ≈ 58) make the first epoch diverge (measured: smoke-alexnet's
#: loss is NaN in epoch 1 at lr 0.01). Networks loaded from the release's weights take ``caffe`` inputs.
FROM_SCRATCH_INPUTS = "standardized"


def _pretrained_resnet(depth: int) -> Profile:
    """A CIFAR-10 ResNet with published weights: the JPEG tree and weights in data/, or with
    ``download=true`` where those are absent, torchvision's CIFAR-10 and the weights from their public address."""
    arch = f"resnet{depth}"
    weights, _, _ = PRETRAINED[arch]
    # ResNet-56 costs ~3x ResNet-20 per image: its Finetune/Deepcorr models see fewer images to stay in time
    per_class, epochs = (400, 8) if depth == 20 else (200, 8)
    test = 100
    return Profile(
        f"{arch}-cifar10",
        f"Real photographs and a well-trained network nobody here trained: the CIFAR-10 JPEG tree "
        f"data/cifar10-jpg.tar.gz (1,000 training and 50 held-out images per class, the whole 10,000-image test set for "
        f"Tables 1–2) and the pretrained ResNet-{depth} of He et al. (2016) with its published weights "
        f"(reported test error on the original CIFAR-10: {REPORTED_ERROR[arch]:.2%}). No baseline is "
        f"trained. Every conv layer is ranked on 10 held-out images per class; Finetune/Deepcorr models train "
        f"{epochs} epochs on {per_class} images per class and are measured on {test} test images per class. The "
        f"AlexNet pages (06–07) run smoke-alexnet: no pretrained AlexNet exists here.",
        data=DataConfig(source="folder", root=_CIFAR10_JPG, fallback="cifar10", train_per_class=1050,
                        val_per_class=50),
        model=ModelConfig(arch=arch, weights=f"data/pretrained/{weights}"),
        train=TrainConfig(epochs=0, batch_size=128),
        eval=EvalConfig(ideal_per_class=50),
        rank=RankingConfig(per_class=10),
        correct=CorrectConfig(unit_width=16, correct_epochs=epochs, correct_lr_step=epochs // 2,
                              correct_batch_size=128, deepcorr_lr=0.05, correct_train_per_class=per_class,
                              correct_test_per_class=test,
                              draws=3))

PROFILES: dict[str, Profile] = {p.name: p for p in [
    Profile("smoke", "Embedded synthetic data (generated in code), All-Conv-BN at width 0.25, a ranking set of "
            "5 images per class; Finetune and Deepcorr models train 2 short epochs on 12 images per class and "
            "are measured on 6 per class; Figure 9 at two sizes: the code path on a CPU in minutes, not the "
            "paper's numbers.",
            data=DataConfig(source="embedded", train_per_class=750, test_per_class=100, val_per_class=50),
            model=ModelConfig(width=0.25),
            train=TrainConfig(epochs=4, batch_size=128, lr=0.05),
            eval=EvalConfig(ideal_per_class=20, tsne_per_class=25, tsne_iterations=500),
            rank=RankingConfig(per_class=5),
            correct=CorrectConfig(correct_epochs=2, correct_lr_step=1, correct_batch_size=40,
                                  correct_train_per_class=12, correct_test_per_class=6, draws=2,
                                  fig9_filters=(12, 48))),
    Profile("cifar10-jpg", "Real photographs: the CIFAR-10 JPEG tree data/cifar10-jpg.tar.gz, 1,000 training, "
            "100 validation and 200 test images per class, All-Conv-BN at width 0.5, CPU-feasible.",
            data=DataConfig(source="folder", root=_CIFAR10_JPG, train_per_class=1100, test_per_class=200,
                            val_per_class=100),
            model=ModelConfig(width=0.5),
            train=TrainConfig(epochs=15, batch_size=128, lr=0.05),
            correct=CorrectConfig(correct_epochs=4, correct_lr_step=2, correct_batch_size=125,
                                  correct_train_per_class=300, draws=3)),
    Profile("cifar10", "CIFAR-10 through torchvision at the paper's CIFAR scale (GPU).",
            data=DataConfig(source="cifar10", root="data/cifar10", val_per_class=500),
            model=ModelConfig(width=1.0),
            train=TrainConfig(epochs=110, batch_size=256, lr=0.1, lr_step=30, weight_decay=3e-4),
            device="auto"),
    Profile("cifar100", "CIFAR-100 through torchvision: the paper's §5.1 baseline at full scale (GPU).",
            data=DataConfig(source="cifar100", root="data/cifar100", val_per_class=50),
            model=ModelConfig(width=1.0),
            train=TrainConfig(epochs=110, batch_size=256, lr=0.1, lr_step=30, weight_decay=3e-4),
            device="auto"),
    # Pretrained networks nobody here trained: the CIFAR-10 ResNets of He et al. (weights by Y. Idelbayev).
    *(_pretrained_resnet(depth) for depth in (20, 56)),
    # §5.2–5.3 (AlexNet, ImageNet-style levels, transfer): the profiles notebooks 06 and 07 run.
    Profile("smoke-alexnet", "Embedded synthetic data at 80 px seen as 72 px crops, with the ImageNet levels, the Caffe "
            "AlexNet at width 0.25 trained here; Deepcorr-5 variants and Finetune-8 train 2 short epochs on 15 images "
            "per class; restoration on one test image (BM3D takes ~3 s per level on one core); transfer SVMs on a "
            "second embedded draw: the code path, not the paper's numbers.",
            data=DataConfig(source="embedded", family="imagenet", image_size=80, crop=72, train_per_class=300,
                            test_per_class=40, val_per_class=20),
            model=ModelConfig(arch="alexnet_caffe", width=0.25, inputs=FROM_SCRATCH_INPUTS),
            train=TrainConfig(epochs=3, batch_size=64, lr=0.01, crop_pad=0),
            eval=EvalConfig(tsne_per_class=10, ideal_per_class=20, tsne_iterations=500),
            rank=RankingConfig(per_class=5, split="train"),
            correct=CorrectConfig(variant="cw", correct_epochs=2, correct_lr_step=1, correct_batch_size=50,
                                  finetune_lr=0.001, correct_train_per_class=15, correct_test_per_class=10),
            restore=RestoreConfig(restore_per_class=1, restore_max=1),
            transfer=TransferConfig(splits=2, svm_test_per_class=5)),
    Profile("imagenette", "Real ImageNet photographs: Imagenette160 from data/imagenette160.tar.gz (10 classes, 450 training "
            "and 50 validation images per class, 100 per class of its validation split for the tables), resized to "
            "160×160, distorted there and seen as 144 px crops (the release's order at its 256 → 227 scale); the Caffe AlexNet at width 0.5 trained from scratch here (not ImageNet-pretrained); "
            "Finetune/Deepcorr models 3 epochs on 100 images per class; transfer to the real Caltech-101 (5 splits, "
            "every other image tested, as the paper). On 2 CPU cores page 06 takes about 2 h and page 07 about "
            "75 min (101-class SVMs with the lbfgs solver).",
            data=DataConfig(source="folder", root="data/imagenette160.tar.gz", family="imagenet",
                            image_size=160, stretch=True, crop=144, test_per_class=100, val_per_class=50),
            model=ModelConfig(arch="alexnet_caffe", width=0.5, inputs=FROM_SCRATCH_INPUTS),
            train=TrainConfig(epochs=15, batch_size=64, lr=0.01, lr_step=6, crop_pad=0),
            rank=RankingConfig(per_class=5, split="train"),
            correct=CorrectConfig(variant="cw", correct_epochs=3, correct_lr_step=2, correct_batch_size=50,
                                  finetune_lr=0.001, correct_train_per_class=100),
            restore=RestoreConfig(restore_per_class=2),
            transfer=TransferConfig(transfer_source="folder", transfer_root="data/caltech101-224.tar.gz",
                                    svm_solver="lbfgs")),
    Profile("imagenet", "The paper's §5.2 at full scale (GPU): ILSVRC2012 train/val ImageFolder trees under "
            "data/imagenet, the release's preprocessing (resize to 256×256, distort, centre-crop 227, mean-subtracted "
            "inputs), the Caffe AlexNet from a local weights file (model_weights: a state dict or the release's "
            "alexnet_weights.h5); every training image streamed from disk (stream), Finetune and Deepcorr models on "
            "the paper's schedule (62,500 steps of 256, ÷10 every 18,750), 10 training images per class held out "
            "for Figure 12's validation curves.",
            data=DataConfig(source="folder", root="data/imagenet", family="imagenet", image_size=256, stretch=True,
                            crop=227, stream=True, val_per_class=10),
            model=ModelConfig(arch="alexnet_caffe", width=1.0),
            train=TrainConfig(epochs=90, batch_size=256, lr=0.01, lr_step=30, crop_pad=0),
            rank=RankingConfig(per_class=5, split="train"),
            correct=CorrectConfig(variant="cw", correct_epochs=10, correct_lr_step=3, correct_batch_size=256,
                                  correct_steps_per_epoch=6250, finetune_lr=0.001),
            transfer=TransferConfig(transfer_source="folder", transfer_root="data/caltech101/101_ObjectCategories",
                                    svm_solver="lbfgs"),
            device="auto"),
]}

#: The §5.2–5.3 profile that goes with each CIFAR-style profile, so that one ``--profile`` builds the whole book.
ALEXNET_COUNTERPART = {"smoke": "smoke-alexnet", "cifar10-jpg": "imagenette", "cifar10": "imagenet",
                       "cifar100": "imagenet", "resnet20-cifar10": "smoke-alexnet", "resnet56-cifar10": "smoke-alexnet"}


def named_profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name is a ``ValueError`` listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]


def alexnet_profile(name: str) -> str:
    """The profile notebooks 06–07 run for ``name``: itself when it is ImageNet-style, else its counterpart."""
    return name if named_profile(name).data.family == "imagenet" else ALEXNET_COUNTERPART.get(name, "imagenet")
