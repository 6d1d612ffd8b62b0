"""A Dask client for the studies and sharded runs: on a running scheduler, or on a new LocalCluster."""

from __future__ import annotations

import os


def dask_client(address: str | None, workers: int | None):
    """A ``distributed.Client`` on ``address``, or on a new LocalCluster (one thread per worker):
    ``(client, cluster)``, the cluster None when the client joined a running scheduler."""
    from distributed import Client, LocalCluster

    if address:
        return Client(address, timeout="30s"), None
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster
