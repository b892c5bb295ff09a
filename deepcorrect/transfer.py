"""The transfer machinery of §5.3: which module gives a network's fc6 / fc7 features, the random splits of a
transfer dataset, and a linear SVM's mean per-class accuracy over them.

fc6 (after its ReLU, as DeCAF6) or fc7 features feed linear SVMs (scikit-learn's ``LinearSVC`` on L2-normalised
features, which its dual solver fits in a few iterations where standardised features take thousands; or the
same problem solved for all classes at once in torch, :mod:`deepcorrect.linear_svm`, where 101 classes make
liblinear too slow for a small CPU). Following Donahue et al. as the paper does: several random splits, each
with 25 training and 5 validation images per class and the remaining images for testing; C is chosen on the
validation images, the SVM is refitted on training + validation; the metric is the mean per-class accuracy
(``balanced_accuracy_score``) averaged over the splits. The experiment itself (Tables 13–15) is
:mod:`deepcorrect.sections.generalization`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .models import CaffeAlexNet, TorchvisionAlexNet

#: Feature layer names → the module whose output is taken, per network form.
_FEATURE_MODULES = {CaffeAlexNet: {"fc6": "relu6", "fc7": "relu7"},
                    TorchvisionAlexNet: {"fc6": "net.classifier.2", "fc7": "net.classifier.5"}}


def feature_module(model: nn.Module, layer: str) -> str:
    """The module name holding ``layer`` (fc6 / fc7) features after the ReLU, for either AlexNet form."""
    for cls, names in _FEATURE_MODULES.items():
        if isinstance(model, cls):
            if layer not in names:
                raise ValueError(f"feature layer must be one of {', '.join(names)}, got {layer!r}")
            return names[layer]
    raise ValueError(f"transfer features need an AlexNet (Caffe or torchvision form), got {type(model).__name__}")


def make_splits(labels: torch.Tensor, n_splits: int, n_train: int, n_val: int, seed: int
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n_splits`` seeded (train, validation, test) index triples: ``n_train`` + ``n_val`` images of every
    class, every other image for testing."""
    labels = labels.cpu().numpy()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_splits):
        tr, va, te = [], [], []
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            if len(members) <= n_train + n_val:
                raise ValueError(f"class {c} has {len(members)} images; a split needs {n_train} + {n_val} "
                                 f"and at least one to test")
            tr.append(members[:n_train])
            va.append(members[n_train:n_train + n_val])
            te.append(members[n_train + n_val:])
        out.append(tuple(np.sort(np.concatenate(p)) for p in (tr, va, te)))
    return out


def svm_accuracy(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                 tests: list[tuple[np.ndarray, np.ndarray]], cs: tuple[float, ...], seed: int = 0,
                 solver: str = "liblinear", jobs: int = 0) -> tuple[list[float], float]:
    """Fit a linear SVM per C on ``train``, keep the C with the best mean per-class accuracy on ``val``,
    refit on train + validation and return (mean per-class accuracy on each test set, chosen C).
    ``solver``: ``liblinear`` (scikit-learn's ``LinearSVC``, the C values in ``jobs`` parallel processes: 0 =
    as many as this process's torch threads, its share of the cores, so that two pages run side by side do
    not spawn a pool each on the same cores; 1 = in this process) or ``lbfgs``
    (:class:`~deepcorrect.linear_svm.TorchLinearSVC`, the same objective, every class at once on all cores;
    the C values in ascending order, each starting from the previous solution)."""
    from joblib import Parallel, delayed
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import LinearSVC

    from .linear_svm import TorchLinearSVC

    if solver not in ("liblinear", "lbfgs"):
        raise ValueError(f"unknown SVM solver {solver!r}; expected 'liblinear' or 'lbfgs'")
    both = (np.concatenate([train[0], val[0]]), np.concatenate([train[1], val[1]]))

    def fit(c: float, x: np.ndarray, y: np.ndarray, init=None):
        svm = (LinearSVC(C=c, max_iter=10_000, random_state=seed) if solver == "liblinear"
               else TorchLinearSVC(C=c, init=init))
        return make_pipeline(Normalizer(), svm).fit(x, y)

    def score(model) -> float:
        return balanced_accuracy_score(val[1], model.predict(val[0]))

    if len(cs) == 1:
        best, final = cs[0], fit(cs[0], *both)
    elif solver == "liblinear":
        jobs = min(len(cs), jobs or torch.get_num_threads())
        scores = (Parallel(n_jobs=jobs)(delayed(lambda c: score(fit(c, *train)))(c) for c in cs) if jobs > 1
                  else [score(fit(c, *train)) for c in cs])
        best = cs[int(np.argmax(scores))]
        final = fit(best, *both)
    else:
        path, init = [], None
        for c in sorted(cs):
            model = fit(c, *train, init)
            init = model[-1].weights_
            path.append((score(model), -c, init))  # ties: the smaller C
        _, neg_c, weights = max(path, key=lambda p: p[:2])
        best = -neg_c
        final = fit(best, *both, weights)
    return [float(balanced_accuracy_score(y, final.predict(x))) for x, y in tests], float(best)


