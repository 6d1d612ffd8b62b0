"""`gcm-sim bench scale`: throughput and memory of sharded runs against households and workers,
and the projection of larger runs from the measured slope (docs/scale.md).

For each size it times one process (in a fresh process, so its peak memory is its own) and a
sharded run on a fresh ``LocalCluster`` of each number of workers (one shard per worker), all
on the baseline with no spin-up, so the months measured are the months stepped. It reports
household-months per second, the shards' own stepping time against the wall time (the rest
is exchange and waiting for the slowest shard) and peak memory per household.

:func:`overhead` splits the sharding overhead against the ideal (one process's time /
workers): for each number of workers it also times one process of a shard's size alone
(households / workers), which pays the month's cost that does not shrink with the
households (some tens of milliseconds whatever the size) once per shard; that part is the
model's, not the exchange's, and no partition avoids it. :func:`round_trips` times a bare
exchange round on 1 to 8 workers, how the exchange grows with them. Compare ratios within
one run on a quiet machine (no tests or other sessions beside it).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


WARMUP_MONTHS = 3  # months stepped before the measured ones (the first months after set-up are slower)


@dataclass
class ScaleMeasurement:
    households: int
    workers: int            # 0: one process, no Dask
    months: int
    build_s: float          # set-up (households, stocks) and the WARMUP_MONTHS before the measured months
    months_s: float         # wall time of the months
    compute_s: float        # the slowest shard's own stepping time in those months (one process: months_s)
    household_months_per_s: float
    peak_rss_mb: float      # the largest process (a worker, or the one process)
    bytes_per_household: float   # peak memory of all processes less an idle one's, per household
    array_bytes_per_household: float  # households' and migrants' arrays only
    largest_shard_share: float   # the largest shard's share of the households


def _idle_bytes() -> int:
    """Peak memory of this process once the model's libraries are imported (the base a
    measurement subtracts, so bytes per household count the households' share only)."""
    import gcm_sim.model  # noqa: F401 (imports Mesa, pandas, SciPy)
    import gcm_sim.studies.shards  # noqa: F401

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _one_process(households: int, months: int, seed: int) -> dict:
    from gcm_sim.config import load_config
    from gcm_sim.model import MigrationModel

    from .shards import households_nbytes

    base = _idle_bytes()
    cfg = load_config("baseline", [f"run.households={households}", f"run.months={months}",
                                   f"run.spinup_months={WARMUP_MONTHS}", f"run.seed={seed}"])
    t0 = time.perf_counter()
    m = MigrationModel(cfg, rng=seed)
    t1 = time.perf_counter()
    for _ in range(months):
        m.step()
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    arrays = households_nbytes(m.households) + m.migrants.nbytes()
    return asdict(ScaleMeasurement(households, 0, months, t1 - t0, t2 - t1, t2 - t1, households * months / (t2 - t1),
                                   peak / 2**20, (peak - base) / households, arrays / households, 1.0))


def _child(queue, *args):
    queue.put(_one_process(*args))


def one_process(households: int, months: int, seed: int = 0) -> ScaleMeasurement:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, households, months, seed))
    p.start()
    out = q.get()
    p.join()
    return ScaleMeasurement(**out)


def sharded(households: int, workers: int, months: int, seed: int = 0) -> ScaleMeasurement:
    from gcm_sim.config import load_config
    from gcm_sim.world import load_world

    from .cluster import dask_client
    from .shards import run_sharded

    world = load_world()
    cfg = load_config("baseline", [f"run.households={households}", f"run.months={months}",
                                   f"run.spinup_months={WARMUP_MONTHS}", f"run.seed={seed}", f"run.shards={workers}",
                                   "run.checkpoint_months=0"])
    client, cluster = dask_client(None, workers)
    try:
        idle = client.run(_idle_bytes)  # a worker with the model's libraries imported, before any shard
        done = run_sharded(cfg, 0, world, client)
    finally:
        client.close()
        cluster.close()
    info = done.shard_info
    peak = sum(s["peak_rss_bytes"] for s in info) - len(info) * float(np.mean(list(idle.values())))
    return ScaleMeasurement(households, workers, months, done.seconds["build_s"], done.seconds["months_s"],
                            max(s["compute_s"]["month"] for s in info),
                            households * months / done.seconds["months_s"],
                            max(s["peak_rss_bytes"] for s in info) / 2**20, peak / households,
                            sum(s["nbytes"] for s in info) / households,
                            max(s["households"] for s in info) / households)


