"""Memory estimate before work: refuse a run the machine cannot hold, with one line.

Why: a run too large for memory would otherwise start, work for minutes and die of
MemoryError (or be killed by the kernel) with nothing written. Measured (docs/
performance.md, bench at 1M households): about 540 bytes per simulated household all
in, plus the interpreter and libraries (about 250 MB per process). Each process that
runs a replicate at the same time holds one model. The available memory is the
smallest of the kernel's MemAvailable, the cgroup's limit less its usage (containers,
SLURM jobs) and the address-space limit (``ulimit -v``). Cluster launchers and Dask
run elsewhere: their workers are not checked here (docs/running.md).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

from gcm_sim.policy import ConfigError

BYTES_PER_HOUSEHOLD = 540
BASE_BYTES_PER_PROCESS = 250 * 2**20


def estimate_bytes(households: int, concurrent: int) -> int:
    """Memory ``concurrent`` processes need, each running one model of ``households``."""
    return max(1, concurrent) * (int(households) * BYTES_PER_HOUSEHOLD + BASE_BYTES_PER_PROCESS)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_bytes() -> int | None:
    """Memory this process may still use, or None when it cannot be told."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    cg_max, cg_cur = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if cg_max is not None and cg_cur is not None:
        limits.append(max(0, cg_max - cg_cur))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
        limits.append(soft)
    return min(limits) if limits else None


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB"


def check_memory(households: int, concurrent: int, key: str = "run.households", available: int | None = None) -> None:
    """Raise ConfigError when the estimate exceeds the available memory."""
    need = estimate_bytes(households, concurrent)
    have = available_bytes() if available is None else available
    if have is not None and need > have:
        raise ConfigError(key, households,
                          f"needs about {_gb(need)} ({BYTES_PER_HOUSEHOLD} bytes per household x {concurrent} "
                          f"process(es) at once, plus {BASE_BYTES_PER_PROCESS // 2**20} MB each) but only "
                          f"{_gb(have)} is available; use fewer households or fewer run.workers")


def check_config(cfg) -> None:
    """The memory check for a run or comparison of ``cfg`` (replicates spread over run.workers).

    A sharded run (``run.shards`` > 1) holds one replicate at a time, split over the workers of
    its Dask cluster: checked when the cluster is a LocalCluster on this machine, not when
    ``run.scheduler`` names one whose workers run elsewhere."""
    if cfg.run.shards > 1:
        if not cfg.run.scheduler:
            check_memory(cfg.run.households, 1, available=_less_processes(cfg.run.workers))
        return
    check_memory(cfg.run.households, min(cfg.run.workers, cfg.run.replicates))


def _less_processes(workers: int) -> int | None:
    """Available memory less the base of ``workers`` - 1 more processes (the Dask workers)."""
    have = available_bytes()
    return None if have is None else have - (workers - 1) * BASE_BYTES_PER_PROCESS
