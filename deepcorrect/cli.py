"""The ``deepcorrect`` command: build the book, train and evaluate baselines, list profiles.

Bad input (unknown profile or parameter, missing dataset, corrupt checkpoint) prints one line starting with
``error:`` and exits with status 2, having written nothing; a doubtful but legitimate setting prints one line
starting with ``warning:`` and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import warnings
from pathlib import Path

from . import __version__, kinds
from .config import PROFILES, named_profile, override_keys, parse_assignments, parse_value, resolve
from .distortions import KINDS, kind_label
from .paper import alexnet_table, correction_table
from .runtime import exit_cleanly_on_sigterm, keep_freed_memory, one_line_warnings
from .files import atomic_write

EPILOG = """examples:
  deepcorrect book                                  # every notebook on the embedded 'smoke' profile, then the book
  deepcorrect book --profile cifar10-jpg -p epochs=5
  deepcorrect baseline --profile smoke -p width=0.5 # train (or load) and print Tables 1-2
  deepcorrect rank --profile smoke --out ranking.csv # correction priority of every filter (Algorithm 1)
  deepcorrect correct --model Deepcorr-6c --kind blur # train correction units, print its row of Table 3
  deepcorrect correct --model BN-adapt TENT Deepcorr-6-release-adapt   # page 04's baselines and the release
  deepcorrect finetune --k 9 --kind awgn            # fine-tune the first 9 conv layers, print its row of Table 4
  deepcorrect profiles                              # the named profiles and their settings
  deepcorrect record --profile resnet20-cifar10 --only 01 02   # record pages as an edition the book shows

