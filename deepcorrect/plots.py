"""Figure functions, one per paper figure; each returns a matplotlib Figure and touches no global state."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .distortions import KINDS, NUM_LEVELS, sigma_for

KIND_TITLES = {"blur": "Gaussian blur", "awgn": "AWGN"}


def figure_1(examples: dict[str, dict], classes: Sequence[str], family: str) -> plt.Figure:
    """Example images at every level with the predicted label and confidence: green when right, red when wrong."""
    rows = [(kind, i) for kind in KINDS for i in range(len(examples[kind]["labels"]))]
    fig, axes = plt.subplots(len(rows), NUM_LEVELS + 1, figsize=(1.55 * (NUM_LEVELS + 1), 1.9 * len(rows)),
                             squeeze=False)
    for r, (kind, i) in enumerate(rows):
        ex = examples[kind]
        for level in range(NUM_LEVELS + 1):
            ax = axes[r, level]
            img = ex["images"][i, level].permute(1, 2, 0).clamp(0, 255).numpy() / 255.0
            ax.imshow(img, interpolation="nearest")
            prob = ex["probs"][i, level]
            pred = int(prob.argmax())
            ok = pred == int(ex["labels"][i])
            ax.set_title(f"{classes[pred]}\n{float(prob[pred]):.2f}", fontsize=7,
                         color="#1a7f37" if ok else "#cf222e")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 or rows[r - 1][0] != kind:
                sigma = sigma_for(kind, level, family)
                label = "clean" if level == 0 else f"L{level}: σ={sigma:g}"
                ax.set_xlabel(label, fontsize=7)
                ax.xaxis.set_label_position("top")
        axes[r, 0].set_ylabel(KIND_TITLES[kind], fontsize=8)
    fig.suptitle("Figure 1 — predictions of the clean-trained baseline as distortion grows (left to right)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def figure_2(tsne: dict) -> plt.Figure:
    """t-SNE of penultimate features, clean and at each level; top row blur, bottom row AWGN."""
    labels = tsne["labels"].numpy()
    classes = tsne["classes"]
    palette = sns.color_palette("tab10" if len(classes) <= 10 else "tab20", len(classes))
    fig, axes = plt.subplots(2, NUM_LEVELS + 1, figsize=(2.1 * (NUM_LEVELS + 1), 4.6))
    for r, kind in enumerate(KINDS):
        for level in range(NUM_LEVELS + 1):
            ax = axes[r, level]
            xy = tsne[f"{kind}/{level}"].numpy()
            ax.scatter(xy[:, 0], xy[:, 1], c=[palette[c] for c in labels], s=4, linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("clean" if level == 0 else f"level {level}", fontsize=8)
        axes[r, 0].set_ylabel(KIND_TITLES[kind], fontsize=9)
    handles = [plt.Line2D([], [], marker="o", ls="", color=palette[i], label=c) for i, c in enumerate(classes)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(classes), 6), fontsize=7, frameon=False)
    fig.suptitle("Figure 2 — t-SNE of penultimate-layer features of the baseline", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    return fig


def accuracy_curves(measured: pd.DataFrame, paper: dict[str, pd.Series] | None = None) -> plt.Figure:
    """Top-1 against level for each kind: measured (solid) and the paper's (dashed)."""
    fig, axes = plt.subplots(1, len(measured), figsize=(4.2 * len(measured), 3.0), squeeze=False)
    levels = np.arange(NUM_LEVELS + 1)
    cols = [c for c in measured.columns if c != "Avg"]
    for ax, kind in zip(axes[0], measured.index):
        ax.plot(levels, measured.loc[kind, cols].to_numpy(float), "o-", label="measured")
        if paper and kind in paper:
            ax.plot(levels, paper[kind][cols].to_numpy(float), "s--", label=str(paper[kind].name))
        ax.set_xticks(levels, ["clean", *map(str, levels[1:])])
        ax.set_ylim(0, 1)
        ax.set_xlabel("distortion level")
        ax.set_ylabel("top-1")
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def training_curve(history: list[dict], title: str = "training") -> plt.Figure:
    """Loss and training accuracy per epoch."""
    df = pd.DataFrame(history)
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.plot(df["epoch"], df["accuracy"], "o-", label="train accuracy")
    ax2 = ax.twinx()
    ax2.plot(df["epoch"], df["loss"], "s--", color="C1", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax2.set_ylabel("loss")
    ax.set_title(title)
    fig.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def ideal_curves(df: pd.DataFrame, title: str, clean: float | None = None) -> plt.Figure:
    """Figures 4–5: top-1 against level for each selection (one panel per kind)."""
    cols = ["Clean", *[f"Level {i}" for i in range(1, NUM_LEVELS + 1)]]
    kinds = list(dict.fromkeys(df["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.6 * len(kinds), 3.3), squeeze=False, sharey=True)
    levels = np.arange(NUM_LEVELS + 1)
    palette = sns.color_palette("viridis", df["selection"].nunique())
    for ax, kind in zip(axes[0], kinds):
        part = df[df["kind"] == kind]
        for colour, (_, row) in zip(palette, part.iterrows()):
            none = row["selection"] == "none"
            ax.plot(levels, row[cols].to_numpy(float), marker="o", ms=3, ls="--" if none else "-",
                    color="0.4" if none else colour, label="no correction" if none else row["selection"])
        ax.set_xticks(levels, ["clean", *map(str, levels[1:])])
        ax.set_xlabel("distortion level")
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("top-1 with ideal correction")
    axes[0, -1].legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tau_distribution(frame: pd.DataFrame) -> plt.Figure:
    """Spread of the mean correction priority τ̄ per layer, one panel per kind."""
    kinds = list(dict.fromkeys(frame["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.8 * len(kinds), 3.2), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        part = frame[frame["kind"] == kind]
        sns.boxplot(data=part, x="layer", y="tau_mean", ax=ax, color="#cfe2f3", fliersize=0)
        sns.stripplot(data=part, x="layer", y="tau_mean", ax=ax, size=2, color="#1f4e79", alpha=0.6)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.set_xlabel("")
        ax.set_ylabel("τ̄ (mean gain in top-1 over levels)")
    fig.tight_layout()
    return fig


def figure_6(weights, orders: dict[str, list[int]], fraction: float = 0.5) -> plt.Figure:
    """First-layer kernels (a) and the top ``fraction`` most susceptible to each kind, by priority (b, c)."""
    w = weights.detach().float().cpu()
    lo = w.amin(dim=(1, 2, 3), keepdim=True)
    hi = w.amax(dim=(1, 2, 3), keepdim=True)
    w = ((w - lo) / (hi - lo).clamp_min(1e-12)).permute(0, 2, 3, 1).numpy()
    if w.shape[-1] != 3:
        w = w.mean(-1, keepdims=True).repeat(3, -1)
    panels = [("(a) all first-layer kernels", list(range(len(w))))]
    for kind, order in orders.items():
        k = max(1, round(fraction * len(order)))
        panels.append((f"({'bc'[len(panels) - 1]}) top {fraction:.0%}, {KIND_TITLES.get(kind, kind)}", order[:k]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4))
    for ax, (title, idx) in zip(np.atleast_1d(axes), panels):
        cols = int(np.ceil(np.sqrt(len(idx))))
        rows = int(np.ceil(len(idx) / cols))
        kh, kw = w.shape[1:3]
        canvas = np.ones((rows * (kh + 1) + 1, cols * (kw + 1) + 1, 3))
        for n, j in enumerate(idx):
            r, c = divmod(n, cols)
            canvas[1 + r * (kh + 1):1 + r * (kh + 1) + kh, 1 + c * (kw + 1):1 + c * (kw + 1) + kw] = w[j]
        ax.imshow(canvas, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle("Figure 6 — first-layer filters, sorted by correction priority (row-major)", fontsize=10)
    fig.tight_layout()
    return fig
