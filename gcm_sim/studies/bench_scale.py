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
    largest_work_share: float = 1.0  # the largest shard's share of the expected work (shards.unit_work)


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
    work = largest_work(world, cfg, workers)
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
                            max(s["households"] for s in info) / households, work["share"])


def largest_work(world, cfg, workers: int, drop=()) -> dict:
    """The shard of most expected work when ``cfg``'s blocks (origins ``drop`` left out) are dealt
    to ``workers`` by :func:`gcm_sim.studies.shards.deal` (as a sharded run deals them): its work
    (household-equivalents, :func:`gcm_sim.studies.shards.unit_work`) and share of all, the most households
    on any shard, the work of the whole largest origin or of an even share, were origins whole."""
    from .shards import deal

    units, work, parts = deal(world, cfg, workers, drop)
    most = max(float(work[p].sum()) for p in parts)
    origin_work = pd.Series(work).groupby([u.origin for u in units]).sum()
    return {"work": most, "share": most / float(work.sum()), "total": float(work.sum()),
            "total_households": sum(u.n for u in units), "households": max(sum(units[i].n for i in p) for p in parts),
            "whole_origins": max(float(origin_work.max()), float(work.sum()) / workers),
            "whole_origins_households": max(max(u.origin_n for u in units), sum(u.n for u in units) / workers),
            "blocks": len(units), "largest_origin": world.codes[int(origin_work.idxmax())]}


