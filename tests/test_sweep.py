"""Sweeps: validation, designs, determinism across engines, resume, worker loss, phase and Sobol."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.rng import replicate_seeds
from model.scenario import ScenarioError, load_scenario
from model.sweep import phase_table, plan_chunks, read_summary, run_in_process, run_sweep
from model.sweep_command import sweep_command
from model.sweep_file import load_sweep

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SMALL = """
[sweep]
name = "small"
scenario = "voluntary_alliance"
design = "grid"
replicates = 3
steps = 12
seed = 7
chunk = 4

[axes]
"context.formalisation" = [0.2, 0.8]
regime = ["mandated", "voluntary"]
"""


@pytest.mark.parametrize("body, fragment", [
    ("[sweep]\nscenario = 'voluntary_alliance'\nbogus = 1\n[axes]\n'context.funding' = [0.1]",
     "unknown key sweep.bogus"),
    ("[sweep]\nscenario = 'nope'\n[axes]\n'context.funding' = [0.1]", "unknown scenario"),
    ("[sweep]\nscenario = 'voluntary_alliance'\n[axes]\n'context.nope' = [0.1]",
     "unknown axis key"),
    ("[sweep]\nscenario = 'voluntary_alliance'\n[axes]\n'context.funding' = [0.1, 7.0]",
     "out of range"),
    ("[sweep]\nscenario = 'voluntary_alliance'\n[axes]\n'context.funding' = ['x']",
     "is not a number"),
    ("[sweep]\nscenario = 'voluntary_alliance'\ndesign = 'magic'\n[axes]\n"
     "'context.funding' = [0.1]", "sweep.design"),
    ("[sweep]\nscenario = 'voluntary_alliance'\ndesign = 'sobol'\nsamples = 3\n[axes]\n"
     "'context.funding' = { low = 0.1, high = 0.5 }", "power of 2"),
    ("[sweep]\nscenario = 'voluntary_alliance'\ndesign = 'lhs'\n[axes]\n"
     "'context.funding' = { low = 0.5, high = 0.1 }", "low < high"),
    ("[sweep]\nscenario = 'voluntary_alliance'\nreplicates = 0\n[axes]\n'context.funding' = [0.1]",
     "sweep.replicates"),
    ("[sweep]\nscenario = 'voluntary_alliance'\n[axes]\n", "needs at least one axis"),
    ("[sweep\nscenario = 1", "malformed TOML"),
    ("[axes]\n'context.funding' = [0.1]", "missing [sweep]"),
    ("[sweep]\nscenario = 'ics_mandated'\n[axes]\n"
     "'organisations.pcn' = { start = 2, stop = 7, num = 3 }", "space it by 2.5"),
    ("[sweep]\nscenario = 'ics_mandated'\n[axes]\n"
     "'constants.regime_window' = { start = 6.5, stop = 6.5, num = 1 }", "takes whole numbers"),
    ("[sweep]\nscenario = 'ics_mandated'\ndesign = 'lhs'\n[axes]\n"
     "'constants.patience_months' = { low = 3.2, high = 3.4 }",
     "low = 3.2 and high = 3.4 must be whole"),
    # the sweep's own set and steps are named as such, not as the base scenario's
    ("[sweep]\nscenario = 'voluntary_alliance'\nset = { 'context.nope' = 1 }\n[axes]\n"
     "'context.funding' = [0.1]", "sweep.toml: sweep.set context.nope: unknown key;"),
    ("[sweep]\nscenario = 'voluntary_alliance'\nset = { 'context.quick_wins' = 7 }\n[axes]\n"
     "'context.funding' = [0.1]", "sweep.toml: sweep.set: context.quick_wins = 7 is out of "
                                  "range"),
    ("[sweep]\nscenario = 'voluntary_alliance'\nsteps = 0\n[axes]\n'context.funding' = [0.1]",
     "sweep.toml: sweep.steps: steps = 0 is out of range"),
])
def test_bad_sweep_files_are_one_clear_line(tmp_path, body, fragment):
    path = write(tmp_path, body)
    with pytest.raises(ScenarioError) as err:
        load_sweep(path)
    message = str(err.value)
    assert fragment in message and "\n" not in message


def test_a_roster_in_a_sweeps_set_is_found_beside_the_sweep_file(tmp_path, monkeypatch):
    # it was looked for beside the base scenario's file (for a bundled name, inside the
    # package), unlike the sweep's own base scenario path; the manifest records it in full
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "r.csv").write_text("name,kind,size\nA,pcn,5\nB,vcse,6\n")
    path = write(tmp_path / "d", """
        [sweep]
        scenario = "voluntary_alliance"
        replicates = 1
        set = { "organisations.roster" = "r.csv" }
        [axes]
        "context.funding" = [0.2, 0.4]
        """)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    sweep = load_sweep(path)
    assert sweep.fixed == {"organisations.roster": str(tmp_path / "d" / "r.csv")}
    assert [s.roster.names for s in sweep.scenarios] == [["A", "B"]] * 2


def test_spaced_axes_of_whole_number_keys_are_whole_numbers(tmp_path):
    # start/stop/num spaces floats; an organisation count or a month number is typed int in
    # the sweep's points and tables (it read 2.0 before)
    sweep = load_sweep(write(tmp_path, """
        [sweep]
        scenario = "ics_mandated"
        [axes]
        "organisations.pcn" = { start = 2, stop = 6, num = 3 }
        "constants.regime_window" = { start = 6, stop = 12, num = 2 }
        "context.funding" = { start = 0, stop = 1, num = 2 }
        """))
    pcn = [p["organisations.pcn"] for p in sweep.points]
    window = [p["constants.regime_window"] for p in sweep.points]
    assert sorted(set(pcn)) == [2, 4, 6] and all(type(v) is int for v in pcn)
    assert sorted(set(window)) == [6, 12] and all(type(v) is int for v in window)
    assert all(type(p["context.funding"]) is float for p in sweep.points)
    assert sweep.axis_dtypes["organisations.pcn"] == "int64"
    assert sweep.axis_dtypes["context.funding"] == "float64"


def test_bad_sweep_file_via_cli_exits_2_and_writes_nothing(tmp_path):
    path = write(tmp_path, "[sweep]\nscenario = 'voluntary_alliance'\n[axes]\n'context.x' = [1]")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "model", "sweep", str(path), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "context.x" in proc.stderr
    assert not out.exists()


def _cli_within(seconds: float, argv: list[str]) -> int | None:
    """`icsabm ARGV` in a thread: its exit status, or None if it still runs after `seconds`
    (a hang; the thread is left behind, a daemon)."""
    import threading

    from model.cli import main

    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(main(argv)), daemon=True)
    thread.start()
    thread.join(seconds)
    return status[0] if status else None


@contextlib.contextmanager
def _server(kind: str) -> Iterator[str]:
    """The tcp:// address of something that is not a Dask scheduler: nothing listening, an
    HTTP server (a dashboard's port given by mistake), or a server that sends an SSH banner."""
    import http.server
    import socket
    import socketserver
    import threading

    if kind == "nothing":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        yield f"tcp://127.0.0.1:{port}"
        return

    class Banner(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"SSH-2.0-x\r\n")
            self.request.recv(1 << 16)

    class Http(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # not on the stderr the test reads
            pass

    handler = Http if kind == "http" else Banner
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("kind", ["nothing", "http", "ssh"])
def test_unreachable_scheduler_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys,
                                                                existing, kind):
    """No Dask scheduler at the address (nothing listens, an HTTP server that never sends
    Dask's handshake, a server whose banner would be read as an exabyte frame): one line
    within the deadline, exit 2, and nothing written (an empty --out stays empty)."""
    import model.cluster

    monkeypatch.setattr(model.cluster, "CONNECT_TIMEOUT_S", 1)
    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    with _server(kind) as address:
        rc = _cli_within(15, ["sweep", str(path), "--out", str(out), "--scheduler", address,
                              "--quiet"])
    assert rc == 2, "no exit within 15 s" if rc is None else rc
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"icsabm: error: no Dask scheduler answered at {address} within 1 s (give "
                      "the scheduler's port, 8786 by default, not its dashboard's)"]
    assert (list(out.iterdir()) == []) if existing else not out.exists()


@pytest.mark.parametrize("address", ["tcp://a:b:1", "tcp://[::1:1", "tcp://..:1",
                                     "tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://-:1",
                                     "tcp://]:1", "tcp://host", "tcp://host:8786/x",
                                     "tcp://[::g]:1", "tcp://a..b:1", "local:x", "udp://h:1"])
def test_malformed_scheduler_addresses_are_refused_at_once(address):
    from model.cluster import parse_scheduler

    with pytest.raises(ScenarioError) as err:
        parse_scheduler(address)
    assert "expected local:N" in str(err.value) and "tcp://host:port" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://scheduler-host:1",
                                     "tcp://Node-7.cluster.example:65535", "tcp://[::1]:8786"])
def test_plain_scheduler_addresses_are_accepted(address):
    from model.cluster import parse_scheduler

    assert parse_scheduler(address) == ("tcp", address)


@pytest.mark.parametrize("address", ["local:0", "local:99999", "local:100000000000000000000"])
def test_local_scheduler_out_of_range_names_the_limit(monkeypatch, address):
    from model.cluster import parse_scheduler

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with pytest.raises(ScenarioError, match="at most local:2 on this machine"):
        parse_scheduler(address)


def test_designs_resolve_points(tmp_path):
    grid = load_sweep(write(tmp_path, SMALL))
    assert len(grid.points) == 4 and grid.n_runs == 12
    linked = load_sweep(write(tmp_path, """
        [sweep]
        scenario = "ics_mandated"
        [axes]
        pair = { keys = ["organisations.pcn", "organisations.vcse"], rows = [[2, 1], [8, 4]] }
        "context.funding" = { start = 0.0, stop = 1.0, num = 3 }
        """, "linked.toml"))
    assert [p["organisations.pcn"] for p in linked.points] == [2, 2, 2, 8, 8, 8]
    assert linked.scenarios[3].roster.counts["vcse"] == 4
    lhs = load_sweep(write(tmp_path, """
        [sweep]
        scenario = "voluntary_alliance"
        design = "lhs"
        samples = 10
        [axes]
        "context.funding" = { low = 0.2, high = 0.4 }
        """, "lhs.toml"))
    values = sorted(p["context.funding"] for p in lhs.points)
    assert len(values) == 10 and 0.2 <= values[0] and values[-1] <= 0.4
    # one value per tenth of the range: a Latin hypercube
    assert sorted(int((v - 0.2) / 0.02) for v in values) == list(range(10))
    points = load_sweep(write(tmp_path, """
        [sweep]
        scenario = "voluntary_alliance"
        design = "points"
        [[points]]
        "context.funding" = 0.1
        [[points]]
        regime = "mandated"
        """, "points.toml"))
    assert points.scenarios[1].regime == "mandated"


