"""§5.1 (page 03): DeepCorrect against fine-tuning on the CIFAR network — Tables 3–4 beside the paper's,
Deepcorr-k vs Finetune-k with paired t-tests, ranked vs random filters (Figure 9, Table 6), local vs global
ranking (Tables 5 and 9), the parameter counts of Table 10 and the setup in words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..config import Profile
from ..context import Run
from ..corrected_models import evaluate_models, unit_width
from ..correction import corrected_layers, deepcorrect_model, finetune_model, unit_macs
from ..distortions import kind_label
from ..evaluate import COLUMNS
from ..model_names import (
    PAPER_FULL_FINETUNE,
    TABLE_3_MODELS,
    full_finetune_name,
    parse_model,
)
from ..models import AllConvBN, build_model, count_params
from ..paper import (
    TABLE_5,
    TABLE_6,
    TABLE_10,
    TABLE_10_FILTERS,
    alexnet_table,
    beside,
    comparable,
    correction_table,
)
from ..ranking import Ranking, n_selected
from ..statistics import Paired, mcnemar, paired_ttest, sign_test_counts


def table3_models(net: nn.Module) -> tuple[str, ...]:
    """Tables 3–4's rows for ``net``: k ∈ {1, 3, 6} and the full fine-tune (:func:`full_finetune_name`)."""
    full = full_finetune_name(net)
    return tuple(full if name == PAPER_FULL_FINETUNE else name for name in TABLE_3_MODELS)


def paper_row_names(names) -> dict[str, str]:
    """Measured row → the paper's row it stands beside: itself, or Finetune-9 for any full fine-tune."""
    full = [n for n in names if n.startswith("Finetune-") and n not in ("Finetune-1", "Finetune-3", "Finetune-6")]
    return {n: PAPER_FULL_FINETUNE if n in full else n for n in names}


def compare_table(measured: pd.DataFrame, kind: str, num_classes: int | None = None) -> pd.DataFrame:
    """Table 3 (blur) or 4 (AWGN) as measured, each model with the paper's row beside it — Clean, Levels 1–6,
    Avg and # Params (the paper's on the full-width CIFAR-100 network) — and ``measured − paper`` only where
    the measured task is the paper's (``num_classes`` 100: :func:`paper.comparable`)."""
    difference = num_classes is not None and comparable("cifar", num_classes)
    return beside(measured, correction_table(kind), difference=difference, rows=paper_row_names(measured.index))


def deepcorr_vs_finetune(tables: dict[str, pd.DataFrame], records: dict[str, dict[str, dict]],
                         ks=(1, 3, 6)) -> pd.DataFrame:
    """Deepcorr-k against Finetune-k at equal k, per kind: Avg of each and of the untouched baseline, the
    gain, the exact sign test over test images of their paired predictions (:func:`statistics.sign_test_counts`;
    the test for two single models), the paper's paired t-test over the seven columns beside it, and what the
    gain costs in trainable parameters and training time."""
    rows = []
    for kind, t in tables.items():
        for k in ks:
            dc, ft = f"Deepcorr-{k}", f"Finetune-{k}"
            if dc not in t.index or ft not in t.index:
                continue
            a, b = t.loc[dc, COLUMNS].to_numpy(float), t.loc[ft, COLUMNS].to_numpy(float)
            stat, p = paired_ttest(a, b)
            images = _images_test(records[kind], dc, ft)
            seconds = {n: sum(h.get("seconds", 0.0) for h in records[kind][n]["history"]) for n in (dc, ft)}
            paper = correction_table(kind)["Avg"]
            rows.append({"kind": kind, "k": k, "Deepcorr Avg": float(t.loc[dc, "Avg"]),
                         "Finetune Avg": float(t.loc[ft, "Avg"]),
                         "Baseline Avg": float(t.loc["Baseline", "Avg"]) if "Baseline" in t.index else np.nan,
                         "gain": float(t.loc[dc, "Avg"] - t.loc[ft, "Avg"]),
                         "relative gain": float(t.loc[dc, "Avg"] / t.loc[ft, "Avg"] - 1),
                         "paper relative gain": float(paper[dc] / paper[ft] - 1),
                         "images Deepcorr ahead": images.first_only, "images Finetune ahead": images.second_only,
                         "p (images)": images.p, "se (images)": images.se, "t": stat, "p-value": p,
                         "params Deepcorr / Finetune": t.loc[dc, "# Params"] / t.loc[ft, "# Params"],
                         "train time Deepcorr / Finetune": seconds[dc] / max(seconds[ft], 1e-9)})
    return pd.DataFrame(rows).set_index(["kind", "k"])


