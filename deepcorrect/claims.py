"""The paper's claims, one row each, decided from a run's numbers: the scoreboard and every page's verdicts.

Each claim reads the metrics pages save (``results/metrics/<page>.json``, the same numbers an edition keeps)
and returns :class:`Verdict` rows — the paper's number, the measured one with its uncertainty, the verdict
and the test that decides it — so the front page's scoreboard and the pages' closing findings are one
computation and never disagree. The decisions follow the project's rule: two single trained models on the
same test images by the exact sign test over images of their paired predictions (McNemar's test for one
column); methods over training seeds by a paired t-test; a smoke budget, or trained models that end below the
untouched baseline, decide nothing ("code path only").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from .paper import correction_table
from .tables import format_value
from .statistics import ALPHA, CODE_PATH_ONLY, FAILS, HOLDS, UNDECIDED, binomial_interval, paired_ttest, verdict

#: Profiles whose budget only exercises the code: their numbers decide no claim.
SMOKE_PROFILES = ("smoke", "smoke-alexnet")
LEVELS = [f"Level {i}" for i in range(1, 7)]
KIND_NAMES = {"blur": "blur", "awgn": "AWGN"}
NOT_MEASURED = "not measured"

Metrics = Mapping[str, dict]  # page id → that page's metrics


@dataclass(frozen=True)
class Verdict:
    claim: str  # the claim's number (1–17, B)
    kind: str  # blur / AWGN / both
    paper: str
    measured: str
    verdict: str  # holds / fails / undecided / code path only / not measured
    test: str


@dataclass(frozen=True)
class Claim:
    number: str
    text: str
    where: str
    pages: tuple[str, ...]  # the pages whose metrics decide it
    decide: Callable[[Metrics], list[Verdict]] | None
    paper: str = ""  # the paper's own numbers, shown where no run decides the claim


def _smoke(metrics: Metrics) -> bool:
    return any(m.get("profile") in SMOKE_PROFILES for m in metrics.values())


CODE_PATH_SENTENCE = ("**Code path only.** Profile `{profile}` has a smoke budget: its models train a few dozen "
                      "steps on a synthetic task, so its numbers show that the code runs, not whether the paper "
                      "holds. The verdicts are in this page's *At scale* section and on the front page's "
                      "scoreboard, computed from the recorded editions.")


def guard(profile: str, text: str) -> str:
    """``text`` (a verdict in words) where the run can decide; the code-path-only sentence where it cannot."""
    return CODE_PATH_SENTENCE.format(profile=profile) if profile in SMOKE_PROFILES else text


def banner(profile: str) -> str:
    """The code-path-only sentence as a quote at the top of a page whose run cannot decide (so that no table
    is read as evidence before the reader reaches the verdicts); empty where the run decides."""
    return "> " + guard(profile, "") if profile in SMOKE_PROFILES else ""


def _p(p: float) -> str:
    """A p-value as the book's tables print it (1.4e-04, never 0.00014)."""
    return format_value(p, "p-value")


def _kinds(per_kind: dict) -> list[tuple[str, object]]:
    """(kind, value) in the paper's order: blur, then AWGN."""
    return sorted(per_kind.items(), key=lambda kv: list(KIND_NAMES).index(kv[0]) if kv[0] in KIND_NAMES else 9)


# -- Tables 1–2 ---------------------------------------------------------------------------------------------

def baseline_loss(metrics: Metrics) -> list[Verdict]:
    """Claim 1: clean → Avg per kind, with exact binomial intervals on the test images."""
    m = metrics["distortions_baselines"]
    n = int(m.get("n_test", 0))
    out = []
    for kind, row in _kinds(m["tables"]):
        paper, paper_clean = (correction_table(kind)[c]["Baseline"] for c in ("Avg", "Clean"))
        clean, avg = row["Clean"], row["Avg"]
        lo_c, _ = binomial_interval(round(clean * n), n)
        _, hi_a = binomial_interval(round(avg * n), n)
        drop = 1 - avg / clean if clean else float("nan")
        decided = HOLDS if lo_c > hi_a and drop >= 0.25 else FAILS if drop < 0.1 else UNDECIDED
        out.append(Verdict("1", KIND_NAMES[kind], f"Avg {paper:.4f} from clean {paper_clean:.4f} (−{1 - paper / paper_clean:.0%})",
                           f"Avg {avg:.4f} from clean {clean:.4f} (−{drop:.0%}; {n:,} images)",
                           CODE_PATH_ONLY if _smoke(metrics) else decided,
                           "holds: clean's 95 % interval above Avg's and a loss ≥ 25 %; fails below 10 %"))
    return out


