"""Engines that compute sweep chunks: in-process numba (default) or a Dask cluster.

`--scheduler` absent: chunks run in this process, each split into blocks of
runs that jitted calls compute in parallel on all cores
(`model.batch.in_threads`). `local:N`: a `dask.distributed.LocalCluster` of N
worker processes, one thread each, on loopback. `tcp://host:port`: an existing
cluster whose scheduler and workers have icsabm installed. Chunks are shipped
as tasks of plain arrays; a chunk lost with its worker is recomputed by the
scheduler, and since a chunk's result depends only on its seeds, the sweep is
identical bit for bit whichever engine ran it.

Before any chunk is submitted, `open_engine` checks the cluster: the scheduler
answers within `CONNECT_TIMEOUT_S`, a worker joins within `JOIN_TIMEOUT_S`, the
scheduler can import icsabm, every worker answers within `CHECK_TIMEOUT_S` (off its
event loop; this process probes meanwhile), every worker runs the same icsabm version and
kernel sources (`model.jit_cache.source_hash`) as this process, and the workers
compute the same floating-point results as one another
(`model.batch.numerics_digest`: a cluster of mixed machines whose maths
libraries round differently would make a run's bits depend on the worker that
ran it). Each failure is a `ScenarioError` of one line, raised before anything
is written. The engine's `info["numerics"]` is the digest of the machines that
compute the chunks (the workers', which may differ from this client's). A
scheduler lost while chunks run raises `SchedulerLostError`; no worker left for
`JOIN_TIMEOUT_S` (the scheduler would hold the chunks for ever), or a chunk whose
workers all died running it (distributed's `KilledWorker`), `WorkersLostError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import queue
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from model.scenario import ScenarioError
from model.sweep import compute_chunk, run_in_process

CONNECT_TIMEOUT_S = 20  # for a tcp:// scheduler to answer
JOIN_TIMEOUT_S = 30  # for its first worker to join, and for one to come back when all are gone
CHECK_TIMEOUT_S = 120  # for every worker to answer the check (a first one compiles: ~15 s)
WORKER_LOOK_S = 2  # how often a sweep waiting for chunks asks whether any worker is left
MIN_IN_FLIGHT = 4  # chunks kept submitted to a Dask cluster, at the least (`_in_flight`)

_LOCAL = re.compile(r"^local:([0-9]+)$")
_TCP = re.compile(r"^tcp://(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+))"
                  r":(?P<port>[0-9]{1,5})$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class SchedulerLostError(Exception):
    """The Dask scheduler went away while chunks were running (its address is the message)."""


class WorkersLostError(Exception):
    """The Dask workers went away while chunks were running: none left for
    `JOIN_TIMEOUT_S`, or a chunk killed every worker that ran it (distributed's
    `KilledWorker`: out of memory, say). The message says which, in a few words."""


@dataclass(frozen=True)
class Engine:
    """What computes the chunks (`compute`) and, for the manifest, what it is (`info`:
    engine, scheduler, workers, dask_threads (each Dask worker's threads, the chunks it
    runs at once; None in process), numba_threads, numerics)."""

    info: dict
    compute: Callable[[list[dict]], Iterable[dict]]


def _sane_tcp(address: str) -> bool:
    match = _TCP.match(address)
    if not match or not 1 <= int(match["port"]) <= 65535:
        return False
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return False
        return True
    host = match["host"]
    return len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def parse_scheduler(address: str | None) -> tuple[str, str | int | None]:
    """('process', None), ('local', N) or ('tcp', address); ScenarioError on anything else.

    `local:N` is capped at the machine's logical CPU count: each worker is a
    process with its own copy of numba and the chunk arrays, so more workers
    than cores add no speed, only memory (hundreds of them exhaust it).
    `tcp://host:port` needs a host name, an IPv4 address or a bracketed IPv6
    address, and a port from 1 to 65535.
    """
    if address is None:
        return "process", None
    match = _LOCAL.match(address)
    if match:
        workers, cpus = int(match.group(1)), os.cpu_count() or 1
        if not 1 <= workers <= cpus:
            raise ScenarioError(
                f"--scheduler {address!r}: at least local:1 and at most local:{cpus} on this "
                f"machine (one worker per logical CPU; more only add memory, not speed)"
            )
        return "local", workers
    if _sane_tcp(address):
        return "tcp", address
    raise ScenarioError(
        f"--scheduler {address!r}: expected local:N (N workers on this machine) or "
        "tcp://host:port (an existing Dask scheduler; port 1 to 65535)"
    )


def code_identity(numerics: bool = True) -> dict:
    """This process's icsabm: its version, the digest of the kernels' sources, numba's
    thread count and (with `numerics`) the digest of its floating-point results
    (`numerics_digest`, which runs the kernels). Run on every Dask worker to compare
    with the client's; on the scheduler, which runs no kernel, without `numerics`."""
    import numba

    import model
    from model.batch import numerics_digest
    from model.jit_cache import source_hash

    identity = {"version": model.__version__, "kernels": source_hash(),
                "numba_threads": numba.get_num_threads()}
    return {**identity, "numerics": numerics_digest()} if numerics else identity