several processes (GPUs, or CPU processes with gloo): torchrun starts one per device and DDP trains them on
slices of the same global batch; ranking splits every layer's filters among them. Rank 0 writes and prints:
  torchrun --nproc_per_node 8 -m deepcorrect correct --profile cifar100 --model Deepcorr-6c
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # here and in the notebook kernels this command starts (see deepcorrect.runtime)
    exit_cleanly_on_sigterm()  # a terminated run cleans up after itself
    one_line_warnings()
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args.group = _join_torchrun(args)
            quiet = args.group is not None and not args.group.is_main  # rank 0 alone prints and writes
            with open(os.devnull, "w") if quiet else contextlib.nullcontext(sys.stdout) as out, \
                    contextlib.redirect_stdout(out):
                return args.func(args)
    # OSError: missing files, permissions, a full disk; ArithmeticError: a training run that diverged
    except (ValueError, OSError, RuntimeError, ArithmeticError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    finally:
        if getattr(args, "group", None) is not None:
            import torch.distributed

            torch.distributed.destroy_process_group()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one ``warning:`` line, without the source line Python prints under it."""
    print(f"warning: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes (an invalid ``--kind``, a missing value) as one ``error:`` line, exit status 2, like every
    other bad input; ``--help`` still shows the usage."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _join_torchrun(args: argparse.Namespace):
    """The process group when torchrun started this process (its environment names a world of > 1), on the
    backend the run's device needs."""
    from . import distributed as dd

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    if args.command not in _DISTRIBUTED:
        raise ValueError(f"'{args.command}' runs in one process; under torchrun use one of {', '.join(_DISTRIBUTED)}")
    return dd.from_torchrun(os.environ, _resolve_cli(args).device)


_DISTRIBUTED = ("baseline", "rank", "correct", "finetune")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deepcorrect", description=__doc__.splitlines()[0], epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"deepcorrect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _book_command(sub)

    _edition_commands(sub)

    base = sub.add_parser("baseline", help="train (or load) the baseline and print Tables 1-2",
                          description="Train the profile's baseline on clean images (cached, resumable) and "
                                      "print its top-1 per distortion level next to the paper's.")
    _common(base)
    base.set_defaults(func=_cmd_baseline)

    rank = sub.add_parser("rank", help="rank the baseline's filters by correction priority (Algorithm 1)",
                          description="Compute τ(i, j) for every filter of the ranked layers, per distortion "
                                      "kind and level, on the profile's ranking set (cached), and write one row "
                                      "per (kind, layer, filter) as CSV or JSON.")
    _common(rank)
    rank.add_argument("--out", default="ranking.csv", help="output file, .csv or .json (default: ranking.csv)")
    rank.add_argument("--score", choices=("paper", "release"), default="paper",
                      help="paper: mean τ over levels (Eq. 1); release: mean relative error reduction")
    rank.set_defaults(func=_cmd_rank)

    corr = sub.add_parser("correct", help="train DeepCorrect correction units and print their accuracy table",
                          description="Rank the baseline's filters (cached), attach correction units to the "
                                      "top-ranked ones, train them on half-distorted batches (cached, resumable) "
                                      "and print top-1 per level next to the paper's Table 3/4 row.")
    _common(corr)
    corr.add_argument("--model", nargs="+", default=["Deepcorr-6c"], metavar="NAME",
                      help="Deepcorr-K, Deepcorr-Kc, Deepcorr-Kc-global, Deepcorr-K-release (the release's exact "
                           "unit), ranked.L, random.L#T or least.L, any of them ending in -adapt (the base "
                           "network's BNs adapt, as in the release), or a baseline with no unit: BN-adapt, TENT, "
                           "Finetune-BN (default Deepcorr-6c); several names train one after the other")
    _table_output(corr)

    ft = sub.add_parser("finetune", help="fine-tune the first k conv layers and print their accuracy table",
                        description="Fine-tune the first k conv layers (and their BN) of the baseline on "
                                    "half-distorted batches (cached, resumable) and print top-1 per level next "
                                    "to the paper's Table 3/4 row.")
    _common(ft)
    ft.add_argument("--k", type=int, nargs="+", default=[9], help="conv layers to fine-tune (default 9: all)")
    _table_output(ft)

    check = sub.add_parser("check-book", help="screenshot every built page in headless Chromium and check it",
                           description="Fail on a broken image, an empty table or a visible traceback in "
                                       "_build/html; save one screenshot per page in check-book/.")
    check.add_argument("--out", default="check-book", help="screenshot folder (default: check-book)")
    check.set_defaults(func=_cmd_check_book)

    prof = sub.add_parser("profiles", help="list the named profiles and the override keys")
    prof.set_defaults(func=_cmd_profiles)
    return parser


def _book_command(sub) -> None:
    """book: execute the pages and build the HTML."""
    book = sub.add_parser("book", help="execute the notebooks with papermill and build the Jupyter Book",
                          description="Execute every notebook (or --only some) with papermill into book/, "
                                      "reusing unchanged ones, then run 'jupyter-book build book/'.")
    _common(book)
    book.add_argument("--only", nargs="+", metavar="NN", help="run only notebooks whose name starts with these")
    book.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build the HTML")
    book.add_argument("--strict", action="store_true", help="fail the build on Sphinx warnings (-W -n)")
    book.add_argument("--force", action="store_true", help="re-execute notebooks even if unchanged")
    book.add_argument("--jobs", type=int, default=1, metavar="N",
                      help="run up to N notebooks at once, each as soon as the pages whose results it reuses have "
                           "finished (02 after 01; 03-05 after 02; 07 after 06); default 1")
    book.set_defaults(func=_cmd_book)


def _edition_commands(sub) -> None:
    """record, check-editions and scoreboard: the commands of the recorded editions."""
    rec = sub.add_parser("record", help="run pages of a profile and record their numbers as an edition",
                         description="Run the chosen pages of a profile as scripts (no Jupyter needed) and write "
                                     "their metrics and provenance to editions/NAME.json, which the book shows.")
    _common(rec)
    rec.add_argument("--only", nargs="+", metavar="NN", help="pages to record (default: all), e.g. 01 02 03 04")
    rec.add_argument("--name", help="edition name (default: the profile's)")
    rec.add_argument("--editions", default="editions", help="folder of the edition files (default: editions)")
    rec.set_defaults(func=_cmd_record)

    chk = sub.add_parser("check-editions", help="recompute a cheap slice of every recorded edition and compare",
                         description="For each edition whose data and weights are present, recompute a cheap "
                                     "deterministic slice (the baseline's Tables 1-2, the first layer's ranking) "
                                     "and fail when it no longer equals the record.")
    chk.add_argument("--editions", default="editions", help="folder of the edition files (default: editions)")
    chk.set_defaults(func=_cmd_check_editions)

    board = sub.add_parser("scoreboard", help="print the paper's claims as decided by the recorded editions",
                           description="The scoreboard of the book's front page, from editions/*.json.")
    board.add_argument("--editions", default="editions", help="folder of the edition files (default: editions)")
    board.add_argument("--update-readme", metavar="README", help="rewrite this file's scoreboard block instead")
    board.set_defaults(func=_cmd_scoreboard)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="smoke", help=f"named profile ({', '.join(PROFILES)}); default smoke")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable), e.g. -p width=0.5 -p epochs=3")
    p.add_argument("--results", default="results", help="artifact store folder (default: results)")
    p.add_argument("--fresh", action="store_true", help="recompute cached artifacts instead of reusing them")