def _images_test(records: dict[str, dict], first: str, second: str) -> Paired:
    """The sign test over test images of two models' paired predictions; p = NaN without them."""
    hits = [records.get(n, {}).get("hits") for n in (first, second)]
    if any(h is None for h in hits):
        return Paired(0, 0, float("nan"))
    return sign_test_counts(*hits)


#: The single-model comparisons of the page beyond Deepcorr-k vs Finetune-k: (first, second, what).
PAIRS = (("Deepcorr-6c", "full fine-tune", "Deepcorr-6c against the full fine-tune (Tables 3–4)"),
         ("Finetune-1", "full fine-tune", "fine-tuning one layer against all of them (§5.1.1)"),
         ("Finetune-3", "full fine-tune", "fine-tuning three layers against all of them (§5.1.1)"),
         ("Finetune-6", "full fine-tune", "fine-tuning six layers against all of them (§5.1.1)"),
         ("Deepcorr-6c-global", "Deepcorr-6c", "global against local ranking (Table 5)"))


def paired_comparisons(tables: dict[str, pd.DataFrame], records: dict[str, dict[str, dict]],
                       full: str) -> pd.DataFrame:
    """:data:`PAIRS` and every trained model against the untouched baseline, per kind: the Avg of both, the
    difference, the sign test over images (Avg) and McNemar's exact test on the clean column (is clean accuracy
    kept?). ``full`` names the full fine-tune on this network."""
    rows = []
    for kind, t in tables.items():
        pairs = [(f"Deepcorr-{k}", f"Finetune-{k}", "Deepcorr-k against Finetune-k (§5.1.2)") for k in (1, 3, 6)]
        pairs += [(a.replace("full fine-tune", full), b.replace("full fine-tune", full), what) for a, b, what in PAIRS]
        pairs += [(n, "Baseline", "against the untouched baseline") for n in t.index if n != "Baseline"]
        for first, second, what in pairs:
            if first not in t.index or second not in t.index:
                continue
            hits = [records[kind].get(n, {}).get("hits") for n in (first, second)]
            clean = mcnemar(hits[0][0], hits[1][0]) if all(h is not None for h in hits) else Paired(0, 0, np.nan)
            avg = _images_test(records[kind], first, second)
            rows.append({"kind": kind, "first": first, "second": second, "what": what,
                         "first Avg": float(t.loc[first, "Avg"]), "second Avg": float(t.loc[second, "Avg"]),
                         "difference": float(t.loc[first, "Avg"] - t.loc[second, "Avg"]),
                         "images first ahead": avg.first_only, "images second ahead": avg.second_only,
                         "p (images)": avg.p, "se (images)": avg.se,
                         "clean difference": float(t.loc[first, "Clean"] - t.loc[second, "Clean"]),
                         "p (clean, McNemar)": clean.p})
    return pd.DataFrame(rows)


def unsettled(records: dict[str, dict[str, dict]], tolerance: float = 0.01) -> dict[str, float]:
    """Models whose validation top-1 still moved by more than ``tolerance`` between their last two epochs
    (name → that change): where a comparison may be limited by the schedule rather than the method."""
    out = {}
    for kind, recs in records.items():
        for name, rec in recs.items():
            val = [h["val_accuracy"] for h in rec["history"] if "val_accuracy" in h]
            if len(val) >= 2 and abs(val[-1] - val[-2]) > tolerance:
                out[f"{name} ({kind})"] = val[-1] - val[-2]
    return out