async def _worker_identity() -> dict:
    """`code_identity()` on a Dask worker (`Client.run`), off the worker's event loop: the
    first probe runs compile the kernels (seconds), which on the loop would stall the
    worker's heartbeats and fill its log with 'Event loop was unresponsive'."""
    return await asyncio.get_running_loop().run_in_executor(None, code_identity)


def _ask_workers(client) -> tuple[dict, dict, list[str]]:
    """Every worker's `_worker_identity()` (or the error it gave) by address, this
    process's `code_identity()`, computed meanwhile (a cold cache compiles here and there
    at once), and the workers that gave no answer within `CHECK_TIMEOUT_S` (stopped, or on
    a machine too loaded to answer: one stuck worker must not hold the check for ever)."""
    addresses = sorted(client.nthreads())
    answers: queue.SimpleQueue = queue.SimpleQueue()

    def ask(address: str) -> None:
        try:
            reply = client.run(_worker_identity, workers=[address], on_error="return")
            answers.put((address, reply.get(address, ConnectionError("it left the cluster"))))
        except Exception as exc:  # noqa: BLE001 - told to the user as this worker's error
            answers.put((address, exc))

    deadline = time.monotonic() + CHECK_TIMEOUT_S
    for address in addresses:
        threading.Thread(target=ask, args=(address,), daemon=True).start()
    mine = code_identity()
    found: dict = {}
    while len(found) < len(addresses):
        try:
            address, answer = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        found[address] = answer
    return found, mine, [address for address in addresses if address not in found]


def _cannot_import(error: BaseException) -> bool:
    """Whether a worker's error says it cannot import icsabm (it may come back as a plain
    Exception whose text names the original type)."""
    return isinstance(error, ImportError) or str(error).startswith(
        ("ModuleNotFoundError", "ImportError"))


async def _identity(address: str) -> object:
    """What the server at `address` says it is (a Dask scheduler replies with a dict
    whose type is 'Scheduler')."""
    from distributed.comm import connect

    comm = await connect(address, timeout=CONNECT_TIMEOUT_S)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _is_scheduler(address: str) -> bool:
    """Whether a Dask scheduler answers at `address` within `CONNECT_TIMEOUT_S`. Asked on
    a thread of its own with its own event loop, so it works where a loop already runs
    (a Jupyter notebook)."""
    replies: list[object] = []

    def ask() -> None:
        with contextlib.suppress(Exception):  # refused, timed out, or not Dask's protocol
            replies.append(asyncio.run(asyncio.wait_for(_identity(address),
                                                        CONNECT_TIMEOUT_S)))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 5)
    return bool(replies) and isinstance(replies[0], dict) and replies[0].get("type") == "Scheduler"


def _connect(address: str):
    """A Client of the scheduler at `address`, or one line in ScenarioError.

    distributed waits for the handshake without a timeout (an HTTP server never
    sends one) and trusts the first bytes as a frame length (an SSH server's
    banner asks for exabytes), so the scheduler is first asked who it is under
    an overall deadline, and every failure means the same thing."""
    from dask.distributed import Client

    if _is_scheduler(address):
        with contextlib.suppress(Exception):
            return Client(address, timeout=CONNECT_TIMEOUT_S)
    raise ScenarioError(f"no Dask scheduler answered at {address} within {CONNECT_TIMEOUT_S} s "
                        "(give the scheduler's port, 8786 by default, not its dashboard's)")


