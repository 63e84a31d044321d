"""Scenario loading: bundled files, overrides, rosters, timelines, digests."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from model import params as P
from model.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    bundled_scenarios,
    from_resolved,
    load_scenario,
    parse_overrides,
)

THEORY_RANGES = {  # THEORY §7: an English ICS's partners
    "icb": (0, 1), "acute_trust": (0, 4), "local_authority": (0, 4), "pcn": (0, 40),
}


@pytest.mark.parametrize("name", list(bundled_scenarios()))
def test_bundled_scenarios_are_documented_and_in_range(name):
    scenario = load_scenario(name)
    assert scenario.description and scenario.sources
    counts = scenario.roster.counts
    for kind, (lo, hi) in THEORY_RANGES.items():
        assert lo <= counts[kind] <= hi, (name, kind)
    packed = scenario.packed()
    assert packed.shape == (P.N_PARAMS,) and np.isfinite(packed).all()


def test_defaults_fill_the_context():
    scenario = load_scenario({"regime": "voluntary", "form": "network",
                              "organisations": {"pcn": 3}})
    assert scenario.context["context.champions"] == P.PARAM_BY_KEY["context.champions"].default
    assert scenario.steps == 60 and scenario.n_organisations == 3


def test_overrides_reach_the_packed_parameters():
    scenario = load_scenario("ics_mandated", overrides={
        "context.formalisation": 0.8, "regime": "voluntary", "organisations.pcn": 30,
        "constants.behaviour_threshold": 0.55, "form": "merger"})
    packed = scenario.packed()
    assert packed[P.FORMALISATION] == 0.8
    assert packed[P.MANDATED] == 0.0 and packed[P.INTEGRATION] == 1.0
    assert packed[P.BEHAVIOUR_THRESHOLD] == 0.55
    assert scenario.roster.counts["pcn"] == 30 and scenario.n_organisations == 47


def test_parse_overrides_reads_toml_literals():
    assert parse_overrides(["a=0.5", "b=3", "c=true", "d=word", 'e="quoted"']) == {
        "a": 0.5, "b": 3, "c": True, "d": "word", "e": "quoted"}
    # numbers TOML does not write, as people type them
    assert parse_overrides(["a=.5", "b=5.", "c=1E-3"]) == {"a": 0.5, "b": 5.0, "c": 0.001}
    with pytest.raises(ScenarioError, match="KEY=VALUE"):
        parse_overrides(["novalue"])


def test_integer_parameters_reject_fractions():
    with pytest.raises(ScenarioError, match="whole number"):
        load_scenario("voluntary_alliance", overrides={"constants.patience_months": 2.5})
    with pytest.raises(ScenarioError, match="whole number"):
        load_scenario("voluntary_alliance", overrides={"steps": 2.5})
    with pytest.raises(ScenarioError, match="not a number"):
        load_scenario("voluntary_alliance", overrides={"context.funding": True})


def test_roster_with_and_without_coordinates(tmp_path):
    (tmp_path / "xy.csv").write_text("name,kind,size,x_km,y_km\nA,acute_trust,5000,1,2\n"
                                     "B,vcse,20,3,4\n")
    (tmp_path / "plain.csv").write_text("name,kind,size\nA,acute_trust,5000\nB,pcn,90\n")
    for name, has_xy in (("xy.csv", True), ("plain.csv", False)):
        scenario = load_scenario({"regime": "voluntary", "form": "alliance",
                                  "organisations": {"roster": str(tmp_path / name)}})
        roster = scenario.roster
        assert roster.names == ["A", "B"] and roster.size[0] == 5000
        assert (not math.isnan(roster.x_km[1])) is has_xy
    (tmp_path / "bom.csv").write_bytes("name,kind,size\nA,pcn,5\nB,pcn,6\n".encode("utf-8-sig"))
    scenario = load_scenario({"regime": "voluntary", "form": "alliance",  # Excel's CSV UTF-8
                              "organisations": {"roster": str(tmp_path / "bom.csv")}})
    assert scenario.roster.names == ["A", "B"]
    with pytest.raises(ScenarioError, match="relative to the scenario file's folder"):
        load_scenario({"regime": "voluntary", "form": "alliance",
                       "organisations": {"roster": "nowhere.csv"}})
    with pytest.raises(ScenarioError, match="unique"):
        (tmp_path / "dup.csv").write_text("name,kind,size\nA,pcn,5\nA,pcn,6\n")
        load_scenario({"regime": "voluntary", "form": "alliance",
                       "organisations": {"roster": str(tmp_path / "dup.csv")}})
    (tmp_path / "one.csv").write_text("name,kind,size\nA,pcn,5\n")
    with pytest.raises(ScenarioError, match="one.csv: 1 organisation; allowed: 2 to 2000"):
        load_scenario({"regime": "voluntary", "form": "alliance",
                       "organisations": {"roster": str(tmp_path / "one.csv")}})


def test_a_scenario_file_with_a_byte_order_mark_is_read(tmp_path):
    """Windows editors may start a UTF-8 file with a BOM; skipped, as in a roster CSV
    (unchecked, tomllib reported an 'Invalid statement' at line 1, column 1)."""
    text = (SCENARIO_DIR / "merger.toml").read_text()
    (tmp_path / "bom.toml").write_bytes(text.encode("utf-8-sig"))
    assert load_scenario(tmp_path / "bom.toml").digest() == load_scenario("merger").digest()


def test_names_are_not_empty_and_have_no_nul(tmp_path):
    """A scenario named "" ran into a folder runs/unnamed-...; a NUL in an organisation's
    name was kept. Both are refused, naming where they came from."""
    base = {"regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3}}
    assert load_scenario(base).name == "scenario"
    for name in ("", "  "):
        with pytest.raises(ScenarioError, match=r"^scenario: name = .* is empty"):
            load_scenario({**base, "name": name})
        with pytest.raises(ScenarioError, match=r"^overrides: name = .* is empty"):
            load_scenario("merger", overrides={"name": name})
    with pytest.raises(ScenarioError, match=r"^scenario: name = 'a\\x00b' contains a NUL"):
        load_scenario({**base, "name": "a\0b"})
    (tmp_path / "nul.csv").write_text("name,kind,size\nA\0B,pcn,5\nC,pcn,6\n")
    with pytest.raises(ScenarioError, match=r"nul.csv line 2: name = 'A\\x00B' contains a NUL"):
        load_scenario({**base, "organisations": {"roster": str(tmp_path / "nul.csv")}})
    (tmp_path / "blank.csv").write_text("name,kind,size\n ,pcn,5\nC,pcn,6\n")
    with pytest.raises(ScenarioError, match=r"blank.csv line 2: name = '' is empty"):
        load_scenario({**base, "organisations": {"roster": str(tmp_path / "blank.csv")}})


def test_a_roster_the_csv_module_cannot_read_is_one_line(tmp_path):
    """A field longer than the csv module's limit (131,072 characters) is a ScenarioError
    naming the roster, not a csv.Error traceback."""
    path = tmp_path / "long.csv"
    path.write_text("name,kind,size\n" + "A" * 200_000 + ",pcn,5\nB,pcn,6\n")
    with pytest.raises(ScenarioError, match=f"roster {path}: not a readable CSV file: field "
                                            "larger than field limit"):
        load_scenario({"regime": "voluntary", "form": "alliance",
                       "organisations": {"roster": str(path)}})


def test_roster_sizes_and_positions_are_used():
    from model import ICSModel

    model = ICSModel("mandated_buddying", seed=1)
    assert [o.size for o in model.organisations] == [9500.0, 3200.0]
    assert (model.organisations[1].x_km, model.organisations[1].y_km) == (40.0, 25.0)
    assert model.organisations[0].power == 1.0 > model.organisations[1].power


def test_timeline_validation():
    base = {"regime": "voluntary", "form": "alliance", "organisations": {"acute_trust": 2}}
    ok = load_scenario({**base, "timeline": [{"month": 3, "set": {"funding": 0.1}}]})
    assert ok.timeline == [(3, {"context.funding": 0.1})]
    assert ok.timeline_array().tolist() == [[3.0, P.FUNDING, 0.1]]
    for event, fragment in (({"month": 0, "set": {"funding": 0.1}}, "month"),
                            ({"month": 3, "set": {"funding": 3.0}}, "out of range"),
                            ({"month": 3, "set": {}}, "non-empty"),
                            ({"month": 3}, "exactly the keys"),
                            ({"month": 3, "set": {"history_of_competition": 0.1}}, "month 0")):
        with pytest.raises(ScenarioError, match=fragment):
            load_scenario({**base, "timeline": [event]})


def test_timeline_changes_the_run():
    from model.batch import run_replicates

    cut = load_scenario("ics_mandated_supported", steps=24)
    plain = run_replicates(cut, replicates=4, seed=1)
    cut.timeline = [(12, {"context.funding": 0.0})]
    after = run_replicates(cut, replicates=4, seed=1)
    before_cut = plain.step <= 11
    assert plain[before_cut].equals(after[before_cut])
    assert (after[after.step == 13].mean_capacity.to_numpy()
            < plain[plain.step == 13].mean_capacity.to_numpy()).all()


def test_digest_and_flat_are_stable():
    a = load_scenario("ics_mandated")
    b = load_scenario("ics_mandated")
    assert a.digest() == b.digest()
    assert load_scenario("ics_mandated", overrides={"context.funding": 0.41}).digest() != a.digest()
    flat = a.flat()
    assert flat["scenario.regime"] == "mandated" and flat["organisations.pcn"] == 12
    assert set(P.keys("context")) <= set(flat) and set(P.keys("constants")) <= set(flat)


def test_parameter_table_is_consistent():
    for param in P.PARAMS:
        assert param.lo <= param.default <= param.hi, param.key
        assert param.cmoc and param.source and param.doc and param.unit, param.key
        for cmoc in param.cmoc.split():
            assert cmoc[0] == "C" and len(cmoc) == 3, param.key


@pytest.mark.parametrize("name", ["ics_mandated", "mandated_buddying", "voluntary_alliance"])
def test_a_resolved_scenario_rebuilds_exactly(name):
    from model.batch import run_arrays
    from model.scenario import from_resolved

    original = load_scenario(name, steps=12)
    rebuilt = from_resolved(json.loads(json.dumps(original.to_dict())))  # as in a manifest
    assert rebuilt.digest() == original.digest()
    assert np.array_equal(rebuilt.packed(), original.packed())
    seeds = np.array([5, 6], dtype=np.int64)
    assert np.array_equal(run_arrays(rebuilt, seeds)[0], run_arrays(original, seeds)[0])


def test_a_resolved_scenario_needs_its_roster():
    from model.scenario import from_resolved

    data = load_scenario("ics_mandated").to_dict()
    del data["roster"]
    with pytest.raises(ScenarioError, match="no roster"):
        from_resolved(data)
    data = load_scenario("ics_mandated").to_dict()
    data["roster"]["kinds"] = data["roster"]["kinds"][:-1]
    with pytest.raises(ScenarioError):
        from_resolved(data)


def test_a_footprint_of_zero_puts_everyone_at_one_point():
    from model import state as S
    from model.ics_model import ICSModel

    model = ICSModel("voluntary_alliance", seed=3, overrides={"context.footprint_km": 0.0})
    assert np.all(model.state.org[S.X_KM] == 0.0) and np.all(model.state.org[S.Y_KM] == 0.0)
    off_diagonal = ~np.eye(model.state.org.shape[1], dtype=bool)
    assert np.all(model.state.pair[S.PROXIMITY][off_diagonal] == 1.0)


def test_python_api_rejects_bad_seeds_and_replicates_and_takes_names():
    from model.batch import run_replicates
    from model.ics_model import ICSModel

    for seed in (1.5, -1, True, "3"):
        with pytest.raises(ValueError, match="seed"):
            ICSModel("voluntary_alliance", seed=seed)
    with pytest.raises(ValueError, match="replicates"):
        run_replicates("voluntary_alliance", replicates=0)
    frame = run_replicates("voluntary_alliance", replicates=2, steps=3)
    assert len(frame) == 2 * 4 and set(frame["replicate"]) == {0, 1}


# ------------------------------------------------------------ Python API input checks
def test_numpy_numbers_and_paths_are_scenario_values():
    """What a notebook computes with numpy, or a path built with pathlib, is accepted
    wherever the same Python number or string is, with the same result."""
    from pathlib import Path

    plain = load_scenario("ics_mandated", overrides={
        "organisations.pcn": 4, "context.funding": 0.5, "constants.patience_months": 6},
        steps=12)
    numpy = load_scenario("ics_mandated", overrides={
        "organisations.pcn": np.int64(4), "context.funding": np.float32(0.5),
        "constants.patience_months": np.float64(6.0)}, steps=np.int64(12))
    assert numpy.digest() == plain.digest()
    assert isinstance(numpy.steps, int) and numpy.roster.counts["pcn"] == 4
    raw = {"regime": "voluntary", "form": "alliance", "steps": np.int64(5),
           "organisations": {"pcn": np.int64(3)}, "context": {"funding": np.float32(0.25)}}
    from_dict = load_scenario(raw)
    assert from_dict.steps == 5 and from_dict.context["context.funding"] == 0.25
    assert isinstance(raw["steps"], np.int64)  # the caller's dict is left as it was
    roster = Path(__file__).resolve().parent.parent / "scenarios" / "rosters" / "buddying_pair.csv"
    by_path = load_scenario("ics_mandated", overrides={"organisations.roster": roster})
    by_text = load_scenario("ics_mandated", overrides={"organisations.roster": str(roster)})
    assert by_path.digest() == by_text.digest()
    in_dict = load_scenario({"regime": "voluntary", "form": "alliance",
                             "organisations": {"roster": roster}})
    assert in_dict.roster.names == by_text.roster.names
    with pytest.raises(ScenarioError, match=r"organisations.pcn = True is not a whole"):
        load_scenario("ics_mandated", overrides={"organisations.pcn": np.bool_(True)})


@pytest.mark.parametrize("overrides, fragment", [
    ("context.funding", r"not a str \('context.funding'\): mesa.batch_run iterates a dict's "
                        r"keys .* wrap one overrides dict in a list"),
    (["context.funding"], "overrides must be a mapping of dotted keys to values .* not a list"),
    ("series", "not a Series$"),
    ({3: 0.5}, "overrides key 3: a key is a dotted name"),
])
def test_overrides_that_are_not_a_mapping_are_named(overrides, fragment):
    import pandas as pd

    if overrides == "series":
        overrides = pd.Series({"context.funding": 0.5})
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario("ics_mandated", overrides=overrides)


@pytest.mark.parametrize("scenario", [None, 5, "series", 2.5])
def test_a_scenario_of_the_wrong_type_is_named(scenario):
    import pandas as pd

    from model.ics_model import ICSModel

    if scenario == "series":
        scenario = pd.Series(["ics_mandated"])
    for load in (load_scenario, ICSModel):
        with pytest.raises(ScenarioError, match=r"^scenario = .* is not a scenario; allowed: "
                                                r"a bundled name"):
            load(scenario)


def test_python_api_errors_name_overrides_and_the_cli_keeps_set():
    with pytest.raises(ScenarioError) as bad_value:
        load_scenario("ics_mandated", overrides={"context.funding": 1.8})
    assert str(bad_value.value).startswith("overrides: context.funding = 1.8 is out of range")
    with pytest.raises(ScenarioError) as unknown:
        load_scenario("ics_mandated", overrides={"context.formalization": 0.8})
    assert str(unknown.value).startswith("overrides context.formalization: unknown key")
    for error in (bad_value, unknown):
        assert "--set" not in str(error.value)
    with pytest.raises(ScenarioError, match=r"^--set: context.funding = 1.8"):
        load_scenario("ics_mandated", overrides={"context.funding": 1.8}, label="--set")
    with pytest.raises(ScenarioError, match=r"^--set context.formalization: unknown key"):
        load_scenario("ics_mandated", overrides={"context.formalization": 0.8}, label="--set")


BAD_SEEDS = [1.5, 1.99, True, np.bool_(True), "1", -1, 2**63, None, "series"]


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_every_seed_is_checked_by_one_rule(seed):
    """A seed is a whole number in [0, 2^63 - 1]: no rounding 1.5 to 1, no bool, no text,
    and one message naming `seed`, wherever it is given."""
    import pandas as pd

    from analysis.figures_run import run_scenarios
    from model.batch import run_replicates
    from model.ics_model import ICSModel

    if seed == "series":
        seed = pd.Series([1])
    calls = [lambda: run_replicates("merger", replicates=1, seed=seed, steps=1),
             lambda: run_scenarios(["merger"], replicates=1, seed=seed, steps=1)]
    if seed is not None:  # ICSModel(seed=None) draws a fresh seed
        calls.append(lambda: ICSModel("merger", seed=seed))
    for call in calls:
        with pytest.raises(ScenarioError, match=r"^seed = .* whole number in \[0, 2\^63 - 1\]"):
            call()


def test_numpy_integers_are_seeds_and_counts():
    from model.batch import run_replicates

    frame = run_replicates("merger", replicates=np.int64(2), seed=np.int64(3), steps=np.int64(2))
    assert frame.equals(run_replicates("merger", replicates=2, seed=3, steps=2))


@pytest.mark.parametrize("steps", [-1, 5000, 1.7, 12.0, "12"])
def test_steps_of_a_batch_are_checked(steps):
    from model.batch import run_arrays, run_replicates

    scenario = load_scenario("merger")
    for call in (lambda: run_replicates(scenario, replicates=1, steps=steps),
                 lambda: run_arrays(scenario, np.array([1]), steps=steps)):
        with pytest.raises(ScenarioError, match=r"^steps = .* whole number in \[0, 1200\]"):
            call()


def test_replicates_too_many_for_memory_are_refused_before_any_work():
    """The check of `icsabm run`, before the seeds are drawn (unchecked: MemoryError)."""
    from analysis.figures_run import run_scenarios
    from model.batch import run_replicates

    for call in (lambda: run_replicates("merger", replicates=10**12, steps=1),
                 lambda: run_scenarios("merger", replicates=10**12, steps=1)):
        with pytest.raises(ScenarioError, match=r"^replicates: 1,000,000,000,000 replicates x "
                                                r"2 months need about .* of memory"):
            call()


@pytest.mark.parametrize("seeds, message", [
    ([1, -1], r"^seeds\[1\] = -1 is out of range; allowed: a whole number in \[0, 2\^63 - 1\]"),
    (np.array([1.7]), r"^seeds\[0\] = .*1\.7.* is not a whole number in \[0, 2\^63 - 1\]"),
    ("12", r"^seeds = '12' is not a list of seeds"),  # not seeds 1 and 2
    (12, r"^seeds = 12 is not a list of seeds"),
])
def test_seeds_of_a_batch_are_checked(seeds, message):
    from model.batch import run_arrays

    with pytest.raises(ScenarioError, match=message):
        run_arrays(load_scenario("merger"), seeds, steps=1)


def test_zero_steps_of_a_batch_is_the_initial_state():
    """Month 0 alone: what the validation's month-0 contrasts (C01-C08) read."""
    from model.batch import run_replicates

    frame = run_replicates("merger", replicates=2, seed=3, steps=0)
    assert frame["step"].tolist() == [0, 0]
    whole = run_replicates("merger", replicates=2, seed=3, steps=2)
    assert frame.equals(whole[whole["step"] == 0].reset_index(drop=True))


