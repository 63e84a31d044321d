"""Memory the machine has, and whether a batch of runs fits in it (checked before any
work by `icsabm run`, the Python API's `run_replicates` and `run_scenarios`, the
figures of a run folder, and a sweep's points in `model.sweep_file`)."""

from __future__ import annotations

import os

from model.scenario import ScenarioError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable, else the
    physical memory), or None where neither is known."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(nbytes: float) -> str:
    """A memory size in words: `35 MB`, `1.2 GB`, `4.5 TB`, `36.6 PB`, `1,200.0 PB`."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes / 1e6:.0f} MB"


#: Peak memory of `icsabm run` per replicate and month, measured on ics_mandated (29
#: organisations): about 600 bytes for the time series and summary, and 250 more per
#: organisation with --agents (the tidy frames and their concatenation).
RUN_BYTES_PER_MONTH, AGENT_BYTES_PER_MONTH = 600, 250


def check_run_memory(replicates: int, steps: int, organisations: int, agents: bool = False,
                     name: str = "--replicates") -> None:
    """ScenarioError, before any work (the replicates' seeds included), when the replicates
    would not fit in memory: a run folder of `icsabm run`, or the frames of the Python
    API's `run_replicates` (which passes `name="replicates"`)."""
    per_month = RUN_BYTES_PER_MONTH + (AGENT_BYTES_PER_MONTH * organisations if agents else 0)
    need, have = replicates * (steps + 1) * per_month, available_memory()
    if have is not None and need > have:
        raise ScenarioError(
            f"{name}: {replicates:,} replicates x {steps + 1} months"
            f"{' with --agents' if agents else ''} need about {size_text(need)} of memory, "
            f"more than the {size_text(have)} available; run fewer replicates"
            + (", drop --agents" if agents else "")
            + ", or use icsabm sweep, which keeps one summary row per run")
