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


def figure_2(tsne: dict, title: str = "Figure 2 — t-SNE of penultimate-layer features of the baseline"
             ) -> plt.Figure:
    """t-SNE of penultimate features, clean and at each level; top row blur, bottom row AWGN (Figures 2, 10)."""
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
    fig.suptitle(title, fontsize=10)
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


def _levels_axis(ax) -> np.ndarray:
    levels = np.arange(NUM_LEVELS + 1)
    ax.set_xticks(levels, ["clean", *map(str, levels[1:])])
    ax.set_xlabel("distortion level")
    ax.grid(alpha=0.3)
    return levels


def correction_tables(tables: dict[str, pd.DataFrame], paper: dict[str, pd.DataFrame] | None = None) -> plt.Figure:
    """Tables 3–4 as curves: top-1 per level of every model, fine-tuning dashed, DeepCorrect solid, the
    baseline grey; one panel per kind. Beside each, Avg against trainable parameters (log scale), measured
    (filled) and the paper's (hollow)."""
    cols = ["Clean", *[f"Level {i}" for i in range(1, NUM_LEVELS + 1)]]
    fig, axes = plt.subplots(len(tables), 2, figsize=(11, 3.6 * len(tables)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.5, 1]})
    for (kind, t), (ax, ax2) in zip(tables.items(), axes):
        levels = _levels_axis(ax)
        ft = [m for m in t.index if m.startswith("Finetune")]
        dc = [m for m in t.index if m.startswith("Deepcorr")]
        colours = dict(zip(ft, sns.color_palette("Oranges", len(ft) + 1)[1:]))
        colours |= dict(zip(dc, sns.color_palette("Blues", len(dc) + 1)[1:]))
        for m in t.index:
            style = {"color": "0.45", "ls": ":"} if m == "Baseline" else {
                "color": colours[m], "ls": "--" if m in ft else "-"}
            ax.plot(levels, t.loc[m, cols].to_numpy(float), marker="o", ms=2.5, lw=1.3, label=m, **style)
            marker = "s" if m in ft else ("o" if m in dc else "D")
            ax2.scatter(t.loc[m, "# Params"], t.loc[m, "Avg"], color=style["color"], marker=marker, s=28)
            ax2.annotate(m, (t.loc[m, "# Params"], t.loc[m, "Avg"]), fontsize=6, xytext=(3, 2),
                         textcoords="offset points")
            if paper is not None and m in paper[kind].index:
                ax2.scatter(paper[kind].loc[m, "# Params"], paper[kind].loc[m, "Avg"], facecolor="none",
                            edgecolor=style["color"], marker=marker, s=28)
        ax.set_ylabel("top-1")
        ax.set_title(f"{KIND_TITLES.get(kind, kind)}: every model, per level")
        ax.legend(fontsize=6, ncol=2, loc="lower left")
        ax2.set_xscale("log")
        ax2.set_xlabel("trainable parameters")
        ax2.set_ylabel("Avg top-1")
        ax2.set_title("Avg vs parameters" + (" (hollow: paper, CIFAR-100)" if paper is not None else ""))
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def figure_9(frames: dict[str, pd.DataFrame]) -> plt.Figure:
    """Figure 9: Deepcorr-1 on the top-l ranked filters (solid) vs the mean of random draws of l filters
    (dashed, band = min–max over draws) vs the l least susceptible (dotted), per level; one panel per kind."""
    cols = ["Clean", *[f"Level {i}" for i in range(1, NUM_LEVELS + 1)]]
    fig, axes = plt.subplots(1, len(frames), figsize=(5.2 * len(frames), 3.6), squeeze=False, sharey=True)
    for ax, (kind, f) in zip(axes[0], frames.items()):
        levels = _levels_axis(ax)
        sizes = sorted(set(f[f.group == "ranked"].filters))
        for colour, n in zip(sns.color_palette("viridis", len(sizes)), sizes):
            ranked = f[(f.group == "ranked") & (f.filters == n)][cols].to_numpy(float)[0]
            ax.plot(levels, ranked, "-", marker="o", ms=3, color=colour, label=f"ranked.{n}")
            random = f[(f.group == "random") & (f.filters == n)][cols].to_numpy(float)
            if len(random):
                ax.plot(levels, random.mean(0), "--", color=colour, label=f"random.{n} (mean of {len(random)})")
                ax.fill_between(levels, random.min(0), random.max(0), color=colour, alpha=0.12, lw=0)
        for _, row in f[f.group == "least"].iterrows():
            ax.plot(levels, row[cols].to_numpy(float), ":", marker="x", color="0.2",
                    label=f"least.{row['filters']}")
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.legend(fontsize=6, ncol=2, loc="lower left")
    axes[0, 0].set_ylabel("top-1")
    fig.tight_layout()
    return fig