def test_mesa_model_steps_and_months_are_checked():
    from model.ics_model import ICSModel

    for steps in (0, -3, "x", 2.5):
        with pytest.raises(ScenarioError, match=r"^steps = .* whole number in \[1, 1200\]"):
            ICSModel("merger", seed=1, steps=steps)
    model = ICSModel("merger", seed=1, steps=np.int64(4))
    assert model.max_steps == 4
    for months in (-2, "3", 2.9, None):
        with pytest.raises(ScenarioError, match=r"^months = .* whole number >= 0"):
            model.run_for(months)
    assert model.month == 0
    model.run_for(np.int64(2))
    model.run_for(0)
    assert model.month == 2


def test_mesa_model_network_is_a_bool():
    """Unchecked, network="yes" (or "no") kept the network."""
    from model.ics_model import ICSModel

    for network in ("yes", 1, 0.0):
        with pytest.raises(ScenarioError, match=r"^network = .* is not a bool"):
            ICSModel("merger", seed=1, network=network)
    assert ICSModel("merger", seed=1, network=np.bool_(False)).network is None
    assert ICSModel("merger", seed=1, network=True).network is not None


@pytest.mark.parametrize("key", ["context.funding", "organisations.pcn", "steps"])
def test_an_integer_too_big_for_a_float_is_out_of_range(key):
    """TOML and --set read 1 followed by 400 zeros as a Python int: it is out of range
    like any other, not an OverflowError from math.isfinite."""
    with pytest.raises(ScenarioError, match=f"{key} = .* is out of range"):
        load_scenario("ics_mandated", overrides={key: 10**400})


