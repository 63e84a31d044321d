"""Engines that compute sweep chunks: in-process numba (default) or a Dask cluster.

`--scheduler` absent: chunks run in this process, each split into blocks of
runs that jitted calls compute in parallel on all cores
(`model.batch.in_threads`). `local:N`: a `dask.distributed.LocalCluster` of N
worker processes, one thread each, on loopback. `tcp://host:port`: an existing
cluster whose workers have icsabm installed. Chunks are shipped as tasks of
plain arrays; a chunk lost with its worker is recomputed by the scheduler,
and since a chunk's result depends only on its seeds, the sweep is identical
bit for bit whichever engine ran it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator

from model.scenario import ScenarioError
from model.sweep import compute_chunk, run_in_process

Engine = Callable[[list[dict]], Iterable[dict]]
_LOCAL = re.compile(r"^local:([1-9][0-9]{0,3})$")
_TCP = re.compile(r"^tcp://[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$")


def parse_scheduler(address: str | None) -> tuple[str, str | int | None]:
    """('process', None), ('local', N) or ('tcp', address); ScenarioError on anything else.

    `local:N` is capped at the machine's logical CPU count: each worker is a
    process with its own copy of numba and the chunk arrays, so more workers
    than cores add no speed, only memory (hundreds of them exhaust it).
    """
    if address is None:
        return "process", None
    match = _LOCAL.match(address)
    if match:
        workers, cpus = int(match.group(1)), os.cpu_count() or 1
        if workers > cpus:
            raise ScenarioError(
                f"--scheduler {address!r}: at most local:{cpus} on this machine (one worker "
                f"per logical CPU; more only add memory, not speed)"
            )
        return "local", workers
    if _TCP.match(address):
        return "tcp", address
    raise ScenarioError(
        f"--scheduler {address!r}: expected local:N (N workers on this machine) or "
        "tcp://host:port (an existing Dask scheduler)"
    )


def describe(address: str | None) -> str:
    kind, value = parse_scheduler(address)
    return {"process": "in-process numba", "local": f"dask LocalCluster ({value} workers)",
            "tcp": f"dask cluster at {value}"}[kind]


def make_engine(address: str | None, name: str = "sweep") -> Engine:
    """The engine for a `--scheduler` value (validated by `parse_scheduler`)."""
    kind, value = parse_scheduler(address)
    if kind == "process":
        return run_in_process

    def dask_engine(tasks: list[dict]) -> Iterator[dict]:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if kind == "local":
            cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   env={"NUMBA_NUM_THREADS": "1"})
            client = Client(cluster)
        else:
            client = Client(value, timeout="20s")
        try:
            futures = [client.submit(compute_chunk, task, key=f"{name}-chunk-{task['index']}",
                                     pure=False) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
                future.release()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    return dask_engine