def _local_cluster(workers: int):
    """A LocalCluster of `workers` one-thread processes whose numba uses one thread.

    The worker processes are started with SIGINT ignored (they inherit it), so
    Ctrl-C interrupts this process alone, which then closes them, instead of
    every worker printing its own KeyboardInterrupt traceback; their warnings
    (a task cancelled by that close, say) are not printed either."""
    import dask
    from dask.distributed import LocalCluster

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    numba_threads = os.environ.get("NUMBA_NUM_THREADS")
    try:
        # NUMBA_NUM_THREADS before the worker processes are spawned: the nanny's `env` is
        # set only once a worker runs, after it has imported its parent's main module,
        # which for the `icsabm` console script imports icsabm and numba (whose thread
        # count is then every core's). The nanny sets it in this process's environment
        # to spawn; put back below (numba here has read its own already).
        with dask.config.set({"distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": "1"}):
            # no dashboard; the scheduler's HTTP server (health routes) still starts, on
            # port 8787 unless told otherwise, and warns when that is taken (another sweep,
            # a notebook's cluster): a free loopback port instead
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                host="127.0.0.1", dashboard_address=None,
                                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                env={"NUMBA_NUM_THREADS": "1"}, silence_logs=logging.ERROR)
    finally:
        if numba_threads is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = numba_threads
        if main:
            signal.signal(signal.SIGINT, previous)


def _why(error: BaseException) -> str:
    """An error in a few words (a worker's error can come back as a plain Exception whose
    text already names the original type)."""
    return str(error) if type(error) is Exception else f"{type(error).__name__}: {error}"


def _check(client, where: str) -> dict:
    """Check the cluster before anything is submitted (see the module docstring); returns
    each worker's `code_identity()` by address."""
    try:
        client.wait_for_workers(1, timeout=JOIN_TIMEOUT_S)
    except TimeoutError:
        raise ScenarioError(f"no Dask worker joined the scheduler at {where} within "
                            f"{JOIN_TIMEOUT_S} s; start workers with: dask worker {where} "
                            "--nthreads 1") from None
    try:
        client.run_on_scheduler(code_identity, False)
    except Exception as exc:
        raise ScenarioError(f"the Dask scheduler at {where} cannot import icsabm "
                            f"({_why(exc)}); install icsabm on the scheduler "
                            "too, the same version as on the workers") from None
    found, mine, silent = _ask_workers(client)
    failed = sorted(a for a, r in found.items() if not isinstance(r, dict))
    broken = [a for a in failed if _cannot_import(found[a])]
    if broken:
        error = found[broken[0]]
        raise ScenarioError(f"Dask worker {', '.join(broken)} of {where} cannot import icsabm "
                            f"({_why(error)}); install icsabm "
                            f"{mine['version']} on every worker")
    if failed:
        error = found[failed[0]]
        left = ": it stopped or left the cluster during the check" if isinstance(
            error, OSError) else ""
        raise ScenarioError(f"Dask worker {', '.join(failed)} of {where} did not finish the "
                            f"check ({_why(error)}){left}; its log says why; start the sweep "
                            "again")
    if silent:
        raise ScenarioError(
            f"Dask worker {', '.join(silent)} of {where} gave no answer to the check within "
            f"{CHECK_TIMEOUT_S} s (a first check compiles the model, well under a minute: is "
            "the worker stopped, or its machine overloaded?); restart or stop it and start the "
            "sweep again")
    differ = sorted(a for a, r in found.items()
                    if (r["version"], r["kernels"]) != (mine["version"], mine["kernels"]))
    if differ:
        theirs = found[differ[0]]
        raise ScenarioError(
            f"Dask worker {', '.join(differ)} of {where} runs icsabm {theirs['version']} "
            f"(kernel sources {theirs['kernels'][:12]}), not this client's {mine['version']} "
            f"({mine['kernels'][:12]}): its results would differ; install the same icsabm on "
            "every worker")
    kinds: dict[str, list[str]] = {}
    for address, identity in sorted(found.items()):
        kinds.setdefault(identity["numerics"], []).append(address)
    if len(kinds) > 1:
        groups = "; ".join(f"{', '.join(addresses)} give {digest[:12]}"
                           for digest, addresses in kinds.items())
        raise ScenarioError(
            f"the Dask workers of {where} compute different floating-point results ({groups}: "
            "another maths library or CPU), so a run's numbers would depend on the worker "
            "that ran it; use workers on one kind of machine")
    return found


def _has_workers(client) -> bool:
    """Whether any worker is connected to the scheduler (True when the scheduler cannot
    be asked: its loss is told by the futures, cancelled when it goes)."""
    try:
        return bool(client.nthreads())
    except Exception:  # noqa: BLE001 - the scheduler gone or going: not for this look to say
        return True


