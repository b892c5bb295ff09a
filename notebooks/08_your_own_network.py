# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Using the library on your own network
#
# The paper's method applies to any convolutional network. This page takes a network written the way much
# research code writes one — `nn.Conv2d` layers and functional `F.relu` calls — and goes through the whole
# method with the library's public functions: measure it under the paper's distortions, rank its filters by
# correction priority (Algorithm 1, the fast path checked against the literal one), put correction units on
# the most susceptible filters and train only those, then measure again. Every cell is executed at every
# build of this book, so the code below runs as shown. The data are the embedded synthetic set (no download);
# on your own data, build a `TensorData` from uint8 images (N, 3, H, W) and integer labels, or read an
# `ImageFolder` tree with `deepcorrect.data.load_dataset`.

# %% tags=["hide-cell"]
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from deepcorrect import evaluate, ranking, train
from deepcorrect.config import RankingConfig, TrainConfig
from deepcorrect.correction import deepcorrect_model, regulariser, set_training_mode
from deepcorrect.data import TensorData
from deepcorrect.data.embedded import CLASSES, make_embedded
from deepcorrect.parameters import refuse_unknown_parameters
from deepcorrect.distortions import half_distorted
from deepcorrect.tables import show

# %% tags=["parameters", "hide-cell"]
images_per_class = 200  # training images per class (the test set has a quarter as many)
epochs = 10  # epochs of the network's own training (the correction units train half as many)
seed = 0  # seeds the data, the initialisation and the training order

# %%
refuse_unknown_parameters(globals())  # papermill only warns about a name not declared above

# %% [markdown]
# ## A network of your own
#
# Inputs are images on the 0–255 scale, as everywhere in the library (the distortions are defined there);
# the network normalises them itself.

# %%
class SmallNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, stride=2)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, stride=2)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x / 127.5 - 1))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return self.fc(x.mean((2, 3)))


torch.manual_seed(seed)
images, labels = make_embedded(images_per_class + images_per_class // 4, seed)
split = len(CLASSES) * images_per_class
train_set = TensorData(images[:split], labels[:split], CLASSES)
test_set = TensorData(images[split:], labels[split:], CLASSES)
net = SmallNet(len(CLASSES))
history = train.fit(net, train_set, TrainConfig(epochs=epochs, batch_size=64, lr=0.05), progress=False)
show(evaluate.accuracy_table(net, test_set, "cifar"), "Top-1 per level of the network as trained, clean images only")

# %% [markdown]
# ## Which filters to correct (Algorithm 1)
#
# `rank_filters` swaps each filter's output on a distorted image for its output on the clean one and counts
# how often the prediction becomes right; the fast path runs only the network's suffix after the layer, the
# literal path the whole network per filter, as the paper writes it. On the first layer (the literal path is
# slow) their counts are equal, exactly.

# %%
ranking_set = ranking.ranking_set(train_set, per_class=5, seed=seed)
settings = RankingConfig(kinds=("blur",))
fast = ranking.rank_filters(net, ranking_set, "cifar", settings, progress=False)
first = ranking.rank_filters(net, ranking_set, "cifar", replace(settings, layers=("conv1",)), method="literal",
                             progress=False)
show(ranking.compare_counts(first, fast), f"Literal and fast counts of conv1 on {len(ranking_set)} images")

# %%
show(fast.to_frame().sort_values("rank").groupby("layer").head(3)[["layer", "filter", "tau_mean", "rank"]]
     .set_index(["layer", "filter"]), "The three highest-priority filters of each layer (blur)")

# %% [markdown]
# ## Correcting them
#
# A correction unit on the top half of each layer's filters, every weight of the network frozen; the units
# (inner width 8 here, the paper's 64 being sized for wider networks) train on batches half clean and half
# blurred at a random level, with the paper's regulariser.

# %%
chosen = ranking.select_local(fast, "blur", 0.5)
corrected = deepcorrect_model(net, chosen, width=8)  # units of inner width 8: sized for this small network
history = train.fit(corrected, train_set, TrainConfig(epochs=epochs // 2, batch_size=64, lr=0.05, weight_decay=0.0),
                    batch_transform=lambda x, g: half_distorted(x, "blur", "cifar", g),
                    set_train_mode=set_training_mode, regularizer=regulariser(corrected, 1e-5, 3e-4), progress=False)
show(evaluate.compare_models({"your network": net, "with correction units": corrected}, test_set, "cifar", "blur"),
     "Top-1 under blur before and after correction, on the same test images")
