"""Beyond blur and noise (book page 05): the baseline on the field's 15-corruption benchmark, and the two
test-time baselines the field reports there, BN adaptation and TENT, with TENT's protocol.

The benchmark is CIFAR-10-C's (Hendrycks & Dietterich, ICLR 2019), regenerated seeded by
:mod:`deepcorrect.corruptions` on the profile's test images. TENT's protocol on CIFAR-10-C (Wang et al., ICLR
2021; its repository's ``cifar10`` configuration): the model is reset for every corruption, test batches of
200, Adam at 1e-3, one step per batch on the mean prediction entropy w.r.t. the BN γ, β, predictions made
online (before each batch's step). BN adaptation is the same network normalising with each test batch's
statistics and taking no step (TENT's "norm" baseline).
"""

from __future__ import annotations

import dataclasses
import functools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from ..adaptation import TENT_LR, tent_model
from ..context import Run
from ..corrected_models import corrected_model
from ..corruptions import CORRUPTIONS, NUM_SEVERITIES
from ..data import TensorData
from ..evaluate import distorted_batches
from ..kinds import MIX_SEPARATOR, ranked_for
from ..model_names import full_finetune_name
from ..priorities import filter_priorities
from ..ranking import ranked_layers
from ..statistics import ALPHA, sign_test_counts
from ..tables import show

#: TENT's test batch on CIFAR-10-C (its ``cifar10`` configuration).
TENT_CORRUPTION_BATCH = 200
METHODS = ("Source", "BN adaptation", "TENT")
#: CIFAR-10-C, severity 5, WRN-28-10, mean error (%) over the 15 corruptions, reset per corruption: the TENT
#: repository's README (github.com/DequanWang/tent). Another network than the page's.
PUBLISHED = {"Source": 43.5, "BN adaptation": 20.4, "TENT": 18.6}
PUBLISHED_NETWORK = "WRN-28-10 (TENT's README)"
#: The benchmark's four families of the 15 (Hendrycks & Dietterich, 2019, Figure 1).
GROUPS = {"noise": CORRUPTIONS[:3], "blur": CORRUPTIONS[3:7], "weather": CORRUPTIONS[7:11],
          "digital": CORRUPTIONS[11:]}


def test_images(data: TensorData, per_class: int, seed: int) -> TensorData:
    """``per_class`` test images of every class in one seeded random order: TENT's batches then mix the
    classes (a test set stored class by class would hand it batches of one class)."""
    per_class = min(per_class, int(torch.bincount(data.labels).min()))
    chosen = data.per_class(per_class, seed)
    return chosen.subset(torch.randperm(len(chosen), generator=torch.Generator().manual_seed(seed)))


@torch.inference_mode()
def hit_grids(models: dict[str, nn.Module], data: TensorData, family: str, *, seed: int,
              device: torch.device | str, batch_size: int = 500,
              names: tuple[str, ...] = CORRUPTIONS) -> dict[str, torch.Tensor]:
    """Per model a (corruptions, severities, images) boolean tensor of right answers. Every corrupted batch is
    made once and shown to every model, so the models are compared on the very same corrupted images."""
    models = {label: m.to(device).eval() for label, m in models.items()}
    hits = {label: torch.zeros(len(names), NUM_SEVERITIES, len(data), dtype=torch.bool) for label in models}
    for c, name in enumerate(names):
        for s in range(1, NUM_SEVERITIES + 1):
            start = 0
            for x, y in distorted_batches(data, name, s, family, batch_size=batch_size, seed=seed, device=device):
                for label, m in models.items():
                    hits[label][c, s - 1, start:start + len(y)] = (m(x).argmax(1) == y).cpu()
                start += len(y)
    return hits


def grid_of(hits: torch.Tensor, names: tuple[str, ...] = CORRUPTIONS) -> pd.DataFrame:
    """Top-1 error (%) per corruption (rows) and severity (columns 1–5) from one model's hits."""
    grid = pd.DataFrame(100 * (1 - hits.double().mean(-1)).numpy(), index=list(names),
                        columns=range(1, NUM_SEVERITIES + 1))
    grid.index.name, grid.columns.name = "corruption", "severity"
    return grid


