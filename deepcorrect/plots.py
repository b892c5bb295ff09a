"""Figure functions, one per paper figure; each returns a matplotlib Figure and touches no global state.

Every figure is drawn for the book's column (about 740 px, :data:`COLUMN_WIDTH` inches at 100 dpi) with
constrained layout and legends outside the data, and is detached from pyplot before it is returned: the
notebook cell that returns it shows it once, and pyplot does not show it a second time at the cell's end
(returned *and* still open, a figure appears twice)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import LogLocator, NullFormatter

from .distortions import KINDS, NUM_LEVELS, sigma_for
from .tables import format_value

KIND_TITLES = {"blur": "Gaussian blur", "awgn": "AWGN"}
#: The book's content column in inches (about 740 px at 100 dpi); no figure is wider.
COLUMN_WIDTH = 7.4
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")


def new_figure(height: float, width: float = COLUMN_WIDTH) -> plt.Figure:
    """A constrained-layout figure at most one column wide, detached from pyplot (see the module docstring)."""
    fig = plt.figure(figsize=(min(width, COLUMN_WIDTH), height), layout="constrained")
    plt.close(fig)
    return fig


def new_axes(nrows: int, ncols: int, height: float, width: float = COLUMN_WIDTH, **kw) -> tuple[plt.Figure, np.ndarray]:
    fig = new_figure(height, width)
    return fig, np.asarray(fig.subplots(nrows, ncols, squeeze=False, **kw))


def line_style(i: int) -> dict:
    """The i-th of a family of lines: a distinct marker and dash pattern, so lines differ without colour."""
    return {"marker": MARKERS[i % len(MARKERS)], "ls": LINESTYLES[i % len(LINESTYLES)], "ms": 4}


def legend_below(fig, ax_or_handles, ncol: int = 4, fontsize: float = 8) -> None:
    """One legend under the panels, outside the data."""
    handles, labels = (ax_or_handles.get_legend_handles_labels() if hasattr(ax_or_handles, "get_legend_handles_labels")
                       else (ax_or_handles, [h.get_label() for h in ax_or_handles]))
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=fontsize, frameon=False)


def _levels_axis(ax) -> np.ndarray:
    levels = np.arange(NUM_LEVELS + 1)
    ax.set_xticks(levels, ["clean", *map(str, levels[1:])])
    ax.set_xlabel("distortion level")
    ax.grid(alpha=0.3)
    return levels


def figure_1(examples: dict[str, dict], classes: Sequence[str], family: str) -> plt.Figure:
    """Example images at every level with the predicted label and confidence: green when right, red when
    wrong. One block per kind, headed by its name; the levels head the columns of each block's first row."""
    per_kind = max(len(examples[kind]["labels"]) for kind in KINDS)
    fig = new_figure(height=1.45 * per_kind * len(KINDS) + 0.5)
    for sub, kind in zip(fig.subfigures(len(KINDS), 1), KINDS):
        ex = examples[kind]
        axes = np.asarray(sub.subplots(len(ex["labels"]), NUM_LEVELS + 1, squeeze=False))
        sub.suptitle(KIND_TITLES[kind], fontsize=10, fontweight="bold")
        for i in range(len(ex["labels"])):
            for level in range(NUM_LEVELS + 1):
                ax = axes[i, level]
                ax.imshow(ex["images"][i, level].permute(1, 2, 0).clamp(0, 255).numpy() / 255.0,
                          interpolation="nearest")
                prob = ex["probs"][i, level]
                pred = int(prob.argmax())
                head = _level_label(kind, level, family) + "\n" if i == 0 else ""
                ax.set_title(f"{head}{classes[pred][:11]} {float(prob[pred]):.2f}", fontsize=7,
                             color="#1a7f37" if pred == int(ex["labels"][i]) else "#cf222e")
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle("Figure 1 — the clean-trained baseline's predictions as distortion grows (left to right)",
                 fontsize=9)
    return fig


def _level_label(kind: str, level: int, family: str) -> str:
    return "clean" if level == 0 else f"L{level} σ={sigma_for(kind, level, family):g}"


