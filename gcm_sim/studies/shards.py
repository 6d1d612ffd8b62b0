"""One replicate split over shards of origin countries, stepped together on Dask (``run.shards``).

Why: a sampled run of a few hundred thousand households fits one process, but a run at real
scale (``run.scale=1``: one simulated household per real one) does not. Each shard is a
:class:`gcm_sim.model.MigrationModel` built for some blocks of origin households only
(:func:`partition`; an origin is one block unless it has more than ``run.block_households``),
living on a Dask worker as an actor (``dask.distributed`` actors keep state on a worker between
calls; tasks would copy it every call). Each month the driver here steps every shard to the
next point where the model needs a figure of every origin (:mod:`gcm_sim.exchange`: leg
counters, asylum queues, the development levers' rankings; where an origin is split over
shards also its quota queues, network ties and home-track trainees), combines the shards'
parts and sends every shard the same answer: one actor call a month with whole origins (the
legs' counters travel with the asylum queues, and the answer also starts the next month),
three with an origin split (a month before a checkpoint, and the first, are started by a
call of their own), each a few milliseconds on a LocalCluster of this machine. Measures
are summed on the workers by month and key and reduced here at the end
(:func:`merge_recorders`).

Results: with whole origins on each shard the dynamics of a sharded run equal one process bit
for bit (draws are keyed to the entity and the exchanged counts are kept per origin); reported
sums may differ in the last bits where a key sums over shards. With an origin split over
shards its sums add partial sums, equal to one process's to float-summation tolerance (tests:
1, 2 and 4 shards against one process, both ways).

Losing a worker loses no run: every ``run.checkpoint_months`` months each shard writes its
state (one file per shard, replaced each time, so the space used stays bounded) to the
checkpoint folder, which every worker must reach; the driver keeps the answers it has sent
since. A shard whose worker dies is rebuilt on another worker from its checkpoint and
replays the months since with the logged answers, which gives the same numbers.
"""

from __future__ import annotations

import copyreg
import os
import pickle
import resource
import shutil
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import numpy as np

from gcm_sim.measures import Recorder, indicators
from gcm_sim.policy import Config, ConfigError

BUILD, MONTH = "build", "month"


# A shard's monthly work in household-equivalents (partition), measured on this project's 2-core
# machine (docs/decisions.md, "Balancing shards by work"): 30 one-process runs of random sets of
# origins at 2 million households x 12 months, least squares of the stepping time on each set's
# households, migrant records at the start and number of origins (4% rms error): a migrant record
# costs about 3.5 households, an origin about 30,000 households whatever its size (its own loops:
# choice, placement, recruiters). ASSUMPTION: the ratios hold on other machines and sizes.
RECORD_WORK = 3.5
ORIGIN_WORK = 30_000.0


def unit_work(world, units) -> np.ndarray:
    """Each block's expected monthly work in household-equivalents: its households, its share of
    the origin's diaspora records (stocks / weight, :func:`gcm_sim.population.seed_stocks`)
    x RECORD_WORK, and its share of ORIGIN_WORK."""
    stock = world.corridors.groupby("origin")["diaspora_stock"].sum()
    share = np.array([u.n / u.origin_n for u in units])
    records = np.array([float(stock.get(world.codes[u.origin], 0.0)) / u.weight for u in units]) * share
    return np.array([u.n for u in units], float) + RECORD_WORK * records + ORIGIN_WORK * share


def partition(world, cfg: Config, shards: int) -> list[tuple[tuple[int, int], ...]]:
    """(origin, block) pairs per shard, balanced by expected work (:func:`deal`). An origin of
    several blocks (``run.block_households``) may be split over shards; the blocks of one shard
    are listed in (origin, block) order."""
    units, _, parts = deal(world, cfg, shards)
    return [tuple(sorted((units[i].origin, units[i].block) for i in p)) for p in parts]


def deal(world, cfg: Config, shards: int, drop=()) -> tuple[list, np.ndarray, list[list[int]]]:
    """The blocks of ``cfg``'s households (origins whose codes are in ``drop`` left out), each
    block's expected work (:func:`unit_work`) and the indices of the blocks per shard, dealt by
    that work (longest processing time first, Graham 1969). More shards than blocks is a
    ConfigError naming ``run.shards``."""
    from gcm_sim.population import origin_units

    units = [u for u in origin_units(world, cfg) if world.codes[u.origin] not in drop]
    if shards > len(units):
        raise ConfigError("run.shards", shards, f"at most the {len(units)} blocks of households the world's "
                          f"{len({u.origin for u in units})} origins are drawn in at this size (a shard holds "
                          "whole blocks; run.block_households sets their size)")
    work = unit_work(world, units)
    return units, work, longest_first(work, shards)