# -- Figures 4–5 --------------------------------------------------------------------------------------------

def _levels(row: dict) -> np.ndarray:
    return np.array([row[c] for c in LEVELS], float)


def first_layer_share(metrics: Metrics) -> list[Verdict]:
    """Claim 2: the share of the loss over levels 1–6 that ideally correcting the top 25 % of conv1 regains."""
    m = metrics["ranking"]
    rows = m["figure4"]
    out = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        by = {r["selection"]: r for r in rows if r["kind"] == kind}
        if "none" not in by or "β₁=25%" not in by:
            continue
        lost = by["none"]["Clean"] - _levels(by["none"])
        share = float((_levels(by["β₁=25%"]) - _levels(by["none"])).sum() / max(lost.sum(), 1e-9))
        out.append(Verdict("2", KIND_NAMES[kind], "\"a large part\" (≥ 50 %)",
                           f"{share:.0%} of the loss regained ({m.get('n_images', '?')} ranking images)",
                           CODE_PATH_ONLY if _smoke(metrics) else HOLDS if share >= 0.5 else FAILS,
                           "share of the accuracy lost over levels 1–6 regained; \"large part\" read as ≥ 50 %"))
    return out


@dataclass(frozen=True)
class DepthTrend:
    """Figure 5 for one kind: the gain of ideally correcting each single layer (mean top-1 over levels 1–6
    above the uncorrected network's, in forward order) and Spearman's ρ of that gain with depth."""
    layers: tuple[str, ...]
    gains: tuple[float, ...]
    rho: float
    p: float

    @property
    def best_index(self) -> int:
        return int(np.argmax(self.gains))

    @property
    def best(self) -> str:
        return self.layers[self.best_index]


def depth_trends(figure5: list[dict], figure4: list[dict]) -> dict[str, DepthTrend]:
    """Per kind, Figure 5's :class:`DepthTrend`; the uncorrected reference is Figure 4's ``none`` row (both
    figures are measured on the same test images). The page's sentence, its gain-by-depth panel and claim 3
    read this one computation."""
    none = {r["kind"]: _levels(r) for r in figure4 if r["selection"] == "none"}
    trends = {}
    for kind in dict.fromkeys(r["kind"] for r in figure5):
        layers = [r for r in figure5 if r["kind"] == kind]
        gains = np.array([(_levels(r) - none[kind]).mean() for r in layers])
        rho, p = spearmanr(np.arange(len(gains)), gains) if len(gains) > 2 else (float("nan"), 1.0)
        trends[kind] = DepthTrend(tuple(r["selection"] for r in layers), tuple(gains.tolist()), float(rho), float(p))
    return trends


def best_layer(metrics: Metrics) -> list[Verdict]:
    """Claim 3: the best single layer is the first and the gain falls with depth (Spearman ρ < 0)."""
    m = metrics["ranking"]
    out = []
    for kind, trend in depth_trends(m["figure5"], m["figure4"]).items():
        first = trend.best == trend.layers[0]
        decided = (HOLDS if first and trend.rho < 0 and trend.p < ALPHA
                   else FAILS if not first and trend.rho > 0 and trend.p < ALPHA else UNDECIDED)
        out.append(Verdict("3", KIND_NAMES[kind], "conv-1 best, gain falls with depth",
                           f"best {trend.best}; Spearman ρ = {trend.rho:+.2f} (p = {_p(trend.p)}) over "
                           f"{len(trend.gains)} layers",
                           CODE_PATH_ONLY if _smoke(metrics) else decided,
                           "holds: the first layer best and ρ < 0 significantly; fails: another best and ρ > 0"))
    return out


# -- Tables 3–4 ---------------------------------------------------------------------------------------------

def _paired(metrics: Metrics, kind: str, first: str, second: str) -> dict | None:
    for r in metrics["deepcorrect_cifar"].get("paired", []):
        if r["kind"] == kind and r["first"] == first and r["second"] == second:
            return r
    return None


def _below_baseline(table: dict, *names: str) -> bool:
    base = table.get("Baseline", {}).get("Avg", -math.inf)
    return all(table[n]["Avg"] < base for n in names if n in table)