def medians(runs: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (households, workers), the run with the median wall time of the months
    (the lower middle one of an even number): one slow or fast run does not set a figure."""
    keep = []
    for _, group in runs.groupby(["households", "workers"], sort=False):
        ordered = group.sort_values("months_s", kind="stable")
        keep.append(ordered.iloc[(len(ordered) - 1) // 2])
    return pd.DataFrame(keep).drop(columns=["round"], errors="ignore").reset_index(drop=True)


def run(sizes=(500_000, 2_000_000), workers=(1, 2), months: int = 12, seed: int = 0, progress=print,
        repeats: int = 1) -> pd.DataFrame:
    """Every run, in ``repeats`` rounds: each round times one process at each size and at each
    shard's size (size / workers, workers > 1), then sharded runs on each number of workers, one
    row each (``workers`` 0 for one process; ``round`` its round). Rounds interleave the
    configurations, so a machine that slows down or speeds up over the minutes weighs on all
    of them alike, and :func:`overhead` compares runs of the same round."""
    rows = []
    alone = sorted({n // w for n in sizes for w in workers if w > 1} | set(sizes))
    for k in range(repeats):
        for n in alone:
            r = one_process(n, months, seed)
            progress(f"round {k + 1}/{repeats}  one process  {n:>11,} households: "
                     f"{r.household_months_per_s:,.0f} household-months/s, {r.bytes_per_household:.0f} bytes/household")
            rows.append({**asdict(r), "round": k})
        for n in sizes:
            for w in workers:
                r = sharded(n, w, months, seed)
                progress(f"round {k + 1}/{repeats}  {w} worker(s)  {n:>11,} households: "
                         f"{r.household_months_per_s:,.0f} household-months/s, {r.bytes_per_household:.0f} bytes/household")
                rows.append({**asdict(r), "round": k})
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


def overhead(runs: pd.DataFrame) -> pd.DataFrame:
    """The sharding overhead of each sharded configuration with more than one worker, split in
    two, computed within each round of :func:`run` (a sharded run against the one-process runs
    of its own round) and given as the median over the rounds (``rounds``; the lowest and highest
    overhead in ``overhead_pct_min`` and ``_max``). A table without ``round`` is one round.

    ``overhead_pct``: the months' wall time over the ideal (one process's time at the same size /
    workers), less 1 (issue 18's measure). ``shard_alone_pct``: one process of a shard's size
    (households / workers, all origins) over the same ideal, less 1: the month's cost that does
    not shrink with the households, paid once per shard were each shard to hold every origin
    (a shard holds some origins only, so this overstates what a sharded run pays again).
    ``dask_pct``: the sharded run over that one process, less 1 (the exchange, the wait for
    the slowest shard, the workers' own threads). ``overhead_share_of_run_pct``: the time over
    the ideal as a share of the sharded run's own time (the same seconds, read against the run
    rather than the ideal)."""
    runs = runs if "round" in runs else runs.assign(round=0)
    per_round = []
    for k, table in runs.groupby("round"):
        one = table[table["workers"] == 0].set_index("households")["months_s"]
        for _, r in table[table["workers"] > 1].iterrows():
            n, w = int(r["households"]), int(r["workers"])
            if n not in one.index or n // w not in one.index:
                continue
            ideal = one[n] / w
            per_round.append({"households": n, "workers": w, "one_process_s": one[n], "ideal_s": ideal,
                              "shard_alone_s": one[n // w], "sharded_s": r["months_s"],
                              "overhead_pct": 100 * (r["months_s"] / ideal - 1),
                              "shard_alone_pct": 100 * (one[n // w] / ideal - 1),
                              "dask_pct": 100 * (r["months_s"] / one[n // w] - 1),
                              "overhead_share_of_run_pct": 100 * (1 - ideal / r["months_s"])})
    if not per_round:
        return pd.DataFrame()
    frame = pd.DataFrame(per_round)
    by = frame.groupby(["households", "workers"], sort=False)
    out = by.median().reset_index()
    out["rounds"] = by.size().to_numpy()
    out["overhead_pct_min"] = by["overhead_pct"].min().to_numpy()
    out["overhead_pct_max"] = by["overhead_pct"].max().to_numpy()
    return out


def project(table: pd.DataFrame, world, months: int = 120, spinup_months: int = 60,
            block_households: int = 2_000_000,
            cases=(("152-million-household world (no IND, PAK, NGA)", ("IND", "PAK", "NGA"), 32),
                   ("full 568-million-household world", (), 32))) -> pd.DataFrame:
    """Wall time of one-to-one runs (``run.scale=1``) projected from the largest sharded measurement.

    A shard's speed: the measured work-months per second of the shard of most work (its expected
    work in household-equivalents, :func:`gcm_sim.studies.shards.unit_work`, x months / the
    slowest shard's stepping seconds). The exchange: the measured wall time less that, per
    month, growing linearly with the number of workers (ASSUMPTION: each round the driver calls
    every shard; measured as bare rounds up to 8 workers, :func:`round_trips`). Origins are
    drawn in blocks of ``block_households`` (``run.block_households``) and the blocks dealt as
    :func:`gcm_sim.studies.shards.partition` deals them, so the largest shard is that
    partition's; ``..._whole_origins`` columns give the design before origins could be split
    (a shard holds at least the largest origin). Memory: the most households on a shard x the
    measured bytes a household. Months: ``months`` reported plus ``spinup_months``.
    """
    from gcm_sim.config import load_config

    rows = table[table["workers"] > 0]
    if not len(rows):
        return pd.DataFrame()
    widest = rows.sort_values(["households", "workers"]).iloc[-1]  # the largest size, the most workers
    measured = load_config("baseline", [f"run.households={int(widest['households'])}"])
    total = largest_work(world, measured, int(widest["workers"]))["total"]
    shard_rate = total * widest["largest_work_share"] * widest["months"] / widest["compute_s"]
    exchange_month = max(widest["months_s"] - widest["compute_s"], 0.0) / widest["months"] / widest["workers"]
    one_to_one = load_config("baseline", ["run.scale=1", f"run.block_households={block_households}"])
    out = []
    for name, drop, workers in cases:
        big = largest_work(world, one_to_one, workers, drop)
        stepped = months + spinup_months

        def minutes(shard_work: float) -> float:
            return (shard_work * stepped / shard_rate + stepped * exchange_month * workers) / 60

        out.append({"world": name, "households": float(big["total_households"]), "workers": workers,
                    "block_households": block_households, "blocks": big["blocks"],
                    "largest_shard_households": float(big["households"]), "work": big["total"],
                    "largest_shard_work": big["work"],
                    "shard_work_months_per_s": shard_rate, "exchange_s_per_month_per_worker": exchange_month,
                    "months_stepped": stepped, "projected_minutes": minutes(big["work"]),
                    "memory_gb_largest_worker": big["households"] * widest["bytes_per_household"] / 2**30,
                    "largest_origin": big["largest_origin"],
                    "projected_minutes_whole_origins": minutes(big["whole_origins"]),
                    "memory_gb_largest_worker_whole_origins":
                        big["whole_origins_households"] * widest["bytes_per_household"] / 2**30})
    return pd.DataFrame(out)