def test_a_bad_steps_names_the_argument_that_gave_it():
    """The steps argument (--steps) is not an override (--set): its error names it."""
    with pytest.raises(ScenarioError, match=r"^steps: steps = 5000 is out of range"):
        load_scenario("ics_mandated", steps=5000)
    with pytest.raises(ScenarioError, match=r"^overrides: steps = 5000 is out of range"):
        load_scenario("ics_mandated", overrides={"steps": 5000})


@pytest.mark.parametrize("steps", [12.0, np.float64(12), 2.5, True, "12"])
def test_the_steps_argument_is_a_whole_number_as_everywhere_in_the_api(steps):
    """ICSModel(steps=12.0) and run_replicates(steps=12.0) are refused (README: Python or
    numpy integers, not floats or bools); load_scenario and run_scenarios took 12.0."""
    from analysis.figures_run import run_scenarios

    for call in (lambda: load_scenario("merger", steps=steps),
                 lambda: run_scenarios("merger", replicates=1, steps=steps)):
        with pytest.raises(ScenarioError, match=r"^steps: steps = .* is not a whole number in "
                                                r"\[1, 1200\]"):
            call()
    assert load_scenario("merger", steps=np.int16(12)).steps == 12
    assert load_scenario("merger", overrides={"steps": 12.0}).steps == 12  # as TOML writes it