def _single_model(metrics: Metrics, kind: str, first: str, second: str, expected: int, claim: str,
                  paper: str) -> Verdict | None:
    table = metrics["deepcorrect_cifar"]["tables"][kind]
    pair = _paired(metrics, kind, first, second)
    if pair is None:
        return None
    steps = metrics["deepcorrect_cifar"].get("training", {}).get("steps")
    n_img = pair["images first ahead"] + pair["images second ahead"]
    measured = (f"{first} {pair['first Avg']:.4f} vs {second} {pair['second Avg']:.4f} "
                f"({pair['difference']:+.4f}, 95 % interval ± {1.96 * pair.get('se (images)', float('nan')):.4f})")
    decided = verdict(pair["difference"], pair["p (images)"], expected_sign=expected)
    if _smoke(metrics) or _below_baseline(table, first, second):
        decided = CODE_PATH_ONLY
    return Verdict(claim, KIND_NAMES[kind], paper, measured, decided,
                   f"exact sign test over images ({n_img:,} untied), p = {_p(pair['p (images)'])}; one training "
                   f"seed{f', {steps:,} steps' if steps else ''}")


def few_layers(metrics: Metrics) -> list[Verdict]:
    """Claim 5: fine-tuning a few layers falls short of fine-tuning all (Finetune-1 and -3 below the full)."""
    out = []
    for kind, table in _kinds(metrics["deepcorrect_cifar"]["tables"]):
        full = _full(table)
        paper = correction_table(kind)["Avg"]
        for k in (1, 3):
            ratio = paper[f"Finetune-{k}"] / paper["Finetune-9"]
            row = _single_model(metrics, kind, f"Finetune-{k}", full, -1, "5", f"{ratio:.0%} of Finetune-9")
            if row:
                mine = table[f"Finetune-{k}"]["Avg"] / table[full]["Avg"]
                out.append(Verdict(row.claim, row.kind, row.paper, f"{mine:.0%} of {full}: " + row.measured,
                                   row.verdict, row.test))
    return out


def _full(table: dict) -> str:
    return next(n for n in table if n.startswith("Finetune-") and n not in ("Finetune-1", "Finetune-3", "Finetune-6"))


def deepcorr_beats_finetune(metrics: Metrics) -> list[Verdict]:
    """Claim 6: Deepcorr-k ahead of Finetune-k for k = 1, 3, 6, per kind."""
    out = []
    for kind, _ in _kinds(metrics["deepcorrect_cifar"]["tables"]):
        paper = correction_table(kind)["Avg"]
        for k in (1, 3, 6):
            gain = paper[f"Deepcorr-{k}"] / paper[f"Finetune-{k}"] - 1
            row = _single_model(metrics, kind, f"Deepcorr-{k}", f"Finetune-{k}", +1, "6", f"k={k}: {gain:+.0%}")
            if row:
                out.append(row)
    return out


def _versus(metrics: Metrics, kind: str, k: int) -> dict | None:
    for r in metrics["deepcorrect_cifar"]["deepcorr_vs_finetune"]:
        if r["kind"] == kind and r["k"] == k:
            return r
    return None


def beats_full_finetune(metrics: Metrics) -> list[Verdict]:
    """Claim 7: Deepcorr-6c ahead of the full fine-tune with fewer trainable parameters — over training seeds
    where page 04 ran them, else as two single models."""
    out = []
    seeded = metrics.get("what_the_gain_consists_of", {}).get("avg_by_seed")
    for kind, table in _kinds(metrics["deepcorrect_cifar"]["tables"]):
        paper = correction_table(kind)
        full = _full(table)
        params = metrics["deepcorrect_cifar"]["params"][kind]
        ratio = params["Deepcorr-6c"] / params[full]
        paper_text = (f"{paper['Avg']['Deepcorr-6c']:.4f} vs {paper['Avg']['Finetune-9']:.4f}; "
                      f"{paper['# Params']['Deepcorr-6c'] / paper['# Params']['Finetune-9']:.2f}× the parameters")
        if seeded and kind in seeded and {"Deepcorr-6c", full} <= set(seeded[kind]):
            a, b = (np.array(seeded[kind][n], float) for n in ("Deepcorr-6c", full))
            keep = np.isfinite(a) & np.isfinite(b)
            t, p = paired_ttest(a[keep], b[keep])
            diff = float((a[keep] - b[keep]).mean())
            decided = CODE_PATH_ONLY if _smoke(metrics) else verdict(diff, p) if ratio < 1 else FAILS
            out.append(Verdict("7", KIND_NAMES[kind], paper_text,
                               f"{a[keep].mean():.4f} vs {b[keep].mean():.4f} ({diff:+.4f}) over {keep.sum()} seeds; "
                               f"{ratio:.2f}× the parameters", decided,
                               f"paired t-test over {keep.sum()} training seeds (page 04), p = {_p(p)}"))
            continue
        row = _single_model(metrics, kind, "Deepcorr-6c", full, +1, "7", paper_text)
        if row:
            out.append(Verdict(row.claim, row.kind, row.paper, row.measured + f"; {ratio:.2f}× the parameters",
                               row.verdict if ratio < 1 or row.verdict == CODE_PATH_ONLY else FAILS, row.test))
    return out


