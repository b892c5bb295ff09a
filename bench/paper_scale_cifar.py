"""The paper's CIFAR experiment (§5.1, Tables 3–4) as one run: the baseline at the profile's schedule (or
its pretrained weights: --profile resnet20-cifar10), Algorithm 1's ranking of the first six ranked layers
(conv1–conv6 of All-Conv-BN) for blur and AWGN, and the 20 trained models of Tables 3–4 — per kind
Finetune-1, -3, -6, the full fine-tune (Finetune-9 of All-Conv-BN), Deepcorr-1, -3, -6, -1c, -3c, -6c — at
the paper's 40 epochs of batch 250 on the whole training split, each measured on the whole test split with
the baseline beside them.

Every stage goes through the project's store (--results-dir): a killed run starts again where it stopped
(a model being trained resumes from its last epoch's checkpoint), and a finished one prints its tables
from the cache. Prints each stage's wall time as it ends (``cached`` when nothing was computed), then Tables
3–4 beside the paper's rows; writes the tables, the paper's, the wall time per stage and the provenance
(commit, code, data, settings, libraries, machine) as JSON to --out.

--tiny: the same stages on the embedded images at a toy size (6 training images per class, 1 epoch of
everything, the ranking at level 3 only, All-Conv-BN at width 0.25, CPU): the code path in minutes, not the
paper's numbers.

Usage: python bench/paper_scale_cifar.py [--profile cifar100] [--device auto] [--correct-epochs 40]
           [--results-dir results] [--out bench/out/paper_scale_cifar.json] [--set key=value ...] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's package, not an installed one

from deepcorrect.baseline import baseline_model
from deepcorrect.config import Profile, parse_assignments, resolve
from deepcorrect.context import Run
from deepcorrect.corrected_models import evaluate_models
from deepcorrect.distortions import KINDS
from deepcorrect.editions.record import provenance
from deepcorrect.models import build_model
from deepcorrect.paper import correction_table
from deepcorrect.priorities import filter_priorities
from deepcorrect.runtime import exit_cleanly_on_sigterm, keep_freed_memory
from deepcorrect.sections.cifar_analysis import compare_table, table3_models
from deepcorrect.splits import datasets
from deepcorrect.store import Store

#: --tiny's settings on the smoke profile: every stage of the paper-scale run, at a toy size, on the CPU.
TINY = {"train_per_class": 6, "val_per_class": 2, "test_per_class": 3, "epochs": 1, "per_class": 2,
        "levels": "3", "correct_epochs": 1, "correct_lr_step": 1, "correct_batch_size": 20, "device": "cpu"}


@dataclass(frozen=True)
class Plan:
    """What the run computes: the profile, the trained rows of Tables 3–4 and the distortion kinds."""

    profile: Profile
    models: tuple[str, ...]  # Tables 3–4's trained rows, in the paper's order (the Baseline is measured only)
    kinds: tuple[str, ...] = KINDS

    def stages(self) -> list[str]:
        """The stages in the order they run: data, baseline, ranking, then per kind each row of its table."""
        return ["data", "baseline", "ranking",
                *(f"{kind} {name}" for kind in self.kinds for name in ("Baseline", *self.models))]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="cifar100", help="a CIFAR-style profile (default cifar100: the paper's)")
    p.add_argument("--device", default=None, help="cpu | cuda | auto (default: the profile's)")
    p.add_argument("--correct-epochs", type=int, default=40, help="epochs of every trained model (the paper: 40)")
    p.add_argument("--results-dir", default="results", help="artifact store (default results)")
    p.add_argument("--out", default=str(REPO / "bench" / "out" / "paper_scale_cifar.json"))
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="further profile settings")
    p.add_argument("--tiny", action="store_true", help="the smoke profile at a toy size on the CPU")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def make_plan(args: argparse.Namespace) -> Plan:
    """The profile with the run's settings — both kinds ranked, every training and test image, the paper's
    epochs — and the rows of Tables 3–4 for its network."""
    overrides = {"kinds": ",".join(KINDS), "correct_train_per_class": 0, "correct_test_per_class": 0,
                 "correct_epochs": args.correct_epochs, "device": args.device}
    if args.tiny:
        overrides |= TINY
        profile = "smoke"
    else:
        profile = args.profile
    cfg = resolve(profile, **{**overrides, **parse_assignments(args.set)})
    if cfg.data.family != "cifar":
        raise ValueError(f"profile {profile!r} is not CIFAR-style (family {cfg.data.family!r}); "
                         f"Tables 3–4 are CIFAR's")
    net = build_model(cfg.model.arch, 10, cfg.model.width, inputs=cfg.model.inputs, lrn=cfg.model.lrn)
    return Plan(cfg, tuple(name for name in table3_models(net) if name != "Baseline"))


class StageTimes:
    """Wall seconds per stage, each printed as it ends, ``cached`` when the store computed nothing in it."""

    def __init__(self, store: Store, log: Callable[[str], None] = print):
        self.store, self.log, self.seconds = store, log, {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        first, t0 = len(self.store.ledger), time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 2)
        computed = any(entry["computed"] for entry in self.store.ledger[first:])
        self.log(f"{name:28s} {self.seconds[name]:9.1f} s{'' if computed else '  (cached)'}")


def run(plan: Plan, store: Store, times: StageTimes, progress: bool) -> tuple[dict[str, pd.DataFrame], int]:
    """Every stage of ``plan`` through ``store``; Tables 3–4 as measured (kind → table) and the classes."""
    run_ = Run.of(plan.profile, store)
    with times("data"):
        data = datasets(plan.profile)
    with times("baseline"):
        model, _ = baseline_model(run_, data.train, progress)
    with times("ranking"):
        priorities = filter_priorities(run_, model, data, progress)
    tables = {}
    for kind in plan.kinds:
        rows = []
        for name in ("Baseline", *plan.models):
            with times(f"{kind} {name}"):
                rows.append(evaluate_models(run_, model, data, priorities, kind, [name], progress)[0])
        tables[kind] = pd.concat(rows)
    return tables, data.test.num_classes


def summary(plan: Plan, tables: dict[str, pd.DataFrame], seconds: dict[str, float]) -> dict:
    """The run's record: its tables beside the paper's, the wall time per stage and what made them."""
    return {"profile": plan.profile.name, "models": list(plan.models), "stage_seconds": seconds,
            "total_seconds": round(sum(seconds.values()), 1),
            "tables": {kind: t.to_dict(orient="index") for kind, t in tables.items()},
            "paper": {kind: correction_table(kind).to_dict(orient="index") for kind in tables},
            "provenance": provenance(REPO, plan.profile)}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    plan = make_plan(args)
    keep_freed_memory()
    exit_cleanly_on_sigterm()
    store = Store(args.results_dir)
    times = StageTimes(store)
    print(f"{plan.profile.name}: {len(plan.stages())} stages, {len(plan.models) * len(plan.kinds)} trained models "
          f"at {plan.profile.correct.correct_epochs} epochs")
    tables, num_classes = run(plan, store, times, progress=not args.quiet)
    for kind, table in tables.items():
        print(f"\nTable {3 if kind == 'blur' else 4} ({kind}), measured beside the paper's:")
        print(compare_table(table, kind, num_classes).to_string())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary(plan, tables, times.seconds), indent=1, default=str) + "\n")
    print(f"\nwall time {sum(times.seconds.values()):.1f} s; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
