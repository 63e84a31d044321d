"""The `icsabm` command line (CONTRACT.md: Command line).

Bad input never ends in a traceback: it gets one line on standard error,
``icsabm: error: ...``, exit status 2, and nothing is left in the output
folder. SIGTERM (`kill`, a batch scheduler's time limit) stops a command as
Ctrl-C does, with the same clean-up, and exit status 143.
A sweep that loses its Dask scheduler or workers part-way gets one line too and
exit status 3: its finished chunks are kept, and `--resume` completes it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3


class CLIError(Exception):
    """Bad input found by the CLI itself; the message is one line."""


class IncompleteError(Exception):
    """The environment failed part-way (a lost Dask scheduler): the work saved so far is
    kept for `--resume`; the message is one line."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that an interrupted command cleans up as on
    Ctrl-C (the default action would end the process at once, leaving a staging folder
    and an empty run folder behind)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's usage goes too)
        self.exit(EXIT_BAD_INPUT, f"icsabm: error: {message}\n")


def _positive(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r} is not a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} {text!r} must be at least 1")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed {text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"seed {text!r} must be in [0, 2^63)")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a whole number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {text!r} must be in 1..65535")
    return value


def _host(text: str) -> str:
    if not text.strip():  # socket and Solara read "" as every interface, not as loopback
        raise argparse.ArgumentTypeError(f"host {text!r} is empty: give an address to bind, "
                                         "such as 127.0.0.1 (this machine only) or 0.0.0.0 "
                                         "(every interface)")
    return text


