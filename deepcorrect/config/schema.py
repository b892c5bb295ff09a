"""The schema of every experiment knob: one typed, frozen dataclass per section of a :class:`Profile`, each
checking its own values when it is made, so that a bad setting fails before any work starts."""

from __future__ import annotations  # field types stay strings: the override parser reads them by name

import re
import warnings
from dataclasses import dataclass, field, fields
from typing import Any

from .. import kinds as kinds_
from ..distortions import KINDS, LEVELS, NUM_LEVELS
from ..models import ALEXNET_INPUTS, ARCHS, LRN_ALPHA


def _choice(name: str, value: Any, valid: tuple) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(str, valid))}, got {value!r}")


def _positive(name: str, value: Any) -> None:
    _at_least(name, value, 1)


def _at_least(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")


#: Learning rates above this are refused: SGD steps of that size overflow to inf within a step or two.
MAX_LR = 1e6
#: Learning rates above this are accepted with a warning: every schedule here starts at or below 0.1, and
#: SGD on these networks diverges well before an lr of 1 (measured: lr 1e6 gives a loss of ~11,000).
USUAL_LR = 1.0


def _learning_rate(name: str, value: Any) -> None:
    """A finite learning rate in (0, MAX_LR]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_LR:
        raise ValueError(f"{name} must be a finite number in (0, {MAX_LR:g}], got {value!r}")


def warn_learning_rates(profile: Profile) -> None:
    """One warning per learning rate above USUAL_LR, where training will likely diverge or learn nothing."""
    for name, value in (("lr", profile.train.lr), ("deepcorr_lr", profile.correct.deepcorr_lr),
                        ("finetune_lr", profile.correct.finetune_lr)):
        if value > USUAL_LR:
            warnings.warn(f"{name}={value:g} is far above the usual learning rates (≤ {USUAL_LR:g}; the paper's: "
                          f"0.01-0.1): training will likely diverge or learn nothing", stacklevel=3)


# Field metadata of a knob that changes how fast or where a result is computed, never what it is (the tests
# check the equalities: ranking counts for every chunking, layout and shortcut). Such fields are left out of
# artifact keys and checkpoint fingerprints, so turning them does not discard cached work.
SPEED_ONLY = {"speed_only": True}


def result_fields(section: Any) -> dict[str, Any]:
    """A config section as a dict without its speed-only fields: what identifies the result it makes."""
    return {f.name: getattr(section, f.name) for f in fields(section) if not f.metadata.get("speed_only")}


@dataclass(frozen=True)
class DataConfig:
    source: str = "embedded"  # embedded | cifar10 | cifar100 (torchvision) | folder (ImageFolder train/test)
    root: str = ""  # folder tree or .tar.gz of one (folder); torchvision root (cifar*)
    family: str = "cifar"  # distortion level table: cifar | imagenet
    image_size: int = 32  # images are centre-cropped to this square size
    resize: int = 0  # shorter side is first resized to this (0 = image_size; ImageNet style: 256 then crop 227)
    # images are resized to image_size × image_size, the aspect not kept (the release's cv2.resize to 256×256)
    stretch: bool = False
    crop: int = 0  # >0: networks see the centre crop×crop (random in training) taken after distortion (release: 227)
    # folder source: decode JPEGs batch by batch in DataLoader workers (bounded memory; ILSVRC2012's 1.28 M
    # training images) instead of decoding every image once into memory; the same images either way
    stream: bool = field(default=False, metadata=SPEED_ONLY)
    decode_workers: int = field(default=0, metadata=SPEED_ONLY)  # decoding processes when streaming (0 = cores − 1, ≤ 16)
    train_per_class: int = 0  # cap on training images per class (0 = all)
    test_per_class: int = 0  # cap on test images per class (0 = all)
    val_per_class: int = 0  # images per class held out of the training split as validation (ranking set)
    seed: int = 0  # seed of the embedded generator and of the per-class subsampling
    # torchvision source (cifar10 | cifar100) read instead when root is missing and download is on
    fallback: str = field(default="", metadata=SPEED_ONLY)
    download: bool = field(default=False, metadata=SPEED_ONLY)  # torchvision sources only: download when missing
    # where archives are extracted and decoded tensors kept
    cache_dir: str = field(default="~/.cache/deepcorrect", metadata=SPEED_ONLY)

    def __post_init__(self):
        _choice("source", self.source, ("embedded", "cifar10", "cifar100", "folder"))
        _choice("family", self.family, tuple(LEVELS))
        _positive("image_size", self.image_size)
        _at_least("resize", self.resize, 0)
        if self.resize and self.resize < self.image_size:
            raise ValueError(f"resize ({self.resize}) must be 0 or at least image_size ({self.image_size})")
        _at_least("crop", self.crop, 0)
        if self.crop > self.image_size:
            raise ValueError(f"crop ({self.crop}) must be 0 or at most image_size ({self.image_size}): the crop is "
                             "taken from the stored image after distortion")
        if self.stretch and self.resize:
            raise ValueError("stretch resizes to image_size × image_size directly; leave resize at 0 with it")
        _at_least("train_per_class", self.train_per_class, 0)
        _at_least("test_per_class", self.test_per_class, 0)
        _at_least("val_per_class", self.val_per_class, 0)
        if self.fallback:
            _choice("fallback", self.fallback, ("cifar10", "cifar100"))
        if self.train_per_class and self.val_per_class >= self.train_per_class:
            raise ValueError(f"val_per_class ({self.val_per_class}) holds out every training image of a class "
                             f"(train_per_class={self.train_per_class}); make it smaller than train_per_class")
        _at_least("decode_workers", self.decode_workers, 0)
        if self.stream and self.source != "folder":
            raise ValueError(f"stream=true reads an ImageFolder tree batch by batch; source {self.source!r} is "
                             "held in memory (use source=folder)")
        if self.source in ("folder",) and not self.root:
            raise ValueError("data source 'folder' needs data_root: an ImageFolder tree with train/ and "
                             "test/ (or val/) folders, or a .tar.gz archive of one")

    def describe_input(self) -> str:
        """What the network is shown, in words for the book."""
        if not self.crop:
            return f"{self.image_size} px input"
        return (f"{self.crop} px centre crops (random crops in training) of {self.image_size}×{self.image_size} "
                "images distorted whole, the release's order")


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "allconv"  # allconv | alexnet_caffe | alexnet_tv | resnet20, 32, 44, 56, 110 (CIFAR ResNets)
    width: float = 1.0  # filters per layer relative to the paper's (All-Conv-BN 96/192, Caffe AlexNet 96…4096)
    weights: str = ""  # local state-dict file of a pretrained baseline, or the release's alexnet_weights.h5
    inputs: str = "caffe"  # Caffe AlexNet input: caffe (RGB mean subtracted, the release's) | standardized (÷ std too)
    lrn: str = "keras"  # Caffe AlexNet LRN: keras (α·Σx², the release's layer) | caffe (α/n·Σx², Caffe's and torch's)

    def __post_init__(self):
        _choice("arch", self.arch, ARCHS)
        _choice("inputs", self.inputs, ALEXNET_INPUTS)
        _choice("lrn", self.lrn, tuple(LRN_ALPHA))
        if not (isinstance(self.width, (int, float)) and 0 < self.width <= 4):
            raise ValueError(f"width must be in (0, 4], got {self.width!r}")
        if self.arch == "alexnet_tv" and self.width != 1:
            raise ValueError(f"torchvision's AlexNet has one width (1.0), got {self.width!r}; use arch=alexnet_caffe")
        if self.arch.startswith("resnet") and self.width != 1:
            raise ValueError(f"the CIFAR ResNets have one width (1.0), got {self.width!r}")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training set (or of steps_per_epoch steps)
    batch_size: int = 128  # images per SGD step
    # >0: an epoch is this many SGD steps on fresh random orders of the training set, not one pass (Keras's
    # samples_per_epoch; the paper's ImageNet schedule: 10 × 6,250 = 62,500 steps, ÷10 every 3 × 6,250 = 18,750)
    steps_per_epoch: int = 0
    lr: float = 0.05  # initial learning rate
    lr_step: int = 0  # divide the learning rate by lr_gamma every lr_step epochs (0 = at 50 % and 75 %)
    lr_gamma: float = 0.1  # factor applied at each step
    momentum: float = 0.9  # SGD momentum
    nesterov: bool = True  # Nesterov momentum (the release's baseline)
    weight_decay: float = 5e-4  # L2 on every parameter
    crop_pad: int = 4  # random-crop padding in pixels (0 = no crops)
    flip: bool = True  # random horizontal flips
    seed: int = 0  # seeds initialisation, data order, augmentation and distortion draws
    bf16: bool = True  # bf16 autocast on CUDA (ignored on the CPU)
    channels_last: bool = True  # channels_last memory format (faster on CUDA and on recent CPUs)
    compile: bool = False  # torch.compile the model (off by default; slow to warm up on the CPU)
    # let cuDNN time its conv algorithms for the fixed batch shape (CUDA only)
    cudnn_benchmark: bool = field(default=True, metadata=SPEED_ONLY)

    def __post_init__(self):
        _at_least("epochs", self.epochs, 0)
        _positive("batch_size", self.batch_size)
        _at_least("steps_per_epoch", self.steps_per_epoch, 0)
        _learning_rate("lr", self.lr)
        _at_least("lr_step", self.lr_step, 0)
        _at_least("crop_pad", self.crop_pad, 0)
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"lr_gamma must be in (0, 1], got {self.lr_gamma!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be ≥ 0, got {self.weight_decay!r}")


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 500  # images per evaluation batch
    clip: bool = False  # clip AWGN results to [0, 255] (the paper does not)
    tsne_per_class: int = 50  # images per class in the t-SNE of Fig. 2
    tsne_classes: int = 10  # classes shown in the t-SNE (the paper shows 11)
    tsne_iterations: int = 1000  # t-SNE optimisation steps (scikit-learn's default; at least 250)
    ideal_per_class: int = 50  # test images per class for the ideal-correction curves (Figs. 4-5; 0 = all)
    seed: int = 0  # seeds the noise of evaluation
    bf16: bool = False  # bf16 autocast on CUDA (faster; tables then differ slightly from float32 runs)
    # every measured network in NHWC, whether trained now or loaded: faster oneDNN / cuDNN kernels (float32)
    channels_last: bool = field(default=True, metadata=SPEED_ONLY)

    def __post_init__(self):
        for name in ("batch_size", "tsne_per_class", "tsne_classes"):
            _positive(name, getattr(self, name))
        _at_least("ideal_per_class", self.ideal_per_class, 0)
        _at_least("tsne_iterations", self.tsne_iterations, 250)


@dataclass(frozen=True)
class RankingConfig:
    kinds: tuple[str, ...] = KINDS  # kinds to rank for: blur, awgn, a corruption or a mix a+b (deepcorrect.kinds)
    levels: tuple[int, ...] = tuple(range(1, NUM_LEVELS + 1))  # distortion levels averaged over (paper: 1-6)
    layers: tuple[str, ...] = ()  # conv layers to rank (empty: the first six of All-Conv-BN, every other conv)
    per_class: int = 10  # ranking-set images per class (CIFAR: 10 from validation; ImageNet: 5 from train)
    split: str = "val"  # where the ranking set comes from: val (CIFAR-style) | train (ImageNet-style)
    # swapped filters stacked into one suffix batch (0 = by device: 4 on CPUs, where small is fastest; on GPUs as
    # many as fit in half the free memory — see ranking.suffix.filters_per_run)
    chunk_filters: int = field(default=0, metadata=SPEED_ONLY)
    chunk_images: int = 500  # ranking-set images per prefix batch (bounds memory)
    # next conv: add one channel's contribution instead of rerunning it (same maths)
    shortcut: bool = field(default=True, metadata=SPEED_ONLY)
    # fast path in NHWC: faster oneDNN / cuDNN kernels (float32, sums reordered)
    channels_last: bool = field(default=True, metadata=SPEED_ONLY)
    bf16: bool = False  # bf16 autocast on CUDA (faster; counts may then differ from float32's)
    seed: int = 0  # seeds the ranking-set sample and the noise
    clip: bool = False  # clip AWGN to [0, 255]

    def __post_init__(self):
        if not self.kinds:
            raise ValueError(f"kinds must name at least one distortion to rank for ({', '.join(KINDS)}; "
                             f"comma-separated, e.g. kinds={','.join(KINDS)})")
        for k in self.kinds:
            kinds_.check(k)
        top = min(kinds_.num_levels(k) for k in self.kinds)  # a corruption has five severities, not six
        if not self.levels or any(lv not in range(1, top + 1) for lv in self.levels):
            raise ValueError(f"ranking levels must be a non-empty subset of 1..{top} for kinds "
                             f"{', '.join(self.kinds)}, got {self.levels!r}")
        _choice("split", self.split, ("val", "train"))
        for name in ("per_class", "chunk_images"):
            _positive(name, getattr(self, name))
        _at_least("chunk_filters", self.chunk_filters, 0)


@dataclass(frozen=True)
class CorrectConfig:
    variant: str = "identity"  # correction unit: identity (CIFAR) | release (the release's exact) | cw | lite | bottleneck | nobn
    unit_width: int = 0  # inner width of identity / release / lite units (0 = the paper's 64 / 128 × model width)
    beta: float = 0.0  # share of each ranked layer's filters corrected (0 = the paper's β per layer)
    release_count: bool = False  # correct round(β·N·1.0417) filters (the release; 50 of 96) not round(β·N) (48)
    score: str = "paper"  # ranking score used for selection: paper (mean τ) | release (relative error)
    correct_epochs: int = 40  # epochs of DeepCorrect and fine-tuning training (the paper: 40)
    correct_lr_step: int = 10  # divide the learning rate by 10 every this many epochs (the paper: 10)
    correct_batch_size: int = 250  # images per step, half of them distorted (the paper: 250)
    correct_steps_per_epoch: int = 0  # >0: an epoch is this many steps (ImageNet: 6,250), not one pass
    deepcorr_lr: float = 0.1  # initial learning rate of DeepCorrect models (the paper: 0.1)
    finetune_lr: float = 0.01  # initial learning rate of Finetune-k models (the paper: 0.01)
    l1: float = 1e-5  # Eq. (5) regulariser: L1 on correction-unit weights (the release: 1e-5)
    l2: float = 3e-4  # L2 on fine-tuned base weights (the release: 3e-4)
    correct_train_per_class: int = 0  # training images per class for these models (0 = the whole split)
    correct_test_per_class: int = 0  # test images per class for their tables (0 = the whole split)
    draws: int = 10  # random filter draws per size in Figure 9 (the paper: 10)
    fig9_filters: tuple[int, ...] = (6, 12, 24, 48)  # Figure 9 sizes at full width (scaled by the width)
    # the base network's frozen BNs while these models train: frozen (the paper) | adapt (the release's Keras 1:
    # batch statistics, running statistics updated)
    base_bn: str = "frozen"
    select: str = "last"  # which epoch's weights a model keeps: last (the paper) | best_val (the release)
    passes: int = 1  # passes over the training images per epoch (the release: 2, a clean and a distorted copy)
    l2_convention: str = "half"  # l2 adds l2/2·Σw² (SGD weight decay) | keras: l2·Σw² (the release's l2(λ))
    correct_seed: int = 0  # seeds these models' training only (page 04 repeats them over several)

    def __post_init__(self):
        _choice("variant", self.variant, ("identity", "release", "cw", "lite", "bottleneck", "nobn"))
        _choice("base_bn", self.base_bn, ("frozen", "adapt"))
        _choice("select", self.select, ("last", "best_val"))
        _choice("l2_convention", self.l2_convention, ("half", "keras"))
        _positive("passes", self.passes)
        _at_least("correct_seed", self.correct_seed, 0)
        _choice("score", self.score, ("paper", "release"))
        for name in ("unit_width", "correct_train_per_class", "correct_test_per_class", "correct_steps_per_epoch"):
            _at_least(name, getattr(self, name), 0)
        for name in ("correct_epochs", "correct_lr_step", "correct_batch_size", "draws"):
            _positive(name, getattr(self, name))
        if not (isinstance(self.beta, (int, float)) and 0 <= self.beta <= 1):
            raise ValueError(f"beta must be in (0, 1], or 0 for the paper's β per layer; got {self.beta!r}")
        for name in ("deepcorr_lr", "finetune_lr"):
            _learning_rate(name, getattr(self, name))
        if not (self.l1 >= 0 and self.l2 >= 0):
            raise ValueError(f"l1 and l2 must be ≥ 0, got {self.l1!r}, {self.l2!r}")
        if not self.fig9_filters or any(not isinstance(n, int) or n < 1 for n in self.fig9_filters):
            raise ValueError(f"fig9_filters must be positive integers, got {self.fig9_filters!r}")


@dataclass(frozen=True)
class RestoreConfig:
    restore_per_class: int = 0  # test images per class restored for the BM3D / deconvolution rows (0 = all)
    restore_max: int = 0  # cap on the restored images in all (0 = no cap; BM3D: ~3 s per 80 px image per level)
    deblur: str = "richardson_lucy"  # non-blind deblurring (NCSR stand-in): richardson_lucy | wiener
    rl_iterations: int = 30  # Richardson–Lucy iterations
    wiener_balance: float = 0.01  # Wiener regularisation (noise-to-signal ratio)
    workers: int = field(default=0, metadata=SPEED_ONLY)  # processes restoring images in parallel (0 = every core)

    def __post_init__(self):
        _choice("deblur", self.deblur, ("richardson_lucy", "wiener"))
        _at_least("restore_per_class", self.restore_per_class, 0)
        _at_least("restore_max", self.restore_max, 0)
        _positive("rl_iterations", self.rl_iterations)
        _at_least("workers", self.workers, 0)
        if not self.wiener_balance > 0:
            raise ValueError(f"wiener_balance must be > 0, got {self.wiener_balance!r}")


@dataclass(frozen=True)
class TransferConfig:
    transfer_source: str = "embedded"  # embedded (a fresh seeded draw) | folder (class folders, e.g. Caltech-101)
    transfer_root: str = ""  # folder of class folders, or a .tar.gz of one (Caltech-101: data/caltech101-224.tar.gz)
    exclude: tuple[str, ...] = ("BACKGROUND_Google",)  # class folders left out (Caltech-101's clutter class)
    feature_layer: str = "fc6"  # fc6 (Caltech-101/256: after its ReLU, as DeCAF6) | fc7 (SUN-397)
    splits: int = 5  # random splits averaged over (the paper: 5)
    svm_train_per_class: int = 25  # SVM training images per class in each split (the paper: 25)
    svm_val_per_class: int = 5  # validation images per class that choose C (the paper: 5)
    svm_test_per_class: int = 0  # cap on the remaining test images per class (0 = every other image, as the paper)
    svm_c: tuple[float, ...] = (0.1, 1.0, 10.0)  # C values tried on the validation images
    svm_solver: str = "liblinear"  # liblinear (scikit-learn LinearSVC) | lbfgs (same objective, torch, all classes at once)
    transfer_seed: int = 0  # seeds the splits and the noise

    def __post_init__(self):
        _choice("transfer_source", self.transfer_source, ("embedded", "folder"))
        _choice("feature_layer", self.feature_layer, ("fc6", "fc7"))
        _choice("svm_solver", self.svm_solver, ("liblinear", "lbfgs"))
        if self.transfer_source == "folder" and not self.transfer_root:
            raise ValueError("transfer_source 'folder' needs transfer_root: a folder of class folders (Caltech-101, "
                             "Caltech-256, SUN-397) or a .tar.gz of one")
        for name in ("splits", "svm_train_per_class", "svm_val_per_class"):
            _positive(name, getattr(self, name))
        _at_least("svm_test_per_class", self.svm_test_per_class, 0)
        if not self.svm_c or any(not c > 0 for c in self.svm_c):
            raise ValueError(f"svm_c must be positive numbers, got {self.svm_c!r}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    rank: RankingConfig = field(default_factory=RankingConfig)
    correct: CorrectConfig = field(default_factory=CorrectConfig)
    restore: RestoreConfig = field(default_factory=RestoreConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    device: str = "cpu"  # cpu | cuda | cuda:N | auto

    def __post_init__(self):
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|auto|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be cpu, cuda or auto (or cuda:N for GPU N), got {self.device!r}")
        if self.train.epochs == 0 and not self.model.weights:
            raise ValueError("epochs=0 trains nothing and no model_weights are given: the tables would measure an "
                             "untrained network; set epochs ≥ 1, or model_weights to a trained network's file")


#: The sections of a profile by attribute name, in order: where the override keys look for fields.
SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
                             "rank": RankingConfig, "correct": CorrectConfig, "restore": RestoreConfig,
                             "transfer": TransferConfig}