def median_of(repeats: int, measure) -> ScaleMeasurement:
    """The measurement with the median wall time of ``repeats`` calls of ``measure()`` (the
    lower middle one of an even number): one slow or fast run does not set a figure."""
    runs = sorted((measure() for _ in range(repeats)), key=lambda r: r.months_s)
    return runs[(repeats - 1) // 2]


def run(sizes=(500_000, 2_000_000), workers=(1, 2), months: int = 12, seed: int = 0, progress=print,
        repeats: int = 1) -> pd.DataFrame:
    """One process at each size and at each shard's size (size / workers, workers > 1), then
    sharded runs on each number of workers: one row each (``workers`` 0 for one process), each
    the median of ``repeats`` runs (:func:`median_of`)."""
    rows = []
    alone = sorted({n // w for n in sizes for w in workers if w > 1} | set(sizes))
    for n in alone:
        r = median_of(repeats, lambda: one_process(n, months, seed))
        progress(f"one process  {n:>11,} households: {r.household_months_per_s:,.0f} household-months/s, "
                 f"{r.bytes_per_household:.0f} bytes/household")
        rows.append(asdict(r))
    for n in sizes:
        for w in workers:
            r = median_of(repeats, lambda: sharded(n, w, months, seed))
            progress(f"{w} worker(s)  {n:>11,} households: {r.household_months_per_s:,.0f} household-months/s, "
                     f"{r.bytes_per_household:.0f} bytes/household")
            rows.append(asdict(r))
    return pd.DataFrame(rows)


class _Echo:
    """An actor that answers with what it is sent (:func:`round_trips`)."""

    def echo(self, value):
        return value


def round_trips(workers=(1, 2, 4, 8), rounds: int = 300, payload_bytes: int = 45_000) -> pd.DataFrame:
    """Wall time of one exchange round with no model behind it: the driver sends every actor
    ``payload_bytes`` (about a month's largest part, the asylum queues' heads at 2 million
    households) and waits for all answers, as :func:`gcm_sim.studies.shards.run_sharded`
    does; on a fresh LocalCluster of each number of workers (more workers than cores is
    fine: the actors do nothing but answer). How the exchange grows with the workers, which
    :func:`project` assumes linear."""
    from .cluster import dask_client

    value = np.zeros(payload_bytes // 8)
    out = []
    for w in workers:
        client, cluster = dask_client(None, w)
        try:
            actors = [client.submit(_Echo, actor=True, pure=False, workers=[a]).result()
                      for a in client.scheduler_info()["workers"]]
            def one_round():
                [f.result() for f in [a.echo(value) for a in actors]]

            for _ in range(rounds // 10):  # warms the connections up
                one_round()
            t0 = time.perf_counter()
            for _ in range(rounds):
                one_round()
            ms = (time.perf_counter() - t0) / rounds * 1e3
        finally:
            client.close()
            cluster.close()
        out.append({"workers": w, "payload_bytes": payload_bytes, "ms_per_round": ms, "ms_per_round_per_worker": ms / w})
    return pd.DataFrame(out)


def overhead(table: pd.DataFrame) -> pd.DataFrame:
    """The sharding overhead of each sharded row with more than one worker, split in two.

    ``overhead_pct``: the months' wall time over the ideal (one process's time at the same size /
    workers), less 1 (issue 18's measure). ``shard_alone_pct``: one process of a shard's size
    (households / workers) over the same ideal, less 1: the month's cost that does not shrink
    with the households, paid once per shard (the floor of any split on this model, with no
    Dask). ``dask_pct``: the sharded run over that one process, less 1 (the exchange, the wait
    for the slowest shard, the workers' own threads). ``overhead_share_of_run_pct``: the time
    over the ideal as a share of the sharded run's own time (the same seconds, read against
    the run rather than the ideal)."""
    one = table[table["workers"] == 0].set_index("households")["months_s"]
    out = []
    for _, r in table[table["workers"] > 1].iterrows():
        n, w = int(r["households"]), int(r["workers"])
        if n not in one.index or n // w not in one.index:
            continue
        ideal = one[n] / w
        out.append({"households": n, "workers": w, "one_process_s": one[n], "ideal_s": ideal,
                    "shard_alone_s": one[n // w], "sharded_s": r["months_s"],
                    "overhead_pct": 100 * (r["months_s"] / ideal - 1),
                    "shard_alone_pct": 100 * (one[n // w] / ideal - 1),
                    "dask_pct": 100 * (r["months_s"] / one[n // w] - 1),
                    "overhead_share_of_run_pct": 100 * (1 - ideal / r["months_s"])})
    return pd.DataFrame(out)


def project(table: pd.DataFrame, world, months: int = 120, spinup_months: int = 60,
            block_households: int = 2_000_000,
            cases=(("152-million-household world (no IND, PAK, NGA)", ("IND", "PAK", "NGA"), 32),
                   ("full 568-million-household world", (), 32))) -> pd.DataFrame:
    """Wall time of one-to-one runs (``run.scale=1``) projected from the largest sharded measurement.

    A shard's speed: the measured household-months per second of the slowest shard's own
    stepping (its households x months / its stepping seconds). The exchange: the measured
    wall time less that, per month, growing linearly with the number of workers (ASSUMPTION:
    each round the driver calls every shard; not measured beyond 2). Origins are drawn in
    blocks of ``block_households`` (``run.block_households``) and the blocks partitioned as
    :func:`gcm_sim.studies.shards.partition` does, so the largest shard is that partition's;
    ``..._whole_origins`` columns give the design before origins could be split (a shard
    holds at least the largest origin). Months: ``months`` reported plus ``spinup_months``.
    """
    from gcm_sim.population import block_sizes, real_households, scaled_counts

    from .shards import longest_first

    rows = table[table["workers"] > 0]
    if not len(rows):
        return pd.DataFrame()
    widest = rows.sort_values(["households", "workers"]).iloc[-1]  # the largest size, the most workers
    shard_rate = widest["households"] * widest["largest_shard_share"] * widest["months"] / widest["compute_s"]
    exchange_month = max(widest["months_s"] - widest["compute_s"], 0.0) / widest["months"] / widest["workers"]
    real = pd.Series(scaled_counts(real_households(world), 1.0), index=list(world.with_role("origin")))
    out = []
    for name, drop, workers in cases:
        part = real.drop(list(drop))
        blocks = [size for n in part.tolist() for size in block_sizes(n, block_households)]
        largest = max(sum(blocks[i] for i in p) for p in longest_first(blocks, workers))
        whole = max(float(part.max()), float(part.sum()) / workers)
        stepped = months + spinup_months

        def minutes(shard_households: float) -> float:
            return (shard_households * stepped / shard_rate + stepped * exchange_month * workers) / 60

        out.append({"world": name, "households": float(part.sum()), "workers": workers,
                    "block_households": block_households, "blocks": len(blocks),
                    "largest_shard_households": float(largest),
                    "shard_household_months_per_s": shard_rate, "exchange_s_per_month_per_worker": exchange_month,
                    "months_stepped": stepped, "projected_minutes": minutes(largest),
                    "memory_gb_largest_worker": largest * widest["bytes_per_household"] / 2**30,
                    "largest_origin": part.idxmax(), "projected_minutes_whole_origins": minutes(whole),
                    "memory_gb_largest_worker_whole_origins": whole * widest["bytes_per_household"] / 2**30})
    return pd.DataFrame(out)
