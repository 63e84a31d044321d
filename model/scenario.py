"""Scenario files (TOML, CONTRACT.md): loading, strict validation and overrides.

A scenario is data: a name and description, the regime and form, the number
of months, the organisations (counts per kind or a roster CSV), the context
(`[context]`), optional free constants (`[constants]`) and an optional
`[[timeline]]` of changes to the context, the regime and the form. Anything
not in the parameter table is rejected with the list of valid keys; values
outside their range are rejected with the range. Every error is a
`ScenarioError` whose message is one line naming the file or key, the value
given and what is allowed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import numbers
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.kinds import KIND_INDEX, KIND_NAMES
from model import params as P


def _scenario_dir() -> Path:
    """The bundled scenario and sweep files: `model/scenarios/` where a wheel installed
    them (pyproject.toml's package-dir), else `scenarios/` of the source checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "scenarios"
    return installed if installed.is_dir() else package.parent / "scenarios"


SCENARIO_DIR = _scenario_dir()

#: Integration depth and reputation of each collaboration form (`params.FORMS`).
FORMS = P.FORMS
REGIMES = ("mandated", "voluntary")
#: The `structure.*` keys a collaboration form sets.
FORM_KEYS = ("structure.integration", "structure.form_reputation")
TOP_KEYS = ("name", "description", "sources", "regime", "form", "steps", "organisations",
            "context", "constants", "timeline")
MAX_STEPS = 1200
MAX_ORGANISATIONS = 2000
MAX_SEED = 2**63 - 1
ROSTER_COLUMNS = ("name", "kind", "size", "x_km", "y_km")
#: The keys whose value is text: `--set` takes a value that TOML reads as a number, a
#: boolean or a date (`name=2024`) as the text typed.
TEXT_KEYS = ("name", "description", "regime", "form", "organisations.roster")


class ScenarioError(ValueError):
    """A scenario, override or roster, or a run argument (seed, steps, replicates), that
    cannot be used; the message is one line."""


def whole_number(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """`value` as an int when it is an integer in [lo, hi] (no upper bound when `hi` is
    None): a Python or numpy integer, not a bool and not a float (a fraction of a seed,
    a month or a replicate is a mistake, not something to round). The rule for the
    Python API's seeds and counts; scenario values (`_number`) also take 12.0, as TOML
    and `--set` may write it.

    Raises:
        ScenarioError: naming `name`, the value given and what is allowed.
    """
    allowed = "a whole number " + (f">= {lo}" if hi is None else
                                   f"in [{lo}, {'2^63 - 1' if hi == MAX_SEED else hi}]")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise ScenarioError(f"{name} = {shown(value)} is not {allowed}")
    if value < lo or (hi is not None and value > hi):
        raise ScenarioError(f"{name} = {shown(value)} is out of range; allowed: {allowed}")
    return int(value)


def shown(value: Any) -> str:
    """`repr(value)` for a one-line message, or its type when that is long or has lines
    (a pandas Series, an array)."""
    text = repr(value)
    return text if len(text) <= 80 and "\n" not in text else f"a {type(value).__name__}"


def counted(n: int, noun: str) -> str:
    """`n` and `noun`, in the plural unless n is 1: '1 organisation', '3 months'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class Roster:
    """The organisations of a scenario, one entry each."""

    names: list[str]
    kinds: np.ndarray  # int64 kind index
    size: np.ndarray  # float64, NaN = draw from the kind's distribution
    x_km: np.ndarray  # float64, NaN = draw uniformly in the footprint
    y_km: np.ndarray
    path: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {k: int(np.sum(self.kinds == i)) for i, k in enumerate(KIND_NAMES)}


@dataclass
class Scenario:
    """A validated scenario. Build one with `load_scenario`."""

    name: str
    description: str
    regime: str
    form: str
    steps: int
    roster: Roster
    context: dict[str, float]
    constants: dict[str, float]
    #: (month, {dotted key: value}): `context.*` keys, and the `structure.*` values of a
    #: `regime` or `form` the event sets (`regime_values`, `form_values`).
    timeline: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    sources: str = ""
    path: str | None = None

    @property
    def n_organisations(self) -> int:
        return len(self.roster.names)

    def packed(self) -> np.ndarray:
        """The packed float64 parameter array the kernels read (params.PARAMS order)."""
        values = P.DEFAULTS.copy()
        for group in (regime_values(self.regime), form_values(self.form), self.context,
                      self.constants):
            for key, value in group.items():
                values[P.index(key)] = value
        return values

    def timeline_array(self) -> np.ndarray:
        """Timeline events as float64 `[E, 3]`: month, parameter index, value."""
        rows = [
            (month, P.index(key), value) for month, changes in self.timeline
            for key, value in changes.items()
        ]
        return np.array(rows, dtype=np.float64).reshape(len(rows), 3)

    def flat(self) -> dict[str, Any]:
        """Every scenario parameter under its dotted name (summary columns).

        The top-level keys appear as `scenario.name`, `scenario.regime`,
        `scenario.form` and `scenario.steps`, so they never collide with the
        outcome columns (`regime` is the outcome: synergy, inertia, dissolution).
        """
        out: dict[str, Any] = {"scenario.name": self.name, "scenario.regime": self.regime,
                               "scenario.form": self.form, "scenario.steps": self.steps}
        for kind, count in self.roster.counts.items():
            out[f"organisations.{kind}"] = count
        out.update(self.context)
        out.update(self.constants)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (for manifests)."""
        return {
            "name": self.name,
            "description": self.description,
            "sources": self.sources,
            "regime": self.regime,
            "form": self.form,
            "steps": self.steps,
            "organisations": self.roster.counts,
            "roster": {
                "path": self.roster.path,
                "names": self.roster.names,
                "kinds": [KIND_NAMES[k] for k in self.roster.kinds],
                "size": [None if math.isnan(v) else v for v in self.roster.size],
                "x_km": [None if math.isnan(v) else v for v in self.roster.x_km],
                "y_km": [None if math.isnan(v) else v for v in self.roster.y_km],
            },
            "context": {k.split(".", 1)[1]: v for k, v in self.context.items()},
            "constants": {k.split(".", 1)[1]: v for k, v in self.constants.items()},
            "timeline": [{"month": m, "set": timeline_words(c)} for m, c in self.timeline],
        }

    def digest(self) -> str:
        """SHA-256 of the resolved scenario (what the model runs, not the file's text)."""
        data = self.to_dict()
        data.pop("description")
        data.pop("sources")
        data["roster"].pop("path")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def regime_values(regime: str) -> dict[str, float]:
    """The `structure.*` value a regime sets: `structure.mandated`, 1 under a mandate
    (C01, C02, C11, C12, C17, C20, C36)."""
    return {"structure.mandated": 1.0 if regime == "mandated" else 0.0}


def form_values(form: str) -> dict[str, float]:
    """The `structure.*` values a collaboration form sets: its integration depth (C11,
    C12) and the legitimacy the form carries (C02, C03) [M23 ch. 2]."""
    return dict(zip(FORM_KEYS, FORMS[form], strict=True))


def timeline_words(changes: dict[str, float]) -> dict[str, Any]:
    """A timeline event's resolved changes as a scenario file gives them (`_timeline`'s
    inverse): context keys by their short name, and `regime` and `form` by name."""
    words: dict[str, Any] = {}
    for key, value in changes.items():
        if key.startswith("context."):
            words[key.split(".", 1)[1]] = value
        elif key == "structure.mandated":
            words["regime"] = "mandated" if value == 1.0 else "voluntary"
        elif key == FORM_KEYS[0]:
            given = {k: changes[k] for k in FORM_KEYS}
            words["form"] = next(f for f in FORMS if form_values(f) == given)
    return words


def bundled_files(sweeps: bool = False) -> dict[str, Path]:
    """Bundled TOML files by name: the scenarios, or with `sweeps` the sweep files (those
    with a `[sweep]` table). A file that does not read as TOML counts as a scenario, so
    that loading it reports what is wrong with it."""
    out = {}
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        try:
            is_sweep = "sweep" in read_toml(path)
        except ScenarioError:  # unreadable, not UTF-8, not TOML
            is_sweep = False
        if is_sweep == sweeps:
            out[path.stem] = path
    return out


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario files by name (sweep files excluded)."""
    return bundled_files(sweeps=False)


def resolve_path(scenario: str | Path) -> Path:
    """A scenario argument (a path, or a bare bundled name) as an existing file."""
    if not str(scenario).strip():
        raise ScenarioError("no scenario given: a bundled name or a path to a TOML file")
    path = Path(scenario)
    if path.is_dir():
        raise ScenarioError(f"scenario {str(path)!r} is a folder, not a scenario file")
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario file {str(path)!r} "
                                + ("is not a regular file" if path.exists() else "does not exist"))
        return path
    bundled = bundled_scenarios()
    if str(scenario) in bundled:
        return bundled[str(scenario)]
    raise ScenarioError(
        f"unknown scenario {str(scenario)!r}: not a file; bundled scenarios are "
        + ", ".join(bundled)
    )


def parse_value(text: str) -> Any:
    """A `--set` value: a TOML literal (number, boolean, quoted string) or a bare word."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return float(text)  # numbers TOML does not write: .5, 5., 1E3
    except ValueError:
        return text


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings (from `--set`) as a dict of dotted keys to values.

    A roster file typed on the command line is found from the current folder, as
    `load_scenario` finds every roster given in its overrides (in a scenario file, a
    roster path is relative to that file's folder).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. context.funding=0.6")
        parsed = parse_value(value.strip())
        if key.strip() in TEXT_KEYS and not isinstance(parsed, str):
            parsed = value.strip()  # name=2024 is the name "2024", not a number
        out[key.strip()] = parsed
    return out


def roster_from(folder: Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` with a relative `organisations.roster` path made absolute from `folder`:
    the current folder for overrides typed on the command line or given in Python, the
    sweep file's folder for a sweep's `set`. Whether or not the file exists: a missing one
    is reported where it was looked for, never looked for beside the scenario file (the
    folder of a roster named in the scenario file itself)."""
    out = dict(overrides)
    roster = out.get("organisations.roster")
    if isinstance(roster, str | os.PathLike) and str(roster).strip() and \
            not Path(roster).is_absolute():
        out["organisations.roster"] = str((folder / roster).resolve())
    return out


def from_resolved(data: dict[str, Any]) -> Scenario:
    """Rebuild a scenario from `Scenario.to_dict()` (a run's or sweep's manifest),
    its roster included: the names, kinds and any given sizes and positions, so
    a recorded seed reproduces the run exactly.

    Raises:
        ScenarioError: the data is not a resolved scenario.
    """
    raw = dict(data)
    roster = raw.pop("roster", None)
    if not isinstance(roster, dict):
        raise ScenarioError("not a resolved scenario: no roster table")
    scenario = load_scenario(raw)
    counted = scenario.roster.counts
    try:
        kinds = np.array([KIND_NAMES.index(k) for k in roster["kinds"]], dtype=np.int64)

        def floats(values: list) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        scenario.roster = Roster(list(roster["names"]), kinds, floats(roster["size"]),
                                 floats(roster["x_km"]), floats(roster["y_km"]),
                                 roster.get("path"))
    except (KeyError, TypeError, ValueError):
        raise ScenarioError("not a resolved scenario: malformed roster table") from None
    if scenario.roster.counts != counted:
        raise ScenarioError("not a resolved scenario: roster and organisations disagree")
    return scenario


def load_scenario(scenario: str | os.PathLike | Mapping | Scenario,
                  overrides: Mapping[str, Any] | None = None, steps: int | None = None,
                  label: str = "overrides", steps_label: str = "steps") -> Scenario:
    """Load, override and validate a scenario.

    Args:
        scenario: a bundled name (`"ics_mandated"`), a path to a TOML file (str or
            `os.PathLike`), the parsed contents of one as a mapping (numpy numbers and
            paths in it are taken as Python numbers and strings), or a `Scenario`,
            returned as it is (it takes no overrides or steps).
        overrides: a mapping of dotted keys to values, applied before validation
            (`{"context.formalisation": 0.8, "regime": "voluntary"}`). A relative
            `organisations.roster` path here is found from the current folder, as with
            `--set` (one in the scenario file, from that file's folder).
        steps: months to run, overriding the file's `steps`: a whole number in
            [1, MAX_STEPS], a Python or numpy integer (not a float or bool, as for every
            count of the Python API; a value in the file or the overrides may be 12.0).
        label: how an error names a value from `overrides` (`icsabm run` passes "--set").
        steps_label: how an error names the value of `steps` (`icsabm run` passes
            "--steps").

    Raises:
        ScenarioError: with a one-line message naming the problem.
    """
    if steps is not None and (isinstance(steps, bool | np.bool_)
                              or not isinstance(steps, numbers.Integral)):
        raise ScenarioError(f"{steps_label}: steps = {shown(steps)} is not a whole number in "
                            f"[1, {MAX_STEPS}]")
    if isinstance(scenario, Scenario):
        if overrides or steps is not None:
            raise ScenarioError(f"a Scenario is already resolved and takes no {label} or "
                                "steps: give its name, path or dict instead")
        return scenario
    if isinstance(scenario, Mapping):
        raw, source, base_dir = _copy(scenario), "scenario", Path.cwd()
    elif isinstance(scenario, str | os.PathLike):
        path = resolve_path(scenario)
        raw, source, base_dir = read_raw(path), str(path), path.parent
    else:
        raise ScenarioError(
            f"scenario = {shown(scenario)} is not a scenario; allowed: a bundled name (e.g. "
            "'ics_mandated'), a path to a TOML file, a dict of a scenario file's contents "
            "or a Scenario")
    if isinstance(overrides, Mapping) and overrides:
        overrides = roster_from(Path.cwd(), overrides)
    return resolve_raw(raw, source, base_dir, overrides, steps, label, steps_label)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file (scenario or sweep) as a dict. A UTF-8 byte-order mark at its start is
    skipped, as in a roster CSV (Windows editors write one); the text is otherwise as
    written (no newline translation).

    Raises:
        ScenarioError: one line naming the file: unreadable, not UTF-8, or not TOML.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file (TOML files are UTF-8)") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: malformed TOML: {exc}") from None


def read_raw(path: Path) -> dict[str, Any]:
    """A scenario file's TOML as a dict, `name` defaulting to the file's name; read once,
    it can be resolved many times (a sweep's points) with `resolve_raw` on copies."""
    raw = read_toml(path)
    raw.setdefault("name", path.stem)
    return raw


def resolve_raw(raw: dict[str, Any], source: str, base_dir: Path,
                overrides: Mapping[str, Any] | None = None, steps: int | None = None,
                label: str = "overrides", steps_label: str = "steps") -> Scenario:
    """Apply `overrides` and `steps` to `raw` (in place) and validate it.

    An error names `source` (the file), `label` for a value the overrides gave, or
    `steps_label` for `steps`; a relative roster path is relative to `base_dir` (callers
    make one in `overrides` absolute first, with `roster_from`).
    """
    if overrides is not None and not isinstance(overrides, Mapping):
        hint = (f" ({overrides!r}): mesa.batch_run iterates a dict's keys as separate "
                "values, so wrap one overrides dict in a list (\"overrides\": [{...}])"
                if isinstance(overrides, str) else "")
        raise ScenarioError(f"{label} must be a mapping of dotted keys to values such as "
                            f"{{'context.funding': 0.6}}, not a {type(overrides).__name__}"
                            + hint)
    if overrides and "organisations.roster" in overrides:
        counted = [k for k in overrides if k in {f"organisations.{kind}" for kind in KIND_NAMES}]
        if counted:  # whichever comes first: the roster would drop the count unsaid
            raise ScenarioError(
                f"{label} {counted[0]}: organisations.roster is given too; a count cannot be "
                "added to a roster: give the roster alone, or counts alone")
    for key, value in (overrides or {}).items():
        _apply_override(raw, key, value, label)
    if steps is not None:
        if "steps" in (overrides or {}) and raw["steps"] != steps:  # neither silently wins
            raise ScenarioError(f"{label}: steps is given twice, as {shown(raw['steps'])} "
                                f"and as {shown(steps)}; give it once")
        raw["steps"] = steps
    given = dict.fromkeys(overrides or (), label)
    if steps is not None:
        given["steps"] = steps_label
    return _validate(raw, source, base_dir, given)


def _copy(data: Any) -> Any:
    """A deep copy of scenario data as TOML would give it: mappings as dicts, tuples as
    lists, numpy numbers as Python numbers, paths as strings; anything else is kept (and
    refused by validation if it is not a scenario value)."""
    if isinstance(data, Mapping):
        return {key: _copy(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_copy(value) for value in data]
    if isinstance(data, np.generic):
        return data.item()
    if isinstance(data, os.PathLike):
        return os.fspath(data)
    return data


def _apply_override(raw: dict, key: str, value: Any, label: str) -> None:
    """Set dotted `key` in `raw` to (a plain copy of) `value`; an error names `label`."""
    if not isinstance(key, str):
        raise ScenarioError(f"{label} key {shown(key)}: a key is a dotted name, e.g. "
                            "'context.funding'")
    value = _copy(value)
    parts = key.split(".")
    if len(parts) == 1:
        if key not in ("regime", "form", "steps", "name", "description"):
            raise ScenarioError(
                f"{label} {key}: unknown key; valid keys are regime, form, steps, name, "
                "description, organisations.<kind>, organisations.roster, context.<name>, "
                "constants.<name>, timeline.<event>.month, timeline.<event>.<key>"
            )
        raw[key] = value
        return
    if parts[0] == "timeline":
        _override_event(raw, key, value, label)
        return
    if len(parts) > 2 and parts[0] in ("organisations", "context", "constants"):
        raise ScenarioError(f"{label} {key}: one dot only: a key is group.name, e.g. "
                            "context.funding")
    if parts[0] == "scenario" and len(parts) == 2 and parts[1] in ("regime", "form", "steps",
                                                                   "name"):
        # the name of the column that records it in summary.parquet and sweep tables
        given = value if isinstance(value, str | int) and not isinstance(value, bool) else "VALUE"
        raise ScenarioError(f"{label} {key}: unknown key; the column {key} of a summary table "
                            f"is the key {parts[1]}: give it as {parts[1]}={given}")
    if len(parts) != 2 or parts[0] not in ("organisations", "context", "constants"):
        raise ScenarioError(
            f"{label} {key}: unknown key; dotted keys start with organisations., context., "
            "constants. or timeline."
        )
    group, name = parts
    if group == "organisations":
        valid = (*KIND_NAMES, "roster")
    else:
        valid = tuple(P.BY_GROUP[group])
    if name not in valid:
        raise ScenarioError(f"{label} {key}: unknown key; valid {group} keys are "
                            + ", ".join(valid))
    table = raw.setdefault(group, {})
    if not isinstance(table, dict):
        raise ScenarioError(f"{label} {key}: [{group}] in the scenario is not a table")
    if group == "organisations" and name != "roster" and "roster" in table:
        raise ScenarioError(
            f"{label} {key}: this scenario names its organisations in a roster "
            f"({table['roster']}); a count cannot be added to it: set organisations.roster "
            "to another roster file, or write a scenario file with counts")
    if group == "organisations" and name == "roster":
        for kind in KIND_NAMES:
            table.pop(kind, None)
    table[name] = value


def _override_event(raw: dict, key: str, value: Any, label: str) -> None:
    """`timeline.<event>.month` or `timeline.<event>.<key>`: the month of the scenario's
    timeline event number <event> (from 1, in file order), or one key of its `set`
    (added when the event does not set it). The loader then validates the event as in
    a file, so that a sweep can vary when an event happens or what it sets (THEORY §5
    step 2)."""
    parts = key.split(".")
    events = raw.get("timeline", [])
    if not isinstance(events, list):
        raise ScenarioError(f"{label} {key}: the scenario's timeline is not an array of "
                            "tables ([[timeline]])")
    example = "timeline.1.month or timeline.1.funding"
    if len(parts) != 3 or not parts[2]:
        raise ScenarioError(f"{label} {key}: a timeline key is timeline.<event>.month or "
                            f"timeline.<event>.<key>, e.g. {example}")
    number = parts[1]
    if not (number.isascii() and number.isdigit() and 1 <= int(number) <= len(events)):
        has = counted(len(events), "timeline event")
        numbers = f"timeline.1 to timeline.{len(events)}" if len(events) > 1 else "timeline.1"
        raise ScenarioError(f"{label} {key}: the scenario has {has}"
                            + (f"; give {numbers}" if events else
                               ": add [[timeline]] events to the scenario file first"))
    event = events[int(number) - 1]
    if not isinstance(event, dict) or not isinstance(event.get("set"), dict):
        raise ScenarioError(f"{label} {key}: timeline event {number} of the scenario is not "
                            "a table with month and set")
    if parts[2] == "month":
        event["month"] = value
    else:
        event["set"][parts[2]] = value


def _number(source: str, key: str, value: Any, lo: float, hi: float, integer: bool) -> float:
    """`value` as a float when it is a real number in [lo, hi] (with `integer`, a whole
    one: an integer or an integer-valued float such as 12.0); bool refused."""
    kind = type(value)
    if (kind is float and lo <= value <= hi and math.isfinite(value)
            and (not integer or value.is_integer())) or (kind is int and lo <= value <= hi):
        return float(value)  # TOML's own numbers, in range (most values: no ABC checks)
    allowed = f"{'a whole number' if integer else 'a number'} in [{lo:g}, {hi:g}]"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ScenarioError(f"{source}: {key} = {shown(value)} is not {allowed}")
    if integer and not isinstance(value, numbers.Integral) and not float(value).is_integer():
        raise ScenarioError(f"{source}: {key} = {shown(value)} is not {allowed}")
    if not lo <= value <= hi or not math.isfinite(value):  # range first: an int too big
        raise ScenarioError(f"{source}: {key} = {shown(value)} is out of range; "
                            f"allowed: {allowed}")
    return float(value)


def _text(source: str, key: str, value: Any, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{source}: {key} = {shown(value)} is not a string")
    if choices is not None and value not in choices:
        raise ScenarioError(f"{source}: {key} = {shown(value)} is not one of {', '.join(choices)}")
    return value


def _name(source: str, key: str, value: str) -> str:
    """`value` when it can name a scenario or an organisation: not blank (a run folder,
    a figure label) and without a NUL character."""
    if not value.strip():
        raise ScenarioError(f"{source}: {key} = {value!r} is empty; allowed: a name")
    if "\0" in value:
        raise ScenarioError(f"{source}: {key} = {shown(value)} contains a NUL character; "
                            "allowed: a name without one")
    return value


def _table(source: str, raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{source}: [{key}] must be a table, got {value!r}")
    return value


def _group(source: str, raw: dict, group: str, at: Callable[[str], str]) -> dict[str, float]:
    """A group's values, defaults filled in; `at(key)` names where a bad value came from."""
    table = _table(source, raw, group)
    valid = P.BY_GROUP[group]
    out = {}
    for name in table:
        if name not in valid:
            raise ScenarioError(
                f"{source}: unknown key {group}.{name}; valid {group} keys are "
                + ", ".join(valid)
            )
    for name, param in valid.items():
        value = table.get(name, param.default)
        out[param.key] = _number(at(param.key), param.key, value, param.lo, param.hi,
                                 param.key in P.INTEGER_KEYS)
    return out


def _validate(raw: dict, source: str, base_dir: Path, given: Mapping[str, str]) -> Scenario:
    """The scenario of `raw`; an error names `source`, or `given[key]` for a key the user
    gave outside the file (an override or the steps argument: the user's own value)."""

    def at(key: str) -> str:
        return given.get(key, source)

    for key in raw:
        if key not in TOP_KEYS:
            raise ScenarioError(
                f"{source}: unknown key {key!r}; valid top-level keys are {', '.join(TOP_KEYS)}"
            )
    for key in ("regime", "form"):
        if key not in raw:
            raise ScenarioError(f"{source}: missing key {key!r}")
    name = _name(at("name"), "name", _text(at("name"), "name", raw.get("name", "scenario")))
    description = _text(at("description"), "description", raw.get("description", ""))
    sources = _text(source, "sources", raw.get("sources", ""))
    regime = _text(at("regime"), "regime", raw["regime"], REGIMES)
    form = _text(at("form"), "form", raw["form"], tuple(FORMS))
    steps = int(_number(at("steps"), "steps", raw.get("steps", 60), 1, MAX_STEPS, True))
    organisations = _table(source, raw, "organisations")
    counted = [k for k in given if k.startswith("organisations.")]
    roster = _roster(given[counted[0]] if counted else source, organisations, base_dir)
    context = _group(source, raw, "context", at)
    constants = _group(source, raw, "constants", at)
    timeline = _timeline(source, raw.get("timeline", []), given)
    return Scenario(name=name, description=description, regime=regime, form=form, steps=steps,
                    roster=roster, context=context, constants=constants, timeline=timeline,
                    sources=sources, path=None if source == "scenario" else source)


def _roster(source: str, table: dict, base_dir: Path) -> Roster:
    if "roster" in table:
        extra = [k for k in table if k != "roster"]
        if extra:
            raise ScenarioError(
                f"{source}: organisations.roster cannot be combined with counts ({extra[0]})"
            )
        text = _text(source, "organisations.roster", table["roster"])
        if not text.strip():  # Path("") is the current folder
            raise ScenarioError(f"{source}: organisations.roster = {text!r} is empty; allowed: "
                                "a path to a roster CSV file")
        given = Path(text)
        path = given if given.is_absolute() else base_dir / given
        if not path.exists():
            hint = ("" if given.is_absolute() else " (a relative roster path is relative to "
                    f"the scenario file's folder, {base_dir.resolve()})")
            raise ScenarioError(f"roster {path}: no such file{hint}")
        return read_roster(path)
    for kind in table:
        if kind not in KIND_INDEX:
            raise ScenarioError(
                f"{source}: unknown organisation kind {kind!r}; valid kinds are "
                + ", ".join(KIND_NAMES) + ", or roster"
            )
    kinds: list[int] = []
    for kind in KIND_NAMES:
        count = int(_number(source, f"organisations.{kind}", table.get(kind, 0), 0,
                            MAX_ORGANISATIONS, True))
        kinds.extend([KIND_INDEX[kind]] * count)
    if not 2 <= len(kinds) <= MAX_ORGANISATIONS:
        raise ScenarioError(
            f"{source}: [organisations] gives {counted(len(kinds), 'organisation')}; "
            f"allowed: 2 to {MAX_ORGANISATIONS}"
        )
    n = len(kinds)
    names = [f"{KIND_NAMES[k]}_{i + 1}" for i, k in enumerate(kinds)]
    nan = np.full(n, np.nan)
    return Roster(names, np.array(kinds, np.int64), nan.copy(), nan.copy(), nan.copy())


def read_roster(path: Path) -> Roster:
    """Read a roster CSV (`name,kind,size[,x_km,y_km]`), one organisation a row."""
    where = str(path)
    rows: list[tuple[int, list[str]]] = []  # (the line a row starts on, its cells)
    read_to = 0  # the last line of the rows read
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # Excel's "CSV UTF-8" has a BOM
            # strict: an unclosed quote is an error, not the rest of the file as one field
            reader = csv.reader(fh, strict=True)
            for row in reader:
                rows.append((read_to + 1, row))
                read_to = reader.line_num
    except OSError as exc:
        raise ScenarioError(f"roster {where}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"roster {where}: not a UTF-8 text file") from None
    except csv.Error as exc:  # a field over the csv module's limit, say
        if str(exc) == "unexpected end of data":
            raise ScenarioError(f'roster {where} line {read_to + 1}: a quote (") is not '
                                "closed") from None
        raise ScenarioError(f"roster {where}: not a readable CSV file: {exc}") from None
    rows = [(line, r) for line, r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ScenarioError(f"roster {where}: empty; expected a header name,kind,size[,x_km,y_km]")
    header = [h.strip() for h in rows[0][1]]
    if header[:3] != ["name", "kind", "size"] or header not in (
        ["name", "kind", "size"], list(ROSTER_COLUMNS)
    ):
        raise ScenarioError(
            f"roster {where}: header {','.join(header)!r}; expected name,kind,size or "
            "name,kind,size,x_km,y_km"
        )
    body = rows[1:]
    if not 2 <= len(body) <= MAX_ORGANISATIONS:
        raise ScenarioError(
            f"roster {where}: {counted(len(body), 'organisation')}; allowed: 2 to "
            f"{MAX_ORGANISATIONS}"
        )
    names, kinds, sizes, xs, ys = [], [], [], [], []
    first_line: dict[str, int] = {}  # the line each name is first given on
    for line, row in body:
        cells = [c.strip() for c in row]
        if len(cells) != len(header):
            raise ScenarioError(
                f"roster {where} line {line}: {len(cells)} fields; expected {len(header)}"
            )
        name, kind = _name(f"roster {where} line {line}", "name", cells[0]), cells[1]
        if name in first_line:
            raise ScenarioError(f"roster {where} line {line}: name {name!r} is already used on "
                                f"line {first_line[name]}; organisation names must be unique")
        first_line[name] = line
        if kind not in KIND_INDEX:
            raise ScenarioError(
                f"roster {where} line {line}: kind {kind!r} is not one of {', '.join(KIND_NAMES)}"
            )
        values = []
        for column, cell in zip(header[2:], cells[2:], strict=True):
            try:
                number = float(cell)
            except ValueError:
                number = math.nan
            low = 1.0 if column == "size" else 0.0
            if not math.isfinite(number) or number < low or number > 1e7:
                raise ScenarioError(
                    f"roster {where} line {line}: {column} = {cell!r}; allowed: a number "
                    f"in [{low:g}, 1e7]"
                )
            values.append(number)
        names.append(name)
        kinds.append(KIND_INDEX[kind])
        sizes.append(values[0])
        xs.append(values[1] if len(values) > 1 else math.nan)
        ys.append(values[2] if len(values) > 1 else math.nan)
    f = np.float64
    return Roster(names, np.array(kinds, np.int64), np.array(sizes, f), np.array(xs, f),
                  np.array(ys, f), path=where)


def _timeline(source: str, events: Any, given: Mapping[str, str] | None = None
              ) -> list[tuple[int, dict[str, float]]]:
    """The events of `[[timeline]]`, resolved; an error in an event that an override
    changed (`timeline.<event>.*` in `given`) names the override's label, not the file."""
    if not isinstance(events, list):
        raise ScenarioError(f"{source}: timeline must be an array of tables ([[timeline]])")
    valid = P.BY_GROUP["context"]
    out = []
    set_by: dict[tuple[int, str], int] = {}  # (month, key): the event that sets it

    def named(number: int) -> str | None:
        """How an error names event `number` when an override changed it."""
        changed = [k for k in (given or {}) if k.startswith(f"timeline.{number}.")]
        return f"{given[changed[0]]} timeline.{number}" if changed else None

    for number, event in enumerate(events, start=1):
        where = named(number) or f"{source}: timeline event {number}"
        if not isinstance(event, dict) or set(event) != {"month", "set"}:
            raise ScenarioError(f"{where}: needs exactly the keys month and set")
        # an event after the last month is allowed (a shorter --steps) and never happens
        month = int(_number(where, "month", event["month"], 1, MAX_STEPS, True))
        changes = event["set"]
        if not isinstance(changes, dict) or not changes:
            raise ScenarioError(f"{where}: set must be a non-empty table of context keys, "
                                "regime or form")
        resolved = {}
        for name, value in changes.items():
            if (month, name) in set_by:  # the kernel would apply both, the later winning
                earlier = set_by[month, name]
                if named(earlier) and not named(number):  # the override moved the earlier
                    raise ScenarioError(f"{named(earlier)}: {name} at month {month} is also "
                                        f"set by event {number}; give one value")
                raise ScenarioError(f"{where}: {name} is already set at month {month} by "
                                    f"event {earlier}; give one value")
            set_by[month, name] = number
            if name == "regime":  # a partnership made statutory, or released (C36)
                resolved.update(regime_values(_text(where, name, value, REGIMES)))
                continue
            if name == "form":  # a partnership that deepens (or loosens) its form
                resolved.update(form_values(_text(where, name, value, tuple(FORMS))))
                continue
            if name not in valid:
                raise ScenarioError(f"{where}: {_not_in_timeline(name, value)}")
            param = valid[name]
            if param.key in P.MONTH_ZERO_ONLY:
                raise ScenarioError(
                    f"{where}: {name} acts only when the partnership forms (month 0) and "
                    "cannot change in a timeline"
                )
            resolved[param.key] = _number(where, param.key, value, param.lo, param.hi, False)
        out.append((month, resolved))
    return out


def _not_in_timeline(name: str, value: Any) -> str:
    """Why `name` cannot be a key of a timeline event's `set` (not context, regime or
    form)."""
    only = "a timeline sets context keys, regime and form only"
    if name == "context" or name.startswith("context."):
        given = value if name == "context" and isinstance(value, dict) else {
            name.split(".", 1)[1]: value}
        key = next(iter(given), "funding") if given else "funding"
        return f"write context keys without 'context.': set = {{ {key} = ... }}"
    if name in ("steps", "name", "description", "sources"):
        return f"{name} cannot change during a run: {only}"
    if name in ("organisations", "roster") or name in KIND_INDEX:
        return (f"the organisations are fixed at month 0: {name} cannot change during a run; "
                f"{only}")
    if name in P.BY_GROUP["constants"]:
        return f"constants.{name} cannot change during a run: {only}"
    if name in P.BY_GROUP["structure"]:
        word = "regime" if name == "mandated" else "form"
        return f"{name} follows from the {word}: set = {{ {word} = ... }}"
    changeable = [n for n, p in P.BY_GROUP["context"].items() if p.key not in P.MONTH_ZERO_ONLY]
    return f"unknown key {name!r}; valid keys are regime, form, " + ", ".join(changeable)
