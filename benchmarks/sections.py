"""Where a month of the kernel goes: microseconds per section of `step`, in real runs.

    python -m benchmarks.sections                                  # this kernel
    python -m benchmarks.sections --against /other/model/kernel.py # side by side
    python -m benchmarks.sections --scenario voluntary_alliance --runs 400 --rounds 9

The timed step is generated from the source of `model.kernel.step` itself:
after every call in its body a cycle-counter reading (LLVM's
`readcyclecounter`) is added, so the sections are the step's own calls, in
its order, and can never drift from it (statements that are not calls count
toward the next call). `init_state` and the summary-mode `measure` of
`model.batch` are timed too. Runs are the scenario's, seeded as a sweep
seeds them, so the state every section sees is a real one: timing a section
in a loop from one frozen state misleads (tension decays into subnormal
numbers, branches become perfectly predictable).

With `--against`, a second kernel file (say, a modified copy) is loaded
beside this one and the two are timed in interleaved rounds, one round of
each in turn, so a slow spell of the machine hits both alike; each section's
figure is the fastest of `--rounds`. The final states of every run are
compared, so the table says whether the two kernels give the same bits.
Not a test: the numbers are for a person to read.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from agents.kinds import SECTOR_CULTURE, kind_table
from model import kernel
from model import state as S
from model.rng import replicate_seeds, stream_state
from model.scenario import ScenarioError, load_scenario


@intrinsic
def cycles(typingctx):
    """The CPU's time-stamp counter (LLVM `readcyclecounter`)."""
    def codegen(context, builder, signature, args):
        counter = builder.module.declare_intrinsic(
            "llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(counter, [])
    return types.int64(), codegen


def timed_step_source(step) -> tuple[str, list[str]]:
    """Source of `timed_step(<step's arguments>, acc)` and its section names.

    Each call statement of `step`'s body closes a section named after the
    function it calls; what follows the last call is the section "rest".
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(step)))
    function = tree.body[0]
    function.decorator_list = []
    function.name = "timed_step"
    function.args.args.append(ast.arg(arg="acc"))
    body, names = [ast.parse("t = cycles()").body[0]], []
    for statement in function.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        body.append(statement)
        call = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
            body.extend(ast.parse(f"now = cycles()\nacc[{len(names)}] += now - t\nt = now").body)
            names.append(call.func.id)
    body.extend(ast.parse(f"acc[{len(names)}] += cycles() - t").body)
    names.append("rest")
    function.body = body
    return ast.unparse(ast.fix_missing_locations(tree)), names


RUN_SOURCE = '''
def timed_runs(kind, size_given, x_given, y_given, kinds, sector_culture, params, timeline,
               rngs, steps, acc, final):
    n = kind.shape[0]
    for r in range(rngs.shape[0]):
        p = params.copy()
        rng = rngs[r].copy()
        org = np.zeros((S.N_ORG, n))
        pair = np.zeros((S.N_PAIR, n, n))
        culture = np.zeros((n, sector_culture.shape[1]))
        sector = np.zeros(n, np.int64)
        world = np.zeros(S.N_WORLD)
        out = np.zeros(S.N_METRICS)
        t = cycles()
        init_state(org, pair, culture, kind, sector, world, p, rng, size_given, x_given,
                   y_given, kinds, sector_culture)
        acc[INIT] += cycles() - t
        for month in range(1, steps + 1):
            timed_step(org, pair, culture, kind, sector, world, p, rng, timeline, acc)
            t = cycles()
            measure(org, pair, world, out, month == steps)
            acc[MEASURE] += cycles() - t
        final[r, :S.N_ORG * n] = org.ravel()
        final[r, S.N_ORG * n:] = pair[S.TRUST].ravel()
'''


def load_kernel(path: Path | None, folder: Path):
    """`model.kernel`, or a copy of another kernel file loaded beside it as `kernel_against`.

    The copy goes into `folder` (a fresh temporary one), so numba's cache of
    its jitted functions starts empty and never mixes with another file's.
    """
    if path is None:
        return kernel
    copy = folder / "kernel_against.py"
    shutil.copyfile(path, copy)
    spec = importlib.util.spec_from_file_location("kernel_against", copy)
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernel_against"] = module  # numba looks jitted functions' modules up by name
    spec.loader.exec_module(module)
    return module


def build(module) -> tuple[object, list[str]]:
    """The jitted `timed_runs` of a kernel module and its section names."""
    step_source, names = timed_step_source(module.step)
    names = names + ["measure (month row)", "init_state (per month)"]
    namespace = dict(vars(module))
    namespace.update(np=np, S=S, cycles=cycles, INIT=len(names) - 1, MEASURE=len(names) - 2)
    exec(compile(step_source, f"<timed step of {module.__name__}>", "exec"), namespace)
    namespace["timed_step"] = njit(namespace["timed_step"])
    exec(compile(RUN_SOURCE, "<timed runs>", "exec"), namespace)
    return njit(namespace["timed_runs"]), names


def cycles_per_second() -> float:
    """The counter's rate, against `time.perf_counter` over 0.2 s."""
    read = njit(lambda: cycles())
    read()
    start_cycles, start = read(), time.perf_counter()
    time.sleep(0.2)
    return (read() - start_cycles) / (time.perf_counter() - start)


def time_kernels(kernels, args, rngs, steps: int, runs: int, rounds: int):
    """Compile each kernel's timed runs, then time them in interleaved rounds.

    Returns ([(timed_runs, section names)], [fastest cycles by section],
    [final states]), one entry per kernel.
    """
    built = [build(module) for _, module in kernels]
    n = args[0].shape[0]
    finals, best = [], []
    for timed_runs, names in built:  # compile, and keep each kernel's final states
        final = np.zeros((runs, S.N_ORG * n + n * n))
        timed_runs(*args, rngs, steps, np.zeros(len(names), np.int64), final)
        finals.append(final)
        best.append(None)
    for _ in range(rounds):
        for k, (timed_runs, names) in enumerate(built):
            acc = np.zeros(len(names), np.int64)
            timed_runs(*args, rngs, steps, acc, np.zeros_like(finals[k]))
            best[k] = acc if best[k] is None else np.minimum(best[k], acc)
    return built, best, finals


def profile(scenario_name: str, runs: int, rounds: int, against: Path | None) -> str:
    """The table: microseconds per month by section, for one kernel or two."""
    scenario = load_scenario(scenario_name)
    roster, steps = scenario.roster, scenario.steps
    n = len(roster.kinds)
    rngs = np.stack([stream_state(int(s)) for s in replicate_seeds(5, runs)])
    args = (roster.kinds, roster.size, roster.x_km, roster.y_km, kind_table(), SECTOR_CULTURE,
            scenario.packed(), scenario.timeline_array())
    with tempfile.TemporaryDirectory(prefix="icsabm-sections-") as folder:
        kernels = [("this kernel", kernel)]
        if against is not None:
            kernels.append((str(against), load_kernel(against, Path(folder))))
        built, best, finals = time_kernels(kernels, args, rngs, steps, runs, rounds)
    per_month = 1e6 / cycles_per_second() / runs / steps
    all_names = list(dict.fromkeys(name for _, names in built for name in names))
    header = "| section | " + " | ".join(label for label, _ in kernels) + " |"
    lines = [f"{scenario_name}: {n} organisations, {steps} months, {runs} runs; microseconds "
             f"per month, fastest of {rounds} {'interleaved ' if against else ''}"
             f"round{'s' if rounds > 1 else ''}", "",
             header, "|---|" + "---:|" * len(kernels)]
    for name in all_names:
        cells = [f"{best[k][names.index(name)] * per_month:.2f}" if name in names else "-"
                 for k, (_, names) in enumerate(built)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [f"**{acc[:-1].sum() * per_month:.2f}**" for acc in best]
    lines.append("| **step + measure** | " + " | ".join(totals) + " |")
    if against is not None:
        same = np.array_equal(finals[0], finals[1])
        lines += ["", f"Final organisation states and trust of all {runs} runs: "
                  f"{'identical, bit for bit' if same else 'DIFFERENT'}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sections", description=(
        "Microseconds per month by section of the kernel's step, over real runs."))
    parser.add_argument("--scenario", default="ics_mandated", help="bundled name or TOML path")
    parser.add_argument("--runs", type=int, default=200, help="runs per round (default 200)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--against", type=Path, default=None,
                        help="another kernel.py to time side by side with this one")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rounds < 1:
        print("error: --runs and --rounds must be at least 1", file=sys.stderr)
        return 2
    if args.against is not None and not args.against.is_file():
        print(f"error: --against {args.against}: no such file", file=sys.stderr)
        return 2
    try:
        print(profile(args.scenario, args.runs, args.rounds, args.against))
    except ScenarioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