def _print_table(table, kind: str, cfg) -> None:
    """One measured table, with the paper's rows beneath it where the paper has the kind (Tables 3–4, 7–8)."""
    imagenet = cfg.data.family == "imagenet"
    if kind not in KINDS:
        print(f"\n{kind_label(kind, full=True)} (profile {cfg.name}; measured, severities 1-5; not in the paper)")
        print(table.round(4).to_string())
        return
    paper = (alexnet_table if imagenet else correction_table)(kind).reindex(table.index).dropna(how="all")
    number = {("blur", False): 3, ("awgn", False): 4, ("blur", True): 7, ("awgn", True): 8}[kind, imagenet]
    print(f"\nTable {number} - {kind_label(kind, full=True)} (profile {cfg.name}; "
          f"measured, then the paper's {'ImageNet' if imagenet else 'CIFAR-100'} rows)")
    print(table.round(4).to_string())
    if len(paper):
        print(paper.round(4).to_string())


def _kind(text: str) -> str:
    """``--kind``'s type: a kind of :mod:`deepcorrect.kinds`, refused in one line otherwise."""
    try:
        return kinds.check(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _table_output(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that train models and print their rows of Tables 3-4."""
    p.add_argument("--kind", type=_kind, nargs="+", default=list(KINDS), metavar="KIND",
                   help=f"blur, awgn (default both), a corruption ({', '.join(kinds.SINGLE_KINDS[2:])}) or a "
                        "mix of one sort joined by '+' (gaussian_noise+defocus_blur)")
    p.add_argument("--out", help="also write the table to this .csv file")
    p.set_defaults(func=_cmd_correct)


def _cmd_book(args: argparse.Namespace) -> int:
    from .book import build_book, run_notebooks

    repo = Path.cwd()
    named_profile(args.profile)  # an unknown profile fails before anything runs
    params = {k: parse_value(v) for k, v in parse_assignments(args.param).items()}
    params.update(results_dir=args.results, fresh=args.fresh)
    from .store import check_writable

    check_writable(args.results, "results folder")
    try:
        run_notebooks(repo, args.profile, params, force=args.force or args.fresh, only=args.only, jobs=args.jobs)
    except Exception as err:
        if type(err).__name__ != "PapermillExecutionError":
            raise
        raise RuntimeError(f"a notebook failed: {err.ename}: {err.evalue} (rerun that notebook alone with "
                           f"papermill to see the cell)") from None
    if not args.no_build:
        html = build_book(repo, strict=args.strict)
        print(f"the book is at {html / 'index.html'}")
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    from .editions.record import record_edition
    from .store import check_writable

    named_profile(args.profile)  # an unknown profile fails before anything runs
    params = {k: parse_value(v) for k, v in parse_assignments(args.param).items()}
    if args.fresh:
        params["fresh"] = True
    check_writable(args.results, "results folder")
    check_writable(args.editions, "editions folder")
    path = record_edition(Path.cwd(), args.profile, params, only=args.only, out_dir=Path(args.editions),
                          name=args.name, results_dir=args.results)
    print(f"the edition is at {path}")
    return 0


def _cmd_check_editions(args: argparse.Namespace) -> int:
    from .editions.check import check_editions

    problems = check_editions(Path(args.editions))
    for problem in problems:
        print(f"stale: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _cmd_scoreboard(args: argparse.Namespace) -> int:
    from .editions.render import load_editions, scoreboard_markdown, update_readme

    editions = load_editions(Path(args.editions))
    if args.update_readme:
        changed = update_readme(Path(args.update_readme), editions)
        print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
    else:
        print(scoreboard_markdown(editions))
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from .baseline import baseline_model
    from .context import Run
    from .sections import distortion_effects as effects
    from .splits import datasets
    from .store import Store

    cfg = _resolve_cli(args)
    run = Run.of(cfg, Store(args.results, fresh=args.fresh, group=args.group))
    data = datasets(cfg)
    model, _ = baseline_model(run, data.train)
    measured = effects.baseline_tables(run, model, data.test)
    for kind, title in (("blur", "Table 1 - Gaussian blur"), ("awgn", "Table 2 - AWGN")):
        print(f"\n{title} (profile {cfg.name})")
        print(effects.compare_with_paper(measured, kind, cfg.data.family).round(4).to_string())
    return 0


def _cmd_rank(args: argparse.Namespace) -> int:
    from .baseline import baseline_model
    from .context import Run
    from .priorities import check_rank_layers, filter_priorities
    from .sections import correction_priority as priority
    from .splits import datasets
    from .store import Store

    out = Path(args.out)
    if out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got {args.out!r}")
    _check_out(out)
    cfg = _resolve_cli(args)
    data = datasets(cfg)
    check_rank_layers(cfg, data.train.num_classes)  # before any training, so bad input writes nothing
    run = Run.of(cfg, Store(args.results, fresh=args.fresh, group=args.group))
    model, _ = baseline_model(run, data.train)
    priorities = filter_priorities(run, model, data)
    frame = priorities.to_frame(args.score)
    if _is_main(args):
        atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False) if out.suffix == ".csv"
                     else frame.to_json(tmp, orient="records", indent=1))
    print(priority.top_filters(priorities).to_string())
    print(f"\n{len(frame)} rows written to {out} ({priorities.seconds:.1f} s of ranking)")
    return 0


def _cmd_correct(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import corrected_models
    from .baseline import baseline_model
    from .context import Run
    from .model_names import parse_model
    from .priorities import filter_priorities
    from .splits import datasets
    from .store import Store

    names = args.model if args.command == "correct" else [f"Finetune-{k}" for k in args.k]
    specs = [parse_model(n) for n in names]  # bad names fail here, before anything trains
    if args.out and not args.out.endswith(".csv"):
        raise ValueError(f"--out must end in .csv, got {args.out!r}")
    if args.out:
        _check_out(Path(args.out))
    cfg = _resolve_cli(args)
    kinds_given = any(p.partition("=")[0].strip() in ("kinds", "rank_kinds") for p in args.param)
    if set(args.kind) - set(cfg.rank.kinds) and not kinds_given:  # a corruption, a mix: rank for those asked
        cfg = dataclasses.replace(cfg, rank=kinds.ranked_for(cfg.rank, tuple(args.kind)))
    data = datasets(cfg)
    # before anything trains, so bad input writes nothing
    corrected_models.check_specs(cfg, data.train.num_classes, specs, tuple(args.kind))
    run = Run.of(cfg, Store(args.results, fresh=args.fresh, group=args.group))
    model, _ = baseline_model(run, data.train)
    priorities = filter_priorities(run, model, data)
    frames, measured = [], set()
    for kind in args.kind:
        table, records = corrected_models.evaluate_models(run, model, data, priorities, kind, ["Baseline", *names])
        for name, why in corrected_models.failures(records).items():
            print(f"warning: {name} ({kind}) has no measurement: {why}", file=sys.stderr)
        measured.update(table.index)
        table = corrected_models.with_failures(table, records)
        _print_table(table, kind, cfg)
        frames.append(table.assign(kind=kind))
    if not measured & set(names):
        raise ValueError(f"none of the requested models ({', '.join(names)}) could be measured (see the warnings "
                         f"above); nothing was written")
    if args.out and _is_main(args):
        out = Path(args.out)
        atomic_write(out, pd.concat(frames).to_csv)
        print(f"\nwritten to {out}")
    return 0


def _check_out(out: Path) -> None:
    """Before any work: ``--out`` goes into an existing, writable folder."""
    from .store import check_writable

    parent = out.expanduser().absolute().parent
    if out.expanduser().is_dir():
        raise ValueError(f"--out {str(out)!r} is a folder; name a file in it (e.g. {str(out / 'table.csv')!r})")
    if not parent.is_dir():
        raise ValueError(f"--out {str(out)!r}: the folder {str(parent)!r} does not exist; create it or write elsewhere")
    check_writable(parent, "--out folder")


def _is_main(args: argparse.Namespace) -> bool:
    return args.group is None or args.group.is_main


def _resolve_cli(args: argparse.Namespace):
    return resolve(args.profile, **parse_assignments(args.param))


def _cmd_check_book(args: argparse.Namespace) -> int:
    from .book_check import check_layout, check_pages, screenshot_pages

    html = Path("_build") / "html"
    problems = check_pages(html)
    shots = screenshot_pages(html, Path(args.out))
    problems += check_layout(html)
    print(f"{len(shots)} screenshots in {args.out}/")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _cmd_profiles(_args: argparse.Namespace) -> int:
    for name, p in PROFILES.items():
        print(f"{name:12s} {p.description}")
    print("\noverride keys (-p KEY=VALUE): " + ", ".join(sorted(override_keys())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
