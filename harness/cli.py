"""The ``harness`` command line. Heavy modules load only inside the subcommands."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness.compare import add_compare_parser, cmd_compare
from harness.errors import ConfigError, HarnessError
from harness.predict.command import COMMANDS as USE_COMMANDS
from harness.predict.command import add_use_parsers
from harness.suite import add_suite_parser, cmd_suite


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Ensemble benchmarking harness for image "
                                     "classification and visual defect detection.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate every cell of an experiment, then publish its leaderboard")
    run.add_argument("file", type=Path, help="experiment TOML file")
    run.add_argument("--fresh", action="store_true", help="rerun every cell, even finished ones")
    run.add_argument("--resume", action="store_true", help="skip finished cells, redo the rest (the default)")
    run.add_argument("--runs-dir", type=Path, default=Path("runs"), help="run store root (default: runs)")
    run.add_argument("--leaderboards-dir", type=Path, default=Path("leaderboards"),
                     help="where leaderboards go (default: leaderboards)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--workers", type=int, default=None,
                     help="cells to run at once; above 1 this means a process pool unless --backend says otherwise")
    run.add_argument("--backend", choices=("local", "process", "ray"), default=None,
                     help="local: this process; process: a pool of worker processes; ray: one Ray task per cell "
                          "(default: [execution] backend, else local)")

    status = sub.add_parser("status", help="what every cell is doing: done / running (by whom, since when) / "
                                           "failed / to do")
    status.add_argument("file", type=Path, help="experiment TOML file")
    status.add_argument("--runs-dir", type=Path, default=Path("runs"), help="run store root (default: runs)")

    board = sub.add_parser("leaderboard", help="rebuild an experiment's leaderboard from the run store, no training")
    board.add_argument("file", type=Path, help="experiment TOML file")
    board.add_argument("--runs-dir", type=Path, default=Path("runs"))
    board.add_argument("--leaderboards-dir", type=Path, default=Path("leaderboards"))

    validate = sub.add_parser("validate", help="check experiment files without training")
    validate.add_argument("files", type=Path, nargs="+", help="experiment TOML files")
    validate.add_argument("--strict", action="store_true",
                          help="warnings are errors (an include or exclude entry that matches no cell)")

    sub.add_parser("plugins", help="list every plugin, its origin and version, and what it registers")
    add_compare_parser(sub)
    add_suite_parser(sub)
    add_use_parsers(sub)
    return parser


def _version() -> str:
    from harness import __version__

    return __version__


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.plugins import build_plugins

    plugins = build_plugins()
    problems: list[str] = []
    for file in args.files:
        try:
            exp = load_experiment(file, plugins, strict=args.strict)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        for line in exp.warnings:
            print(line, file=sys.stderr)
        print(f"{file}: ok ({len(exp.cells)} cells)")
    if problems:
        raise ConfigError(problems)
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from harness.plugins import KINDS, build_plugins

    plugins = build_plugins()
    registered: dict[str, dict[str, list[str]]] = {name: {} for name in plugins.info}
    for kind in KINDS:
        for entry in plugins.registry(kind):
            registered.setdefault(entry.plugin, {}).setdefault(kind, []).append(entry.name)
    rows = [[name, i.distribution, i.version, i.source,
             _what(registered.get(name, {}), plugins.hook_failures.get(name, {}))]
            for name, i in plugins.info.items()]
    print(tabulate(rows, headers=["plugin", "distribution", "version", "source", "registers"], tablefmt="simple"))
    return 0


def _what(kinds: dict[str, list[str]], failures: dict[str, str]) -> str:
    lines = [f"{kind}: {', '.join(names)}" for kind, names in kinds.items()]
    lines += [f"failed: {hook}: {error}" for hook, error in failures.items()]  # a third-party hook that raised
    return "\n".join(lines) or "(hooks only)"


def cmd_run(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.console import say
    from harness.execution import publish_once
    from harness.leaderboard import terminal_table
    from harness.plugins import build_plugins
    from harness.runner import publish, run_experiment

    plugins = build_plugins()
    experiment = load_experiment(args.file, plugins)
    for line in experiment.warnings:
        print(line, file=sys.stderr)
    show = not args.no_progress and sys.stderr.isatty()
    settings, started = _execution(args, experiment), time.time()
    the_plan, root = run_experiment(experiment, plugins, runs_dir=args.runs_dir, fresh=args.fresh,
                                    show_progress=show, echo=say, execution=settings,
                                    started=started, board_dir=args.leaderboards_dir / experiment.name)
    board, other = publish_once(root, [c.id for c in the_plan.cells + the_plan.folds], started,
                                lambda: publish(experiment, the_plan, root, plugins,
                                                args.leaderboards_dir / experiment.name,
                                                echo=say))
    if board is None:  # another worker of this run finished last and published these same results
        from harness.leaderboard.stamp import recorded_table

        table = recorded_table(args.leaderboards_dir / experiment.name)
        if table:
            print(f"\n{table}")
        print(f"\nleaderboard (published by {other}): {args.leaderboards_dir / experiment.name / 'index.html'}")
        return _failed_cells(the_plan, root)
    print()
    print(terminal_table(board))
    print(f"\nleaderboard: {args.leaderboards_dir / experiment.name / 'index.html'}")
    return _failed_cells(the_plan, root)


def _failed_cells(the_plan, root: Path) -> int:
    from harness.store import read_cell

    failed = [c for c in the_plan.cells if read_cell(root / c.id).status != "done"]
    if failed:
        print(f"{len(failed)} of {len(the_plan.cells)} cells failed; their reasons are on the leaderboard")
        return 1
    return 0


def _execution(args: argparse.Namespace, experiment):
    from harness.execution import resolve

    return resolve(experiment.execution, workers=args.workers, backend=args.backend,
                   device=str(experiment.train.get("device", "cpu")))


def cmd_status(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from harness.config import load_experiment
    from harness.execution import settings_of
    from harness.execution.status import cell_states, summary
    from harness.plugins import build_plugins
    from harness.runner import plan

    plugins = build_plugins()
    experiment = load_experiment(args.file, plugins)
    root = args.runs_dir / experiment.name
    the_plan = plan(experiment, plugins)
    rows = cell_states(root, the_plan.cells + the_plan.folds, settings_of(experiment).lease_seconds)
    print(tabulate([list(r.values()) for r in rows], headers=["cell", "state", "worker", "since", "detail"],
                   tablefmt="simple"))
    print(f"\n{summary(rows)}  ({root})")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.leaderboard import terminal_table
    from harness.plugins import build_plugins
    from harness.runner import plan, publish

    plugins = build_plugins()
    experiment = load_experiment(args.file, plugins)
    root = args.runs_dir / experiment.name
    if not root.is_dir():
        raise HarnessError(f"{root}: no stored run of experiment {experiment.name!r}; run it first")
    board = publish(experiment, plan(experiment, plugins), root, plugins, args.leaderboards_dir / experiment.name)
    print(terminal_table(board))
    return 0


COMMANDS = {"run": cmd_run, "status": cmd_status, "validate": cmd_validate, "plugins": cmd_plugins, "leaderboard": cmd_leaderboard,
            "compare": cmd_compare, "suite": cmd_suite, **USE_COMMANDS}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        print(f"harness: {len(exc.problems)} problem(s) found", file=sys.stderr)
        return exc.exit_code
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted; finished cells are kept, rerun to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harness plugins | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