class _WorkerWatch:
    """Stops a sweep that has had no Dask worker for `JOIN_TIMEOUT_S`: the scheduler would
    hold its chunks, and a result whose worker died before it was fetched, for ever."""

    def __init__(self, client, where: str) -> None:
        self.client, self.where = client, where
        self.seen = self.looked = time.monotonic()

    def saw(self) -> None:
        self.seen = time.monotonic()

    def look(self) -> None:
        now = time.monotonic()
        if now - self.looked < WORKER_LOOK_S:
            return
        self.looked = now
        if _has_workers(self.client):
            self.seen = now
        elif now - self.seen >= JOIN_TIMEOUT_S:
            raise WorkersLostError(f"no Dask worker has been connected to the scheduler at "
                                   f"{self.where} for {JOIN_TIMEOUT_S} s")

    def result(self, future) -> dict:
        """The future's result (fetched from its worker, or computed again if that worker
        died before it was fetched)."""
        while True:
            try:
                result = future.result(timeout=WORKER_LOOK_S)
            except TimeoutError:
                self.look()
                continue
            future.release()
            self.saw()
            return result


def _in_flight(client) -> int:
    """How many chunks to keep submitted: two per worker thread now connected (so each
    thread has its next chunk waiting), at least `MIN_IN_FLIGHT`."""
    try:
        threads = sum(client.nthreads().values())
    except Exception:  # noqa: BLE001 - the scheduler gone or going: the futures will say
        threads = 0
    return max(MIN_IN_FLIGHT, 2 * threads)


def _dask_chunks(client, where: str, name: str, tasks: Iterable[dict]) -> Iterator[dict]:
    """Submit the chunks' tasks and yield their results as they finish. Only
    `_in_flight` tasks are submitted at a time, each built from `tasks` (lazy) when a
    slot frees: every task holds its runs' parameters (about 1 KB a run), so submitting
    a million runs at once would hold a gigabyte here and another on the scheduler."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.comm import CommClosedError
    from distributed.scheduler import KilledWorker

    tasks = iter(tasks)

    def top_up() -> None:
        limit = _in_flight(client)
        while ready.count() < limit and (task := next(tasks, None)) is not None:
            ready.add(client.submit(compute_chunk, task, key=f"{name}-chunk-{task['index']}",
                                    pure=False))

    try:
        watch, ready = _WorkerWatch(client, where), as_completed()
        top_up()
        while not ready.is_empty():
            batch = ready.next_batch(block=False)
            for future in batch:
                yield watch.result(future)
            if batch:
                top_up()
            else:
                watch.look()
                time.sleep(0.05)
    except KilledWorker as exc:
        chunk = str(exc.task).rsplit("-", 1)[-1]
        last = getattr(exc.last_worker, "address", exc.last_worker)
        raise WorkersLostError(
            f"the Dask workers that ran chunk {chunk} died while running it "
            f"({exc.allowed_failures + 1} of them, the last {last}: out of memory? their logs "
            "say why)") from None
    except (CommClosedError, FutureCancelledError) as exc:
        # the client's attempts to reconnect, cancelled by close(), log tracebacks
        previous = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        try:
            client.close()
        finally:
            logging.disable(previous)
        raise SchedulerLostError(where) from exc


@contextlib.contextmanager
def open_engine(address: str | None, name: str = "sweep") -> Iterator[Engine]:
    """The engine for a `--scheduler` value, its cluster checked and closed on exit."""
    kind, value = parse_scheduler(address)
    if kind == "process":
        import numba

        from model.batch import numerics_digest

        yield Engine({"engine": "in-process numba", "scheduler": None, "workers": None,
                      "dask_threads": None, "numba_threads": numba.get_num_threads(),
                      "numerics": numerics_digest()}, run_in_process)
        return
    from dask.distributed import Client

    with contextlib.ExitStack() as stack:
        if kind == "local":
            cluster = stack.enter_context(_local_cluster(value))
            client = stack.enter_context(Client(cluster))
            where, engine = cluster.scheduler_address, f"dask LocalCluster ({value} workers)"
        else:
            client = stack.enter_context(_connect(value))
            where, engine = value, f"dask cluster at {value}"
        workers = _check(client, where)
        threads = sorted({w["numba_threads"] for w in workers.values()})
        per_worker = client.nthreads()
        dask_threads = sorted({per_worker.get(a) for a in workers} - {None})
        yield Engine({"engine": engine, "scheduler": address, "workers": len(workers),
                      "dask_threads": dask_threads[0] if len(dask_threads) == 1 else dask_threads,
                      "numba_threads": threads[0] if len(threads) == 1 else threads,
                      "numerics": next(iter(workers.values()))["numerics"]},
                     lambda tasks: _dask_chunks(client, where, name, tasks))
