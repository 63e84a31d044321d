"""Sweep files (TOML): a base scenario, the axes to vary, the design, replicates, seed.

```toml
[sweep]
name = "phase_trust_formalisation"
description = "..."
scenario = "ics_mandated_supported"   # bundled name or path (relative to this file)
design = "grid"                       # grid | lhs | sobol | points
replicates = 20
steps = 60                            # optional: the scenario's own otherwise
seed = 0
samples = 64                          # lhs: points; sobol: base samples N (a power of 2)
stride = 0                            # months between rows of the coarse time series; 0 = off
chunk = 2000                          # at most this many runs per chunk (unit of progress, resume)
set = { "context.quick_wins" = 0.5 }  # fixed overrides of the base scenario

[axes]                                # grid: values, or start/stop/num
"context.formalisation" = [0.1, 0.3, 0.5, 0.8]
"context.history_of_competition" = { start = 0.0, stop = 1.0, num = 11 }
regime = ["mandated", "voluntary"]
# several keys moving together: a table with keys and rows
# initial_trust = { keys = ["context.history_of_competition", "context.prior_success"],
#                   rows = [[0.9, 0.0], [0.5, 0.4], [0.1, 0.8]] }
# lhs / sobol: ranges
# "context.funding" = { low = 0.1, high = 0.9 }

[[points]]                            # design = "points": explicit override tables
"context.funding" = 0.2
```

Validation is as strict as for scenarios: unknown keys, wrong types and
values out of range give one line naming the key, the value and what is
allowed, before anything is written. Every point is resolved to a validated
`Scenario` up front.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model import params as P
from model.cli import folder_name
from model.resources import available_memory, size_text
from model.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    bundled_files,
    read_raw,
    read_toml,
    resolve_path,
    resolve_raw,
    roster_from,
    shown,
)

DESIGNS = ("grid", "lhs", "sobol", "points")
SWEEP_KEYS = ("name", "description", "scenario", "design", "replicates", "steps", "seed",
              "samples", "stride", "chunk", "set")
MAX_RUNS = 100_000_000
#: Every point keeps its resolved scenario: about 8 KB each, measured on a 100 x 100 grid
#: of ics_mandated (81 MB), so a sweep's points must fit in memory too.
BYTES_PER_POINT = 10_000
#: A sweep name: it becomes a folder name under runs/, so no separators, no leading dot/dash.
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass
class Sweep:
    """A validated sweep: the resolved scenario of every point and how to run it."""

    name: str
    description: str
    base: str
    design: str
    replicates: int
    steps: int
    seed: int
    stride: int
    chunk: int
    fixed: dict[str, Any]
    axes: dict[str, Any]
    points: list[dict[str, Any]]
    scenarios: list[Scenario] = field(repr=False)
    sobol_problem: dict | None = None
    path: str | None = None

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replicates

    @property
    def axis_keys(self) -> list[str]:
        """Dotted keys that vary between points, in a stable order."""
        seen: dict[str, None] = {}
        for point in self.points:
            for key in point:
                seen.setdefault(key)
        return list(seen)

    @functools.cached_property
    def axis_dtypes(self) -> dict[str, str]:
        """The column type of each axis key in sweep tables, decided from every point's
        value, not from one chunk's: "int64", "Int64" (whole numbers, some points without
        the key), "float64" (numbers, or a mix of whole numbers and floats), "string" or
        "object". Every part file of `summary/` then has the same schema, so that
        `pd.read_parquet(<folder>/summary)` reads the folder as one table (a chunk whose
        points all lack a key, or hold only the whole numbers of `[0, 0.5, 1]`, would
        otherwise be typed by its own values, and pyarrow refuse the folder)."""
        dtypes = {}
        for key in self.axis_keys:
            values = [point[key] for point in self.points if key in point]
            numbers = all(isinstance(v, int | float) and not isinstance(v, bool)
                          for v in values)
            if all(isinstance(v, str) for v in values):
                dtypes[key] = "string"
            elif numbers and all(isinstance(v, int) for v in values):
                dtypes[key] = "int64" if len(values) == len(self.points) else "Int64"
            elif numbers:
                dtypes[key] = "float64"
            else:
                dtypes[key] = "object"
        return dtypes

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "scenario": self.base,
            "design": self.design, "replicates": self.replicates, "steps": self.steps,
            "seed": self.seed, "stride": self.stride, "chunk": self.chunk, "set": self.fixed,
            "axes": self.axes, "points": self.points, "sobol_problem": self.sobol_problem,
            "scenario_digests": list(self.scenario_digests),
        }

    @functools.cached_property
    def scenario_digests(self) -> list[str]:
        """Each point's `Scenario.digest`, computed once (about 0.1 ms a point: seconds
        for a sweep of 100,000 points, which `to_dict` and `digest` would otherwise
        spend again at every call)."""
        return [s.digest() for s in self.scenarios]

    def digest(self) -> str:
        """SHA-256 of what the sweep runs (not of the file's text)."""
        data = self.to_dict()
        data.pop("description")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def bundled_sweeps() -> list[str]:
    """Names of the bundled sweep files: the scenarios/*.toml with a [sweep] table."""
    return list(bundled_files(sweeps=True))


def axis_column(key: str) -> str:
    """Column name of an axis key in sweep tables (`regime` -> `scenario.regime`, as in
    summary.parquet, so it never collides with the `regime` outcome)."""
    return f"scenario.{key}" if "." not in key else key


def _err(source: str, message: str) -> ScenarioError:
    return ScenarioError(f"{source}: {message}")


def _int(source: str, key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _err(source, f"sweep.{key} = {value!r}; allowed: a whole number in [{lo}, {hi}]")
    return value


def _whole_key(key: str) -> bool:
    """Whether a sweepable key takes whole numbers only: an organisation count, or a
    parameter of `P.INTEGER_KEYS` (months)."""
    return (key.startswith("organisations.") or key in P.INTEGER_KEYS
            or (key.startswith("timeline.") and key.endswith(".month")))


def _check_key(source: str, key: str) -> None:
    """A sweepable dotted key: regime, form, organisations.<kind>, context.*, constants.*,
    or timeline.<event>.month / timeline.<event>.<key> (the loader checks the event and
    the key against the base scenario's timeline)."""
    if key in ("regime", "form") or key.startswith("timeline."):
        return
    group = key.split(".", 1)[0]
    if group == "organisations":
        from agents.kinds import KIND_NAMES

        if key.split(".", 1)[1] in KIND_NAMES:
            return
    elif key in P.PARAM_BY_KEY and group in ("context", "constants"):
        return
    raise _err(source, f"unknown axis key {key!r}; axes vary regime, form, "
                       "organisations.<kind>, context.<name>, constants.<name> or "
                       "timeline.<event>.month / timeline.<event>.<key>")


def _bound(source: str, name: str, what: str, value: Any) -> float:
    """An axis bound (start, stop, low, high) as a finite float: nan, inf and an integer
    too big for a float are refused here, naming the bound, not met later as an
    OverflowError or as a point whose value the spacing turned into nan."""
    if not isinstance(value, bool) and isinstance(value, int | float):
        with contextlib.suppress(OverflowError):
            if math.isfinite(number := float(value)):
                return number
    raise _err(source, f"axis {name!r}: {what} = {shown(value)} is not a finite number")


def grid_axis(source: str, name: str, spec: Any) -> tuple[list[str], list[tuple]]:
    if isinstance(spec, list):
        _check_key(source, name)
        if not spec:
            raise _err(source, f"axis {name!r} has no values")
        return [name], [(v,) for v in spec]
    if isinstance(spec, dict) and set(spec) == {"start", "stop", "num"}:
        _check_key(source, name)
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= 10_000:
            raise _err(source, f"axis {name!r}: num = {num!r}; allowed: a whole number in "
                               "[1, 10000]")
        start, stop = (_bound(source, name, k, spec[k]) for k in ("start", "stop"))
        with np.errstate(all="ignore"):
            values = np.linspace(start, stop, num)
        if not np.isfinite(values).all():  # e.g. -1e308 to 1e308: the step overflows
            raise _err(source, f"axis {name!r}: start = {start:g} and stop = {stop:g} are "
                               "too far apart to space as floats")
        if _whole_key(name):  # counts and month numbers: whole values, typed as ints
            if not all(float(v).is_integer() for v in values):
                step = f"space it by {(stop - start) / (num - 1):g}" if num > 1 else "give it"
                raise _err(source, f"axis {name!r} takes whole numbers, but start = {start:g}, "
                                   f"stop = {stop:g} and num = {num} {step}: choose them so "
                                   "every value is whole, or list the values")
            return [name], [(int(v),) for v in values]
        return [name], [(round(float(v), 12),) for v in values]
    if isinstance(spec, dict) and set(spec) == {"keys", "rows"}:
        keys, rows = spec["keys"], spec["rows"]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise _err(source, f"axis {name!r}: keys must be a list of dotted keys")
        for key in keys:
            _check_key(source, key)
        if not isinstance(rows, list) or not rows or not all(
            isinstance(r, list) and len(r) == len(keys) for r in rows
        ):
            raise _err(source, f"axis {name!r}: rows must be a list of lists of {len(keys)} "
                               "values")
        return keys, [tuple(r) for r in rows]
    raise _err(source, f"axis {name!r} = {spec!r}; expected a list of values, "
                       "{start, stop, num} or {keys, rows}")


def _range_axis(source: str, name: str, spec: Any) -> tuple[float, float]:
    _check_key(source, name)
    if name not in P.PARAM_BY_KEY:
        raise _err(source, f"axis {name!r}: lhs and sobol designs vary context.* or "
                           "constants.* numbers only")
    param = P.PARAM_BY_KEY[name]
    if not isinstance(spec, dict) or set(spec) != {"low", "high"}:
        raise _err(source, f"axis {name!r} = {spec!r}; expected {{low, high}}")
    lo, hi = (_bound(source, name, k, spec[k]) for k in ("low", "high"))
    if not param.lo <= lo < hi <= param.hi:
        raise _err(source, f"axis {name!r}: low = {lo!r}, high = {hi!r}; allowed: "
                           f"{param.lo:g} <= low < high <= {param.hi:g}")
    if _whole_key(name) and not (lo.is_integer() and hi.is_integer()):
        # each sampled value is rounded to a whole month: 3.2 to 3.4 would give 3 throughout
        raise _err(source, f"axis {name!r} takes whole numbers and each sampled value is "
                           f"rounded to one: low = {lo:g} and high = {hi:g} must be whole, "
                           "so that every value stays in the range")
    return float(lo), float(hi)


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Load and validate a sweep file; every point's scenario is resolved.

    Raises:
        ScenarioError: one line naming the file, key and allowed values.
    """
    if not isinstance(path, str | os.PathLike):
        raise ScenarioError(f"path = {shown(path)} is not a sweep file; allowed: a path to a "
                            "sweep TOML file (str or os.PathLike) or a bundled sweep name ("
                            + ", ".join(bundled_sweeps()) + ")")
    given = str(path)
    path = Path(path)
    source = str(path)
    if not path.is_file():
        bundled = SCENARIO_DIR / f"{path}.toml"
        if path.suffix != ".toml" and bundled.is_file():
            path, source = bundled, str(bundled)
        elif path.is_dir():
            raise ScenarioError(f"sweep file {source!r} is a folder, not a sweep file")
        elif path.exists():  # a FIFO, a device
            raise ScenarioError(f"sweep file {source!r} is not a regular file")
        else:
            raise ScenarioError(f"sweep file {source!r} does not exist; bundled sweeps are "
                                + ", ".join(bundled_sweeps()))
    raw = read_toml(path)
    if "sweep" not in raw and {"regime", "form"} & set(raw):
        raise _err(source, f"this is a scenario, not a sweep file; run it with `icsabm run "
                           f"{given}` (bundled sweeps are {', '.join(bundled_sweeps())})")
    for key in raw:
        if key not in ("sweep", "axes", "points"):
            raise _err(source, f"unknown top-level key {key!r}; valid keys are sweep, axes, "
                               "points")
    head = raw.get("sweep")
    if not isinstance(head, dict):
        raise _err(source, "missing [sweep] table")
    for key in head:
        if key not in SWEEP_KEYS:
            raise _err(source, f"unknown key sweep.{key}; valid keys are {', '.join(SWEEP_KEYS)}")
    if "scenario" not in head:
        raise _err(source, "missing key sweep.scenario (the base scenario)")
    design = head.get("design", "grid")
    if design not in DESIGNS:
        raise _err(source, f"sweep.design = {design!r} is not one of {', '.join(DESIGNS)}")
    if design != "points" and "points" in raw:
        raise _err(source, f"[[points]] tables are read only by design = \"points\"; this "
                           f"sweep's design is {design!r} (its points come from [axes])")
    if design in ("grid", "points") and "samples" in head:
        raise _err(source, f"sweep.samples is read only by lhs and sobol designs; this "
                           f"sweep's design is {design!r}")
    # a name taken from the file name is made a plain folder name ("my sweep" -> "my_sweep");
    # one the file gives must already be one
    name = head["name"] if "name" in head else folder_name(path.stem)
    description = head.get("description", "")
    for key, value in (("name", name), ("description", description),
                       ("scenario", head["scenario"])):
        if not isinstance(value, str):
            raise _err(source, f"sweep.{key} = {value!r} is not a string")
    if not NAME.match(name):
        raise _err(source, f"sweep.name = {name!r}; allowed: letters, digits, _, - and ., "
                           "not starting with . or - (it names the folder runs/<name>-<time>)")
    replicates = _int(source, "replicates", head.get("replicates", 20), 1, 1_000_000)
    seed = _int(source, "seed", head.get("seed", 0), 0, 2**63 - 1)
    stride = _int(source, "stride", head.get("stride", 0), 0, 1200)
    chunk = _int(source, "chunk", head.get("chunk", 2000), 1, 10_000_000)
    fixed = head.get("set", {})
    if not isinstance(fixed, dict):
        raise _err(source, f"sweep.set = {fixed!r} must be a table of dotted keys")
    fixed = roster_from(path.parent, fixed)  # a roster named in the sweep file: beside it
    base = head["scenario"]
    base_path = path.parent / base
    if base.endswith(".toml") and base_path.is_file():
        base = str(base_path)
    try:
        load_point = _base_loader(base)
        base_scenario = load_point(fixed, head.get("steps"), "sweep.set", "sweep.steps")
    except ScenarioError as exc:  # the sweep's own set or steps, or the base file
        mine = str(exc).startswith(("sweep.set", "sweep.steps"))
        raise _err(source, f"{'' if mine else 'base scenario: '}{exc}") from None
    steps = base_scenario.steps

    axes = raw.get("axes", {})
    if not isinstance(axes, dict):
        raise _err(source, "[axes] must be a table")
    sobol_problem = None
    if design == "grid":
        if not axes:
            raise _err(source, "a grid design needs at least one axis in [axes]")
        grids = [grid_axis(source, n, spec) for n, spec in axes.items()]
        for axis, (_, rows) in zip(axes, grids, strict=True):
            _check_rows_once(source, axis, rows)
        _check_distinct(source, {n: keys for n, (keys, _) in zip(axes, grids, strict=True)},
                        fixed)
        _check_size(source, math.prod(len(rows) for _, rows in grids), replicates)
        points = []
        for combo in itertools.product(*[rows for _, rows in grids]):
            point: dict[str, Any] = {}
            for (keys, _), row in zip(grids, combo, strict=True):
                point.update(zip(keys, row, strict=True))
            points.append(point)
    elif design == "points":
        listed = raw.get("points")
        if not isinstance(listed, list) or not listed or not all(
            isinstance(p, dict) for p in listed
        ):
            raise _err(source, "a points design needs [[points]] tables of dotted keys")
        if axes:
            raise _err(source, "a points design takes [[points]], not [axes]")
        _check_size(source, len(listed), replicates)
        for point in listed:
            for key in point:
                _check_key(source, key)
        _check_distinct(source, {"[[points]]": sorted({k for p in listed for k in p})}, fixed)
        points = [dict(p) for p in listed]
    else:
        if not axes:
            raise _err(source, f"a {design} design needs ranges in [axes]")
        bounds = {n: _range_axis(source, n, spec) for n, spec in axes.items()}
        _check_distinct(source, {n: [n] for n in bounds}, fixed)
        samples = _int(source, "samples", head.get("samples", 64), 2, 10_000_000)
        names = list(bounds)
        # SALib's Sobol sampler without second order gives N * (D + 2) points
        _check_size(source, samples if design == "lhs" else samples * (len(names) + 2),
                    replicates)
        if design == "lhs":
            unit = _latin_hypercube(samples, len(names), seed)
        else:
            if samples & (samples - 1):
                raise _err(source, f"sweep.samples = {samples}; a sobol design needs a power "
                                   "of 2")
            from SALib.sample import sobol as sobol_sample

            sobol_problem = {"num_vars": len(names), "names": names,
                             "bounds": [list(bounds[n]) for n in names]}
            matrix = sobol_sample.sample(sobol_problem, samples, calc_second_order=False,
                                         seed=seed)
            unit = None
        if unit is not None:
            lo = np.array([bounds[n][0] for n in names])
            hi = np.array([bounds[n][1] for n in names])
            matrix = lo + unit * (hi - lo)
        points = []
        for row in matrix:
            point = {}
            for n, v in zip(names, row, strict=True):
                value = float(v)
                if n in P.INTEGER_KEYS:
                    value = float(round(value))
                point[n] = value
            points.append(point)
    scenarios = []
    for index, point in enumerate(points):
        overrides = {**fixed, **point}
        try:
            scenarios.append(load_point(overrides, steps))
        except ScenarioError as exc:
            raise _err(source, f"point {index} ({_describe(point)}): {exc}") from None
    axes_resolved = json.loads(json.dumps(axes))
    return Sweep(name=name, description=description, base=head["scenario"], design=design,
                 replicates=replicates, steps=steps, seed=seed, stride=stride, chunk=chunk,
                 fixed=dict(fixed), axes=axes_resolved, points=points, scenarios=scenarios,
                 sobol_problem=sobol_problem, path=source)


def _base_loader(base: str) -> Callable[..., Scenario]:
    """Read the base scenario file once; the returned `load(overrides, steps)` validates
    a copy with the overrides applied, exactly as `load_scenario(base, overrides, steps)`
    does (same source, folder for rosters, default name and checks), without reading and
    parsing the file again for every point (for a bundled name, every bundled file)."""
    path = resolve_path(base)
    raw = read_raw(path)

    def load(overrides: dict[str, Any], steps: int | None, label: str = "the sweep",
             steps_label: str = "the sweep") -> Scenario:
        return resolve_raw(copy.deepcopy(raw), str(path), path.parent, overrides, steps,
                           label=label, steps_label=steps_label)

    return load


def _check_distinct(source: str, axis_keys: dict[str, list[str]], fixed: dict) -> None:
    """Each dotted key varies on one axis only and is not also fixed by sweep.set: otherwise
    one value would silently win over the other (and a grid would repeat its points)."""
    seen: dict[str, str] = {}
    for axis, keys in axis_keys.items():
        for key in keys:
            if key in seen:
                where = f"twice on axis {axis!r}" if seen[key] == axis else (
                    f"on axes {seen[key]!r} and {axis!r}")
                raise _err(source, f"key {key!r} is given {where}; each key can vary on one "
                                   "axis only")
            if key in fixed:
                raise _err(source, f"key {key!r} is both fixed in sweep.set and varied on axis "
                                   f"{axis!r}; give it in one place only")
            seen[key] = axis


def _check_rows_once(source: str, axis: str, rows: list[tuple]) -> None:
    """Each value (or row) of a grid axis once: `[0.2, 0.2, 0.4]`, a typo, repeated every
    point of that value, and the phase figure drew two columns of one value (`replicates`
    sets the runs per point)."""
    seen: dict[Any, int] = {}
    for number, row in enumerate(rows, start=1):
        try:
            first = seen.setdefault(row, number)
        except TypeError:  # a list in a row: refused as a value later, naming its key
            continue
        if first != number:
            value = shown(row[0] if len(row) == 1 else list(row))
            raise _err(source, f"axis {axis!r} gives {value} twice (values {first} and "
                               f"{number}); give each value once: replicates sets the runs "
                               "per point")


def _check_size(source: str, n_points: int, replicates: int) -> None:
    """Refuse more than MAX_RUNS runs, from the design's sizes alone: called before the
    points are built, so an oversized grid fails at once instead of exhausting memory."""
    if n_points * replicates > MAX_RUNS:
        raise _err(source, f"{n_points} points x {replicates} replicates is more than "
                           f"{MAX_RUNS} runs")
    have = available_memory()
    if have is not None and n_points * BYTES_PER_POINT > have:
        raise _err(source, f"{n_points:,} points need about "
                           f"{size_text(n_points * BYTES_PER_POINT)} of memory to hold their "
                           f"scenarios, more than the {size_text(have)} available; use fewer "
                           "points and more replicates per point, or split the sweep")


def _describe(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _latin_hypercube(samples: int, dims: int, seed: int) -> np.ndarray:
    """Latin hypercube on [0, 1)^dims (SALib's latin sampler, seeded)."""
    from SALib.sample import latin

    problem = {"num_vars": dims, "names": [f"x{i}" for i in range(dims)],
               "bounds": [[0.0, 1.0]] * dims}
    return latin.sample(problem, samples, seed=seed)
