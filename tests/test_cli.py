"""The command line: smoke runs of every bundled scenario, outputs, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from model import __version__
from model.batch import numerics_digest
from model.cli import main
from model.scenario import bundled_scenarios

TIMESERIES = ["replicate", "seed", "step", "mean_trust", "mean_faith", "mean_capacity",
              "mean_behaviour", "mean_confidence", "communication", "conflicts",
              "conflicts_resolved", "output", "cumulative_output", "active_members"]
SUMMARY = ["replicate", "seed", "regime", "time_to_synergy", "final_mean_trust",
           "final_mean_faith", "final_mean_behaviour", "cumulative_output", "exits"]
ORGANISATIONS = ["replicate", "step", "org", "kind", "size", "trust_in_others",
                 "trusted_by_others", "faith", "capacity", "behaviour", "active", "maturity"]
MANIFEST = ["icsabm_version", "git_commit", "scenario", "scenario_digest", "seeds",
            "numba_threads", "numerics", "wall_time_s", "master_seed"]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.mark.parametrize("name", list(bundled_scenarios()))
def test_every_bundled_scenario_runs_through_the_cli(tmp_path, name, capsys):
    out = tmp_path / "run"
    assert main(["run", name, "--replicates", "2", "--steps", "6", "--out", str(out),
                 "--agents", "--quiet"]) == 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    summary = pd.read_parquet(out / "summary.parquet")
    orgs = pd.read_parquet(out / "organisations.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(TIMESERIES) <= set(ts.columns) and len(ts) == 2 * 7
    assert set(SUMMARY) <= set(summary.columns) and len(summary) == 2
    assert "context.formalisation" in summary.columns and "scenario.regime" in summary.columns
    assert set(summary["regime"]) <= {"synergy", "inertia", "dissolution"}
    assert set(ORGANISATIONS) <= set(orgs.columns)
    assert set(orgs["maturity"]) <= {"pathological", "bureaucratic", "generative"}
    assert set(MANIFEST) <= set(manifest)
    assert manifest["scenario"]["name"] == name and len(manifest["seeds"]) == 2
    assert manifest["numerics"] == numerics_digest()
    assert leftovers(tmp_path) == ["run"]
    printed = capsys.readouterr().out
    assert "synergy" in printed and "inertia" in printed and str(out) in printed


@pytest.mark.parametrize("replicates, steps, header", [
    ("1", "1", "merger: 1 replicate x 1 month ("), ("2", "3", "merger: 2 replicates x 3 months (")])
def test_the_run_header_counts_in_words(tmp_path, capsys, replicates, steps, header):
    assert main(["run", "merger", "--replicates", replicates, "--steps", steps, "--out",
                 str(tmp_path / "run"), "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(header)


def test_a_set_key_given_twice_takes_its_last_value(tmp_path):
    """README: a --set key given twice takes its last value (a script appends to a base set)."""
    out = tmp_path / "run"
    assert main(["run", "merger", "--replicates", "1", "--steps", "1", "--out", str(out),
                 "--set", "context.funding=0.1", "--set", "context.funding=0.2",
                 "--quiet"]) == 0
    assert pd.read_parquet(out / "summary.parquet")["context.funding"].tolist() == [0.2]


def test_time_to_synergy_is_a_whole_month_or_null(tmp_path):
    """CONTRACT: time_to_synergy is a month, or null; it was stored as Float64 (9.0)."""
    out = tmp_path / "run"
    assert main(["run", "voluntary_alliance", "--replicates", "6", "--out", str(out),
                 "--quiet"]) == 0
    tts = pd.read_parquet(out / "summary.parquet")["time_to_synergy"]
    assert str(tts.dtype) == "Int64" and tts.notna().any()
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[sweep]\nscenario = "voluntary_alliance"\nreplicates = 3\n'
                     '[axes]\n"context.funding" = [0.4, 0.6]\n')
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "sweep"), "--quiet"]) == 0
    tts = pd.read_parquet(tmp_path / "sweep" / "summary")["time_to_synergy"]
    assert str(tts.dtype) == "Int64" and tts.notna().any()


def test_console_script_and_overrides(tmp_path, icsabm):
    out = tmp_path / "run"
    proc = subprocess.run([icsabm, "run", "voluntary_alliance", "--replicates", "3", "--steps",
                           "12", "--seed", "5", "--set", "context.formalisation=0.8", "--set",
                           "regime=mandated", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    assert (summary["context.formalisation"] == 0.8).all()
    assert (summary["scenario.regime"] == "mandated").all()
    assert (summary["scenario.steps"] == 12).all()


def test_the_console_script_is_this_installs_not_the_first_on_path(tmp_path, monkeypatch,
                                                                    icsabm):
    other = tmp_path / "icsabm"  # another installation's script, first on PATH
    other.write_text("#!/bin/sh\nexit 3\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([icsabm, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == f"icsabm {__version__}\n"


def test_same_command_same_data(tmp_path):
    for name in ("a", "b"):
        assert main(["run", "ics_turbulent", "--replicates", "3", "--steps", "24", "--seed", "9",
                     "--out", str(tmp_path / name), "--quiet"]) == 0
    for table in ("timeseries", "summary"):
        a = pd.read_parquet(tmp_path / "a" / f"{table}.parquet")
        b = pd.read_parquet(tmp_path / "b" / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b)


def test_scenarios_lists_every_bundled_scenario(capsys):
    assert main(["scenarios"]) == 0
    printed = capsys.readouterr().out
    for name in bundled_scenarios():
        assert name in printed


def test_scenarios_checks_and_describes_the_files_given(tmp_path, capsys):
    good = tmp_path / "mine.toml"
    good.write_text('description = "my own ICS"\nregime = "voluntary"\nform = "alliance"\n'
                    "[organisations]\npcn = 4\nvcse = 2\n")
    assert main(["scenarios", str(good), "merger"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(str(good)) and "voluntary, 6 orgs" in lines[0]
    assert lines[0].endswith("my own ICS") and lines[1].startswith("merger ")
    bad = tmp_path / "bad.toml"
    bad.write_text('regime = "voluntary"\n')
    assert main(["scenarios", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "missing key 'form'" in \
        captured.err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
name = "tiny"
regime = "voluntary"
form = "alliance"
steps = 6
[organisations]
acute_trust = 2
"""


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    roster_bad_header = write(tmp_path, "bad_header.csv", "nm,kind,size\na,acute_trust,10\n")
    roster_bad_kind = write(tmp_path, "bad_kind.csv", "name,kind,size\na,hospital,10\nb,pcn,5\n")
    roster_bad_size = write(tmp_path, "bad_size.csv", "name,kind,size\na,pcn,lots\nb,pcn,5\n")
    roster_quote = write(tmp_path, "quote.csv", 'name,kind,size\na,pcn,5\n"b,pcn,5\nc,pcn,5\n')
    with_roster = 'name = "r"\nregime = "voluntary"\nform = "alliance"\n[organisations]\n'
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    return {
        "unknown scenario": (["nope_scenario"], "nope_scenario"),
        "unknown --set key": (["voluntary_alliance", "--set", "context.magic=1"], "context.magic"),
        "unknown key in file": ([str(write(tmp_path, "k.toml", GOOD + "[context]\nmagic = 1\n"))],
                                "context.magic"),
        "unknown top-level key": ([str(write(tmp_path, "t.toml", 'colour = "red"\n' + GOOD))],
                                  "colour"),
        "out of range": (["voluntary_alliance", "--set", "context.funding=1.5"],
                         "--set: context.funding"),  # the user's value, not the file's
        "wrong type": (["voluntary_alliance", "--set", "context.funding=high"],
                       "context.funding"),
        "wrong regime": (["voluntary_alliance", "--set", "regime=federal"], "regime"),
        "bad count": ([str(write(tmp_path, "c.toml", GOOD.replace("= 2", "= -1")))],
                      "organisations.acute_trust"),
        "malformed TOML": ([str(write(tmp_path, "m.toml", "name = [unclosed\n"))],
                           "malformed TOML"),
        "missing file": ([str(tmp_path / "missing.toml")], "missing.toml"),
        "missing roster": ([str(write(tmp_path, "r1.toml", with_roster + 'roster = "no.csv"\n'))],
                           "no.csv"),
        "roster header": ([str(write(tmp_path, "r2.toml",
                                     with_roster + f'roster = "{roster_bad_header.name}"\n'))],
                          "header"),
        "roster kind": ([str(write(tmp_path, "r3.toml",
                                   with_roster + f'roster = "{roster_bad_kind.name}"\n'))],
                        "hospital"),
        "roster size": ([str(write(tmp_path, "r4.toml",
                                   with_roster + f'roster = "{roster_bad_size.name}"\n'))],
                        "lots"),
        "roster quote": ([str(write(tmp_path, "r5.toml",
                                    with_roster + f'roster = "{roster_quote.name}"\n'))],
                         'quote.csv line 3: a quote (") is not closed'),
        "empty roster path": ([str(write(tmp_path, "r6.toml", with_roster + 'roster = ""\n'))],
                              "organisations.roster = '' is empty"),
        "timeline key": ([str(write(tmp_path, "tl.toml", GOOD + "[[timeline]]\nmonth = 2\n"
                                    "set = { magic = 0.1 }\n"))], "magic"),
        "bad replicates": (["voluntary_alliance", "--replicates", "0"], "--replicates"),
        "bad steps": (["voluntary_alliance", "--steps", "x"], "--steps"),
        "steps out of range": (["voluntary_alliance", "--steps", "5000"],
                               "--steps: steps = 5000 is out of range"),
        "bad seed": (["voluntary_alliance", "--seed", "-3"], "seed"),
        "not UTF-8": ([str(binary)], "not a UTF-8 text file"),
        "folder as scenario": ([str(tmp_path)], "is a folder, not a scenario file"),
        "empty scenario": ([""], "no scenario given"),
        "too many dots": (["voluntary_alliance", "--set", "context.funding.x=0.5"],
                          "one dot only"),
        "count on a roster": (["mandated_buddying", "--set", "organisations.pcn=3"],
                              "names its organisations in a roster"),
        "replicate seed and replicates": (["voluntary_alliance", "--replicate-seed", "5",
                                           "--replicates", "7"], "--replicate-seed"),
        "replicate seed and seed": (["voluntary_alliance", "--replicate-seed", "5",
                                     "--seed", "1"], "--replicate-seed"),
    }