def longest_first(sizes, shards: int) -> list[list[int]]:
    """Indices of ``sizes`` per shard: each, largest first, to the least loaded shard (Graham's
    longest processing time rule: the largest load is at most 4/3 of the optimum)."""
    load, parts = np.zeros(shards), [[] for _ in range(shards)]
    for i in np.argsort(-np.asarray(sizes), kind="stable"):
        k = int(np.argmin(load))
        parts[k].append(int(i))
        load[k] += sizes[i]
    return parts


def dump(obj, file) -> None:
    """Pickle a model to an open binary ``file`` (configs hold read-only mappings, which pickle as
    dicts here). Protocol 5 writes the arrays' buffers straight to the file, so a checkpoint
    needs no second copy of the model in memory."""
    pickler = cloudpickle.CloudPickler(file, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[types.MappingProxyType] = lambda mp: (types.MappingProxyType, (dict(mp),))
    pickler.dump(obj)


def pack(value) -> bytes | None:
    """``value`` pickled into one bytes object (None stays None). An exchange's parts and answers
    hold dozens of small arrays, which Dask sends as as many frames: a round of the month's
    answer to 2 workers took 12.2 ms as objects and 4.1 ms as one bytes object (2026-12-07)."""
    return None if value is None else cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class Shard:
    """One shard's model and the phases it is part-way through (a Dask actor, or used directly)."""

    def __init__(self, cfg_dict: dict, replicate: int, units: tuple[tuple[int, int], ...], world):
        """``cfg_dict``: the replicate's config as data, its posterior draw already in it
        (:func:`run_sharded` resolves it, so workers need not read the world's posterior)."""
        from gcm_sim import policy
        from gcm_sim.model import MigrationModel

        from .replicates import replicate_seeds

        cfg = policy.build_config(cfg_dict, world.iso3, world.tags, world.behaviour)
        seed = replicate_seeds(cfg)[replicate]
        self.model = MigrationModel(cfg, rng=seed, replicate=replicate, world=world, origins=units)
        self._phases = None
        self.compute_s = {BUILD: 0.0, MONTH: 0.0}  # seconds stepping the model (the rest is exchange)
        self._kind = BUILD

    def begin(self, kind: str) -> tuple[bytes | None, int, bool]:
        """Start the set-up (``build``: set-up and spin-up) or the next month. Returns its first
        exchange, packed (:func:`pack`; None: the phase is over), the months the model has
        stepped so far and False (no phase ended before it began)."""
        self._kind = kind
        self._phases = self.model.build_phases if kind == BUILD else self.model.month_phases()
        request, stepped = self._advance(lambda: next(self._phases))
        return request, stepped, False

    def answer(self, packed: bytes, then: str | None = None) -> tuple[bytes | None, int, bool]:
        """Continue with the combined answer to the last exchange (packed: :func:`pack`); returns
        as :meth:`begin`. With ``then`` (a phase kind), a phase that ends here is followed at
        once by ``then`` begun (one call fewer a month): the request is then that phase's first
        and the flag True."""
        value = pickle.loads(packed)
        request, stepped = self._advance(lambda: self._phases.send(value))
        if request is None and then is not None:
            return *self.begin(then)[:2], True
        return request, stepped, False

    def _advance(self, step: Callable) -> tuple[bytes | None, int]:
        t0 = time.perf_counter()
        try:
            request = step()
        except StopIteration:
            self._phases = self.model.build_phases = None
            request = None
        finally:
            self.compute_s[self._kind] += time.perf_counter() - t0
        return pack(request), self.model._internal_month  # spin-up months included

    def checkpoint(self, path: str) -> int:
        """Write the model (between months) to ``path`` atomically; returns the bytes written."""
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            dump(self.model, f)
            size = f.tell()
        os.replace(tmp, path)
        return size

    def restore(self, path: str) -> None:
        with open(path, "rb") as f:
            self.model = pickle.load(f)
        self._phases = None

    def results(self) -> dict:
        """What the driver reduces: the recorder and the run's (shared) per-leg history."""
        m = self.model
        return {"recorder": m.recorder, "leg_history": m.leg_history, "people": m.people_by_state(),
                "households": m.households.n, "migrant_rows": m.migrants.n,
                "nbytes": households_nbytes(m.households) + m.migrants.nbytes(), "compute_s": self.compute_s,
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def households_nbytes(hh) -> int:
    return sum(v.nbytes for v in vars(hh).values() if isinstance(v, np.ndarray))


class ShardedRun:
    """The result of a sharded replicate, read like a finished model (``timeseries()``,
    ``indicators()``, ``recorder``, ``leg_history``), so a study's ``collect`` works on it."""

    def __init__(self, cfg: Config, world, replicate: int, parts: list[dict], recovered=(), seconds=None):
        self.cfg, self.world, self.replicate = cfg, world, replicate
        self.recovered = list(recovered)  # (shard, month) of each shard rebuilt after its worker was lost
        self.recorder = merge_recorders([p["recorder"] for p in parts])
        self.leg_history = parts[0]["leg_history"]
        self.shard_info = [{k: p[k] for k in ("households", "migrant_rows", "nbytes", "compute_s", "peak_rss_bytes")}
                           for p in parts]
        self.seconds = dict(seconds or {})  # wall time of the set-up and spin-up (build_s), of the months
        self._people = [p["people"] for p in parts]

    def timeseries(self):
        return self.recorder.frame(self.cfg.scenario.name, self.replicate, self.cfg.run.seed)

    def indicators(self) -> dict[str, float]:
        return indicators(self.recorder)

    def people_by_state(self) -> dict[str, float]:
        return {k: sum(p[k] for p in self._people) for k in self._people[0]}


def merge_recorders(recorders: list[Recorder]) -> Recorder:
    """One recorder with the monthly sums of all shards' (keys hold the origin, so a key's sum
    comes from one shard, except where a measure sums over origins)."""
    out = Recorder(recorders[0].codes[:-1])
    months = [r._months for r in recorders]
    if len({len(m) for m in months}) != 1:
        raise ValueError("shards recorded different numbers of months")
    for per_shard in zip(*months):
        keys = np.concatenate([k for _, k, _ in per_shard])
        sums = np.concatenate([v for _, _, v in per_shard])
        uniq, inverse = np.unique(keys, return_inverse=True)
        total = np.bincount(inverse, weights=sums, minlength=len(uniq))
        keep = out.kept_rows(uniq, total)
        out._months.append((per_shard[0][0], uniq[keep], total[keep]))
    out.running = np.sum([r.running for r in recorders], axis=0)  # per origin: one shard each
    return out


def run_sharded(cfg: Config, replicate: int, world, client=None, *, checkpoint_dir: str | Path | None = None,
                on_month: Callable[[int], None] | None = None,
                on_spinup: Callable[[int], None] | None = None) -> ShardedRun:
    """Replicate ``replicate`` of ``cfg`` on ``cfg.run.shards`` shards: Dask actors on ``client``
    (None: every shard in this process, for tests and debugging). ``on_month(month)`` is called
    after each reported month, ``on_spinup(month)`` after each month of the spin-up
    (``run.spinup_months``, minutes at real scale). Returns a :class:`ShardedRun`."""
    from gcm_sim import policy

    from .replicates import replicate_config

    units = partition(world, cfg, cfg.run.shards)
    payload = (policy.to_dict(replicate_config(cfg, replicate, world)), replicate)
    folder = Path(checkpoint_dir or tempfile.mkdtemp(prefix="gcm-sim-shards-"))  # workers must reach it
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(folder / f"replicate-{replicate}-shard-{k}.pkl") for k in range(len(units))]
    every = cfg.run.checkpoint_months
    log: list[tuple[str, list]] = []  # the phases run since the last checkpoint, with the answers sent
    recovered: list[tuple[int, int]] = []
    month = 0
    checkpointed = [False] * len(units)

    def make(k):
        if client is None:
            return _Direct(Shard(*payload, units[k], world))
        return client.submit(Shard, *payload, units[k], world, actor=True, pure=False).result()

    shards = [make(k) for k in range(len(units))]

    def call_all(method: str, *args, each=None):
        """Call ``method`` on every shard (with ``each[k]`` as shard k's argument when given); a
        shard whose worker is gone is rebuilt and replayed (:func:`recover`)."""
        argv = [(e,) for e in each] if each else [args] * len(shards)
        futures = []
        for s, a in zip(shards, argv):
            try:
                futures.append(getattr(s, method)(*a))
            except Exception as error:  # the actor knows already that its worker is gone
                if client is None or not _lost_worker(error):
                    raise
                futures.append(None)
        out = []
        for k, (f, a) in enumerate(zip(futures, argv)):
            if f is not None:
                try:
                    out.append(f.result())
                    continue
                except Exception as error:  # the worker holding shard k went while it worked
                    if client is None or not _lost_worker(error):
                        raise
            out.append(recover(k, method, *a))
        return out

    def recover(k: int, method: str, *args):
        """Rebuild shard k from its checkpoint, replay the logged phases (the current one included)
        and return its reply to the call that failed."""
        recovered.append((k, month))
        shards[k] = make(k)
        if checkpointed[k]:
            shards[k].restore(paths[k]).result()
        reply = (None, 0, False)
        for kind, answers in log:  # the last run is the one in progress; its last answer is pending
            reply = shards[k].begin(kind).result()
            for a in answers:
                reply = shards[k].answer(a).result()
        if method == "answer" and len(args) > 1 and args[1] is not None and reply[0] is None:
            return *shards[k].begin(args[1]).result()[:2], True  # the failed call went on to the next phase
        if method in ("begin", "answer"):  # the failed call was the last one replayed
            return reply
        return getattr(shards[k], method)(*args).result()

    def run_phases(kind: str, on_done: Callable[[int], None] | None = None, then: str | None = None,
                   begun: list | None = None) -> list | None:
        """Run phase ``kind`` on every shard to its end; ``on_done(m)`` once month m is over (a
        phase that steps several months from none: the spin-up in ``build``). ``begun``: the
        shards' replies where the phase was begun by the last call of the one before. With
        ``then``, the last answer begins phase ``then`` on every shard, whose first replies
        are returned (for the next call, as its ``begun``)."""
        log.append((kind, []))
        replies = begun if begun is not None else call_all("begin", kind)
        done = 0
        while True:
            packed, stepped, ended = zip(*replies)
            requests = [None if r is None else pickle.loads(r) for r in packed]
            if any(ended):
                if not all(ended):
                    raise RuntimeError("shards out of step: some finished the phase before others")
                return [(r, m, False) for r, m, _ in replies]  # the next phase's first replies
            over = min(stepped) - (requests[0] is not None)  # a month is under way at an exchange
            while on_done is not None and done < over:
                done += 1
                on_done(done)
            if requests[0] is None:
                break
            if any(r is None or r.tag != requests[0].tag for r in requests):
                raise RuntimeError(f"shards out of step at {[None if r is None else r.tag for r in requests]}")
            answer = pack(requests[0].combine([r.part for r in requests]))  # one bytes object for every shard
            log[-1][1].append(answer)
            replies = call_all("answer", answer, then)
        if any(r is not None for r in requests):
            raise RuntimeError("shards out of step: some finished the phase before others")
        return None

    t0 = time.perf_counter()
    run_phases(BUILD, on_spinup)  # set-up and spin-up (run.spinup_months)
    t1 = time.perf_counter()
    begun = None
    for month in range(1, cfg.run.months + 1):
        checkpoint = every and month % every == 0 and month < cfg.run.months
        last = month == cfg.run.months
        begun = run_phases(MONTH, then=None if last or checkpoint else MONTH, begun=begun)  # between months to checkpoint
        if checkpoint:
            call_all("checkpoint", each=paths)
            checkpointed = [True] * len(units)
            log.clear()
        if on_month is not None:
            on_month(month)
    t2 = time.perf_counter()
    parts = call_all("results")
    for p in paths:
        Path(p).unlink(missing_ok=True)
    if checkpoint_dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    return ShardedRun(cfg, world, replicate, parts, recovered, {"build_s": t1 - t0, "months_s": t2 - t1})


def run_jobs_sharded(jobs, world, tick: Callable[[int], None], timeseries: bool = True,
                     collect: Callable | None = None) -> list:
    """:func:`gcm_sim.studies.experiment.run_jobs` for sharded configs: each (config, replicate)
    in turn, its shards on one Dask cluster (``run.scheduler``, or a LocalCluster of
    ``run.workers`` processes) that all jobs share. Results as run_jobs gives them."""
    from .cluster import dask_client

    run = jobs[0][0].run
    client, cluster = dask_client(run.scheduler or None, run.workers)
    try:
        out = []
        for cfg, r in jobs:
            done = run_sharded(cfg, r, world, client, checkpoint_dir=cfg.run.checkpoint_dir or None,
                               on_month=lambda _: tick(1), on_spinup=lambda _: tick(1))
            if collect is not None:
                out.append((cfg, r, collect(done)))
            else:
                out.append((cfg, r, done.timeseries() if timeseries else None, done.indicators()))
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _lost_worker(error: BaseException) -> bool:
    """Whether a failed actor call means its worker is gone (not an error in the model)."""
    from distributed.comm.core import CommClosedError

    return (isinstance(error, (CommClosedError, OSError, ConnectionError))
            or type(error).__name__ in ("KilledWorker", "FutureCancelledError", "CancelledError")
            or "Worker holding Actor was lost" in str(error))  # distributed.actor's RuntimeError


class _Direct:
    """A shard in this process, called like a Dask actor (methods return objects with ``result()``)."""

    def __init__(self, shard: Shard):
        self._shard = shard

    def __getattr__(self, name):
        method = getattr(self._shard, name)
        return lambda *args: _Done(method(*args))


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value
