"""A Dask client for the studies and sharded runs: on a running scheduler, or on a new LocalCluster.

Workers keep glibc's own memory management. Dask's default (``distributed.nanny.pre-spawn-
environ``) sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker, which hands freed memory back
to the system at once; that suits a task graph's many short-lived results, but it turns each
large NumPy temporary of a long-lived model into a fresh mapping of zeroed pages: the month
step measured 2.6 times slower with it (0.67 against 0.26 s at 2 million households, one
process, docs/scale.md). And a worker's model runs in a thread of its own (the actor's), whose
allocations glibc serves from a separate arena that holds freed temporaries apart from the
main heap: ``MALLOC_ARENA_MAX=1`` keeps one heap (measured at 10 million households on 2
workers: 146 against 163 bytes a household, and the months 12% faster). Workers started apart
(``dask worker``, SLURM) need ``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None``
and ``MALLOC_ARENA_MAX=1`` in their environment for the same (experiments/scale/slurm.py sets them).
A worker's event loop wakes for its own bookkeeping while the model's thread computes, and
each wake takes the interpreter's lock from the model: Dask's defaults sample the thread's
stack every 10 ms (``distributed.worker.profile``, for the dashboard's profile page, which a
run does not read), check the loop every 20 ms (``distributed.admin.tick``), the machine
every 0.5 s and the memory every 0.1 s. Workers here do not profile, tick every 1 s, read the
machine every 10 s and the memory every 1 s (a nanny still restarts a worker past its limit
within a second): 2 million households on 2 workers, 12 months, runs alternated with and
without (2026-12-07): these settings 1.69 against 1.81 s on average over four pairs; with the
memory read every 10 s, 1.65 against 1.77 s over six. (The larger shard, stepped in one
process with no Dask, takes 1.28 s; in a worker 1.45-1.53 s.)
"""

from __future__ import annotations

import os

WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,  # None: not set
                 "distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 1,
                 "distributed.worker.profile.enabled": False,
                 "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "10s",
                 "distributed.worker.memory.monitor-interval": "1s"}


def dask_client(address: str | None, workers: int | None, key: str = "run.scheduler", timeout: str = "30s"):
    """A ``distributed.Client`` on ``address``, or on a new LocalCluster (one thread per worker):
    ``(client, cluster)``, the cluster None when the client joined a running scheduler. A
    scheduler that does not answer within ``timeout`` is a ConfigError naming ``key``."""
    import dask
    from distributed import Client, LocalCluster

    from gcm_sim.policy import ConfigError

    if address:
        try:
            return Client(address, timeout=timeout), None
        except OSError:
            raise ConfigError(key, address, f"no Dask scheduler answered there within {timeout}; start one "
                              "(`dask scheduler`, then `dask worker ADDRESS`) or leave it empty for a "
                              "LocalCluster on this machine") from None
    with dask.config.set(WORKER_CONFIG):  # read by each nanny once, when it is made (restarts too)
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    return Client(cluster), cluster