def test_steps_given_twice_must_agree(tmp_path, capsys):
    """steps in the overrides (--set steps=, a sweep's set) and as the steps argument
    (--steps, sweep.steps): a second, different value is an error, not silently dropped
    (unchecked: --set steps=abc --steps 2 ran)."""
    from model.cli import main

    with pytest.raises(ScenarioError, match="steps is given twice, as 5 and as 3"):
        load_scenario("ics_mandated", overrides={"steps": 5}, steps=3)
    assert load_scenario("ics_mandated", overrides={"steps": 3}, steps=3).steps == 3
    out = tmp_path / "run"
    assert main(["run", "ics_mandated", "--set", "steps=abc", "--steps", "2", "--out", str(out),
                 "--quiet"]) == 2
    assert capsys.readouterr().err == ("icsabm: error: --set: steps is given twice, as 'abc' "
                                       "and as 2; give it once\n")
    assert not out.exists()


@pytest.mark.parametrize(("column", "key", "value"), [
    ("scenario.regime", "regime", "voluntary"), ("scenario.form", "form", "alliance"),
    ("scenario.steps", "steps", 24)])
def test_a_summary_column_name_given_as_a_key_says_which_key_it_is(column, key, value):
    """summary.parquet and sweep tables name the regime, form and steps of a run
    `scenario.regime`, ... (README: reproduce a sweep's run with one --set per axis value
    in its row); given as an override, the error says which key that is."""
    with pytest.raises(ScenarioError) as error:
        load_scenario("ics_mandated", overrides={column: value}, label="--set")
    message = str(error.value)
    assert message.startswith(f"--set {column}: unknown key")
    assert f"give it as {key}=" in message