def global_vs_local(metrics: Metrics) -> list[Verdict]:
    """Claim 8: global ≈ local (Table 5): "similar" only where the 95 % interval of the difference lies within
    ±0.01 of Avg; a significant difference fails; anything else is undecided (too few images)."""
    out = []
    for kind, table in _kinds(metrics["deepcorrect_cifar"]["tables"]):
        pair = _paired(metrics, kind, "Deepcorr-6c-global", "Deepcorr-6c")
        if pair is None:
            continue
        half = 1.96 * pair.get("se (images)", float("nan"))
        lo, hi = pair["difference"] - half, pair["difference"] + half
        decided = (FAILS if pair["p (images)"] < ALPHA else HOLDS if -0.01 <= lo and hi <= 0.01 else UNDECIDED)
        if _smoke(metrics) or _below_baseline(table, "Deepcorr-6c-global", "Deepcorr-6c"):
            decided = CODE_PATH_ONLY
        out.append(Verdict("8", KIND_NAMES[kind], "global marginally ahead, not significant (p = 0.2151)",
                           f"global − local {pair['difference']:+.4f}, 95 % interval [{lo:+.4f}, {hi:+.4f}]",
                           decided, f"exact sign test over images, p = {_p(pair['p (images)'])}; similar = interval "
                                    "within ±0.01"))
    return out


def ranked_vs_random(metrics: Metrics) -> list[Verdict]:
    """Claim 9: ranked filters ahead of random ones at every size (over random draws), least the worst."""
    m = metrics["deepcorrect_cifar"]
    rows = m.get("table6_rows", [])
    if not rows:
        return []
    ahead = sum(r["ranked − random (mean)"] > 0 and r["p-value"] < ALPHA for r in rows)
    behind = sum(r["ranked − random (mean)"] < 0 and r["p-value"] < ALPHA for r in rows)
    least_worst = all(_least_below(group) for group in m["figure9"].values())
    decided = HOLDS if ahead == len(rows) and least_worst else FAILS if behind or not least_worst else UNDECIDED
    if _smoke(metrics):
        decided = CODE_PATH_ONLY
    return [Verdict("9", "blur + AWGN", "ranked > random at every size (p < 0.05); least the worst",
                    f"ranked significantly ahead at {ahead} of {len(rows)} sizes, behind at {behind}; least "
                    f"{'below' if least_worst else 'not below'} both", decided,
                    "paired t-test over random draws per size (Table 6)")]


def _least_below(group: list[dict]) -> bool:
    avg = {g["group"]: g["Avg"] for g in group}
    least = [v for k, v in avg.items() if k.startswith("least")]
    others = [v for k, v in avg.items() if not k.startswith("least")]
    return bool(least) and max(least) < min(others)


def clean_kept(metrics: Metrics) -> list[Verdict]:
    """Claim 17: no corrected model significantly below the baseline on clean images by more than 0.01."""
    out = []
    for kind, _ in _kinds(metrics["deepcorrect_cifar"]["tables"]):
        rows = [r for r in metrics["deepcorrect_cifar"].get("paired", []) if r["kind"] == kind
                and r["second"] == "Baseline" and r["first"].startswith("Deepcorr")]
        if not rows:
            continue
        worse = [r["first"] for r in rows if r["clean difference"] < -0.01 and r["p (clean, McNemar)"] < ALPHA]
        worst = min(rows, key=lambda r: r["clean difference"])
        out.append(Verdict("17", KIND_NAMES[kind], "\"a very good performance on clean images\"",
                           (f"largest clean drop {worst['first']} {worst['clean difference']:+.4f}"
                            if worst["clean difference"] < 0 else
                            f"no Deepcorr model below the baseline on clean images (smallest change "
                            f"{worst['first']} {worst['clean difference']:+.4f})")
                           + f"; significantly worse: {', '.join(worse) or 'none'}",
                           CODE_PATH_ONLY if _smoke(metrics) else FAILS if worse else HOLDS,
                           "McNemar's exact test on the clean column against the untouched baseline"))
    return out