def test_chunks_cover_every_run_once_and_respect_rosters(tmp_path):
    sweep = load_sweep(write(tmp_path, """
        [sweep]
        scenario = "ics_mandated"
        replicates = 5
        chunk = 3
        [axes]
        "organisations.pcn" = [2, 4]
        "context.funding" = [0.1, 0.9]
        """))
    chunks = plan_chunks(sweep)
    runs = [(int(p), int(r)) for c in chunks for p, r in zip(c.points, c.replicates, strict=True)]
    assert sorted(runs) == [(p, r) for p in range(4) for r in range(5)]
    for chunk in chunks:
        assert len({sweep.scenarios[int(p)].n_organisations for p in chunk.points}) == 1


INNER_ROSTERS = """
[sweep]
name = "inner"
scenario = "voluntary_alliance"
replicates = 2
steps = 6
seed = 3
[axes]
"context.funding" = [0.2, 0.5, 0.8]
"organisations.pcn" = [2, 5]
"""


def test_an_innermost_organisation_axis_costs_one_chunk_per_roster(tmp_path):
    """An organisation-count axis after others: its points interleave in the grid, and each
    roster's points still share chunks (not one chunk a point); every run once, each chunk
    one roster, and the results are each point's own runs (`run_replicates`)."""
    from model.sweep import plans_agree

    sweep = load_sweep(write(tmp_path, INNER_ROSTERS))
    chunks = plan_chunks(sweep)
    assert [sorted(set(c.points.tolist())) for c in chunks] == [[0, 2, 4], [1, 3, 5]]
    assert not plans_agree(sweep)
    assert plans_agree(load_sweep(write(tmp_path, SMALL, "small.toml")))
    for chunk in chunks:
        assert len({sweep.scenarios[int(p)].n_organisations for p in chunk.points}) == 1
    run_sweep(sweep, tmp_path / "out", run_in_process, chunks=chunks)
    summary = read_summary(tmp_path / "out")
    assert [tuple(x) for x in summary[["point", "replicate"]].to_numpy()] == [
        (p, r) for p in range(6) for r in range(2)]
    from model.batch import run_arrays, summary_frame

    point = 3
    seeds = replicate_seeds(sweep.seed, sweep.replicates, point=point)
    metrics, _, _ = run_arrays(sweep.scenarios[point], seeds)
    alone = summary_frame(sweep.scenarios[point], metrics, seeds)
    rows = summary[summary.point == point]
    assert rows["seed"].tolist() == seeds.tolist()
    np.testing.assert_array_equal(rows["final_mean_trust"].to_numpy(),
                                  alone["final_mean_trust"].to_numpy())


@pytest.mark.parametrize("body, refused", [(INNER_ROSTERS, True), (SMALL, False)],
                         ids=["plans-differ", "plans-agree"])
def test_resume_of_a_folder_planned_before_roster_groups(tmp_path, capsys, body, refused):
    """A folder started before chunks grouped each roster's points (no `chunk_plan` in its
    manifest): where the two plans split the sweep alike it resumes as usual; where they
    differ its parts are other chunks, and --resume says so in one line, touching nothing."""
    path, folder = write(tmp_path, body), tmp_path / "a"
    sweep_command(str(path), str(folder), None, resume=False, quiet=True)
    whole = read_summary(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest.pop("chunk_plan") == 2
    (folder / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    (folder / "summary" / "part-00001.parquet").unlink()
    before = sorted(p.name for p in (folder / "summary").iterdir())
    capsys.readouterr()
    rc, errors = _cli(capsys, "sweep", str(path), "--out", str(folder), "--resume", "--quiet")
    if refused:
        assert rc == 2 and len(errors) == 1, errors
        assert "split this sweep into other chunks" in errors[0], errors
        assert sorted(p.name for p in (folder / "summary").iterdir()) == before
    else:
        assert rc == 0, errors
        pd.testing.assert_frame_equal(read_summary(folder), whole)
        assert json.loads((folder / "manifest.json").read_text())["chunk_plan"] == 2


def test_sweep_run_equals_run_replicates_of_its_point(tmp_path):
    sweep = load_sweep(write(tmp_path, SMALL))
    run_sweep(sweep, tmp_path / "out", run_in_process)
    summary = read_summary(tmp_path / "out")
    assert len(summary) == sweep.n_runs and not summary.duplicated(["point", "replicate"]).any()
    point = 3
    seeds = replicate_seeds(sweep.seed, sweep.replicates, point=point)
    rows = summary[summary.point == point]
    assert rows["seed"].tolist() == seeds.tolist()
    # reproduce each run alone from its own seed, as `icsabm run --replicate-seed` does
    from model.batch import run_arrays, summary_frame

    metrics, _, _ = run_arrays(sweep.scenarios[point], seeds)
    alone = summary_frame(sweep.scenarios[point], metrics, seeds)
    np.testing.assert_array_equal(rows["final_mean_trust"].to_numpy(),
                                  alone["final_mean_trust"].to_numpy())
    assert rows["regime"].tolist() == alone["regime"].tolist()


def test_read_summary_names_a_column_the_sweep_lacks_and_takes_one_name(tmp_path):
    """`read_summary(folder, columns=["nope"])` (or `columns="regime"`, read letter by
    letter) said the part file was damaged and to delete it: a good part, lost to a typo.
    Now the missing column is named, and one name is one column."""
    sweep = load_sweep(write(tmp_path, SMALL))
    run_sweep(sweep, tmp_path / "out", run_in_process)
    with pytest.raises(ScenarioError, match="no column 'nope' in the sweep's summary") as err:
        read_summary(tmp_path / "out", columns=["regime", "nope"])
    assert "damaged" not in str(err.value) and "regime" in str(err.value)
    one = read_summary(tmp_path / "out", columns="regime")
    assert one.columns.tolist() == ["point", "replicate", "regime"]
    assert len(one) == sweep.n_runs and all(path.exists() for path in
                                           (tmp_path / "out" / "summary").iterdir())


def test_in_process_and_local_dask_are_identical(tmp_path):
    path = write(tmp_path, SMALL)
    for name, scheduler in (("a", None), ("b", "local:2")):
        sweep_command(str(path), str(tmp_path / name), scheduler, resume=False, quiet=True)
    a, b = read_summary(tmp_path / "a"), read_summary(tmp_path / "b")
    pd.testing.assert_frame_equal(a, b)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["workers"] == 2
    assert manifest["numba_threads"] == 1  # what each worker used (NUMBA_NUM_THREADS=1)
    assert manifest["dask_threads"] == 1  # chunks each worker runs at once (local:N)
    assert (tmp_path / "a" / "phase.parquet").is_file()


SLOW = """
[sweep]
name = "killme"
scenario = "ics_mandated"
design = "grid"
replicates = 40
steps = 60
seed = 3
chunk = 40

[axes]
"context.formalisation" = { start = 0.0, stop = 1.0, num = 30 }
"""


def _parts(folder: Path) -> int:
    return len(list((folder / "summary").glob("part-*.parquet")))


def _wait_for_parts(folder: Path, count: int, seconds: float = 120) -> None:
    """Until `folder` holds `count` part files (or `seconds` have passed)."""
    deadline = time.time() + seconds
    while _parts(folder) < count and time.time() < deadline:
        time.sleep(0.01)


def _cli_while(seconds: float, argv: list[str], action) -> int | None:
    """`_cli_within(seconds, argv)` while `action()` runs on a thread of its own (to break
    the cluster part-way); returns once both are done."""
    import threading

    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    rc = _cli_within(seconds, argv)
    thread.join()
    return rc


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    path = write(tmp_path, SLOW)
    killed = tmp_path / "killed"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "model", "sweep", str(path), "--out",
                             str(killed), "--quiet"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while _parts(killed) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _parts(killed)
    assert 0 < done < 30
    assert not json.loads((killed / "manifest.json").read_text())["complete"]
    sweep_command(str(path), str(killed), None, resume=True, quiet=True)
    sweep_command(str(path), str(tmp_path / "whole"), None, resume=False, quiet=True)
    resumed, whole = read_summary(killed), read_summary(tmp_path / "whole")
    assert not resumed.duplicated(["point", "replicate"]).any()
    pd.testing.assert_frame_equal(resumed, whole)
    assert json.loads((killed / "manifest.json").read_text())["complete"]


def test_resume_refuses_a_different_sweep(tmp_path):
    path = write(tmp_path, SMALL)
    sweep_command(str(path), str(tmp_path / "a"), None, resume=False, quiet=True)
    other = write(tmp_path, SMALL.replace("seed = 7", "seed = 8"), "other.toml")
    with pytest.raises(ScenarioError, match="different sweep"):
        sweep_command(str(other), str(tmp_path / "a"), None, resume=True, quiet=True)


def _resume_with_edited_manifest(tmp_path: Path, capsys, **changes
                                 ) -> tuple[dict, int, list[str], bool]:
    """A SMALL sweep run whole, made unfinished (a part removed, `complete` false) with
    `changes` to its manifest, then `icsabm sweep --resume`d: (its manifest as written,
    exit status, stderr lines, whether the parts and the manifest were left as they were)."""
    path, folder = write(tmp_path, SMALL), tmp_path / "a"
    sweep_command(str(path), str(folder), None, resume=False, quiet=True)
    original = json.loads((folder / "manifest.json").read_text())
    edited = {**original, "complete": False, **changes}
    (folder / "manifest.json").write_text(json.dumps(edited))
    (folder / "summary" / "part-00001.parquet").unlink()
    before = sorted(p.name for p in (folder / "summary").iterdir())
    capsys.readouterr()
    rc, errors = _cli(capsys, "sweep", str(path), "--out", str(folder), "--resume", "--quiet")
    untouched = (sorted(p.name for p in (folder / "summary").iterdir()) == before
                 and json.loads((folder / "manifest.json").read_text()) == edited)
    return original, rc, errors, untouched


def test_resume_refuses_a_sweep_started_by_other_kernels(tmp_path, capsys):
    """Runs of other kernel sources (another version, an edited rule) would mix with this
    code's in one table: --resume says so in one line and writes nothing."""
    original, rc, errors, untouched = _resume_with_edited_manifest(
        tmp_path, capsys, kernel_sources="0" * 64, icsabm_version="0.0.9")
    assert len(original["kernel_sources"]) == 64
    assert rc == 2 and len(errors) == 1, errors
    assert "other kernel sources" in errors[0] and "0.0.9" in errors[0]
    assert untouched


@pytest.mark.parametrize("sessions", ["x", ["x"], {"a": 1}])
def test_resume_of_a_manifest_whose_sessions_were_edited_is_one_line(tmp_path, capsys,
                                                                      sessions):
    """A hand-edited manifest whose `sessions` is not a list of sessions ended --resume in
    an AttributeError traceback; now one line, nothing touched."""
    original, rc, errors, untouched = _resume_with_edited_manifest(tmp_path, capsys,
                                                                   sessions=sessions)
    assert rc == 2 and len(errors) == 1, errors
    assert "'sessions' is not a list of sessions" in errors[0]
    assert untouched


def test_lost_dask_worker_is_recovered(tmp_path):
    """A worker killed mid-sweep: its chunk is recomputed; nothing lost or duplicated."""
    from dask.distributed import Client, LocalCluster

    path = write(tmp_path, SLOW.replace("num = 30", "num = 16"))
    reference = tmp_path / "reference"
    sweep_command(str(path), str(reference), None, resume=False, quiet=True)

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"},
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # not 8787
    client = Client(cluster)
    try:
        pids = list(client.run(os.getpid).values())
        out = tmp_path / "dask"
        import threading

        parts_at_kill = []

        def kill_one() -> None:
            _wait_for_parts(out, 2)
            os.kill(pids[0], signal.SIGKILL)
            parts_at_kill.append(_parts(out))

        killer = threading.Thread(target=kill_one)
        killer.start()
        sweep_command(str(path), str(out), cluster.scheduler_address, resume=False, quiet=True)
        killer.join()
        assert parts_at_kill and parts_at_kill[0] < 16, "the worker died after the sweep ended"
        assert _parts(out) == 16
        pd.testing.assert_frame_equal(read_summary(out), read_summary(reference))
    finally:
        client.close()
        cluster.close()


@contextlib.contextmanager
def _dask_processes(tmp_path: Path, worker: bool = True, icsabm: tuple[bool, bool] = (True, True),
                    scheduler_env: dict | None = None
                    ) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A `dask scheduler` and (with `worker`) one `dask worker --nthreads 1` in processes of
    their own, as on a real cluster: its address and the processes (scheduler first).
    `icsabm` says whether each can import icsabm (False: `import model` fails there);
    `scheduler_env` adds to the scheduler's environment (Dask settings, say)."""
    blocker = tmp_path / "no-icsabm"
    (blocker / "model").mkdir(parents=True, exist_ok=True)
    (blocker / "model" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'model'\", name='model')\n")

    def env(importable: bool) -> dict:
        path = os.environ.get("PYTHONPATH", "")
        return {**os.environ, "NUMBA_NUM_THREADS": "1",
                "PYTHONPATH": path if importable else f"{blocker}{os.pathsep}{path}"}

    file, procs = tmp_path / "scheduler.json", []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            env={**env(icsabm[0]), **(scheduler_env or {})}, **quiet))
        deadline, address = time.time() + 60, None
        while address is None and time.time() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                address = json.loads(file.read_text())["address"]
            time.sleep(0.05)
        assert address, "the scheduler did not start"
        if worker:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--no-nanny", "--no-dashboard"], env=env(icsabm[1]), **quiet))
        yield address, procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_scheduler_without_workers_is_one_line(tmp_path, monkeypatch, capsys):
    """No worker joins: one line saying how to start one, exit 2, nothing written (not a
    wait without end)."""
    import model.cluster

    monkeypatch.setattr(model.cluster, "JOIN_TIMEOUT_S", 1)
    out = tmp_path / "out"
    with _dask_processes(tmp_path, worker=False) as (address, _):
        rc = _cli_within(30, ["sweep", str(write(tmp_path, SMALL)), "--out", str(out),
                              "--scheduler", address, "--quiet"])
    assert rc == 2, "no exit within 30 s" if rc is None else rc
    assert capsys.readouterr().err.strip().splitlines() == [
        f"icsabm: error: no Dask worker joined the scheduler at {address} within 1 s; start "
        f"workers with: dask worker {address} --nthreads 1"]
    assert not out.exists()