def out_arg(text: str) -> str:
    """An `--out` value with a leading `~` the shell left unexpanded (`--out=~/runs/x`, a
    quoted `"~/x"`) taken as the home folder, as pandas takes it when it writes the tables:
    otherwise a folder named `~` would be made here and the tables sought elsewhere."""
    return os.path.expanduser(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="icsabm", description="Agent-based model of collaboration between "
                     "the partner organisations of an Integrated Care System.")
    from model import __version__

    parser.add_argument("--version", action="version", version=f"icsabm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scenarios = sub.add_parser("scenarios", help="list the bundled scenarios, or check and "
                               "describe the scenarios given")
    scenarios.add_argument("scenario", nargs="*",
                           help="scenario names or TOML files (default: every bundled one)")

    run = sub.add_parser("run", help="run replicates of one scenario and write a run folder")
    run.add_argument("scenario", help="bundled scenario name or path to a TOML file")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario key (dotted, e.g. context.funding=0.6); repeatable")
    run.add_argument("--steps", type=_positive("--steps"), help="months to run")
    run.add_argument("--replicates", type=_positive("--replicates"),
                     help="replicates to run (default 20)")
    run.add_argument("--seed", type=_seed, help="master seed (default 0)")
    run.add_argument("--replicate-seed", type=_seed, metavar="SEED",
                     help="run exactly one replicate with this replicate seed (as recorded in "
                          "the seed column of a run or sweep), e.g. to reproduce one sweep run")
    run.add_argument("--out", type=out_arg,
                     help="output folder (default runs/<scenario>-<UTC timestamp>)")
    run.add_argument("--agents", action="store_true",
                     help="also write organisations.parquet (one row per organisation and month)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    sweep = sub.add_parser("sweep", help="run a parameter sweep and write a sweep folder")
    sweep.add_argument("sweep_file", help="sweep TOML file, or a bundled sweep name")
    sweep.add_argument("--out", type=out_arg,
                       help="sweep folder (default runs/<sweep>-<UTC timestamp>)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="local:N for a local Dask cluster of N workers, or tcp://host:port; "
                            "absent: in-process numba on all cores")
    sweep.add_argument("--resume", action="store_true",
                       help="finish an interrupted sweep (its folder from --out, or the newest "
                            "unfinished runs/<sweep>-* folder)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")

    figures = sub.add_parser("figures", help="draw the publication figures of a run or sweep "
                             "folder")
    figures.add_argument("folder", metavar="RUN_OR_SWEEP_DIR", help="a run or sweep folder")
    figures.add_argument("--out", type=out_arg,
                         help="figure folder (default <folder>/figures)")
    figures.add_argument("--format", default="pdf,png", metavar="pdf,png,svg",
                         help="comma-separated file formats (default pdf,png)")

    validate = sub.add_parser("validate", help="run every CMOC contrast of THEORY.md and write a "
                              "validation report")
    validate.add_argument("--replicates", type=_positive("--replicates"), default=200,
                          help="paired replicates per contrast (default 200; C17 and C19, "
                               "whose outcome is one organisation's trust, run 4 times as many)")
    validate.add_argument("--seed", type=_seed, default=0, help="master seed (default 0)")
    validate.add_argument("--out", type=out_arg,
                          help="report folder (default runs/validation-<UTC timestamp>)")
    validate.add_argument("--only", metavar="IDS",
                          help="comma-separated CMOC ids to run (default: all)")
    validate.add_argument("--skip-robustness", action="store_true",
                          help="skip the rerun of the verdicts at perturbed constants")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")

    ui = sub.add_parser("ui", help="start the browser app (Mesa SolaraViz)")
    ui.add_argument("--host", type=_host, default="127.0.0.1",
                    help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    return parser


def cmd_scenarios(args: argparse.Namespace) -> int:
    from model.scenario import bundled_scenarios, load_scenario

    rows = []
    for name in args.scenario or bundled_scenarios():  # a bad file: ScenarioError, one line
        scenario = load_scenario(name)
        rows.append((name, f"{scenario.regime}, {scenario.n_organisations} orgs",
                     scenario.description))
    width = max(len(r[0]) for r in rows)
    kind_width = max(len(r[1]) for r in rows)
    for name, kind, description in rows:
        print(f"{name:<{width}}  {kind:<{kind_width}}  {description}")
    return 0


#: The longest name part of an output or staging folder: with a time stamp, a `-2` or a
#: staging folder's `.tmp-` around it, it stays below the 255 bytes a file system allows.
NAME_CHARS = 100


def folder_name(name: str) -> str:
    """`name` as one safe folder-name component: characters other than letters, digits,
    `.`, `_` and `-` become `_`, it never is empty or starts with `.` or `-` (a scenario
    named `../x` must not write outside `runs/`), and it is cut to NAME_CHARS (a scenario
    named by a sentence must not fail with 'File name too long')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".-")[:NAME_CHARS] or "unnamed"


def default_folder(name: str) -> Path:
    """A new empty folder `runs/<name>-<UTC stamp>` (under the current directory), made
    now, so that two commands started in the same second never collide: the second
    gets `-2`, the third `-3`, ..."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path("runs") / f"{folder_name(name)}-{stamp}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in itertools.count(1):
        folder = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def staging_folder(folder: Path) -> Path:
    """A hidden temporary folder beside `folder`, to be moved onto it when complete.

    It gets the permissions `folder` will have: those of `folder` if it exists (an
    empty `--out`), else the ones the umask gives a new folder (`mkdtemp` alone
    makes it 0700, so nobody else could read the results).
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name[:NAME_CHARS]}.tmp-", dir=folder.parent))
    if folder.is_dir():
        mode = folder.stat().st_mode & 0o7777
    else:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o777 & ~mask
    os.chmod(tmp, mode)
    return tmp


@contextlib.contextmanager
def output_folder(out: str | None, name: str) -> Iterator[tuple[Path, Path]]:
    """`(staging, folder)` for a command that writes one output folder: `--out` (absent
    or empty, `check_fresh_out`) or a new `default_folder(name)`.

    The block writes into the hidden staging folder, which is moved onto `folder`
    when the block ends. On an error or Ctrl-C the staging folder is removed, and
    so are a default folder and the parents of `--out` made here: nothing
    half-written is left behind.
    """
    if out is None:
        folder, made, parents = default_folder(name), True, []
    else:
        folder, made = Path(out), False
        check_fresh_out(folder)
        folder = through_link(folder)
        parents = make_parents(folder)
    tmp = None
    try:
        tmp = staging_folder(folder)
        yield tmp, folder
        if folder.exists():
            folder.rmdir()  # empty (checked above, or made empty here)
        os.replace(tmp, folder)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if made and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        remove_made(parents)
        raise


def through_link(folder: Path) -> Path:
    """`folder`, or where it leads when it is a symbolic link (`--out scratch`, linked to
    a folder on another disk), whether or not that exists yet: the finished output is
    moved onto the folder itself, which a link cannot be replaced by."""
    return folder.resolve() if folder.is_symlink() else folder


def make_parents(folder: Path) -> list[Path]:
    """Make the missing parent folders of `folder` (`--out results/2024/run`); returns the
    ones made, deepest first, for `remove_made` to take away if the command fails."""
    made = [parent for parent in folder.parents if not parent.exists()]
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder must be
        file = next((p for p in reversed(folder.parents) if p.exists() and not p.is_dir()),
                    None)
        if file is None:
            raise
        raise CLIError(f"--out {folder}: {file} is a file, not a folder") from None
    return made


def remove_made(parents: list[Path]) -> None:
    """Remove the parent folders `make_parents` made, deepest first, while they are empty:
    a failed or interrupted command leaves no empty folders behind."""
    for parent in parents:
        try:
            parent.rmdir()
        except OSError:  # not empty (something else wrote there meanwhile), or gone
            return


def check_fresh_out(folder: Path, hint: str = "") -> None:
    """CLIError unless `folder` is absent or an empty folder (`--out` never overwrites),
    other than the current folder (`--out .` or `--out ''`: it cannot be replaced by the
    finished output, which the run would find out only at its end)."""
    if folder.resolve() == Path.cwd().resolve():
        raise CLIError(f"--out {str(folder)!r}: the current folder; give a new folder or an "
                       "empty one inside it")
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--out {folder}: is a file, not a folder")
    if folder.exists() and any(folder.iterdir()):
        raise CLIError(f"--out {folder}: already exists and is not empty{hint}")


def _manifest(scenario, args, seeds, wall: float, started: str) -> dict:
    import mesa
    import numba
    import numpy

    from model import __version__
    from model.batch import numerics_digest
    from model.provenance import git_commit

    return {
        "kind": "run",
        "icsabm_version": __version__,
        "git_commit": git_commit(),
        "scenario": scenario.to_dict(),
        "scenario_digest": scenario.digest(),
        "master_seed": args.seed if args.replicate_seed is None else None,
        "replicate_seed": args.replicate_seed,
        "seed_rule": "replicate r has seed SeedSequence(master_seed, spawn_key=(0, r)) -> "
                     "model.rng.replicate_seeds",
        "seeds": [int(s) for s in seeds],
        "replicates": len(seeds),
        "steps": scenario.steps,
        "numba_threads": numba.get_num_threads(),
        "numerics": numerics_digest(),  # equal on a machine that reproduces these bits
        "wall_time_s": round(wall, 3),
        "started_utc": started,
        "argv": sys.argv,
        "versions": {"python": platform.python_version(), "numba": numba.__version__,
                     "numpy": numpy.__version__, "mesa": mesa.__version__},
    }


def cmd_run(args: argparse.Namespace) -> int:
    import numba
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from analysis.stats import regime_table
    from model.batch import organisations_frame, run_arrays, summary_frame, timeseries_frame
    from model.resources import check_run_memory
    from model.rng import replicate_seeds
    from model.scenario import counted, load_scenario, parse_overrides

    if args.replicate_seed is not None and (args.replicates, args.seed) != (None, None):
        raise CLIError("--replicate-seed runs exactly one replicate from its own seed: "
                       "it cannot be combined with --replicates or --seed")
    args.replicates = 20 if args.replicates is None else args.replicates
    args.seed = 0 if args.seed is None else args.seed
    scenario = load_scenario(args.scenario, overrides=parse_overrides(args.overrides),
                             steps=args.steps, label="--set", steps_label="--steps")
    if args.replicate_seed is not None:
        seeds = np.array([args.replicate_seed], dtype=np.int64)
    else:
        check_run_memory(args.replicates, scenario.steps, scenario.n_organisations, args.agents)
        seeds = replicate_seeds(args.seed, args.replicates)
    with output_folder(args.out, scenario.name) as (tmp, folder):
        started = dt.datetime.now(dt.UTC).isoformat()
        start = time.perf_counter()
        chunk = max(4 * numba.get_num_threads(), -(-len(seeds) // 50))  # <= 50 updates
        series, summaries, organisations = [], [], []
        with tqdm(total=len(seeds), unit="replicate", desc=scenario.name, file=sys.stderr,
                  disable=args.quiet or None) as bar:
            for first in range(0, len(seeds), chunk):
                part = seeds[first:first + chunk]
                metrics, orgs, sizes = run_arrays(scenario, part, agents=args.agents)
                series.append(timeseries_frame(metrics, part, first))
                summaries.append(summary_frame(scenario, metrics, part, first))
                if args.agents:
                    organisations.append(organisations_frame(scenario, orgs, sizes, first))
                bar.update(len(part))
        summary = pd.concat(summaries, ignore_index=True)
        pd.concat(series, ignore_index=True).to_parquet(tmp / "timeseries.parquet", index=False)
        summary.to_parquet(tmp / "summary.parquet", index=False)
        if args.agents:
            pd.concat(organisations, ignore_index=True).to_parquet(
                tmp / "organisations.parquet", index=False)
        manifest = _manifest(scenario, args, seeds, time.perf_counter() - start, started)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))

    table = regime_table(summary)
    print(f"{scenario.name}: {counted(len(seeds), 'replicate')} x "
          f"{counted(scenario.steps, 'month')} ({manifest['wall_time_s']:.1f} s)")
    print(f"{'regime':<12} {'count':>5} {'share':>6}  95% interval")
    for row in table.itertuples():
        interval = f"[{row.ci_low:.2f}, {row.ci_high:.2f}]" if row.count or len(summary) else ""
        print(f"{row.regime:<12} {row.count:>5} {row.share:>6.2f}  {interval}")
    tts = summary["time_to_synergy"].astype(float)
    if tts.notna().any():
        print(f"median months to synergy: {tts.median():g}")
    print(f"written to {folder}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from model.sweep_command import sweep_command

    return sweep_command(args.sweep_file, args.out, args.scheduler, args.resume, args.quiet)


def cmd_figures(args: argparse.Namespace) -> int:
    from analysis.figures import figures_command

    return figures_command(args.folder, args.out, args.format)


def cmd_validate(args: argparse.Namespace) -> int:
    from analysis.validate import validate_command

    return validate_command(replicates=args.replicates, seed=args.seed, out=args.out,
                            only=args.only, robustness=not args.skip_robustness,
                            quiet=args.quiet)


def cmd_ui(args: argparse.Namespace) -> int:
    from model.ui import serve

    return serve(args.host, args.port)


COMMANDS = {"scenarios": cmd_scenarios, "run": cmd_run, "sweep": cmd_sweep,
            "figures": cmd_figures, "validate": cmd_validate, "ui": cmd_ui}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `icsabm` console script."""
    from model.scenario import ScenarioError

    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a closed pipe is handled below
        return code
    except (ScenarioError, CLIError) as exc:
        print(f"icsabm: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except IncompleteError as exc:
        print(f"icsabm: error: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    except Terminated:
        print("icsabm: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("icsabm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped reading (`icsabm run ... | head -1`):
        # its output was already written; say nothing more, and keep Python's exit
        # handler from failing on the closed pipe too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f" {exc.filename}:" if getattr(exc, "filename", None) else ""
        print(f"icsabm: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # `python -m model.cli`: run the imported module's main, whose
    # CLIError is the one other modules raise (this file's own, here, is another class)
    from model.cli import main as _main

    raise SystemExit(_main())