def bn_share(metrics: Metrics) -> list[Verdict]:
    """Beyond the paper: the share of Deepcorr-6's gain that BN statistics alone give, and whether the units
    add significantly more (over training seeds)."""
    m = metrics["what_the_gain_consists_of"]
    out = []
    for kind, share in _kinds(m.get("share_from_bn_statistics", {})):
        seeded = m.get("avg_by_seed", {}).get(kind, {})
        if {"Deepcorr-6", "BN-adapt"} - set(seeded):
            continue
        a, b = (np.array(seeded[n], float) for n in ("Deepcorr-6", "BN-adapt"))
        keep = np.isfinite(a) & np.isfinite(b)
        t, p = paired_ttest(a[keep], b[keep])
        diff = float((a[keep] - b[keep]).mean())
        share_text = f"{share:.0%}" if share is not None and np.isfinite(share) else "— (Deepcorr-6 gains nothing)"
        out.append(Verdict("B", KIND_NAMES[kind], "—", f"BN statistics alone give {share_text} of Deepcorr-6's gain; "
                           f"Deepcorr-6 − BN-adapt {diff:+.4f} over {keep.sum()} seeds",
                           CODE_PATH_ONLY if _smoke(metrics) else
                           {HOLDS: "units add more", FAILS: "BN-adapt ahead", UNDECIDED: UNDECIDED}[verdict(diff, p)],
                           f"paired t-test over {keep.sum()} training seeds, p = {_p(p)}"))
    return out


#: Claim C: the family of corruptions each of the paper's distortions belongs to (CIFAR-10-C's grouping).
TRANSFER_FAMILY = {"blur": "blur", "awgn": "noise"}


def carries_over(metrics: Metrics) -> list[Verdict]:
    """Beyond the paper: whether Deepcorr-6c trained for Gaussian blur (AWGN) has fewer errors than the
    baseline on the other blurs (noises) of the 15-corruption benchmark — the exact sign test over images."""
    m = metrics["beyond_blur_and_noise"]
    rows = {(r["model"], r["family"]): r for r in m.get("transfer_tests", [])}
    out = []
    for kind, family in TRANSFER_FAMILY.items():
        r = rows.get((f"Deepcorr-6c ({kind})", family))
        if r is None:
            continue
        d, se, p = r["Δ error (points)"], r["std. error"], r["p-value"]
        decided = verdict(d, p, expected_sign=-1)
        whole = rows.get((f"Deepcorr-6c ({kind})", "all"))  # is the gain the family's, or general?
        beside = f"; on all {whole['corruptions']}: {whole['Δ error (points)']:+.1f}" if whole else ""
        out.append(Verdict("C", KIND_NAMES[kind], "—",
                           f"Deepcorr-6c ({KIND_NAMES[kind]}) on the {family} corruptions: error {d:+.1f} (s.e. "
                           f"{se:.1f}) points against the baseline{beside} ({r['images']:,} images × 5 severities)",
                           CODE_PATH_ONLY if _smoke(metrics) else decided,
                           f"exact sign test over images, p = {_p(p)}"))
    return out


def held_out_gain(metrics: Metrics) -> list[Verdict]:
    """Beyond the paper: whether Deepcorr-6c trained on a mix of four corruptions has fewer errors than the
    baseline on the eleven it never saw (all severities) — the exact sign test over images."""
    m = metrics["beyond_blur_and_noise"]
    r = next((r for r in m.get("held_out_tests", []) if r["model"] == "Deepcorr-6c (mix)" and r["family"] == "all"),
             None)
    if r is None:
        return []
    d, se, p = r["Δ error (points)"], r["std. error"], r["p-value"]
    return [Verdict("D", "mix", "—", f"Deepcorr-6c trained on {', '.join(m.get('training_mix', []))}: error "
                    f"{d:+.1f} (s.e. {se:.1f}) points against the baseline on the {r['corruptions']} held-out "
                    f"corruptions ({r['images']:,} images × 5 severities)",
                    CODE_PATH_ONLY if _smoke(metrics) else verdict(d, p, expected_sign=-1),
                    f"exact sign test over images, p = {_p(p)}")]