@pytest.mark.parametrize("where", ["scheduler", "worker"])
def test_a_cluster_without_icsabm_is_one_line(tmp_path, capsys, where):
    """A scheduler or a worker that cannot import icsabm: one line naming it, exit 2, nothing
    written (not a traceback about the task graph, nor a wait without end)."""
    out = tmp_path / "out"
    icsabm = (where != "scheduler", where != "worker")
    with _dask_processes(tmp_path, icsabm=icsabm) as (address, _):
        rc = _cli_within(60, ["sweep", str(write(tmp_path, SMALL)), "--out", str(out),
                              "--scheduler", address, "--quiet"])
    assert rc == 2, "no exit within 60 s" if rc is None else rc
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1, errors
    if where == "scheduler":
        assert errors[0].startswith(f"icsabm: error: the Dask scheduler at {address} cannot "
                                    "import icsabm (ModuleNotFoundError")
        assert "install icsabm on the scheduler too" in errors[0]
    else:
        assert re.match(rf"icsabm: error: Dask worker tcp://127\.0\.0\.1:\d+ of {address} "
                        r"cannot import icsabm \(ModuleNotFoundError", errors[0]), errors[0]
    assert not out.exists()


def test_workers_running_other_code_are_refused(tmp_path, monkeypatch, capsys):
    """Workers whose icsabm version or kernel sources differ from the client's would give
    other numbers: one line naming the worker and both sides, exit 2, nothing written."""
    import model
    import model.jit_cache

    path, out = write(tmp_path, SMALL), tmp_path / "out"
    mine = model.jit_cache.source_hash()
    argv = ["sweep", str(path), "--out", str(out), "--quiet", "--scheduler"]
    with _dask_processes(tmp_path) as (address, _):
        with monkeypatch.context() as patch:
            patch.setattr(model, "__version__", "0.0.0+other")
            rc = _cli_within(60, [*argv, address])
        assert rc == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and re.match(
            rf"icsabm: error: Dask worker tcp://127\.0\.0\.1:\d+ of {address} runs icsabm "
            rf"{re.escape(model.__version__)} \(kernel sources {mine[:12]}\), not this "
            rf"client's 0\.0\.0\+other \({mine[:12]}\): its results would differ", errors[0]
        ), errors
        with monkeypatch.context() as patch:
            patch.setattr(model.jit_cache, "source_hash", lambda: "f" * 64)
            rc = _cli_within(60, [*argv, address])
        assert rc == 2
        errors = capsys.readouterr().err.strip().splitlines()
        assert len(errors) == 1 and f"(kernel sources {mine[:12]}), not this client's " \
            f"{model.__version__} (ffffffffffff)" in errors[0], errors
    assert not out.exists()