def test_a_roster_given_with_set_is_found_from_the_current_folder_only(tmp_path, monkeypatch):
    """README: `--set organisations.roster=FILE` is relative to the current folder. A file
    missing there was looked up in the scenario file's folder instead: used silently when
    it was there, and otherwise the error said the path was relative to that folder."""
    scenario_dir, cwd = tmp_path / "scenario", tmp_path / "here"
    (scenario_dir / "rosters").mkdir(parents=True)
    cwd.mkdir()
    (scenario_dir / "rosters" / "pair.csv").write_text("name,kind,size\nA,pcn,5\nB,pcn,6\n")
    scenario = scenario_dir / "s.toml"
    scenario.write_text('regime = "voluntary"\nform = "alliance"\n[organisations]\npcn = 3\n')
    monkeypatch.chdir(cwd)
    overrides = parse_overrides(["organisations.roster=rosters/pair.csv"])
    with pytest.raises(ScenarioError, match=f"^roster {cwd / 'rosters' / 'pair.csv'}: no such "
                                            "file"):
        load_scenario(scenario, overrides=overrides, label="--set")
    (cwd / "rosters").mkdir()
    (cwd / "rosters" / "pair.csv").write_text("name,kind,size\nC,pcn,5\nD,pcn,6\n")
    overrides = parse_overrides(["organisations.roster=rosters/pair.csv"])
    assert load_scenario(scenario, overrides=overrides).roster.names == ["C", "D"]
    # in the file, relative to the file's folder, named in full (not "." when the
    # scenario was given by a bare file name)
    monkeypatch.chdir(scenario_dir)
    (scenario_dir / "r.toml").write_text('regime = "voluntary"\nform = "alliance"\n'
                                         '[organisations]\nroster = "nope.csv"\n')
    with pytest.raises(ScenarioError, match=f"relative to the scenario file's folder, "
                                            f"{scenario_dir}\\)$"):
        load_scenario("r.toml")