def error_grid(model: nn.Module, data: TensorData, family: str, *, seed: int, device: torch.device | str,
               batch_size: int = 500, names: tuple[str, ...] = CORRUPTIONS) -> pd.DataFrame:
    """Top-1 error (%) of ``model`` per corruption (rows) and severity (columns 1–5)."""
    hits = hit_grids({"model": model}, data, family, seed=seed, device=device, batch_size=batch_size, names=names)
    return grid_of(hits["model"], names)


@torch.inference_mode()
def clean_error(model: nn.Module, data: TensorData, *, device: torch.device | str, batch_size: int = 500) -> float:
    """Top-1 error (%) on the same test images uncorrupted."""
    model = model.to(device).eval()
    index = torch.arange(len(data)).split(batch_size)
    wrong = sum(int((model(data.cropped(x.float())).argmax(1) != data.labels[i].to(device)).sum())
                for i, x in zip(index, data.batches(index, device)))
    return 100 * wrong / len(data)


def _online_errors(model: nn.Module, batches, lr: float | None) -> int:
    """Wrong predictions of a fresh TENT copy of ``model`` over ``batches``, each predicted before its step;
    ``lr`` None: no step (BN adaptation)."""
    adapted = tent_model(model)
    opt = torch.optim.Adam([p for p in adapted.parameters() if p.requires_grad], lr=lr) if lr else None
    wrong = 0
    for x, y in batches:
        with torch.set_grad_enabled(opt is not None):
            logits = adapted(x)
        wrong += int((logits.argmax(1) != y).sum())
        if opt is not None:
            entropy = -(logits.softmax(1) * logits.log_softmax(1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            entropy.backward()
            opt.step()
    return wrong


def adaptation_errors(model: nn.Module, data: TensorData, family: str, severity: int, *, seed: int,
                      device: torch.device | str, lr: float = TENT_LR, batch_size: int = TENT_CORRUPTION_BATCH,
                      source: pd.Series | None = None, names: tuple[str, ...] = CORRUPTIONS) -> pd.DataFrame:
    """Error (%) per corruption of ``names`` at ``severity`` of the source model (``source``: its column of
    the grid, else measured), BN adaptation and TENT, each reset for every corruption."""
    model = model.to(device).eval()
    rows = {}
    for name in names:
        batches = functools.partial(distorted_batches, data, name, severity, family, batch_size=batch_size,
                                    seed=seed, device=device)
        if source is not None:
            src = float(source[name])
        else:
            with torch.inference_mode():
                src = 100 * sum(int((model(x).argmax(1) != y).sum()) for x, y in batches()) / len(data)
        rows[name] = {"Source": src, "BN adaptation": 100 * _online_errors(model, batches(), None) / len(data),
                      "TENT": 100 * _online_errors(model, batches(), lr) / len(data)}
    table = pd.DataFrame.from_dict(rows, orient="index")[list(METHODS)]
    table.index.name = "corruption"
    return table


def describe_adaptation_set(images: int, severity: int, classes: int | None = None,
                            batch_size: int = TENT_CORRUPTION_BATCH) -> str:
    """What BN adaptation and TENT ran on; a warning where one batch holds every image, since TENT predicts
    a batch before its step on it and so cannot differ from BN adaptation there."""
    batches = -(-images // batch_size)
    text = f"BN adaptation and TENT run on {images:,} test images at severity {severity}"
    if batches > 1:
        return f"{text}, in {batches} batches of {batch_size} per corruption."
    return (f"{text}. They fit in one batch (TENT's batch is {batch_size}), so TENT's single update comes after "
            f"its predictions and its row equals BN adaptation's; with more than {batch_size} images"
            f"{f' (`adapt_per_class` above {batch_size // classes})' if classes else ''} TENT's updates take effect.")


def beside_published(adapted: pd.DataFrame, network: str, severity: int) -> pd.DataFrame:
    """The page's mean error over the 15 corruptions per method beside the published row (severity 5)."""
    out = pd.DataFrame({f"{network}, this page (sev. {severity})": adapted.mean(),
                        f"{PUBLISHED_NETWORK}, CIFAR-10-C sev. 5": pd.Series(PUBLISHED)})
    out.index.name = "mean error over 15 (%)"
    return out


def paired(adapted: pd.DataFrame, a: str, b: str) -> dict:
    """Mean error difference a − b over the corruptions, its standard error and a paired t-test."""
    d = (adapted[a] - adapted[b]).to_numpy(float)
    t = stats.ttest_rel(adapted[a], adapted[b]) if np.ptp(d) > 0 else None
    return {"contrast": f"{a} − {b}", "mean difference (points)": float(d.mean()),
            "std. error": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0,
            "p-value": float(t.pvalue) if t is not None else float("nan"), "corruptions": len(d)}


def contrasts(adapted: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([paired(adapted, "BN adaptation", "Source"), paired(adapted, "TENT", "BN adaptation")])


def transfer_models(run: Run, base: nn.Module, data, priorities,
                    kinds: tuple[str, ...] = ("blur", "awgn")) -> dict[str, nn.Module]:
    """Deepcorr-6c and the full fine-tune trained for each of the paper's two distortions — the models of
    Tables 3–4, taken from the store where page 03 made them — labelled ``name (kind)``."""
    names = ("Deepcorr-6c", full_finetune_name(base))
    return {f"{name} ({kind})": corrected_model(run, base, data, priorities, kind, name, progress=False)[0]
            for kind in kinds for name in names}


#: What DeepCorrect trains on in the held-out test: one corruption of each family; the other 11 are held out.
TRAINING_MIX = ("gaussian_noise", "defocus_blur", "snow", "contrast")
HELD_OUT = tuple(c for c in CORRUPTIONS if c not in TRAINING_MIX)


def mix_models(run: Run, base: nn.Module, data, mix: tuple[str, ...] = TRAINING_MIX) -> dict[str, nn.Module]:
    """Deepcorr-6c and the full fine-tune trained on ``mix`` (half of every batch corrupted by one of its
    corruptions at a random severity), Deepcorr-6c's units on the filters Algorithm 1 ranks for the mix."""
    kind = MIX_SEPARATOR.join(mix)
    rank = ranked_for(run.profile.rank, (kind,))
    # Deepcorr-6c corrects the first six ranked layers: rank only those (a ResNet has 19 or more)
    rank = dataclasses.replace(rank, layers=rank.layers or tuple(ranked_layers(base)[:6]))
    profile = dataclasses.replace(run.profile, rank=rank)
    mixed = dataclasses.replace(run, profile=profile)
    priorities = filter_priorities(mixed, base, data, progress=False)
    return {f"{name} (mix)": corrected_model(mixed, base, data, priorities, kind, name, progress=False)[0]
            for name in ("Deepcorr-6c", full_finetune_name(base))}


def only(hits: dict[str, torch.Tensor], chosen: tuple[str, ...],
         names: tuple[str, ...] = CORRUPTIONS) -> dict[str, torch.Tensor]:
    """The hits of the ``chosen`` corruptions only (the held-out ones), in their order."""
    rows = [names.index(c) for c in chosen]
    return {label: h[rows] for label, h in hits.items()}


def _rows(names: tuple[str, ...]) -> dict[str, list[int]]:
    """Row label → indices into ``names``: each corruption, each of the four families, all of them."""
    rows = {name: [i] for i, name in enumerate(names)}
    for group, members in GROUPS.items():
        rows[f"{group} (mean)"] = [names.index(m) for m in members if m in names]
    rows[f"all {len(names)} (mean)"] = list(range(len(names)))
    return {label: idx for label, idx in rows.items() if idx}


def transfer_table_rows(names: tuple[str, ...] = CORRUPTIONS) -> list[str]:
    """The transfer table's rows in order: the corruptions, the families' means, the mean of all."""
    return list(_rows(names))


def transfer_table(hits: dict[str, torch.Tensor], names: tuple[str, ...] = CORRUPTIONS) -> pd.DataFrame:
    """Error (%) of every model per corruption, per family and over all, averaged over the five severities."""
    table = pd.DataFrame({label: {row: 100 * (1 - float(h[idx].double().mean())) for row, idx in _rows(names).items()}
                          for label, h in hits.items()})
    table.index.name = "corruption"
    return table


def transfer_tests(hits: dict[str, torch.Tensor], baseline: str = "Baseline",
                   names: tuple[str, ...] = CORRUPTIONS) -> pd.DataFrame:
    """Every corrected model against the baseline on each family of corruptions and on all of them: the change
    in error (points, all severities), its standard error over the test images, and the exact sign test over
    images of their number of right answers across the family's corruptions × severities (models and baseline
    see the same corrupted images)."""
    base = hits[baseline]
    rows = _rows(names)
    families = {g: rows[f"{g} (mean)"] for g in GROUPS if f"{g} (mean)" in rows}
    families["all"] = list(range(len(names)))
    out = []
    for label, h in hits.items():
        if label == baseline:
            continue
        for family, idx in families.items():
            cols = h.shape[-1]
            test = sign_test_counts(h[idx].reshape(-1, cols), base[idx].reshape(-1, cols))
            out.append({"model": label, "family": family, "corruptions": len(idx),
                        "Δ error (points)": 0.0 - 100 * test.difference, "std. error": 100 * test.se,
                        "p-value": test.p, "images": cols})
    return pd.DataFrame(out, columns=TEST_COLUMNS)


#: The columns of a test table, in the order the page shows them (an edition's JSON sorts them).
TEST_COLUMNS = ["model", "family", "corruptions", "Δ error (points)", "std. error", "p-value", "images"]


TEST_FORMATS = {"Δ error (points)": "{:+.2f}", "std. error": "{:.2f}"}
CONTRAST_FORMATS = {"mean difference (points)": "{:+.2f}", "std. error": "{:.2f}"}


def against_baseline(hits: dict[str, torch.Tensor], labels, names: tuple[str, ...] = CORRUPTIONS,
                     measured: tuple[str, ...] = CORRUPTIONS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The error table and the tests against the baseline of the models ``labels``, on the corruptions
    ``names`` (all 15, or the held-out ones) of the ``measured`` ones the hits hold."""
    chosen = only({k: hits[k] for k in ["Baseline", *labels]}, names, measured)
    return transfer_table(chosen, names), transfer_tests(chosen, names=names)


def comparison_parts(table: pd.DataFrame, tests: pd.DataFrame, where: str) -> list:
    """The table, its heat map of changes and the tests, as a page (or an edition's At scale) shows them."""
    return [show(table, f"Top-1 error (%) {where}, mean over severities 1–5", formats=percent_formats(table)),
            transfer_heatmap(table, title=f"Error − baseline's (points), {where}"),
            show(tests, f"Against the baseline, {where}, per family of corruptions", formats=TEST_FORMATS)]


def transfer_heatmap(table: pd.DataFrame, baseline: str = "Baseline", title: str = ""):
    """Each corrected model's change in error against the baseline per corruption (blue: fewer errors)."""
    delta = table.drop(columns=baseline).sub(table[baseline], axis=0)
    values = delta.to_numpy(float)
    limit = max(1.0, float(np.nanmax(np.abs(values))))
    fig, ax = plt.subplots(figsize=(min(7.4, 2.5 + 1.1 * delta.shape[1]), 6.8))
    im = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(delta.shape[1]), delta.columns, rotation=30, ha="right")
    ax.set_yticks(range(delta.shape[0]), delta.index)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=7,
                color="white" if abs(v) > 0.6 * limit else "black")
    fig.colorbar(im, ax=ax, label="error − baseline's (points)")
    ax.set_title(title or "Change in error against the baseline")
    fig.tight_layout()
    plt.close(fig)  # detached from pyplot: the page shows the returned figure once
    return fig


def describe_transfer(tests: pd.DataFrame) -> str:
    """One line per corrected model: on which families it has fewer / more errors than the baseline, each
    with its standard error and sign-test p-value (p < 0.05 decides; otherwise not distinguishable here)."""
    lines = []
    for label, rows in tests.groupby("model", sort=False):
        parts = []
        for _, r in rows.iterrows():
            d, se, p = r["Δ error (points)"], r["std. error"], r["p-value"]
            word = ("fewer errors" if d < 0 else "more errors") if p < ALPHA else "not distinguishable"
            parts.append(f"{r['family']} {d:+.1f} ± {se:.1f} (p = {p:.2g}, {word})")
        lines.append(f"- **{label}** against the baseline: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def heatmap(grid: pd.DataFrame, title: str):
    """The error grid as a heat map, each cell labelled with its error (%)."""
    fig, ax = plt.subplots(figsize=(5.5, 6.5))
    im = ax.imshow(grid.to_numpy(float), cmap="magma_r", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns)
    ax.set_yticks(range(grid.shape[0]), grid.index)
    ax.set_xlabel("severity")
    for (i, j), v in np.ndenumerate(grid.to_numpy(float)):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v > 55 else "black")
    fig.colorbar(im, ax=ax, label="top-1 error (%)")
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)  # detached from pyplot: the page shows the returned figure once
    return fig


def verdict(grid: pd.DataFrame, adapted: pd.DataFrame, tests: pd.DataFrame, clean_error: float) -> str:
    """What the numbers say, each claim from the tables, with the uncertainty behind it."""
    worst = grid[NUM_SEVERITIES].idxmax()
    mean = adapted.mean()
    hardest = grid[NUM_SEVERITIES]
    lines = [(f"- Clean error {clean_error:.1f} %; at severity {NUM_SEVERITIES} the mean error over the "
              f"{len(grid)} is {hardest.mean():.1f} %, worst on {worst} ({hardest[worst]:.1f} %).")]
    for _, row in tests.iterrows():
        sig = row["p-value"] < 0.05
        lines.append(f"- {row['contrast']}: {row['mean difference (points)']:+.1f} ± {row['std. error']:.1f} "
                     f"points over {row['corruptions']} corruptions (paired t-test p = {row['p-value']:.3g}): "
                     f"{'a difference the corruptions agree on' if sig else 'not distinguishable here'}.")
    if np.allclose(adapted["TENT"], adapted["BN adaptation"]):
        lines.append(f"- TENT's errors equal BN adaptation's: the test images fit one batch of "
                     f"{TENT_CORRUPTION_BATCH}, whose predictions precede its only step.")
    lines.append(f"- Mean errors: source {mean['Source']:.1f} %, BN adaptation {mean['BN adaptation']:.1f} %, "
                 f"TENT {mean['TENT']:.1f} % — beside {PUBLISHED_NETWORK}'s {PUBLISHED['Source']} / "
                 f"{PUBLISHED['BN adaptation']} / {PUBLISHED['TENT']} %, another network and its full test set.")
    return "\n".join(lines)


def metrics(profile: str, grid: pd.DataFrame, adapted: pd.DataFrame, tests: pd.DataFrame, images: int,
            severity: int, *, adapt_images: int | None = None, transfer: pd.DataFrame | None = None,
            transfer_tests: pd.DataFrame | None = None, held_out: pd.DataFrame | None = None,
            held_out_tests: pd.DataFrame | None = None) -> dict:
    """The page's numbers as its metrics file (and an edition) holds them; the trained models' parts where
    this run measured them. ``images``: the corrupted test images of the grids; ``adapt_images``: those of
    BN adaptation and TENT (None: the same)."""
    out = {"profile": profile, "images": images, "adapt_severity": severity, "adapt_images": adapt_images or images,
           "error_grid": grid.round(3).to_dict(orient="index"), "adaptation": adapted.round(3).to_dict(orient="index"),
           "mean_error": {k: round(float(v), 3) for k, v in adapted.mean().items()},
           "contrasts": tests.to_dict(orient="records")}
    for name, table in (("transfer", transfer), ("held_out", held_out)):
        if table is not None:
            out[name] = table.round(3).to_dict(orient="index")
    for name, rows in (("transfer_tests", transfer_tests), ("held_out_tests", held_out_tests)):
        if rows is not None:
            out[name] = rows.to_dict(orient="records")
    if held_out is not None:
        out["training_mix"] = list(TRAINING_MIX)
    return out


def percent_formats(frame: pd.DataFrame) -> dict[str, str]:
    """Error rates in percent print with one decimal: the format of every numeric column of ``frame``."""
    return {c: "{:.1f}" for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