def test_a_lost_scheduler_is_one_line_and_resume_finishes(tmp_path, capsys):
    """The scheduler dies mid-sweep: one line saying how many chunks are saved, exit 3, the
    manifest records the interrupted tcp session (with its worker count); --resume in
    process then finishes a sweep equal to an uninterrupted one."""
    from model.cli import main

    path = write(tmp_path, SLOW.replace("num = 30", "num = 8"))
    out = tmp_path / "out"
    with _dask_processes(tmp_path) as (address, procs):

        def kill_scheduler() -> None:
            _wait_for_parts(out, 2)
            procs[0].kill()

        rc = _cli_while(120, ["sweep", str(path), "--out", str(out), "--scheduler", address,
                              "--quiet"], kill_scheduler)
    assert rc == 3, rc
    errors = capsys.readouterr().err.strip().splitlines()
    saved = _parts(out)
    assert 0 < saved < 8, "the sweep ended before the scheduler was killed"
    assert errors == [f"icsabm: error: lost the Dask scheduler at {address}: {saved} of 8 "
                      f"chunks saved in {out}; finish with --resume"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"]
    assert (manifest["engine"], manifest["workers"], manifest["numba_threads"]) == (
        f"dask cluster at {address}", 1, 1)
    session = manifest["sessions"][0]
    assert (session["ended"], session["chunks_computed"]) == ("interrupted", saved)
    assert main(["sweep", str(path), "--out", str(out), "--resume", "--quiet"]) == 0
    sweep_command(str(path), str(tmp_path / "whole"), None, resume=False, quiet=True)
    pd.testing.assert_frame_equal(read_summary(out), read_summary(tmp_path / "whole"))


def _kill_worker_mid_sweep(tmp_path: Path, capsys
                           ) -> tuple[int | None, list[str], str, Path, Path, float]:
    """A tcp:// sweep of 8 chunks whose only worker is killed once a chunk is saved: (exit
    status, stderr lines, scheduler address, sweep file, folder, seconds from the kill to
    the exit); the scheduler is left running and must still answer afterwards."""
    import threading

    from dask.distributed import Client

    path = write(tmp_path, SLOW.replace("num = 30", "num = 8"))
    out = tmp_path / "out"
    with _dask_processes(tmp_path) as (address, procs):
        killed: list[float] = []

        def kill_worker() -> None:
            _wait_for_parts(out, 1)
            procs[1].kill()
            killed.append(time.monotonic())

        killer = threading.Thread(target=kill_worker, daemon=True)
        killer.start()
        rc = _cli_within(60, ["sweep", str(path), "--out", str(out), "--scheduler", address,
                              "--quiet"])
        ended = time.monotonic()
        killer.join()
        assert procs[0].poll() is None, "the user's scheduler went down with the sweep"
        with Client(address, timeout=10) as client:  # still theirs, and holds nothing of ours
            assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    return rc, capsys.readouterr().err.strip().splitlines(), address, path, out, ended - killed[0]


def _resumed_equals_whole(tmp_path: Path, path: Path, out: Path) -> None:
    from model.cli import main

    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"] and manifest["sessions"][0]["ended"] == "interrupted"
    assert main(["sweep", str(path), "--out", str(out), "--resume", "--quiet"]) == 0
    sweep_command(str(path), str(tmp_path / "whole"), None, resume=False, quiet=True)
    pd.testing.assert_frame_equal(read_summary(out), read_summary(tmp_path / "whole"))


def test_losing_every_worker_mid_sweep_is_one_line_not_a_wait_without_end(tmp_path, capsys,
                                                                         monkeypatch):
    """The only worker dies mid-sweep and none comes back: after JOIN_TIMEOUT_S without a
    worker, one line saying so and how many chunks are saved, exit 3 (before: the sweep
    waited for ever, its progress bar frozen); --resume finishes it."""
    import model.cluster

    monkeypatch.setattr(model.cluster, "JOIN_TIMEOUT_S", 2)
    monkeypatch.setattr(model.cluster, "WORKER_LOOK_S", 0.5, raising=False)
    rc, errors, address, path, out, waited = _kill_worker_mid_sweep(tmp_path, capsys)
    assert rc == 3, "no exit within 60 s" if rc is None else rc
    saved = _parts(out)
    assert errors == [f"icsabm: error: no Dask worker has been connected to the scheduler at "
                      f"{address} for 2 s: {saved} of 8 chunks saved in {out}; finish with "
                      "--resume"], errors
    assert waited >= 2, waited  # it waited JOIN_TIMEOUT_S; the hang bound is the 60 s above
    _resumed_equals_whole(tmp_path, path, out)


def test_a_chunk_that_kills_its_workers_is_one_line(tmp_path, capsys):
    """A chunk whose workers die while running it (out of memory, say) ends in distributed's
    KilledWorker once `allowed-failures` workers have died (0 here, to be quick): one line
    naming the chunk, exit 3, not a traceback; the user's scheduler is left as it was."""
    from dask.distributed import Client

    path = write(tmp_path, SLOW.replace("replicates = 40", "replicates = 2000")
                 .replace("chunk = 40", "chunk = 2000").replace("num = 30", "num = 1"))
    out = tmp_path / "out"
    with _dask_processes(tmp_path, scheduler_env={
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as (address, procs):

        def kill_the_running_worker() -> None:  # once its one chunk has run for a while
            with Client(address, timeout=10) as client:
                deadline = time.time() + 60
                while time.time() < deadline and client.run_on_scheduler(
                        lambda dask_scheduler: [t.state for t in dask_scheduler.tasks.values()]
                ) != ["processing"]:
                    time.sleep(0.01)
            time.sleep(0.3)
            procs[1].kill()

        rc = _cli_while(60, ["sweep", str(path), "--out", str(out), "--scheduler", address,
                             "--quiet"], kill_the_running_worker)
        assert procs[0].poll() is None
        with Client(address, timeout=10) as client:
            assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    assert rc == 3, "no exit within 60 s" if rc is None else rc
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and re.fullmatch(
        r"icsabm: error: the Dask workers that ran chunk 0 died while running it \(1 of them, "
        r"the last tcp://127\.0\.0\.1:\d+: out of memory\? their logs say why\) before any "
        r"chunk was saved; nothing was written: start the sweep again", errors[0]), errors
    assert not out.exists()


def test_the_scheduler_check_works_inside_a_running_event_loop(tmp_path):
    """A notebook runs an event loop: the check asks on a thread of its own, so a real
    scheduler is still recognised there (asyncio.run alone would fail and call it absent)."""
    import asyncio

    from model.cluster import _connect

    async def from_a_notebook(address: str) -> str:
        client = _connect(address)
        try:
            return client.scheduler_info()["address"]
        finally:
            client.close()

    with _dask_processes(tmp_path, worker=False) as (address, _):
        assert asyncio.run(from_a_notebook(address)) == address


def test_a_chunk_never_runs_on_other_kernel_sources():
    """Each task carries the kernels' digest; a process with other sources refuses it."""
    from model.sweep import OtherKernelsError, chunk_task, compute_chunk, plan_chunks

    sweep = load_sweep("phase_trust_formalisation")
    task = chunk_task(sweep, plan_chunks(sweep)[0])
    with pytest.raises(OtherKernelsError, match="runs kernel sources"):
        compute_chunk({**task, "kernels": "0" * 64})


def test_a_worker_with_other_kernels_mid_sweep_is_one_line(tmp_path, capsys, monkeypatch):
    """A worker that joins after the cluster check with other code: its chunk fails, the
    sweep stops with one line (exit 3), the chunks already saved stay for --resume."""
    import model.sweep as sweep_module
    from model.cli import main

    path = write(tmp_path, SLOW.replace("num = 30", "num = 4"))
    out = tmp_path / "out"
    real = sweep_module.chunk_task

    def foreign_after_the_first(sweep, chunk):  # as if chunks 1.. reached such a worker
        task = real(sweep, chunk)
        return task if chunk.index == 0 else {**task, "kernels": "0" * 64}

    monkeypatch.setattr(sweep_module, "chunk_task", foreign_after_the_first)
    rc = _cli_within(120, ["sweep", str(path), "--out", str(out), "--scheduler", "local:1",
                           "--quiet"])
    assert rc == 3, rc
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "runs other code" in errors[0], errors
    assert "finish with --resume" in errors[0] or "nothing was written" in errors[0]
    monkeypatch.setattr(sweep_module, "chunk_task", real)
    if out.exists():
        assert main(["sweep", str(path), "--out", str(out), "--resume", "--quiet"]) == 0
        sweep_command(str(path), str(tmp_path / "whole"), None, resume=False, quiet=True)
        pd.testing.assert_frame_equal(read_summary(out), read_summary(tmp_path / "whole"))


def test_the_numerics_digest_is_the_same_in_another_process_on_one_thread():
    """The probe runs' digest depends on the machine's arithmetic alone: a fresh process on
    one numba thread gives this process's digest, and other probe runs give another."""
    import model.batch

    mine = model.batch.numerics_digest()
    theirs = subprocess.run(
        [sys.executable, "-c", "from model.batch import numerics_digest; print(numerics_digest())"],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "NUMBA_NUM_THREADS": "1"}).stdout.strip()
    assert len(mine) == 64 and theirs == mine
    probe = model.batch.NUMERICS_PROBE
    try:
        model.batch.NUMERICS_PROBE = ((probe[0][0], (3,)),)
        model.batch.numerics_digest.cache_clear()
        assert model.batch.numerics_digest() != mine
    finally:
        model.batch.NUMERICS_PROBE = probe
        model.batch.numerics_digest.cache_clear()
    assert model.batch.numerics_digest() == mine


class _FakeClient:
    """What `model.cluster._check` asks of a Dask client, answered with given identities."""

    def __init__(self, identities: dict):
        self.identities = identities

    def wait_for_workers(self, n, timeout):
        pass

    def run_on_scheduler(self, function, *args):
        self.scheduler_identity = function(*args)
        return self.scheduler_identity

    def nthreads(self):
        return {address: 1 for address in self.identities}

    def run(self, function, workers=None, on_error="raise"):
        return {address: self.identities[address] for address in workers or self.identities}


def test_workers_that_round_differently_from_one_another_are_refused():
    """A cluster of mixed machines whose maths libraries round differently would make a
    run's numbers depend on its worker: refused in one line naming each group."""
    from model.cluster import _check, code_identity

    mine = code_identity()
    other = {**mine, "numerics": "f" * 64}
    workers = {"tcp://10.0.0.1:9": mine, "tcp://10.0.0.2:9": other, "tcp://10.0.0.3:9": mine}
    with pytest.raises(ScenarioError) as error:
        _check(_FakeClient(workers), "tcp://head:8786")
    text = str(error.value)
    assert "\n" not in text and "the Dask workers of tcp://head:8786 compute different " \
        "floating-point results" in text, text
    assert f"tcp://10.0.0.1:9, tcp://10.0.0.3:9 give {mine['numerics'][:12]}" in text, text
    assert "tcp://10.0.0.2:9 give ffffffffffff" in text, text
    alike = {address: other for address in workers}  # alike, though unlike this machine
    client = _FakeClient(alike)
    assert _check(client, "tcp://head:8786") == alike
    assert "numerics" not in client.scheduler_identity  # the scheduler runs no kernel


def test_a_worker_lost_during_the_check_is_not_said_to_lack_icsabm():
    """A worker that dies or leaves while it answers the check (its connection closed) is
    told as that, not as a worker that cannot import icsabm (which sent users to reinstall
    it); one that cannot import icsabm is still told so."""
    from distributed.comm import CommClosedError

    from model.cluster import _check, code_identity

    mine = code_identity()
    lost = CommClosedError("in <TCP (closed) Scheduler Broadcast>: Stream is closed")
    with pytest.raises(ScenarioError) as error:
        _check(_FakeClient({"tcp://10.0.0.1:9": mine, "tcp://10.0.0.2:9": lost}), "tcp://h:8786")
    assert str(error.value) == (
        "Dask worker tcp://10.0.0.2:9 of tcp://h:8786 did not finish the check (CommClosedError: "
        "in <TCP (closed) Scheduler Broadcast>: Stream is closed): it stopped or left the "
        "cluster during the check; its log says why; start the sweep again")
    missing = ModuleNotFoundError("No module named 'model'")
    with pytest.raises(ScenarioError, match=r"tcp://10\.0\.0\.2:9 of tcp://h:8786 cannot import "
                       r"icsabm \(ModuleNotFoundError: No module named 'model'\)"):
        _check(_FakeClient({"tcp://10.0.0.1:9": mine, "tcp://10.0.0.2:9": missing}),
               "tcp://h:8786")


def test_the_workers_probe_runs_off_their_event_loop(monkeypatch):
    """The check's probe runs compile the kernels on a worker's first check (seconds): run
    on the worker's event loop they stalled its heartbeats and logged 'Event loop was
    unresponsive'; on a thread of their own the loop keeps ticking."""
    import asyncio

    import model.cluster

    def slow_identity() -> dict:  # as a cold numba cache makes it
        time.sleep(0.6)
        return {"identity": 1}

    monkeypatch.setattr(model.cluster, "code_identity", slow_identity)

    async def on_a_worker_loop() -> tuple[dict, float]:
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.05)
        identity = await model.cluster._worker_identity()
        ticker.cancel()
        return identity, float(np.diff(ticks).max())

    identity, longest_gap = asyncio.run(on_a_worker_loop())
    assert identity == {"identity": 1} and longest_gap < 0.3, longest_gap


def test_a_stopped_worker_is_one_line_not_a_check_without_end(tmp_path, monkeypatch, capsys):
    """A worker that is stopped (SIGSTOP; a paused VM, a machine swapping) never answers
    the check: after CHECK_TIMEOUT_S one line names it, exit 2, nothing written (before:
    the check waited for ever, without a word)."""
    import model.cluster

    monkeypatch.setattr(model.cluster, "CHECK_TIMEOUT_S", 2, raising=False)
    out = tmp_path / "out"
    with _dask_processes(tmp_path) as (address, procs):
        from dask.distributed import Client

        with Client(address, timeout=10) as client:
            client.wait_for_workers(1, timeout=30)
            (worker,) = client.nthreads()
        procs[1].send_signal(signal.SIGSTOP)
        try:
            rc = _cli_within(30, ["sweep", str(write(tmp_path, SMALL)), "--out", str(out),
                                  "--scheduler", address, "--quiet"])
        finally:
            procs[1].send_signal(signal.SIGCONT)
    assert rc == 2, "no exit within 30 s" if rc is None else rc
    assert capsys.readouterr().err.strip().splitlines() == [
        f"icsabm: error: Dask worker {worker} of {address} gave no answer to the check within "
        "2 s (a first check compiles the model, well under a minute: is the worker stopped, or "
        "its machine overloaded?); restart or stop it and start the sweep again"]
    assert not out.exists()


def test_workers_that_round_unlike_this_machine_give_a_warning(tmp_path, monkeypatch, capsys):
    """Workers that agree with one another but not with the client: the sweep runs (it is
    reproducible on them), one warning line says `icsabm run` here will not reproduce its
    bits, and the manifest records the workers' digest."""
    import model.batch

    real = model.batch.numerics_digest()
    monkeypatch.setattr(model.batch, "numerics_digest", lambda: "e" * 64)  # this client only
    out = tmp_path / "out"
    rc = _cli_within(120, ["sweep", str(write(tmp_path, SMALL)), "--out", str(out),
                           "--scheduler", "local:1", "--quiet"])
    assert rc == 0
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"icsabm: warning: the Dask workers compute other floating-point results "
                      f"({real[:12]}) than this machine (eeeeeeeeeeee): the sweep is "
                      "reproducible on them, but `icsabm run` here will not give its runs "
                      "bit for bit"], errors
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["numerics"] == manifest["sessions"][-1]["numerics"] == real