CLAIMS: tuple[Claim, ...] = (
    Claim("1", "Networks trained on clean images perform poorly on blurred and noisy ones", "Tables 1–2",
          ("distortions_baselines",), baseline_loss),
    Claim("2", "Correcting the top 25 % of conv-1 recovers a large part of the loss", "§4.1, Figure 4",
          ("ranking",), first_layer_share),
    Claim("3", "The first layer is the best to correct; the gain falls with depth", "§4.1, Figure 5",
          ("ranking",), best_layer),
    Claim("4", "Blur-susceptible conv-1 filters are colour-agnostic edges", "§4.1, Figure 6", (), None, paper="qualitative (AlexNet)"),
    Claim("5", "Fine-tuning a few layers is insufficient", "§5.1.1, Tables 3–4", ("deepcorrect_cifar",), few_layers),
    Claim("6", "Deepcorr-k beats Finetune-k for k = 1, 3, 6", "§5.1.2, Tables 3–4", ("deepcorrect_cifar",),
          deepcorr_beats_finetune),
    Claim("7", "Deepcorr-6c beats the full fine-tune with fewer trainable parameters", "Tables 3–4",
          ("deepcorrect_cifar",), beats_full_finetune),
    Claim("8", "Global ranking ≈ local (marginally better, not significant)", "Table 5", ("deepcorrect_cifar",),
          global_vs_local),
    Claim("9", "Ranked filters beat random ones; the least susceptible are worst", "Figure 9, Table 6",
          ("deepcorrect_cifar",), ranked_vs_random),
    Claim("10", "On ImageNet, Deepcorr-5 beats Finetune-8 with 95 % fewer parameters", "§5.2, Tables 7–8",
          ("imagenet_alexnet",), None, paper="Avg Deepcorr-5 0.5071 / 0.5092 vs Finetune-8 0.4596 / 0.4894 (blur / AWGN)"),
    Claim("11", "Deepcorr-5 beats restoration (NCSR, BM3D)", "Tables 7–8", ("imagenet_alexnet",), None, paper="NCSR Avg 0.2193 (blur), BM3D 0.5032 (AWGN)"),
    Claim("12", "Deepcorr-5 beats Finetune-8 on most classes", "Figure 11", ("imagenet_alexnet",), None, paper="better on 865 / 707 of 1,000 classes (blur / AWGN)"),
    Claim("13", "Deepcorr-5's features stay clustered under distortion", "Figures 2, 10", ("imagenet_alexnet",), None, paper="qualitative"),
    Claim("14", "Lite and bottleneck units keep the accuracy with far fewer parameters", "Tables 10–12",
          ("imagenet_alexnet",), None, paper="lite: 41 % fewer parameters; bottleneck: ≈ 99 % of the accuracy, 63 % fewer parameters, 73 % fewer FLOPs"),
    Claim("15", "Deepcorr-5 variants reach a higher validation accuracy sooner", "Figure 12", ("imagenet_alexnet",),
          None, paper="curves"),
    Claim("16", "Deepcorr-5's features transfer better than Finetune-8's", "§5.3, Tables 13–15", ("transfer",), None, paper="Caltech-101 +8.5 % / +4.2 % relative (blur / AWGN)"),
    Claim("17", "DeepCorrect keeps a very good performance on clean images", "Conclusion", ("deepcorrect_cifar",),
          clean_kept),
    Claim("B", "Beyond the paper: how much of the gain BN statistics alone give", "page 04",
          ("what_the_gain_consists_of",), bn_share),
    Claim("C", "Beyond the paper: a correction for blur (noise) carries over to the other blurs (noises)",
          "page 05", ("beyond_blur_and_noise",), carries_over),
    Claim("D", "Beyond the paper: DeepCorrect trained on four corruptions helps on the eleven held out",
          "page 05", ("beyond_blur_and_noise",), held_out_gain),
)


def decide(claim: Claim, metrics: Metrics) -> list[Verdict]:
    """The claim's rows on ``metrics``; one "not measured" row where its pages are absent or it has no
    measurable proxy here."""
    if claim.decide is None or not claim.pages or any(p not in metrics for p in claim.pages):
        return [Verdict(claim.number, "—", claim.paper or "—", "—", NOT_MEASURED, "no page of this run decides it")]
    rows = claim.decide(metrics)
    return rows or [Verdict(claim.number, "—", "—", "—", NOT_MEASURED, "the run has none of the models it compares")]


def page_verdicts(page: str, metrics: Metrics) -> list[tuple[Claim, Verdict]]:
    """Every claim decided by ``page`` (and the pages it reads), in the paper's order."""
    return [(c, v) for c in CLAIMS if page in c.pages for v in decide(c, metrics)]