CASES = ["unknown scenario", "unknown --set key", "unknown key in file", "unknown top-level key",
         "out of range", "wrong type", "wrong regime", "bad count", "malformed TOML",
         "missing file", "missing roster", "roster header", "roster kind", "roster size",
         "roster quote", "empty roster path",
         "timeline key", "bad replicates", "bad steps", "steps out of range", "bad seed",
         "not UTF-8",
         "folder as scenario", "empty scenario", "too many dots", "count on a roster",
         "replicate seed and replicates", "replicate seed and seed"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, case, capsys):
    cases = bad_inputs(tmp_path)
    assert sorted(cases) == sorted(CASES)
    args, fragment = cases[case]
    parent = tmp_path / "outputs"
    parent.mkdir()
    code = None
    try:
        code = main(["run", *args, "--out", str(parent / "run"), "--quiet"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("icsabm: error:") and fragment in lines[0], lines[0]
    assert leftovers(parent) == []


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path, icsabm):
    proc = subprocess.run([icsabm, "run", "ics_mandated", "--set", "context.funding=2",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_existing_output_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["run", "voluntary_alliance", "--steps", "3", "--out", str(out)]) == 2
    assert (out / "keep.txt").read_text() == "mine"
    assert leftovers(tmp_path) == ["run"]


def test_python_dash_m_model_works(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "model", "scenarios"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "ics_mandated" in proc.stdout


@pytest.mark.parametrize("command", [
    ["run", "voluntary_alliance", "--replicates", "1"],
    ["sweep", "scenarios/phase_partners_support.toml"],
    ["validate", "--only", "C01", "--replicates", "2"],
])
def test_out_that_is_a_file_is_one_line_and_left_alone(tmp_path, capsys, command):
    from model.cli import main

    target = tmp_path / "taken"
    target.write_text("keep me")
    args = [Path(__file__).resolve().parent.parent / a if a.startswith("scenarios/") else a
            for a in command]
    assert main([str(a) for a in args] + ["--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"icsabm: error: --out {target}: is a file, not a folder"
    assert target.read_text() == "keep me"


def test_default_folders_never_collide_and_stay_under_runs(tmp_path, monkeypatch):
    import datetime as real_dt
    import types

    from model import cli

    frozen = real_dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=real_dt.UTC)
    fake = types.SimpleNamespace(UTC=real_dt.UTC, datetime=types.SimpleNamespace(
        now=lambda tz=None: frozen))
    monkeypatch.setattr(cli, "dt", fake)  # every call in the same second
    monkeypatch.chdir(tmp_path)
    first, second = cli.default_folder("alliance"), cli.default_folder("alliance")
    assert (first.name, second.name) == ("alliance-20260102T030405Z",
                                         "alliance-20260102T030405Z-2")
    escaped = cli.default_folder("../../escape")
    assert escaped.resolve().parent == (tmp_path / "runs").resolve()
    assert cli.default_folder("").name.startswith("unnamed-")


def test_two_runs_in_the_same_second_both_land(tmp_path, monkeypatch):
    import datetime as real_dt
    import types

    from model import cli

    frozen = real_dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=real_dt.UTC)
    monkeypatch.setattr(cli, "dt", types.SimpleNamespace(
        UTC=real_dt.UTC, datetime=types.SimpleNamespace(now=lambda tz=None: frozen)))
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["run", "voluntary_alliance", "--replicates", "1", "--steps", "2",
                     "--quiet"]) == 0
    assert leftovers(tmp_path / "runs") == ["voluntary_alliance-20260102T030405Z",
                                            "voluntary_alliance-20260102T030405Z-2"]
    assert main(["run", "voluntary_alliance", "--set", "context.funding=9", "--quiet"]) == 2
    assert len(leftovers(tmp_path / "runs")) == 2  # bad input: no folder made


def test_output_folders_get_the_umask_permissions_not_0700(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        assert main(["run", "voluntary_alliance", "--replicates", "1", "--steps", "2",
                     "--out", str(tmp_path / "new"), "--quiet"]) == 0
        given = tmp_path / "given"
        given.mkdir()
        given.chmod(0o775)
        assert main(["run", "voluntary_alliance", "--replicates", "1", "--steps", "2",
                     "--out", str(given), "--quiet"]) == 0
    finally:
        os.umask(mask)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o755
    assert given.stat().st_mode & 0o777 == 0o775


def test_a_closed_pipe_is_not_an_error(tmp_path, icsabm):
    proc = subprocess.Popen([icsabm, "run", "voluntary_alliance", "--replicates", "1",
                             "--steps", "2", "--out", str(tmp_path / "run"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -0`: nobody reads what it prints
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and err == ""
    assert (tmp_path / "run" / "summary.parquet").is_file()


def test_a_run_too_big_for_memory_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    from model import resources

    monkeypatch.setattr(resources, "available_memory", lambda: 50_000_000)  # 50 MB
    assert main(["run", "ics_mandated", "--replicates", "100", "--out",
                 str(tmp_path / "small"), "--quiet"]) == 0  # about 4 MB
    capsys.readouterr()
    for extra in (["--replicates", "2000"], ["--replicates", "200", "--agents"]):
        assert main(["run", "ics_mandated", *extra, "--out", str(tmp_path / "big"),
                     "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "MB of memory" in err and "icsabm sweep" in err
        assert ("drop --agents" in err) is ("--agents" in extra)
    assert leftovers(tmp_path) == ["small"]


@pytest.mark.parametrize("nbytes, text", [
    (35e6, "35 MB"), (1.23e9, "1.2 GB"), (4.5e12, "4.5 TB"), (3.66e16, "36.6 PB"),
    (1.2e18, "1,200.0 PB")])
def test_memory_sizes_read_as_words(nbytes, text):
    """What a refusal says it would need: a unit a person reads at a glance, not
    `36600000.0 GB`."""
    from model.resources import size_text

    assert size_text(nbytes) == text


def test_a_roster_given_with_set_is_found_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "pair.csv").write_text("name,kind,size\nNorth,acute_trust,900\n"
                                       "South,vcse,40\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "mandated_buddying", "--set", "organisations.roster=pair.csv",
                 "--replicates", "1", "--steps", "2", "--out", "run", "--agents",
                 "--quiet"]) == 0
    names = set(pd.read_parquet(tmp_path / "run" / "organisations.parquet")["name"])
    assert names == {"North", "South"}


@pytest.mark.parametrize("module", ["model", "model.cli"])
def test_python_dash_m_bad_input_is_one_line(tmp_path, module):
    """`python -m model.cli` runs cli.py as `__main__`: the CLIError the figures, sweep and
    validate commands raise (from `model.cli`) is still one line and exit 2."""
    proc = subprocess.run([sys.executable, "-m", module, "figures", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"icsabm: error: {tmp_path / 'nope'}: no such folder (expected a " \
                          "run or sweep folder)\n"


@pytest.mark.parametrize("out", [None, "o"])
def test_sigterm_mid_run_leaves_nothing(tmp_path, out):
    """`kill` (SIGTERM) part-way cleans up as Ctrl-C does: no staging folder, no empty run
    folder, exit status 143. The run sends the signal to itself from its first chunk."""
    script = (
        "import os, signal, sys\n"
        "import model.batch\n"
        "def stopped(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return real(*args, **kwargs)\n"
        "real, model.batch.run_arrays = model.batch.run_arrays, stopped\n"
        "from model.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    args = ["run", "voluntary_alliance", "--replicates", "2", "--steps", "3", "--quiet"]
    proc = subprocess.run([sys.executable, "-c", script, *args,
                           *(["--out", out] if out else [])],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr == "icsabm: terminated\n"
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")] == (
        [] if out else ["runs"])


@pytest.mark.parametrize("out", ["", "."])
def test_out_that_is_the_current_folder_is_refused_before_running(tmp_path, monkeypatch,
                                                                   capsys, out):
    """An empty current folder passed the empty-folder check, the whole run was computed,
    and only then did moving it into place fail with '.: Invalid argument'."""
    import model.batch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(model.batch, "run_arrays", lambda *a, **k: pytest.fail("ran"))
    assert main(["run", "voluntary_alliance", "--replicates", "1", "--out", out, "--quiet"]) == 2
    assert capsys.readouterr().err == ("icsabm: error: --out '.': the current folder; "
                                       "give a new folder or an empty one inside it\n")
    assert leftovers(tmp_path) == []


TINY_SWEEP = """[sweep]
name = "tiny"
scenario = "voluntary_alliance"
design = "grid"
replicates = 1
steps = 2
seed = 0
[axes]
"context.funding" = [0.2, 0.8]
"""


def test_out_with_a_tilde_the_shell_left_is_the_home_folder(tmp_path, monkeypatch, capsys):
    """`--out=~/x` (bash expands no `~` after `=`) or a quoted "~/x": the commands made a
    folder named `~` here, ran, and failed at the end when pandas wrote the tables into
    the home folder instead, leaving the `~` folder behind."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (work / "tiny.toml").write_text(TINY_SWEEP)
    commands = [["run", "voluntary_alliance", "--replicates", "1", "--steps", "2", "--quiet",
                 "--out=~/run"],
                ["figures", str(home / "run"), "--format", "png", "--out", "~/figs"],
                ["sweep", "tiny.toml", "--quiet", "--out", "~/sweep"],
                ["validate", "--only", "C01", "--replicates", "2", "--skip-robustness",
                 "--quiet", "--out", "~/validation"]]
    for command in commands:
        assert main(command) == 0, capsys.readouterr().err
    assert leftovers(work) == ["tiny.toml"]
    made = [name for name in leftovers(home) if not name.startswith(".")]  # not caches
    assert made == ["figs", "run", "sweep", "validation"]
    assert (home / "run" / "summary.parquet").is_file()
    assert (home / "sweep" / "phase.parquet").is_file()


def test_a_stopped_command_leaves_no_parent_folders_it_made(tmp_path, monkeypatch, capsys):
    """`--out results/2024/x` and Ctrl-C (or a failure) part-way: the staging folder went,
    but the parents made for it stayed behind, empty."""
    import analysis.figures
    import analysis.validate
    import model.batch
    import model.sweep_command

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP)
    assert main(["run", "voluntary_alliance", "--replicates", "1", "--steps", "2", "--quiet",
                 "--out", "run"]) == 0
    for target in ("run_arrays", "run_sweep", "save_figure", "validate"):
        module = {"run_arrays": model.batch, "run_sweep": model.sweep_command,
                  "save_figure": analysis.figures, "validate": analysis.validate}[target]
        monkeypatch.setattr(module, target, stop)
    commands = [["run", "voluntary_alliance", "--replicates", "1", "--steps", "2", "--quiet"],
                ["sweep", "tiny.toml", "--quiet"],
                ["figures", "run", "--format", "png"],
                ["validate", "--only", "C01", "--replicates", "2", "--quiet"]]
    for command in commands:
        assert main([*command, "--out", f"new/{command[0]}/out"]) == 130
    assert capsys.readouterr().err.count("icsabm: interrupted") == 4
    assert leftovers(tmp_path) == ["run", "tiny.toml"]


@pytest.mark.parametrize("exists", [True, False])
def test_out_that_is_a_link_writes_where_it_leads(tmp_path, monkeypatch, capsys, exists):
    """`--out scratch`, a symbolic link to an empty folder (or to one not made yet): the
    run and figures passed every check, computed everything, then failed at the end
    ('scratch: Not a directory') when they moved their output onto the link (figures
    replaced an existing link's folder by a new one; a sweep refused a dangling link)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP)
    for name, command in (("run", ["run", "voluntary_alliance", "--replicates", "1",
                                   "--steps", "2", "--quiet"]),
                          ("figs", ["figures", "disk/run", "--format", "png"]),
                          ("sweep", ["sweep", "tiny.toml", "--quiet"])):
        (tmp_path / "disk").mkdir(exist_ok=True)
        if exists:
            (tmp_path / "disk" / name).mkdir()
        (tmp_path / f"{name}-link").symlink_to(tmp_path / "disk" / name)
        assert main([*command, "--out", f"{name}-link"]) == 0, capsys.readouterr().err
        assert (tmp_path / f"{name}-link").is_symlink()
    assert (tmp_path / "disk" / "run" / "summary.parquet").is_file()
    assert (tmp_path / "figs-link" / "figures.json").is_file()
    assert (tmp_path / "disk" / "sweep" / "phase.parquet").is_file()
    assert leftovers(tmp_path) == ["disk", "figs-link", "run-link", "sweep-link", "tiny.toml"]


def test_a_long_name_makes_a_folder_the_file_system_takes(tmp_path, monkeypatch, capsys):
    """A scenario or sweep named by a sentence of 300 characters: the default folder
    `runs/<name>-<time>` was longer than the 255 a file system allows, and the command
    failed with 'File name too long', leaving runs/ behind; an --out name of 250 (which
    the file system takes) failed on its staging folder's longer name."""
    monkeypatch.chdir(tmp_path)
    long = "a" * 300
    run = ["run", "voluntary_alliance", "--replicates", "1", "--steps", "2", "--quiet"]
    assert main([*run, "--set", f"name={long}"]) == 0, capsys.readouterr().err
    assert main([*run, "--out", "b" * 250]) == 0, capsys.readouterr().err
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP.replace('"tiny"', f'"{long}"'))
    assert main(["sweep", "tiny.toml", "--quiet"]) == 0, capsys.readouterr().err
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert [name[:101] for name in folders] == ["a" * 100 + "-"] * 2
    sweep = next(p for p in (tmp_path / "runs").iterdir() if (p / "phase.parquet").exists())
    manifest = json.loads((sweep / "manifest.json").read_text())
    (sweep / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    assert main(["sweep", "tiny.toml", "--resume", "--quiet"]) == 0  # finds its folder
    assert f"-> {sweep.relative_to(tmp_path)}" in capsys.readouterr().out
    assert leftovers(tmp_path) == ["b" * 250, "runs", "tiny.toml"]


@pytest.mark.parametrize("command", ["run", "sweep", "scenarios"])
def test_a_scenario_or_sweep_file_that_is_no_file_is_named_as_such(tmp_path, monkeypatch,
                                                                   capsys, command):
    """A folder given as a sweep file, or a FIFO or device as either file, was reported as
    a file that 'does not exist', which the user can see it does."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.toml").mkdir()
    os.mkfifo(tmp_path / "fifo.toml")
    what = "sweep" if command == "sweep" else "scenario"
    for given, says in (("folder.toml", "is a folder, not a"), ("fifo.toml", "is not a regular "
                        "file"), ("/dev/null", "is not a regular file")):
        assert main([command, given]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{given!r} {says}" in err and what in err, err
    assert leftovers(tmp_path) == ["fifo.toml", "folder.toml"]


@pytest.mark.parametrize("command", [
    ["run", "voluntary_alliance", "--replicates", "1", "--steps", "2", "--quiet"],
    ["sweep", "tiny.toml", "--quiet"],
    ["figures", "run", "--format", "png"],
    ["validate", "--only", "C01", "--replicates", "2", "--quiet"],
])
def test_out_below_a_file_names_the_file(tmp_path, monkeypatch, capsys, command):
    """`--out notes.txt/run`: the one line was 'notes.txt: File exists', which neither
    names --out nor says what is wrong."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP)
    (tmp_path / "notes.txt").write_text("keep me")
    if command[0] == "figures":
        assert main(["run", "voluntary_alliance", "--replicates", "1", "--steps", "2",
                     "--quiet", "--out", "run"]) == 0
        capsys.readouterr()
    assert main([*command, "--out", "notes.txt/a/out"]) == 2
    assert capsys.readouterr().err == ("icsabm: error: --out notes.txt/a/out: notes.txt is a "
                                       "file, not a folder\n")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_run_prints_a_median_time_to_synergy_of_half_a_month_as_such(tmp_path, capsys):
    """Two runs in synergy at months 8 and 9: the median is 8.5 (as phase.parquet and the
    calibration table give a median), not '8' (Python rounds 8.5 to even)."""
    out = tmp_path / "run"
    assert main(["run", "ics_mandated_supported", "--set", "context.history_of_competition=0",
                 "--set", "context.prior_success=0.9", "--replicates", "2", "--steps", "36",
                 "--seed", "0", "--out", str(out), "--quiet"]) == 0
    months = pd.read_parquet(out / "summary.parquet")["time_to_synergy"].tolist()
    assert sorted(months) == [8, 9]
    assert "median months to synergy: 8.5" in capsys.readouterr().out.splitlines()