def test_resume_refuses_a_sweep_started_on_machines_that_round_differently(tmp_path, capsys):
    """A folder whose runs came from machines with other floating-point results: --resume
    would mix two sets of numbers, so it says so in one line and writes nothing."""
    import model.batch

    original, rc, errors, untouched = _resume_with_edited_manifest(tmp_path, capsys,
                                                                   numerics="0" * 64)
    assert original["numerics"] == model.batch.numerics_digest()
    assert rc == 2 and len(errors) == 1, errors
    assert "was started on machines that compute other floating-point results " \
        f"(000000000000, not {model.batch.numerics_digest()[:12]} here" in errors[0], errors
    assert untouched


def test_a_chunk_from_a_process_that_rounds_differently_is_not_written(tmp_path):
    """A worker that joined after the check with other arithmetic: its result is refused
    before its part is written (the parts before it stay, for --resume), and the sweep
    command's one line says what happened."""
    import model.batch
    from model.sweep import OtherNumericsError
    from model.sweep_command import _cluster_failure

    sweep = load_sweep(str(write(tmp_path, SMALL)))
    folder = tmp_path / "out"

    def engine(tasks):
        for number, result in enumerate(run_in_process(tasks)):
            yield result if number == 0 else {**result, "numerics": "f" * 64, "host": "w9"}

    with pytest.raises(OtherNumericsError) as error:
        run_sweep(sweep, folder, engine, numerics=model.batch.numerics_digest())
    assert _parts(folder) == 1
    assert str(error.value) == ("w9 computes floating-point results ffffffffffff, not the "
                                f"sweep's {model.batch.numerics_digest()[:12]}")
    assert _cluster_failure(error.value).startswith(
        "a Dask worker that joined during the sweep computes other floating-point results")


def test_a_resumed_manifest_tells_each_session(tmp_path, monkeypatch):
    """A local:1 sweep interrupted, then resumed in process: the top-level engine fields and
    argv are the resumed session's, `sessions` lists both (what the workers used included),
    the interrupted session's wall time counts, and every earlier key is still there."""
    import numba

    import model.sweep

    path, out = write(tmp_path, SMALL), tmp_path / "out"
    chunks = len(plan_chunks(load_sweep(path)))
    write_part = model.sweep.write_part

    def interrupt_after_one(folder, index, frame):
        if _parts(folder):
            raise KeyboardInterrupt
        write_part(folder, index, frame)

    monkeypatch.setattr(model.sweep, "write_part", interrupt_after_one)
    monkeypatch.setattr(sys, "argv", ["icsabm", "sweep", "first"])
    with pytest.raises(KeyboardInterrupt):
        sweep_command(str(path), str(out), "local:1", resume=False, quiet=True)
    first = json.loads((out / "manifest.json").read_text())
    assert first["sessions"][0]["ended"] == "interrupted"
    assert first["wall_time_s"] == first["sessions"][0]["wall_time_s"] > 0
    monkeypatch.setattr(model.sweep, "write_part", write_part)
    monkeypatch.setattr(sys, "argv", ["icsabm", "sweep", "second"])
    sweep_command(str(path), str(out), None, resume=True, quiet=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"kind", "icsabm_version", "git_commit", "sweep", "sweep_digest", "sweep_file", "runs",
            "points", "seed_rule", "engine", "scheduler", "workers", "dask_threads",
            "numba_threads", "started_utc", "python", "argv", "complete", "wall_time_s",
            "finished_utc"} <= set(manifest)
    assert manifest["complete"] and manifest["argv"] == ["icsabm", "sweep", "second"]
    assert (manifest["engine"], manifest["scheduler"], manifest["workers"],
            manifest["numba_threads"]) == ("in-process numba", None, None,
                                           numba.get_num_threads())
    sessions = manifest["sessions"]
    assert [(s["argv"][-1], s["engine"], s["scheduler"], s["workers"], s["dask_threads"],
             s["numba_threads"], s["chunks_computed"], s["ended"]) for s in sessions] == [
        ("first", "dask LocalCluster (1 workers)", "local:1", 1, 1, 1, 1, "interrupted"),
        ("second", "in-process numba", None, None, None, numba.get_num_threads(), chunks - 1,
         "complete")]
    assert manifest["started_utc"] == sessions[0]["started_utc"] < sessions[1]["started_utc"]
    assert manifest["wall_time_s"] == round(sum(s["wall_time_s"] for s in sessions), 3)


def test_ctrl_c_on_a_local_cluster_is_one_line(tmp_path):
    """SIGINT to the whole process group (Ctrl-C in a terminal) during a local:1 sweep: the
    workers ignore it, the driver alone says `icsabm: interrupted`, exit 130, and the parts
    it saved are resumed."""
    path, out = write(tmp_path, SLOW.replace("num = 30", "num = 8")), tmp_path / "out"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "model", "sweep", str(path), "--out",
                             str(out), "--scheduler", "local:1", "--quiet"], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.time() + 120
    while _parts(out) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stderr == "icsabm: interrupted\n", stderr
    assert 0 < _parts(out) < 8
    assert sweep_command(str(path), str(out), None, resume=True, quiet=True) == 0
    assert _parts(out) == 8