def validation_curves(records: dict[str, dict[str, dict]]) -> plt.Figure:
    """Validation top-1 (half of the images distorted) against training iterations for every trained
    model, one panel per kind — the CIFAR counterpart of Figure 12."""
    fig, axes = plt.subplots(1, len(records), figsize=(5.2 * len(records), 3.4), squeeze=False, sharey=True)
    for ax, (kind, recs) in zip(axes[0], records.items()):
        trained = [r for r in recs.values() if r["history"]]
        palette = sns.color_palette("tab20", len(trained))
        for colour, rec in zip(palette, trained):
            h = pd.DataFrame(rec["history"])
            if "val_accuracy" in h:
                ls = "--" if rec["name"].startswith("Finetune") else "-"
                ax.plot(h["iteration"], h["val_accuracy"], ls, marker="o", ms=2.5, color=colour, label=rec["name"])
        ax.set_xlabel("training iterations")
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    axes[0, 0].set_ylabel("validation top-1 (half distorted)")
    fig.tight_layout()
    return fig


def figure_11(diffs: dict[str, dict]) -> plt.Figure:
    """Per-class accuracy difference (Deepcorr-5 − Finetune-8) as a heat map, one square per class, blue
    where DeepCorrect is better and red where fine-tuning is; the counts in each title."""
    fig, axes = plt.subplots(1, len(diffs), figsize=(4.8 * len(diffs), 4.2), squeeze=False)
    for ax, (kind, d) in zip(axes[0], diffs.items()):
        diff = np.asarray(d["difference"], dtype=float)
        cols = int(np.ceil(np.sqrt(diff.size)))
        grid = np.full(cols * int(np.ceil(diff.size / cols)), np.nan)
        grid[:diff.size] = diff
        grid = grid.reshape(-1, cols)
        bound = max(float(np.nanmax(np.abs(grid))), 1e-3)
        im = ax.imshow(grid, cmap="RdBu", vmin=-bound, vmax=bound)
        if diff.size <= 30:
            for i, name in enumerate(d["classes"]):
                ax.text(i % cols, i // cols, f"{name[:10]}\n{diff[i]:+.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{KIND_TITLES.get(kind, kind)}: {d['a']} better for {d['better']}, {d['b']} for "
                     f"{d['worse']}, equal {d['equal']}", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046, label=f"top-1 {d['a']} − {d['b']}")
    fig.tight_layout()
    return fig


def transfer_bars(measured: pd.DataFrame, paper: dict[str, float] | None = None) -> plt.Figure:
    """Tables 14–15 as bars: mean per-class accuracy of the SVMs per model and level, one panel per kind."""
    kinds = list(dict.fromkeys(measured.index.get_level_values("kind")))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.4 * len(kinds), 3.4), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        t = measured.xs(kind, level="kind")
        levels = [c for c in t.columns if c == "Clean" or c.startswith("Level")]
        for model, colour in zip(t.index, sns.color_palette("Set2", len(t))):
            ax.plot(range(len(levels)), t.loc[model, levels].to_numpy(float), marker="o", ms=3, color=colour,
                    label=model)
        ax.set_xticks(range(len(levels)), ["clean" if c == "Clean" else c.split()[-1] for c in levels])
        ax.set_xlabel("distortion level")
        ax.set_title(KIND_TITLES.get(kind, kind))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("mean per-class accuracy (SVM)")
    fig.tight_layout()
    return fig


def gain_bars(summaries: dict[str, pd.DataFrame]) -> plt.Figure:
    """Page 06 at a glance: Avg top-1 (mean ± std over training seeds) of every model, one panel per kind,
    coloured by what it trains — nothing, BN statistics or affine parameters only, base layers, or units —
    with the baseline as a dashed line."""
    colours = {"no unit": "#4c72b0", "fine-tuning": "#dd8452", "DeepCorrect": "#55a868", "baseline": "0.5"}

    def group(name: str) -> str:
        if name == "Baseline":
            return "baseline"
        if name in ("BN-adapt", "TENT", "Finetune-BN"):
            return "no unit"
        return "fine-tuning" if name.startswith("Finetune") else "DeepCorrect"

    fig, axes = plt.subplots(1, len(summaries), figsize=(5.4 * len(summaries), 0.42 * max(len(s) for s in
                             summaries.values()) + 1.2), squeeze=False, sharey=True)
    for ax, (kind, s) in zip(axes[0], summaries.items()):
        names = list(s.index)[::-1]
        y = np.arange(len(names))
        ax.barh(y, s.loc[names, "Avg"], xerr=s.loc[names, "± Avg (std over seeds)"], capsize=3,
                color=[colours[group(n)] for n in names])
        ax.axvline(float(s.loc["Baseline", "Avg"]), ls="--", color="0.3", lw=1)
        ax.set_yticks(y, names)
        ax.set_xlabel(f"Avg top-1 (mean ± std over {s.attrs.get('seeds', 1)} seeds)")
        ax.set_title(KIND_TITLES.get(kind, kind))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    fig.legend(handles, list(colours), loc="lower center", ncol=len(colours), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