def describe_convergence(records: dict[str, dict[str, dict]], tolerance: float = 0.01) -> str:
    """Whether every trained model's validation curve had flattened by its last epoch."""
    moving = unsettled(records, tolerance)
    curves = [[h["val_accuracy"] for h in r["history"] if "val_accuracy" in h]
              for recs in records.values() for r in recs.values() if r["history"]]
    short = sum(len(c) < 2 for c in curves)
    if short:
        return (f"{short} of {len(curves)} trained models have fewer than two validation points: too few epochs to "
                f"tell whether their curves have flattened.")
    if not moving:
        return (f"All {len(curves)} trained models changed their validation top-1 by at most {tolerance:.0%} over "
                f"their last epoch: the curves have flattened, so the comparison is not limited by the schedule.")
    return (f"{len(moving)} of {len(curves)} trained models still moved by more than {tolerance:.0%} in their last "
            f"epoch (" + ", ".join(f"{n}: {d:+.3f}" for n, d in list(moving.items())[:8])
            + (", …" if len(moving) > 8 else "") + "): for these the comparison may be limited by the schedule.")


def _listing(ks: list[int]) -> str:
    return f"k = {', '.join(map(str, ks))}" if ks else "no k"


def describe_deepcorr_vs_finetune(frame: pd.DataFrame) -> str:
    """The verdict the measured :func:`deepcorr_vs_finetune` rows support: ahead or behind where the paired
    t-test says so (p < 0.05), undecided where it does not."""
    parts = []
    for kind in dict.fromkeys(frame.index.get_level_values(0)):
        f = frame.loc[kind]
        by_images = "p (images)" in f and bool(f["p (images)"].notna().all())
        p = f["p (images)"] if by_images else f["p-value"]
        won = [k for k in f.index if f.loc[k, "gain"] > 0 and p[k] < 0.05]
        lost = [k for k in f.index if f.loc[k, "gain"] < 0 and p[k] < 0.05]
        open_ = [k for k in f.index if k not in won + lost]
        test = ("exact sign test over test images" if by_images else
                "paired t-test over the clean column and six levels")
        text = (f"**{kind_label(kind)}.** Significantly ahead of Finetune-k ({test}, "
                f"p < 0.05): Deepcorr-k for {_listing(won)}; significantly "
                f"behind for {_listing(lost)}; undecided (p ≥ 0.05) for {_listing(open_)}. Gains in Avg "
                + ", ".join(f"k={k}: {f.loc[k, 'gain']:+.3f} ({f.loc[k, 'relative gain']:+.0%}, p = "
                            f"{p[k]:.3g})" for k in f.index)
                + " (the paper, CIFAR-100: " + ", ".join(f"{f.loc[k, 'paper relative gain']:+.0%}" for k in f.index)
                + "), at " + ", ".join(f"{f.loc[k, 'params Deepcorr / Finetune']:.1f}×" for k in f.index)
                + " the trainable parameters and " + ", ".join(f"{f.loc[k, 'train time Deepcorr / Finetune']:.1f}×"
                                                               for k in f.index) + " the training time.")
        parts.append(text)
    return "\n\n".join(parts)


def figure9_scaled(profile: Profile, first_layer_filters: int) -> dict[int, int]:
    """The paper's l ∈ {6, 12, 24, 48} of 96 first-layer filters → l scaled to this network's first layer
    (sizes that coincide after scaling are kept once)."""
    scale = first_layer_filters / 96
    out: dict[int, int] = {}
    for n in sorted(profile.correct.fig9_filters):
        scaled = max(1, min(first_layer_filters, round(n * scale)))
        if scaled not in out.values():
            out[n] = scaled
    return out


def figure9_sizes(profile: Profile, first_layer_filters: int) -> list[int]:
    return list(figure9_scaled(profile, first_layer_filters).values())


def figure9_names(profile: Profile, first_layer_filters: int) -> list[str]:
    sizes = figure9_sizes(profile, first_layer_filters)
    names = [f"ranked.{n}" for n in sizes]
    names += [f"random.{n}#{t}" for n in sizes for t in range(profile.correct.draws)]
    return names + [f"least.{sizes[-1]}"]