def test_local_workers_use_one_numba_thread_from_the_console_script(tmp_path):
    """`icsabm sweep --scheduler local:N` from the console script pip writes (its top level
    imports icsabm, and so numba, again in each spawned worker, before the nanny's `env`
    is applied): each worker's numba still uses one thread, as the manifest and the
    README say, not every core N times over."""
    script = tmp_path / "icsabm"  # what pip writes for the console script
    script.write_text("import re\nimport sys\nfrom model.cli import main\n"
                      "if __name__ == '__main__':\n"
                      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                      "    sys.exit(main())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    proc = subprocess.run([sys.executable, str(script), "sweep", str(write(tmp_path, SMALL)),
                           "--out", str(tmp_path / "out"), "--scheduler", "local:1", "--quiet"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["numba_threads"] == 1, manifest["numba_threads"]


def test_a_local_cluster_says_nothing_when_port_8787_is_taken(tmp_path):
    """The Dask scheduler's HTTP server defaults to port 8787 and warns when another cluster
    (a notebook's, a second sweep) holds it: a local:N sweep uses a free port, silently."""
    import socket

    holder = socket.socket()
    try:
        with contextlib.suppress(OSError):  # already taken: just as good for the test
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        proc = subprocess.run([sys.executable, "-m", "model", "sweep",
                               str(write(tmp_path, SMALL)), "--out", str(tmp_path / "out"),
                               "--scheduler", "local:1", "--quiet"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    finally:
        holder.close()
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_a_terminal_is_told_while_the_cluster_is_checked(tmp_path, monkeypatch, capsys):
    """A cold cluster check can take tens of seconds before the progress bar: on a terminal
    one line says what is happening; with --quiet, or when stderr is not a terminal,
    nothing."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    path = write(tmp_path, SMALL)
    assert sweep_command(str(path), str(tmp_path / "a"), "local:1", resume=False) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("icsabm: starting the Dask cluster local:1 (a first check compiles "
                        "the model on each worker, up to a minute)"), lines
    assert sweep_command(str(path), str(tmp_path / "b"), "local:1", resume=False,
                         quiet=True) == 0
    assert capsys.readouterr().err == ""
    assert sweep_command(str(path), str(tmp_path / "c"), None, resume=False) == 0
    assert "Dask" not in capsys.readouterr().err


def test_phase_table_has_wilson_intervals(tmp_path):
    sweep = load_sweep(write(tmp_path, SMALL))
    run_sweep(sweep, tmp_path / "out", run_in_process)
    phase = phase_table(sweep, read_summary(tmp_path / "out"))
    assert len(phase) == 4
    shares = phase[["synergy_share", "inertia_share", "dissolution_share"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    assert (phase["synergy_ci_low"] <= phase["synergy_share"]).all()
    assert (phase["synergy_share"] <= phase["synergy_ci_high"]).all()
    assert {"context.formalisation", "scenario.regime", "runs"} <= set(phase.columns)


def test_sobol_indices_know_an_ignored_parameter(tmp_path):
    """With no turbulence (rate 0), turbulence_size cannot matter: its total index is ~0,
    while formalisation (C11) drives behaviour. (Each point has its own seeds, so run noise
    gives the ignored parameter a small positive index; 8 replicates per point keep it small.)"""
    path = write(tmp_path, """
        [sweep]
        name = "sobol_small"
        scenario = "ics_mandated_supported"
        design = "sobol"
        samples = 64
        replicates = 8
        steps = 36
        seed = 1
        set = { "context.turbulence_rate" = 0.0 }
        [axes]
        "context.formalisation" = { low = 0.1, high = 0.9 }
        "context.turbulence_size" = { low = 0.0, high = 1.0 }
        """)
    sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True)
    sobol = pd.read_parquet(tmp_path / "out" / "sobol.parquet")
    behaviour = sobol[sobol.outcome == "final_mean_behaviour"].set_index("parameter")
    assert abs(behaviour.loc["context.turbulence_size", "ST"]) < 0.03
    assert behaviour.loc["context.formalisation", "ST"] > 0.5
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(sobol.columns)


def test_sobol_intervals_are_the_same_every_time_with_seed_0():
    """The bundled sobol_ics has seed 0, which SALib once read as "no seed": its bootstrap
    intervals then came from numpy's global generator and changed between runs."""
    from model.sweep import sobol_table

    sweep = load_sweep("sobol_ics")
    assert sweep.seed == 0
    rng = np.random.default_rng(5)
    points = len(sweep.points)
    summary = pd.DataFrame({
        "point": np.repeat(np.arange(points), 2),
        "regime": rng.choice(["synergy", "inertia"], 2 * points),
        **{k: rng.random(2 * points) for k in ("final_mean_trust", "final_mean_faith",
                                               "final_mean_behaviour", "cumulative_output")}})
    np.random.seed(1)  # noqa: NPY002 (the global generator SALib falls back to)
    first = sobol_table(sweep, summary)
    np.random.seed(2)  # noqa: NPY002
    assert sobol_table(sweep, summary).equals(first)
    assert first["ST_conf"].gt(0).all()


def test_bundled_sweeps_load():
    for name in ("phase_trust_formalisation", "phase_partners_support", "sobol_ics"):
        sweep = load_sweep(ROOT / "scenarios" / f"{name}.toml")
        assert sweep.n_runs > 0
        assert load_scenario(sweep.base)  # its base scenario is bundled


def _run_alone(tmp_path: Path, base: str, sets: list[str], steps: int, seed: int) -> pd.Series:
    """The summary row of `icsabm run BASE --set ... --steps STEPS --replicate-seed SEED`."""
    from model.cli import main

    assert main(["run", base, *sets, "--steps", str(steps), "--replicate-seed", str(seed),
                 "--out", str(tmp_path / "alone"), "--quiet"]) == 0
    return pd.read_parquet(tmp_path / "alone" / "summary.parquet").iloc[0]


def test_any_sweep_run_is_reproduced_alone_by_icsabm_run(tmp_path):
    path = write(tmp_path, SMALL)
    sweep_command(str(path), str(tmp_path / "sweep"), None, resume=False, quiet=True)
    summary = read_summary(tmp_path / "sweep")
    row = summary[(summary.point == 2) & (summary.replicate == 1)].iloc[0]
    sets = [f"--set=context.formalisation={row['context.formalisation']}",
            f"--set=regime={row['scenario.regime']}"]
    alone = _run_alone(tmp_path, "voluntary_alliance", sets, 12, row["seed"])
    assert alone["seed"] == row["seed"]
    for column in ("regime", "final_mean_trust", "final_mean_faith", "cumulative_output"):
        assert alone[column] == row[column], column


def _cli(capsys, *argv: str) -> tuple[int, list[str]]:
    """Run `icsabm ARGV` in process; its exit status and the lines it wrote to stderr."""
    from model.cli import main

    rc = main(list(argv))
    return rc, capsys.readouterr().err.strip().splitlines()


def test_local_scheduler_is_capped_at_the_cpu_count(tmp_path, monkeypatch, capsys):
    """local:N with N above the logical CPU count: one line naming the limit, nothing written."""
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # without the cap: 2 workers, no more
    out = tmp_path / "out"
    rc, errors = _cli(capsys, "sweep", str(write(tmp_path, SMALL)), "--out", str(out),
                      "--scheduler", "local:2", "--quiet")
    assert rc == 2 and len(errors) == 1
    assert "at most local:1" in errors[0] and "logical CPU" in errors[0]
    assert not out.exists()


@pytest.mark.parametrize("design, axes", [
    ("grid", "'context.funding' = { start = 0.0, stop = 1.0, num = 1000 }\n"
             "'context.formalisation' = { start = 0.0, stop = 1.0, num = 1000 }\n"
             "'context.quick_wins' = { start = 0.0, stop = 1.0, num = 1000 }"),
    ("lhs", "'context.funding' = { low = 0.1, high = 0.9 }"),
    ("sobol", "'context.funding' = { low = 0.1, high = 0.9 }"),
])
def test_oversized_sweep_is_refused_before_its_points_are_built(tmp_path, monkeypatch, design,
                                                                axes):
    """The run limit is checked from the axis lengths / samples and replicates, so a 10^9-point
    grid fails at once with one line instead of allocating gigabytes of points first."""
    import itertools

    import SALib.sample.sobol

    import model.sweep_file

    def never(*args, **kwargs):
        raise AssertionError("points were built before the size check")

    monkeypatch.setattr(itertools, "product", never)
    monkeypatch.setattr(model.sweep_file, "_latin_hypercube", never)
    monkeypatch.setattr(SALib.sample.sobol, "sample", never)
    samples = "" if design == "grid" else "samples = 8388608\n"
    path = write(tmp_path, f"[sweep]\nscenario = 'voluntary_alliance'\ndesign = '{design}'\n"
                           f"{samples}replicates = 20\n[axes]\n{axes}\n")
    with pytest.raises(ScenarioError, match="is more than 100000000 runs") as err:
        load_sweep(path)
    assert "\n" not in str(err.value)


def test_points_that_would_not_fit_in_memory_are_refused_before_they_are_built(
        tmp_path, monkeypatch):
    import itertools

    import model.sweep_file

    def never(*args, **kwargs):
        raise AssertionError("points were built before the memory check")

    monkeypatch.setattr(model.sweep_file, "available_memory", lambda: 1_000_000)  # 100 points
    monkeypatch.setattr(itertools, "product", never)
    path = write(tmp_path, "[sweep]\nscenario = 'voluntary_alliance'\nreplicates = 1\n"
                           "[axes]\n'context.funding' = { start = 0, stop = 1, num = 101 }\n")
    with pytest.raises(ScenarioError, match="101 points need about 1 MB of memory") as err:
        load_sweep(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("base", ["mandated_buddying", "voluntary_alliance"])
def test_base_scenario_is_parsed_once_and_points_match_load_scenario(tmp_path, monkeypatch,
                                                                     base):
    """Each point is the base scenario with its overrides, resolved exactly as
    `load_scenario(base, overrides, steps)` would (a roster relative to the base file
    included), but the base file is parsed once, not once per point."""
    import tomllib

    path = write(tmp_path, f"""
        [sweep]
        scenario = "{base}"
        steps = 24
        set = {{ "context.quick_wins" = 0.3 }}
        [axes]
        "context.funding" = [0.1, 0.5, 0.9]
        "context.formalisation" = {{ start = 0.0, stop = 1.0, num = 4 }}
        """)
    parse, parsed = tomllib.loads, []
    monkeypatch.setattr(tomllib, "loads", lambda text: parsed.append(text) or parse(text))
    sweep = load_sweep(path)
    few = len(parsed)
    load_sweep(write(tmp_path, path.read_text().replace("num = 4", "num = 40"), "big.toml"))
    assert few and len(parsed) == 2 * few, "files are parsed again for every point"
    monkeypatch.setattr(tomllib, "loads", parse)
    for point, scenario in zip(sweep.points, sweep.scenarios, strict=True):
        alone = load_scenario(base, overrides={**sweep.fixed, **point}, steps=24)
        assert scenario.digest() == alone.digest()
        assert scenario.path == alone.path and scenario.name == alone.name
        np.testing.assert_array_equal(scenario.packed(), alone.packed())


def test_non_utf8_sweep_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00")
    out = tmp_path / "out"
    rc, errors = _cli(capsys, "sweep", str(path), "--out", str(out), "--quiet")
    assert rc == 2 and len(errors) == 1 and "not a UTF-8 text file" in errors[0], errors
    assert not out.exists()


@pytest.mark.parametrize("path", [None, 5])
def test_a_sweep_is_named_by_a_path_or_a_bundled_name(path):
    """Unchecked, None or a number gave a TypeError from pathlib."""
    with pytest.raises(ScenarioError, match=r"^path = .* is not a sweep file; allowed: a path "
                                            r"to a sweep TOML file .* or a bundled sweep name"):
        load_sweep(path)


def test_a_sweep_file_with_a_byte_order_mark_is_read(tmp_path):
    """As a scenario file or a roster CSV: a UTF-8 BOM at the start is skipped."""
    text = "[sweep]\nname = 's'\nscenario = 'merger'\n[axes]\n'context.funding' = [0.1, 0.2]\n"
    plain = load_sweep(write(tmp_path, text))
    (tmp_path / "bom.toml").write_bytes(text.encode("utf-8-sig"))
    assert load_sweep(tmp_path / "bom.toml").digest() == plain.digest()


HEAD = "[sweep]\nscenario = 'voluntary_alliance'\n"
RANGE = "[axes]\n'context.funding' = { low = 0.1, high = 0.5 }\n"


@pytest.mark.parametrize("body, fragment", [
    (HEAD + "[axes]\n'context.funding' = [0.1]\n[[points]]\n'context.funding' = 0.2",
     "[[points]] tables are read only by design = \"points\"; this sweep's design is 'grid'"),
    (HEAD + "design = 'lhs'\n" + RANGE + "[[points]]\nregime = 'mandated'",
     "this sweep's design is 'lhs'"),
    (HEAD + "design = 'sobol'\nsamples = 8\n" + RANGE + "[[points]]\nregime = 'mandated'",
     "this sweep's design is 'sobol'"),
    (HEAD + "samples = 8\n[axes]\n'context.funding' = [0.1]",
     "sweep.samples is read only by lhs and sobol designs"),
    (HEAD + "[axes]\n'context.funding' = [0.1, 0.2]\n"
            "pair = { keys = ['context.ambition', 'context.funding'], rows = [[0.1, 0.2]] }",
     "key 'context.funding' is given on axes 'context.funding' and 'pair'"),
    (HEAD + "[axes]\npair = { keys = ['context.funding', 'context.funding'], rows = [[0.1, 0.2]] }",
     "key 'context.funding' is given twice on axis 'pair'"),
    (HEAD + "set = { 'context.funding' = 0.3 }\n[axes]\n'context.funding' = [0.1, 0.2]",
     "key 'context.funding' is both fixed in sweep.set and varied on axis 'context.funding'"),
    (HEAD + "design = 'lhs'\nset = { 'context.funding' = 0.3 }\n" + RANGE,
     "both fixed in sweep.set"),
    (HEAD + "design = 'points'\nset = { 'context.funding' = 0.3 }\n"
            "[[points]]\nregime = 'mandated'\n[[points]]\n'context.funding' = 0.1",
     "key 'context.funding' is both fixed in sweep.set and varied on axis '[[points]]'"),
])
def test_ignored_tables_and_repeated_keys_are_errors(tmp_path, body, fragment):
    """Nothing in a sweep file is silently ignored or silently overridden."""
    with pytest.raises(ScenarioError) as err:
        load_sweep(write(tmp_path, body))
    assert fragment in str(err.value) and "\n" not in str(err.value), str(err.value)


BIG = "1" + "0" * 400  # TOML reads it as a Python int too big for a float


@pytest.mark.parametrize("axis, fragment", [
    ("{ start = 0.0, stop = inf, num = 3 }", "axis 'context.funding': stop = inf is not a "
     "finite number"),
    (f"{{ start = 0, stop = {BIG}, num = 3 }}", "axis 'context.funding': stop = a int is not "
     "a finite number"),
    ("{ start = -1e308, stop = 1e308, num = 3 }", "too far apart to space as floats"),
    ("{ start = 0.0, num = 3 }", "expected a list of values, {start, stop, num} or "
     "{keys, rows}"),
    (f"[{BIG}]", "context.funding = a int is out of range"),
])
def test_grid_bounds_that_are_not_finite_floats_are_named(tmp_path, capsys, axis, fragment):
    """inf, an integer beyond floats or bounds whose spacing overflows are named as given,
    in one line (no OverflowError, no numpy warning, no point reported as nan)."""
    path = write(tmp_path, HEAD + f"[axes]\n'context.funding' = {axis}\n")
    with pytest.raises(ScenarioError) as err:
        load_sweep(path)
    assert fragment in str(err.value), str(err.value)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("axis, fragment", [
    ("[0.2, 0.4, 0.2]", "axis 'context.funding' gives 0.2 twice (values 1 and 3)"),
    ("[1, 1.0]", "axis 'context.funding' gives 1.0 twice (values 1 and 2)"),
    ("{ start = 0.3, stop = 0.3, num = 2 }", "gives 0.3 twice (values 1 and 2)"),
    ("{ keys = ['context.funding', 'regime'], rows = [[0.1, 'voluntary'], [0.1, 'voluntary']] }",
     "axis 'context.funding' gives [0.1, 'voluntary'] twice (values 1 and 2)"),
])
def test_a_grid_value_given_twice_is_named(tmp_path, axis, fragment):
    """A repeated value (a typo in a list, a range of one value) ran every point of it
    twice and drew two columns of it in the phase figure, unsaid."""
    path = write(tmp_path, HEAD + f"[axes]\n'context.funding' = {axis}\n")
    with pytest.raises(ScenarioError) as err:
        load_sweep(path)
    assert fragment in str(err.value) and "replicates sets the runs per point" in str(err.value)
    assert load_sweep(write(tmp_path, HEAD + "[axes]\n'context.funding' = [0.2, 0.4]\n"))


@pytest.mark.parametrize("bounds", [f"low = 0, high = {BIG}", "low = nan, high = 0.5"])
def test_range_bounds_that_are_not_finite_floats_are_named(tmp_path, bounds):
    path = write(tmp_path, HEAD + f"design = 'lhs'\n[axes]\n'context.funding' = {{ {bounds} }}\n")
    with pytest.raises(ScenarioError, match="is not a finite number"):
        load_sweep(path)


def test_a_scenario_given_to_sweep_says_so(tmp_path, capsys):
    rc, errors = _cli(capsys, "sweep", "ics_mandated", "--out", str(tmp_path / "out"))
    assert rc == 2 and len(errors) == 1, errors
    assert "is a scenario, not a sweep file" in errors[0]
    assert "icsabm run ics_mandated" in errors[0] and "unknown top-level key" not in errors[0]
    assert not (tmp_path / "out").exists()


def test_an_unknown_sweep_lists_the_bundled_sweeps(capsys):
    rc, errors = _cli(capsys, "sweep", "nosuch")
    assert rc == 2 and len(errors) == 1, errors
    assert "'nosuch' does not exist" in errors[0]
    for name in ("phase_partners_support", "phase_trust_formalisation", "sobol_ics"):
        assert name in errors[0]
    assert "ics_mandated" not in errors[0]  # scenarios are not sweeps


@pytest.mark.parametrize("name", ["../../escape", "", ".hidden", "-flag", "a/b", "a b", "x*"])
def test_sweep_name_must_be_a_plain_folder_name(tmp_path, monkeypatch, capsys, name):
    """The name becomes runs/<name>-<time>: one line naming the rule, nothing written."""
    work = tmp_path / "a" / "b"  # so that runs/../../escape-* would land in tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    path = write(work, SMALL.replace('name = "small"', f"name = {name!r}"))
    rc, errors = _cli(capsys, "sweep", str(path), "--quiet")
    assert rc == 2 and len(errors) == 1, errors
    assert f"sweep.name = {name!r}" in errors[0]
    assert "letters, digits, _, - and ., not starting with . or -" in errors[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "sweep.toml"]


def test_sweep_name_allows_plain_names(tmp_path):
    path = write(tmp_path, SMALL.replace('name = "small"', 'name = "Phase_2.v-1"'))
    assert load_sweep(path).name == "Phase_2.v-1"
    unnamed = write(tmp_path, SMALL.replace('name = "small"\n', ""), "my sweep (v2).toml")
    assert load_sweep(unnamed).name == "my_sweep__v2_"  # from the file name, made plain


def test_sweeps_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    """Without --out, a taken runs/<name>-<stamp> gets -2, -3, ...; both sweeps finish."""
    import datetime as real_dt
    import types

    from model import cli

    monkeypatch.chdir(tmp_path)
    frozen = real_dt.datetime(2026, 1, 1, tzinfo=real_dt.UTC)  # every sweep in one second
    monkeypatch.setattr(cli, "dt", types.SimpleNamespace(
        UTC=real_dt.UTC, datetime=types.SimpleNamespace(now=lambda tz=None: frozen)))
    path = write(tmp_path, SMALL)
    for _ in range(3):
        assert sweep_command(str(path), None, None, resume=False, quiet=True) == 0
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert folders == ["small-20260101T000000Z", "small-20260101T000000Z-2",
                       "small-20260101T000000Z-3"]
    for name in folders:
        assert json.loads((tmp_path / "runs" / name / "manifest.json").read_text())["complete"]


def test_an_occupied_out_says_what_it_holds(tmp_path):
    """With --out, a non-empty folder is still refused; --resume is suggested only for an
    unfinished run of the same sweep, and a complete sweep is called complete."""
    from model.cli import CLIError

    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    sweep_command(str(path), str(out), None, resume=False, quiet=True)
    with pytest.raises(CLIError) as err:
        sweep_command(str(path), str(out), None, resume=False, quiet=True)
    assert "complete sweep" in str(err.value) and "--resume" not in str(err.value)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    with pytest.raises(CLIError, match="use --resume to finish it"):
        sweep_command(str(path), str(out), None, resume=False, quiet=True)


def test_resume_reruns_a_damaged_part(tmp_path, capsys):
    """A part overwritten with garbage (or cut short) is found before anything runs, said so
    in one line, and run again: the finished sweep equals an uninterrupted one."""
    path = write(tmp_path, SMALL)
    whole, damaged = tmp_path / "whole", tmp_path / "damaged"
    sweep_command(str(path), str(whole), None, resume=False, quiet=True)
    sweep_command(str(path), str(damaged), None, resume=False, quiet=True)
    (damaged / "summary" / "part-00001.parquet").write_bytes(b"garbage")
    part2 = damaged / "summary" / "part-00002.parquet"
    part2.write_bytes(part2.read_bytes()[: part2.stat().st_size // 2])
    capsys.readouterr()
    assert sweep_command(str(path), str(damaged), None, resume=True, quiet=True) == 0
    assert capsys.readouterr().err.splitlines() == [
        "icsabm: re-running chunk 1: its part file is damaged",
        "icsabm: re-running chunk 2: its part file is damaged"]
    pd.testing.assert_frame_equal(read_summary(damaged), read_summary(whole))
    pd.testing.assert_frame_equal(pd.read_parquet(damaged / "phase.parquet"),
                                  pd.read_parquet(whole / "phase.parquet"))


def test_a_part_added_by_hand_is_one_line_at_finish(tmp_path, capsys):
    import shutil

    path = write(tmp_path, SMALL)
    folder = tmp_path / "sweep"
    sweep_command(str(path), str(folder), None, resume=False, quiet=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["complete"] = False
    (folder / "manifest.json").write_text(json.dumps(manifest))
    parts = folder / "summary"
    shutil.copy(parts / "part-00000.parquet", parts / "part-00099.parquet")  # runs twice
    capsys.readouterr()
    rc, errors = _cli(capsys, "sweep", str(path), "--out", str(folder), "--resume", "--quiet")
    assert rc == 2 and len(errors) == 1, errors
    assert "changed by hand" in errors[0]


def test_resume_into_a_run_folder_says_it_is_not_a_sweep(tmp_path, capsys):
    from model.cli import main

    run = tmp_path / "run"
    assert main(["run", "voluntary_alliance", "--replicates", "2", "--steps", "6", "--out",
                 str(run), "--quiet"]) == 0
    capsys.readouterr()
    rc, errors = _cli(capsys, "sweep", str(write(tmp_path, SMALL)), "--out", str(run),
                      "--resume", "--quiet")
    assert rc == 2 and len(errors) == 1, errors
    assert "is a run folder, not a sweep folder" in errors[0]
    assert "different sweep" not in errors[0]


def test_a_part_damaged_past_its_footer_is_one_line(tmp_path):
    """Garbage in a part's data pages with its footer intact passes the cheap check; reading
    it still ends in one line naming the file, not an Arrow traceback."""
    path = write(tmp_path, SMALL)
    out = tmp_path / "out"
    sweep_command(str(path), str(out), None, resume=False, quiet=True)
    part = out / "summary" / "part-00001.parquet"
    data = bytearray(part.read_bytes())
    data[4:len(data) // 2] = bytes(len(data) // 2 - 4)  # zero the pages, keep the footer
    part.write_bytes(bytes(data))
    with pytest.raises(ScenarioError, match="part-00001.parquet: damaged part file") as err:
        read_summary(out)
    assert "\n" not in str(err.value)


def test_read_summary_names_a_folder_that_is_not_a_sweep(tmp_path):
    """The notebook reader of a sweep: a str is a path; a typo, a run's folder or a value
    that is no path is one line, never an empty table or a TypeError."""
    run_sweep(load_sweep(write(tmp_path, SMALL)), tmp_path / "out", run_in_process)
    pd.testing.assert_frame_equal(read_summary(str(tmp_path / "out")),
                                  read_summary(tmp_path / "out"))
    assert len(read_summary(str(tmp_path / "out"))) == 12
    with pytest.raises(ScenarioError, match=r"ot: not a sweep folder \(no summary/ folder"):
        read_summary(tmp_path / "ot")
    with pytest.raises(ScenarioError, match="folder = 5 is not a path"):
        read_summary(5)


@pytest.mark.parametrize("body, chunks", [
    # points with other keys and other rosters: each chunk lacks some keys entirely (points
    # 0 and 2 share the base roster, so one chunk; point 1 has its own)
    ("""
    [sweep]
    name = "uneven"
    scenario = "voluntary_alliance"
    design = "points"
    replicates = 2
    steps = 6
    [[points]]
    "context.funding" = 0.2
    regime = "mandated"
    [[points]]
    "context.funding" = 0.85
    "organisations.vcse" = 3
    [[points]]
    "context.formalisation" = 0.5
    """, 2),
    # a list axis of ints and floats, one point per chunk: the 0 and 1 chunks hold ints only
    ("""
    [sweep]
    name = "mixed"
    scenario = "voluntary_alliance"
    replicates = 2
    steps = 6
    chunk = 2
    [axes]
    "context.funding" = [0, 0.5, 1]
    """, 3),
], ids=["points-with-other-keys", "ints-and-floats"])
def test_the_summary_folder_reads_as_one_table(tmp_path, body, chunks):
    """README: read a sweep's runs with pd.read_parquet("runs/<sweep>/summary"). Each part
    file must then have the same column types, whatever points its chunk holds."""
    path = write(tmp_path, body)
    assert sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True) == 0
    sweep = load_sweep(path)
    assert len(plan_chunks(sweep)) == chunks
    whole = pd.read_parquet(tmp_path / "out" / "summary").sort_values(["point", "replicate"])
    ours = read_summary(tmp_path / "out")
    phase = pd.read_parquet(tmp_path / "out" / "phase.parquet")
    assert len(whole) == sweep.n_runs
    for key in sweep.axis_keys:
        column = key if "." in key else f"scenario.{key}"
        expected = [sweep.points[p].get(key) for p in whole["point"]]
        got = whole[column].astype(object).where(whole[column].notna(), None).tolist()
        assert got == expected, column
        assert ours[column].dtype == whole[column].dtype == phase[column].dtype, column


TIMING = """
[sweep]
name = "timing"
scenario = "stp_to_ics"
design = "grid"
replicates = 3
steps = 30

[axes]
"timeline.1.month" = { start = 6, stop = 30, num = 3 }
"timeline.1.regime" = ["mandated", "voluntary"]
"""


def test_a_sweep_varies_when_a_timeline_event_happens_and_what_it_sets(tmp_path):
    """An axis can move a timeline event (when to make a partnership statutory) or change
    what it sets; any such run is reproduced alone with the same keys in --set."""
    sweep = load_sweep(write(tmp_path, TIMING))
    assert sweep.axis_dtypes == {"timeline.1.month": "int64", "timeline.1.regime": "string"}
    assert [s.timeline for s in sweep.scenarios[:2]] == [
        [(6, {"structure.mandated": 1.0})], [(6, {"structure.mandated": 0.0})]]
    sweep_command(str(write(tmp_path, TIMING)), str(tmp_path / "sweep"), None, resume=False,
                  quiet=True)
    summary = read_summary(tmp_path / "sweep")
    assert summary["timeline.1.month"].tolist()[::6] == [6, 18, 30]
    exits = summary.groupby(["timeline.1.month", "timeline.1.regime"])["exits"].sum()
    assert exits[6, "mandated"] < exits[6, "voluntary"]  # held from month 6 on (C36)
    row = summary[(summary.point == 2) & (summary.replicate == 2)].iloc[0]
    sets = [f"--set=timeline.1.month={row['timeline.1.month']}",
            f"--set=timeline.1.regime={row['timeline.1.regime']}"]
    alone = _run_alone(tmp_path, "stp_to_ics", sets, 30, row["seed"])
    for column in ("regime", "exits", "final_mean_trust", "cumulative_output"):
        assert alone[column] == row[column], column


@pytest.mark.parametrize("axes, fragment", [
    ('"timeline.2.month" = [6, 12]', "point 0 (timeline.2.month=6): the sweep "
                                     "timeline.2.month: the scenario has 1 timeline event; "
                                     "give timeline.1"),
    ('"timeline.1.month" = { start = 6, stop = 13, num = 3 }',
     "axis 'timeline.1.month' takes whole numbers"),
    ('"timeline.1.month" = [0, 12]', "timeline.1: month = 0 is out of range"),
])
def test_a_bad_timeline_axis_is_one_line(tmp_path, axes, fragment):
    body = TIMING.split("[axes]")[0] + "[axes]\n" + axes + "\n"
    with pytest.raises(ScenarioError, match=re.escape(fragment)):
        load_sweep(write(tmp_path, body))


def test_sobol_noise_share_is_the_total_index_of_an_ignored_parameter(tmp_path):
    """Each point has its own seeds, so replicate noise enters the variance the Sobol
    indices split: a parameter the model ignores gets a total index of about the noise's
    share (0.24 for synergy over 3 replicates in a small sweep, with nothing to tell it
    from an effect). sobol.parquet gives that share per outcome (noise_share), here on
    outcomes made up of a known effect of x and noise: y ignores the second parameter."""
    from model.sweep import sobol_table

    path = write(tmp_path, """
        [sweep]
        scenario = "voluntary_alliance"
        design = "sobol"
        samples = 512
        replicates = 4
        seed = 3
        [axes]
        "context.formalisation" = { low = 0.0, high = 1.0 }
        "context.turbulence_size" = { low = 0.0, high = 1.0 }
        """)
    sweep = load_sweep(path)
    replicates = sweep.replicates
    x = np.repeat([p["context.formalisation"] for p in sweep.points], replicates)
    rng = np.random.default_rng(0)
    noise_sd = 0.2  # variance of a point's mean: 0.04 / 4 = 0.01; of x: 1/12
    outcome = x + rng.normal(0, noise_sd, len(x))
    summary = pd.DataFrame({
        "point": np.repeat(np.arange(len(sweep.points)), replicates),
        "regime": np.where(rng.random(len(x)) < x, "synergy", "inertia"),
        **{k: outcome for k in ("final_mean_trust", "final_mean_faith",
                                "final_mean_behaviour", "cumulative_output")}})
    sobol = sobol_table(sweep, summary)
    assert {"S1", "S1_conf", "ST", "ST_conf", "noise_share"} <= set(sobol.columns)
    ignored = sobol[sobol.parameter == "context.turbulence_size"].set_index("outcome")
    expected = 0.01 / (1 / 12 + 0.01)
    np.testing.assert_allclose(ignored.loc["final_mean_trust", "noise_share"], expected,
                               rtol=0.15)
    for name, row in ignored.iterrows():
        assert abs(row["ST"] - row["noise_share"]) <= max(row["ST_conf"], 0.02), name
        assert abs(row["S1"]) <= max(row["S1_conf"], 0.02), name
    # synergy over 4 replicates is far noisier than the share it estimates
    assert ignored.loc["synergy", "noise_share"] > 0.3
    # every parameter of an outcome has the outcome's share
    assert sobol.groupby("outcome")["noise_share"].nunique().eq(1).all()


def test_sobol_noise_share_without_replicates_or_variance():
    """One replicate: no spread between replicates to measure (NaN); an outcome equal at
    every point: no variance, so no noise in it (0, as its indices)."""
    from model.sweep import noise_share

    frame = pd.DataFrame({"point": [0, 1, 2], "a": [0.1, 0.5, 0.9], "b": [1.0, 1.0, 1.0]})
    shares = noise_share(frame.groupby("point")[["a", "b"]], replicates=1)
    assert np.isnan(shares["a"]) and shares["b"] == 0.0


def test_the_closing_line_counts_runs_and_points_in_words(tmp_path, capsys):
    """A points design of one point with one replicate ended with '1 runs at 1 points'."""
    path = write(tmp_path, """
        [sweep]
        scenario = "voluntary_alliance"
        design = "points"
        replicates = 1
        steps = 2
        [[points]]
        "context.funding" = 0.5
        """)
    assert sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"1 run at 1 point -> {tmp_path / 'out'}"


def test_readme_says_the_summary_folder_is_read_in_chunk_order(tmp_path):
    """Chunks group each roster's points, so with an organisation-count axis last the
    part files, read by pandas, hold points 0, 2, 4, 1, 3, 5; README said to read the
    folder with pd.read_parquet and nothing about order, a trap for code that reshapes
    the rows by point. It says so now, and names read_summary, which sorts them."""
    path = write(tmp_path, """
        [sweep]
        scenario = "voluntary_alliance"
        replicates = 1
        steps = 2
        [axes]
        "context.funding" = [0.2, 0.5, 0.8]
        "organisations.vcse" = [1, 2]
        """)
    sweep_command(str(path), str(tmp_path / "out"), None, resume=False, quiet=True)
    assert pd.read_parquet(tmp_path / "out" / "summary")["point"].tolist() == [0, 2, 4, 1, 3, 5]
    assert read_summary(tmp_path / "out")["point"].tolist() == [0, 1, 2, 3, 4, 5]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "not in point order" in readme and "model.sweep.read_summary(" in readme


def test_resume_of_a_finished_sweep_says_nothing_was_computed(tmp_path, capsys):
    """--resume of a complete folder printed the same lines as a fresh sweep, with no sign
    that no run was computed; a resume that computes something says nothing of the kind."""
    path, out = write(tmp_path, SMALL), tmp_path / "out"
    sweep_command(str(path), str(out), None, resume=False, quiet=True)
    capsys.readouterr()
    phase = pd.read_parquet(out / "phase.parquet")
    assert sweep_command(str(path), str(out), None, resume=True, quiet=True) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"icsabm: {out} already held every run: nothing was computed (its phase "
                   "table was written again)"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "phase.parquet"), phase)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["chunks_computed"] for s in manifest["sessions"]] == [_parts(out), 0]
    sorted((out / "summary").glob("part-*.parquet"))[0].unlink()
    sweep_command(str(path), str(out), None, resume=True, quiet=True)
    assert "already held" not in capsys.readouterr().err