def test_a_roster_given_in_python_overrides_is_found_from_the_current_folder(tmp_path,
                                                                            monkeypatch):
    """As with --set: `load_scenario(s, overrides={"organisations.roster": "r.csv"})` looked
    for r.csv in the scenario file's folder (for a bundled name, the package's scenarios
    folder), unlike the CLI and unlike every path a Python user gives."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_text("name,kind,size\nA,pcn,5\nB,vcse,6\n")
    for roster in ("r.csv", Path("r.csv")):
        scenario = load_scenario("voluntary_alliance",
                                 overrides={"organisations.roster": roster})
        assert scenario.roster.names == ["A", "B"]
        assert scenario.roster.path == str(tmp_path / "r.csv")
    with pytest.raises(ScenarioError, match=f"^roster {tmp_path / 'nope.csv'}: no such file"):
        load_scenario("voluntary_alliance", overrides={"organisations.roster": "nope.csv"})


def test_a_count_and_a_roster_both_given_as_overrides_are_refused_in_either_order(tmp_path):
    """A count given before organisations.roster was dropped without a word (the roster
    replaced every count); given after it, it was refused. Now refused either way."""
    roster = tmp_path / "pair.csv"
    roster.write_text("name,kind,size\nA,pcn,5\nB,pcn,6\n")
    for order in ((("organisations.pcn", 3), ("organisations.roster", str(roster))),
                  (("organisations.roster", str(roster)), ("organisations.pcn", 3))):
        with pytest.raises(ScenarioError, match=r"^--set organisations.pcn: .*a count cannot "
                                                "be added to"):
            load_scenario("ics_mandated", overrides=dict(order), label="--set")
    # a roster alone replaces the file's counts, as documented
    assert load_scenario("ics_mandated", overrides={"organisations.roster": str(roster)}
                         ).roster.names == ["A", "B"]


def test_a_duplicate_roster_name_is_named_with_its_lines(tmp_path):
    """Two organisations with one name were refused with 'names must be unique' and no
    hint of which name or where: in a roster of 300 rows, a search by hand."""
    roster = tmp_path / "dup.csv"
    roster.write_text("name,kind,size\nA,pcn,5\nB,pcn,6\n A ,vcse,7\n")
    with pytest.raises(ScenarioError, match=rf"^roster {roster} line 4: name 'A' is already "
                                            r"used on line 2; organisation names must be "
                                            r"unique$"):
        load_scenario({"regime": "voluntary", "form": "alliance",
                       "organisations": {"roster": str(roster)}})


def test_roster_errors_give_the_line_of_the_file(tmp_path):
    """Line numbers counted the rows left after blank lines were dropped, and a quoted
    name over two lines shifted them too: the error pointed at the wrong line."""
    for text in ("name,kind,size\nA,pcn,5\n\nB,hospital,6\n",
                 'name,kind,size\n"A\nsecond line",pcn,5\nB,hospital,6\n',
                 "\nname,kind,size\nA,pcn,5\nB,hospital,6\n"):
        roster = tmp_path / "r.csv"
        roster.write_text(text)
        with pytest.raises(ScenarioError, match=rf"^roster {roster} line 4: kind 'hospital'"):
            load_scenario({"regime": "voluntary", "form": "alliance",
                           "organisations": {"roster": str(roster)}})
    roster.write_text("name,kind,size\nA,pcn,5\n\nA,pcn,6\n")
    with pytest.raises(ScenarioError, match=r"line 4: name 'A' is already used on line 2"):
        load_scenario({"regime": "voluntary", "form": "alliance",
                       "organisations": {"roster": str(roster)}})


def _with_event(changes: dict, month: int = 2) -> dict:
    return {"regime": "mandated", "form": "ics", "organisations": {"pcn": 3},
            "timeline": [{"month": month, "set": changes}]}


@pytest.mark.parametrize(("changes", "message"), [
    ({"steps": 24}, "steps cannot change during a run: a timeline sets context keys, "
                    "regime and form only"),
    ({"mandated": 1}, "mandated follows from the regime: set = { regime = ... }"),
    ({"integration": 0.9}, "integration follows from the form: set = { form = ... }"),
    ({"regime": "statutory"}, "regime = 'statutory' is not one of mandated, voluntary"),
    ({"regime": 1}, "regime = 1 is not a string"),
    ({"form": "federation"}, "form = 'federation' is not one of network, buddying"),
    ({"roster": "x.csv"}, "the organisations are fixed at month 0: roster cannot change "
                          "during a run"),
    ({"pcn": 5}, "the organisations are fixed at month 0: pcn cannot change during a run"),
    ({"organisations": {"pcn": 5}}, "the organisations are fixed at month 0"),
    ({"behaviour_threshold": 0.5}, "constants.behaviour_threshold cannot change during a run"),
    ({"context": {"funding": 0.1}}, "write context keys without 'context.': set = "
                                    "{ funding = ... }"),
    ({"context.funding": 0.1}, "write context keys without 'context.': set = "
                               "{ funding = ... }"),
])
def test_a_timeline_key_that_cannot_change_says_why(changes, message):
    """Every key that is not context was refused as an 'unknown context key', even the
    regime, a count or a constant: nothing said that these are fixed for a run."""
    with pytest.raises(ScenarioError, match=r"^scenario: timeline event 1: .*"
                                            + message.replace("{", r"\{").replace("}", r"\}")
                                            .replace(".", r"\.")):
        load_scenario(_with_event(changes))


def test_a_timeline_lists_only_the_context_it_can_change():
    """The valid keys of an unknown one listed history_of_competition, footprint_km, ...,
    which a timeline refuses."""
    with pytest.raises(ScenarioError, match="valid keys are") as info:
        load_scenario(_with_event({"magic": 0.1}))
    listed = str(info.value).split("valid keys are ", 1)[1].split(", ")
    changeable = ["regime", "form"] + [name for name, p in P.BY_GROUP["context"].items()
                                       if p.key not in P.MONTH_ZERO_ONLY]
    assert listed[:-1] == changeable[:-1] and listed[-1].startswith(changeable[-1])


def test_two_timeline_events_cannot_set_one_key_in_the_same_month():
    """The kernel applies a month's events in file order, so the later of two values for
    one key won without a word. Different keys in one month are fine."""
    base = {"regime": "mandated", "form": "ics", "organisations": {"pcn": 3}}
    scenario = load_scenario({**base, "timeline": [
        {"month": 2, "set": {"funding": 0.1}}, {"month": 2, "set": {"formalisation": 0.9}},
        {"month": 3, "set": {"funding": 0.5}}]})
    assert len(scenario.timeline_array()) == 3
    with pytest.raises(ScenarioError, match=r"^scenario: timeline event 3: funding is already "
                                            r"set at month 2 by event 1; give one value"):
        load_scenario({**base, "timeline": [
            {"month": 2, "set": {"funding": 0.1}}, {"month": 4, "set": {"funding": 0.5}},
            {"month": 2, "set": {"funding": 0.9}}]})


def test_a_timeline_can_change_the_regime_and_the_form():
    """THEORY §2 lists the regime and the integration depth among the context and §5 step
    2 lets a timeline change any context parameter, but a timeline refused both: a
    voluntary partnership made statutory mid-run (the 2022 Act) could not be written."""
    scenario = load_scenario({
        "regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3},
        "timeline": [{"month": 12, "set": {"regime": "mandated", "funding": 0.6}},
                     {"month": 24, "set": {"form": "merger"}},
                     {"month": 36, "set": {"regime": "voluntary", "form": "network"}}]})
    assert scenario.timeline == [
        (12, {"structure.mandated": 1.0, "context.funding": 0.6}),
        (24, {"structure.integration": 1.0, "structure.form_reputation": -0.05}),
        (36, {"structure.mandated": 0.0, "structure.integration": 0.1,
              "structure.form_reputation": 0.0})]
    rows = scenario.timeline_array()
    assert [(m, P.PARAMS[int(i)].key, v) for m, i, v in rows][:2] == [
        (12.0, "structure.mandated", 1.0), (12.0, "context.funding", 0.6)]
    assert scenario.packed()[P.MANDATED] == 0.0  # month 0 is the file's regime
    assert scenario.to_dict()["timeline"] == [
        {"month": 12, "set": {"regime": "mandated", "funding": 0.6}},
        {"month": 24, "set": {"form": "merger"}},
        {"month": 36, "set": {"regime": "voluntary", "form": "network"}}]
    again = from_resolved(scenario.to_dict())  # a manifest reproduces the run
    assert again.timeline == scenario.timeline and again.digest() == scenario.digest()


def test_a_month_cannot_set_the_regime_twice():
    with pytest.raises(ScenarioError, match=r"^scenario: timeline event 2: regime is already "
                                            r"set at month 5 by event 1; give one value$"):
        load_scenario({"regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3},
                       "timeline": [{"month": 5, "set": {"regime": "mandated"}},
                                    {"month": 5, "set": {"regime": "voluntary"}}]})


def test_set_takes_text_keys_as_typed():
    """`--set name=2024` was read as the integer 2024 and refused ('is not a string'), as
    were a description such as 1e3 or true and a date-like name; the keys that only take
    text now take what was typed (a TOML string in quotes is still unquoted)."""
    typed = ["name=2024", "description=1e3", "regime=voluntary", 'form="merger"',
             "name=2024-01-01", "description=true"]
    for item in typed:
        key, _, text = item.partition("=")
        assert parse_overrides([item]) == {key: text.strip('"')}
    scenario = load_scenario("merger", overrides=parse_overrides(["name=2024",
                                                                  "description=1e3"]))
    assert (scenario.name, scenario.description) == ("2024", "1e3")
    assert parse_overrides(["steps=24", "context.funding=.5"]) == {"steps": 24,
                                                                   "context.funding": 0.5}


def _two_events(**overrides) -> Scenario:
    return load_scenario({
        "regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3},
        "timeline": [{"month": 12, "set": {"regime": "mandated"}},
                     {"month": 30, "set": {"funding": 0.1}}]}, overrides=overrides)


def test_overrides_move_a_timeline_event_or_change_what_it_sets():
    """A sweep could not ask *when* a mandate or a funding cut should come: no override
    reached the timeline. timeline.<event>.month and timeline.<event>.<key> now do."""
    scenario = _two_events(**{"timeline.1.month": 24, "timeline.2.funding": 0.3,
                              "timeline.2.formalisation": 0.8, "timeline.1.form": "ics"})
    assert scenario.timeline == [
        (24, {"structure.mandated": 1.0, "structure.integration": 0.7,
              "structure.form_reputation": 0.0}),
        (30, {"context.funding": 0.3, "context.formalisation": 0.8})]
    assert _two_events().timeline[0][0] == 12  # the file itself is untouched
    typed = load_scenario("stp_to_ics", overrides=parse_overrides(
        ["timeline.1.month=36", "timeline.1.regime=voluntary"]))
    assert typed.timeline == [(36, {"structure.mandated": 0.0})]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("timeline.3.month", 5, "overrides timeline.3.month: the scenario has 2 timeline events; "
                            "give timeline.1 to timeline.2"),
    ("timeline.0.month", 5, "the scenario has 2 timeline events"),
    ("timeline.one.month", 5, "the scenario has 2 timeline events"),
    ("timeline.1", 5, "a timeline key is timeline.<event>.month or timeline.<event>.<key>"),
    ("timeline.1.set.funding", 5, "a timeline key is timeline.<event>.month"),
    ("timeline.1.month", 0, "overrides timeline.1: month = 0 is out of range"),
    ("timeline.1.month", 30, "overrides timeline.1: regime at month 30 is also set by event "
                             "2; give one value"),
    ("timeline.2.funding", 2, "overrides timeline.2: context.funding = 2 is out of range"),
    ("timeline.2.champions", 0.5, "overrides timeline.2: champions acts only when the "
                                  "partnership forms"),
    ("timeline.2.magic", 0.5, "overrides timeline.2: unknown key 'magic'"),
])
def test_a_bad_timeline_override_is_one_line_naming_it(key, value, message):
    events = [{"month": 12, "set": {"regime": "mandated"}},
              {"month": 30, "set": {"funding": 0.1, "regime": "voluntary"}}]
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario({"regime": "voluntary", "form": "alliance", "organisations": {"pcn": 3},
                       "timeline": events}, overrides={key: value})


def test_a_timeline_override_on_a_scenario_without_events_says_to_add_them():
    with pytest.raises(ScenarioError, match=r"^--set timeline\.1\.month: the scenario has 0 "
                                            r"timeline events: add \[\[timeline\]\] events"):
        load_scenario("ics_mandated", overrides={"timeline.1.month": 3}, label="--set")