def figure9_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 9's rows of an :func:`evaluate_models` table with their group (ranked / random / least) and l."""
    parsed = [parse_model(n) for n in table.index]
    out = table.copy()
    out["group"] = [p.selection for p in parsed]
    out["filters"] = [p.filters for p in parsed]
    return out


def ttest_ranked_vs_random(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 6: paired-sample t-test (``scipy.stats.ttest_rel``) between ranked.l and the mean over draws of
    random.l, paired over the clean column and the six levels of every distortion kind given."""
    rows = {}
    sizes = sorted(set.intersection(*(set(f[f.group == "ranked"].filters) for f in frames.values())))
    for n in sizes:
        ranked = np.concatenate([f[(f.group == "ranked") & (f.filters == n)][COLUMNS].to_numpy()[0]
                                 for f in frames.values()])
        random = np.concatenate([f[(f.group == "random") & (f.filters == n)][COLUMNS].mean().to_numpy()
                                 for f in frames.values()])
        t, p = paired_ttest(ranked, random)
        rows[f"{n} filters"] = {"ranked − random (mean)": float((ranked - random).mean()),
                                "t": t, "p-value": p, "pairs": len(ranked)}
    return pd.DataFrame.from_dict(rows, orient="index")


def ttest_local_vs_global(tables: dict[str, pd.DataFrame], local: str = "Deepcorr-6c",
                          glob: str = "Deepcorr-6c-global") -> dict:
    """Table 5's test: paired t-test between local and global ranking over the clean column and six levels of
    each kind (the paper: p = 0.2151)."""
    a = np.concatenate([t.loc[local, COLUMNS].to_numpy(float) for t in tables.values()])
    b = np.concatenate([t.loc[glob, COLUMNS].to_numpy(float) for t in tables.values()])
    t, p = paired_ttest(b, a)
    return {"global − local (mean)": float((b - a).mean()), "t": t, "p-value": p, "pairs": len(a)}


def local_vs_global(tables: dict[str, pd.DataFrame], records: dict[str, dict[str, dict]],
                    local: str = "Deepcorr-6c", glob: str = "Deepcorr-6c-global",
                    paper: dict[str, dict[str, float]] = TABLE_5) -> pd.DataFrame:
    """Table 5 (Table 9 with Deepcorr-5 and ``paper=TABLE_9``): Avg under local and global ranking per kind,
    the filters corrected per layer, and the paper's values."""

    rows = []
    for scheme, name in (("local", local), ("global", glob)):
        for kind, t in tables.items():
            sel = records[kind][name]["selection"]
            rows.append({"ranking": scheme, "kind": kind, "measured Avg": float(t.loc[name, "Avg"]),
                         "paper Avg": paper[scheme][kind],
                         "# corrected per layer": "{" + ", ".join(str(len(v)) for v in sel.values()) + "}"})
    return pd.DataFrame(rows).set_index(["ranking", "kind"])


def parameter_counts() -> pd.DataFrame:
    """Trainable parameters of every Table 3–4 model (full-width All-Conv-BN for CIFAR-100, the release's
    50 / 100 corrected filters) and of Deepcorr-5c, counted on the built models, next to the paper's as
    printed: exact integers for Tables 3–4, millions cut (not rounded) to two decimals for Table 7 (its
    Finetune-8, 60,965,224, is printed 60.96) — so each is compared at the precision the paper gives it."""

    net = AllConvBN(100, width=1.0)
    paper = correction_table("blur")["# Params"]
    rows = {}
    for name in TABLE_3_MODELS:
        spec = parse_model(name) if name != "Baseline" else None
        if spec is None:
            model = net
        elif spec.method == "finetune":
            model = finetune_model(net, spec.k)
        else:
            layers = [f"conv{i}" for i in range(1, spec.k + 1)]
            sel = {ly: range(n_selected(0.5, net.get_submodule(ly).out_channels, release=True)) for ly in layers}
            model = deepcorrect_model(net, sel, "identity", train_last=spec.train_last)
        computed = count_params(model, name != "Baseline")
        rows[name] = {"network": "All-Conv-BN (CIFAR-100)", "computed": computed, "paper (as printed)":
                      f"{int(paper[name]):,}", "equal at the printed precision": computed == int(paper[name])}
    alex = build_model("alexnet_caffe", 1000)
    computed = count_params(deepcorrect_model(alex, _table10_selection(), "cw", train_last=3), True)
    printed = float(alexnet_table("blur").loc["Deepcorr-5c", "# Params (M)"])
    rows["Deepcorr-5c"] = {"network": "AlexNet (Caffe)", "computed": computed, "paper (as printed)": f"{printed:.2f} M",
                           "equal at the printed precision": computed // 10_000 == round(printed * 100)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _table10_selection() -> dict[str, range]:
    """The first β_i·N_i filters of conv1–conv5 of the Caffe AlexNet (72, 192, 192, 192, 128): which ones
    does not change a count."""
    return {f"conv{i}": range(n) for i, n in enumerate(TABLE_10_FILTERS, start=1)}


def unit_counts() -> pd.DataFrame:
    """Table 10: parameters and multiply-accumulates of every unit of Deepcorr-5, -lite and -bottleneck on
    the Caffe AlexNet at 227 px, measured on the built models, next to the paper's."""

    alex = build_model("alexnet_caffe", 1000)
    sel = _table10_selection()
    example = torch.zeros(1, 3, 227, 227)
    rows = []
    for variant, paper in TABLE_10.items():
        model = deepcorrect_model(alex, sel, variant)
        macs = unit_macs(model, example)
        for i, (layer, m) in enumerate(corrected_layers(model).items()):
            rows.append({"model": f"Deepcorr-5-{variant}".replace("-cw", ""), "unit": layer,
                         "params": count_params(m.unit), "paper params": paper["params"][i],
                         "MACs": macs[layer], "paper FLOPs": paper["flops"][i],
                         "MACs / paper": macs[layer] / paper["flops"][i]})
    return pd.DataFrame(rows).set_index(["model", "unit"])


def table_6(profile: Profile, frames: dict[str, pd.DataFrame], first_layer_filters: int) -> pd.DataFrame:
    """Table 6 measured (:func:`ttest_ranked_vs_random`) with the paper's p-value for the matching l."""
    table = ttest_ranked_vs_random(frames)
    paper_of = {scaled: n for n, scaled in figure9_scaled(profile, first_layer_filters).items()}
    table["paper l (of 96)"] = [paper_of[int(i.split()[0])] for i in table.index]
    table["paper p-value"] = [TABLE_6.get(n, float("nan")) for n in table["paper l (of 96)"]]
    return table


def describe_ranked_random(frames: dict[str, pd.DataFrame], table6: pd.DataFrame) -> str:
    """Whether ranked beats random at every l (and significantly), and whether least is the worst."""
    better = table6[table6["ranked − random (mean)"] > 0]
    significant = better[better["p-value"] < 0.05]
    parts = [f"Ranked beats the mean of the random draws for {len(better)} of {len(table6)} sizes, "
             f"significantly (p < 0.05) for {len(significant)}; the paper: all four, all significant."]
    for kind, f in frames.items():
        largest = max(f[f.group == "ranked"].filters)
        ranked = float(f[(f.group == "ranked") & (f.filters == largest)]["Avg"].iloc[0])
        least = f[f.group == "least"]["Avg"]
        random = float(f[(f.group == "random") & (f.filters == largest)]["Avg"].mean())
        if len(least):
            verdict = ("agrees with the paper (least is worst)" if float(least.iloc[0]) < min(ranked, random)
                       else "does not reproduce the paper's clear ordering ranked > random > least")
            parts.append(f"{kind_label(kind)}, l = {largest}: Avg ranked {ranked:.3f}, random "
                         f"{random:.3f} (mean), least {float(least.iloc[0]):.3f} — this {verdict}.")
    return " ".join(parts)


def describe_local_global(lg: dict, similar: float = 0.01) -> str:
    """Which ranking is ahead, and whether the difference is significant, or small enough to call the two
    similar (within ``similar`` of Avg) — "not significant" alone says only that the run cannot tell."""
    diff = lg["global − local (mean)"]
    better = "global" if diff > 0 else "local"
    if lg["p-value"] < 0.05:
        return f"Here {better} ranking is ahead and the difference is significant (p < 0.05), unlike the paper's."
    if abs(diff) <= similar:
        return (f"Here {better} ranking is ahead by {abs(diff):.4f}, not significantly: within ±{similar} of Avg, "
                f"similar, as the paper finds.")
    return (f"Here {better} ranking is ahead by {abs(diff):.4f}, more than ±{similar} of Avg, but not significantly "
            f"with {lg['pairs']} pairs: this run cannot tell the two apart, which is not the same as similar.")


def describe_setup(profile: Profile) -> pd.DataFrame:
    """The §5.1 training settings this page used, next to the paper's."""
    c = profile.correct
    rows = {
        "correction unit": (f"{c.variant}, inner width {unit_width(profile) or 'C'}", "release unit, width 64"),
        "β per layer": ("0.5 (round(β·N·1.0417) filters)" if c.release_count else "0.5 (round(β·N) filters)",
                        "0.5 (48 / 96 of 96 / 192)"),
        "ranking score": (c.score, "paper (mean τ)"),
        "epochs, lr step": (f"{c.correct_epochs}, ÷10 every {c.correct_lr_step}", "40, ÷10 every 10"),
        "batch": (f"{c.correct_batch_size}, half distorted", "250, half distorted"),
        "learning rate": (f"Deepcorr {c.deepcorr_lr:g}, Finetune {c.finetune_lr:g}", "Deepcorr 0.1, Finetune 0.01"),
        "regulariser": (f"L1 {c.l1:g} on unit weights, L2 {c.l2:g} on fine-tuned weights",
                        "λ·R(W) (Eq. 5); the release: L1 1e-5"),
        "Figure 9 draws": (str(c.draws), "10"),
    }
    return pd.DataFrame(rows, index=["this page", "paper"]).T.rename_axis("setting")


def first_layer_size(priorities) -> int:
    """Filters of the first ranked layer (96 for the paper's All-Conv-BN): the pool Figure 9 draws from."""
    return int(priorities.counts[priorities.layers[0]].shape[-1])


def figure9(run: Run, model: nn.Module, data, priorities: Ranking, kinds: tuple[str, ...] = ("blur", "awgn")
            ) -> dict[str, pd.DataFrame]:
    """Figure 9 per kind: Deepcorr-1 on the top-ranked, random (``draws`` each) and least susceptible first-
    layer filters at every size, trained (or read from the store) and measured."""
    names = figure9_names(run.profile, first_layer_size(priorities))
    return {kind: figure9_frame(evaluate_models(run, model, data, priorities, kind, names, progress=False)[0])
            for kind in kinds}


def metrics(profile: Profile, tables: dict[str, pd.DataFrame], versus: pd.DataFrame, table6: pd.DataFrame, lg: dict,
            fig9: dict[str, pd.DataFrame], paired: pd.DataFrame | None = None, training: dict | None = None) -> dict:
    """The page's headline numbers as the JSON its metrics file holds (``metrics.save_metrics``), for tests
    and readers who compare runs."""
    return {"profile": profile.name, "tables": {k: t.drop(columns="# Params") for k, t in tables.items()},
            "params": {k: t["# Params"].to_dict() for k, t in tables.items()},
            "deepcorr_vs_finetune": versus.reset_index().to_dict(orient="records"),
            "table6": table6[["p-value"]].to_dict(), "local_vs_global": lg,
            "figure9": {k: f[["group", "filters", "Avg"]].to_dict(orient="records") for k, f in fig9.items()},
            "table6_rows": table6.reset_index().to_dict(orient="records"),
            "paired": [] if paired is None else paired.to_dict(orient="records"), "training": training or {}}