def figure_2(tsne: dict, title: str = "Figure 2 — t-SNE of penultimate-layer features of the baseline"
             ) -> plt.Figure:
    """t-SNE of penultimate features, clean and at each level (Figures 2, 10): small multiples, one block of
    2 × 4 panels per kind, the last panel of each block holding the class legend."""
    labels = tsne["labels"].numpy()
    classes = tsne["classes"]
    palette = sns.color_palette("tab10" if len(classes) <= 10 else "tab20", len(classes))
    fig = new_figure(height=7.6)
    for sub, kind in zip(fig.subfigures(len(KINDS), 1), KINDS):
        axes = np.asarray(sub.subplots(2, 4)).ravel()
        sub.suptitle(KIND_TITLES[kind], fontsize=10, fontweight="bold")
        for level, ax in enumerate(axes[:NUM_LEVELS + 1]):
            xy = tsne[f"{kind}/{level}"].numpy()
            ax.scatter(xy[:, 0], xy[:, 1], c=[palette[c] for c in labels], s=5, linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("clean" if level == 0 else f"level {level}", fontsize=9)
        axes[-1].axis("off")
        if len(classes) <= 20:
            handles = [plt.Line2D([], [], marker="o", ls="", color=palette[i], label=str(c)[:18])
                       for i, c in enumerate(classes)]
            axes[-1].legend(handles=handles, loc="center", fontsize=7, frameon=False,
                            ncol=1 if len(classes) <= 10 else 2)
    fig.suptitle(title, fontsize=10)
    return fig


def accuracy_curves(measured: pd.DataFrame, paper: dict[str, pd.Series] | None = None) -> plt.Figure:
    """Top-1 against level for each kind: measured (solid) and the paper's (dashed)."""
    fig, axes = new_axes(1, len(measured), height=3.0, sharey=True)
    cols = [c for c in measured.columns if c != "Avg"]
    for ax, kind in zip(axes[0], measured.index):
        levels = _levels_axis(ax)
        ax.plot(levels, measured.loc[kind, cols].to_numpy(float), "o-", label="measured")
        if paper and kind in paper:
            ax.plot(levels, paper[kind][cols].to_numpy(float), "s--", label=str(paper[kind].name))
        ax.set_ylim(0, 1)
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
    axes[0, 0].set_ylabel("top-1")
    legend_below(fig, axes[0, 0], ncol=2)
    return fig


def training_curve(history: list[dict], title: str = "training") -> plt.Figure:
    """Loss and training accuracy per epoch; the legend above the axes, clear of both axis labels."""
    df = pd.DataFrame(history)
    fig, axes = new_axes(1, 1, height=2.8, width=5.5)
    ax = axes[0, 0]
    ax.plot(df["epoch"], df["accuracy"], "o-", label="train accuracy")
    ax2 = ax.twinx()
    ax2.plot(df["epoch"], df["loss"], "s--", color="C1", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax2.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    legend_below(fig, ax.get_lines() + ax2.get_lines(), ncol=2)
    return fig


#: Above this many lines a figure keys them by a colour scale (network depth) instead of a legend.
MAX_LEGEND_LINES = 12


def ideal_curves(df: pd.DataFrame, title: str, clean: float | None = None) -> plt.Figure:
    """Figures 4–5: top-1 against level for each selection (one panel per kind), legend below; a deep
    network's many layers (ResNet-56: 55) are coloured by depth along a colour bar instead."""
    cols = ["Clean", *[f"Level {i}" for i in range(1, NUM_LEVELS + 1)]]
    kinds = list(dict.fromkeys(df["kind"]))
    selections = [s for s in dict.fromkeys(df["selection"]) if s != "none"]
    by_depth = len(selections) > MAX_LEGEND_LINES
    fig, axes = new_axes(1, len(kinds), height=3.4, sharey=True)
    palette = dict(zip(selections, sns.color_palette("viridis", len(selections))))
    for ax, kind in zip(axes[0], kinds):
        levels = _levels_axis(ax)
        for i, (_, row) in enumerate(df[df["kind"] == kind].iterrows()):
            none = row["selection"] == "none"
            style = ({"marker": "o", "ms": 3, "ls": ":"} if none else
                     {"lw": 0.9, "alpha": 0.8} if by_depth else line_style(i))
            ax.plot(levels, row[cols].to_numpy(float), color="0.2" if none else palette[row["selection"]],
                    label="no correction" if none else row["selection"], zorder=3 if none else 2, **style)
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
    axes[0, 0].set_ylabel("top-1 with ideal correction")
    if by_depth:
        _depth_colour_bar(fig, axes, selections)
        uncorrected = [h for h in axes[0, 0].get_lines() if h.get_label() == "no correction"]
        if uncorrected:
            axes[0, 0].legend(handles=uncorrected, fontsize=7, loc="lower left")
    else:
        legend_below(fig, axes[0, 0], ncol=4)
    fig.suptitle(title, fontsize=10)
    return fig


def _depth_colour_bar(fig: plt.Figure, axes: np.ndarray, layers: list[str]) -> None:
    """A colour bar from the first to the last of ``layers`` in the order of the network."""
    bar = fig.colorbar(plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, len(layers) - 1)),
                       ax=axes.ravel().tolist(), pad=0.02, aspect=30)
    ticks = sorted({0, len(layers) // 2, len(layers) - 1})
    bar.set_ticks(ticks, labels=[layers[t] for t in ticks], fontsize=7)
    bar.set_label(f"the corrected layer ({len(layers)}, by depth)", fontsize=8)


def gain_by_depth(trends: dict, title: str) -> plt.Figure:
    """Figure 5 read as the claim reads it: each single layer's gain over the uncorrected network (mean top-1
    over levels 1–6, in points) against its depth, one panel per kind, coloured as Figure 5's lines, the best
    layer outlined, with Spearman's ρ of gain with depth (``trends``: kind → :class:`~deepcorrect.claims.DepthTrend`)."""
    fig, axes = new_axes(1, len(trends), height=2.9, sharey=True)
    for ax, (kind, trend) in zip(axes[0], trends.items()):
        n = len(trend.layers)
        gains, best = 100 * np.asarray(trend.gains), trend.best_index
        ax.bar(np.arange(n), gains, color=sns.color_palette("viridis", n), width=0.8,
               edgecolor=["black" if i == best else "none" for i in range(n)], linewidth=1.2)
        ax.axhline(0, color="0.4", lw=0.8)
        shown = range(n) if n <= MAX_LEGEND_LINES else sorted({*range(0, n, max(1, n // 8)), best, n - 1})
        ax.set_xticks(list(shown), [trend.layers[i] for i in shown], rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{KIND_TITLES.get(kind, kind)}: ρ = {trend.rho:+.2f} (p = {format_value(trend.p, 'p-value')})",
                     fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("gain in top-1 (points)")
    fig.suptitle(title, fontsize=10)
    return fig


def tau_distribution(frame: pd.DataFrame) -> plt.Figure:
    """Spread of the mean correction priority τ̄ per layer, one panel per kind."""
    kinds = list(dict.fromkeys(frame["kind"]))
    fig, axes = new_axes(1, len(kinds), height=3.0, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        part = frame[frame["kind"] == kind]
        sns.boxplot(data=part, x="layer", y="tau_mean", ax=ax, color="#cfe2f3", fliersize=0)
        sns.stripplot(data=part, x="layer", y="tau_mean", ax=ax, size=2, color="#1f4e79", alpha=0.6)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelsize=8)
    axes[0, 0].set_ylabel("τ̄ (mean gain in top-1)")
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
        panels.append((f"({'bc'[len(panels) - 1]}) top {fraction:.0%},\n{KIND_TITLES.get(kind, kind)}", order[:k]))
    fig, axes = new_axes(1, len(panels), height=3.1)
    for ax, (title, idx) in zip(axes[0], panels):
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
    return fig


def correction_tables(tables: dict[str, pd.DataFrame], paper: dict[str, pd.DataFrame] | None = None) -> plt.Figure:
    """Tables 3–4 as small multiples, one row per kind: top-1 per level of the fine-tuned models, of the
    DeepCorrect models (each beside the baseline, dotted grey; every line its own marker and dash), and Avg
    against trainable parameters on a log scale, measured filled and the paper's hollow."""
    fig = new_figure(height=3.1 * len(tables) + 0.3)
    for sub, (kind, t) in zip(np.atleast_1d(fig.subfigures(len(tables), 1)), tables.items()):
        axes = sub.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [1, 1, 0.9]})
        groups = {"fine-tuning": [m for m in t.index if m.startswith("Finetune")],
                  "DeepCorrect": [m for m in t.index if m.startswith("Deepcorr")]}
        styles = {"Baseline": {"color": "0.45", "ls": ":", "marker": "o", "ms": 3}}
        for (group, names), ax, cmap in zip(groups.items(), axes[:2], ("Oranges", "Blues")):
            levels = _levels_axis(ax)
            for i, (m, colour) in enumerate(zip(names, sns.color_palette(cmap, len(names) + 2)[2:])):
                styles[m] = {"color": colour, **line_style(i)}
            for m in ["Baseline", *names] if "Baseline" in t.index else names:
                ax.plot(levels, t.loc[m, _LEVEL_COLUMNS].to_numpy(float), lw=1.3, label=m, **styles[m])
            ax.set_title(f"{KIND_TITLES.get(kind, kind)}: {group}", fontsize=9)
            if names:
                ax.legend(fontsize=6.5, loc="upper right", frameon=False)
        _params_panel(axes[2], t, styles, None if paper is None else paper.get(kind))
        axes[0].set_ylabel("top-1")
    return fig


_LEVEL_COLUMNS = ["Clean", *[f"Level {i}" for i in range(1, NUM_LEVELS + 1)]]


def _params_panel(ax, t: pd.DataFrame, styles: dict, paper: pd.DataFrame | None) -> None:
    for m in t.index:
        s = styles.get(m, {"color": "0.3", "marker": "o"})
        ax.scatter(t.loc[m, "# Params"], t.loc[m, "Avg"], color=s["color"], marker=s["marker"], s=26, zorder=3)
        if paper is not None and m in paper.index:
            ax.scatter(paper.loc[m, "# Params"], paper.loc[m, "Avg"], facecolor="none", edgecolor=s["color"],
                       marker=s["marker"], s=26)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=4))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("trainable parameters")
    ax.set_title("Avg vs parameters" + ("\n(hollow: paper)" if paper is not None else ""), fontsize=9)
    ax.grid(alpha=0.3)


def figure_9(frames: dict[str, pd.DataFrame]) -> plt.Figure:
    """Figure 9: Deepcorr-1 on the top-l ranked filters (solid) vs the mean of random draws of l filters
    (dashed, band = min–max over draws) vs the l least susceptible (dotted), per level; one panel per kind."""
    fig, axes = new_axes(1, len(frames), height=3.8, sharey=True)
    for ax, (kind, f) in zip(axes[0], frames.items()):
        levels = _levels_axis(ax)
        sizes = sorted(set(f[f.group == "ranked"].filters))
        for i, (colour, n) in enumerate(zip(sns.color_palette("viridis", len(sizes)), sizes)):
            marker = MARKERS[i % len(MARKERS)]
            ranked = f[(f.group == "ranked") & (f.filters == n)][_LEVEL_COLUMNS].to_numpy(float)[0]
            ax.plot(levels, ranked, "-", marker=marker, ms=3.5, color=colour, label=f"ranked.{n}")
            random = f[(f.group == "random") & (f.filters == n)][_LEVEL_COLUMNS].to_numpy(float)
            if len(random):
                ax.plot(levels, random.mean(0), "--", marker=marker, ms=3.5, mfc="none", color=colour,
                        label=f"random.{n} (mean of {len(random)})")
                ax.fill_between(levels, random.min(0), random.max(0), color=colour, alpha=0.12, lw=0)
        for _, row in f[f.group == "least"].iterrows():
            ax.plot(levels, row[_LEVEL_COLUMNS].to_numpy(float), ":", marker="x", color="0.2",
                    label=f"least.{row['filters']}")
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
    axes[0, 0].set_ylabel("top-1")
    legend_below(fig, axes[0, 0], ncol=3, fontsize=7.5)
    return fig


def validation_curves(records: dict[str, dict[str, dict]]) -> plt.Figure:
    """Validation top-1 (half of the images distorted) against training iterations for every trained
    model, one panel per kind — the CIFAR counterpart of Figure 12."""
    fig, axes = new_axes(1, len(records), height=3.6, sharey=True)
    for ax, (kind, recs) in zip(axes[0], records.items()):
        trained = [r for r in recs.values() if r["history"]]
        for i, (colour, rec) in enumerate(zip(sns.color_palette("tab20", len(trained)), trained)):
            h = pd.DataFrame(rec["history"])
            if "val_accuracy" in h:
                style = {**line_style(i), "ls": "--" if rec["name"].startswith("Finetune") else "-", "ms": 3}
                ax.plot(h["iteration"], h["val_accuracy"], color=colour, label=rec["name"], **style)
        ax.set_xlabel("training iterations")
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation top-1\n(half distorted)")
    legend_below(fig, axes[0, 0], ncol=4, fontsize=7)
    return fig


def figure_11(diffs: dict[str, dict]) -> plt.Figure:
    """Per-class accuracy difference (Deepcorr-5 − Finetune-8) as a heat map, one square per class, blue
    where DeepCorrect is better and red where fine-tuning is; the counts in each title."""
    fig, axes = new_axes(1, len(diffs), height=3.9)
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
                ax.text(i % cols, i // cols, f"{name[:8]}\n{diff[i]:+.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{KIND_TITLES.get(kind, kind)}: {d['a']} better for {d['better']},\n{d['b']} for "
                     f"{d['worse']}, equal {d['equal']}", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046, location="bottom").set_label(f"top-1 {d['a']} − {d['b']}", fontsize=8)
    return fig


def transfer_bars(measured: pd.DataFrame, paper: dict[str, float] | None = None) -> plt.Figure:
    """Tables 14–15 as lines: mean per-class accuracy of the SVMs per model and level, one panel per kind."""
    kinds = list(dict.fromkeys(measured.index.get_level_values("kind")))
    fig, axes = new_axes(1, len(kinds), height=3.2, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        t = measured.xs(kind, level="kind")
        levels = [c for c in t.columns if c == "Clean" or c.startswith("Level")]
        for i, (model, colour) in enumerate(zip(t.index, sns.color_palette("Set2", len(t)))):
            ax.plot(range(len(levels)), t.loc[model, levels].to_numpy(float), color=colour, label=model,
                    **line_style(i))
        ax.set_xticks(range(len(levels)), ["clean" if c == "Clean" else c.split()[-1] for c in levels])
        ax.set_xlabel("distortion level")
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean per-class\naccuracy (SVM)")
    legend_below(fig, axes[0, 0], ncol=3)
    return fig


def gain_bars(summaries: dict[str, pd.DataFrame]) -> plt.Figure:
    """Page 04 at a glance: Avg top-1 (mean ± std over training seeds) of every model, one panel per kind,
    coloured by what it trains — nothing, BN statistics or affine parameters only, base layers, or units —
    with the baseline as a dashed line."""
    colours = {"no unit": "#4c72b0", "fine-tuning": "#dd8452", "DeepCorrect": "#55a868", "baseline": "0.5"}

    def group(name: str) -> str:
        if name == "Baseline":
            return "baseline"
        if name in ("BN-adapt", "TENT", "Finetune-BN"):
            return "no unit"
        return "fine-tuning" if name.startswith("Finetune") else "DeepCorrect"

    fig, axes = new_axes(1, len(summaries), height=0.3 * max(len(s) for s in summaries.values()) + 1.4, sharey=True)
    for ax, (kind, s) in zip(axes[0], summaries.items()):
        names = list(s.index)[::-1]
        y = np.arange(len(names))
        ax.barh(y, s.loc[names, "Avg"], xerr=s.loc[names, "± Avg (std over seeds)"], capsize=3,
                color=[colours[group(n)] for n in names])
        ax.axvline(float(s.loc["Baseline", "Avg"]), ls="--", color="0.3", lw=1)
        ax.set_yticks(y, names, fontsize=8)
        ax.set_xlabel(f"Avg top-1 (mean ± std, {s.attrs.get('seeds', 1)} seeds)", fontsize=8)
        ax.set_title(KIND_TITLES.get(kind, kind), fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, label=name) for name, c in colours.items()]
    legend_below(fig, handles, ncol=len(colours))
    return fig
