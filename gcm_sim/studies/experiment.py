"""Replicates and scenario comparisons: run the model R times and summarise with uncertainty.

Why: one run of a stochastic model is an anecdote. :func:`run` runs
``cfg.run.replicates`` independent replicates (replicate r seeded with the r-th child
of ``numpy.random.SeedSequence(cfg.run.seed)``) and reports each indicator's mean
with a 95% interval (:func:`mean_interval`). :func:`compare` runs baseline and named
scenarios on the *same* seeds (common random numbers), so the per-replicate difference
to baseline isolates the policy's effect from noise; its interval is the paired one,
and its minimum detectable change (``mdc``) says how large an effect the sample could
have detected (docs/running.md, "Replicates, comparisons, uncertainty").

Replicates are independent, so ``cfg.run.workers > 1`` spreads them over processes
(:func:`process_pool`). Results are identical to a serial run because each
replicate's randomness depends only on its own seed, and results are put back in
replicate order.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from queue import Empty
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gcm_sim import policy
from gcm_sim.policy import Config

from .replicates import draw_of, replicate_config, replicate_seeds  # noqa: F401 (public names)
from .replicates import world_of as _world

SUMMARY_COLUMNS = ["scenario", "indicator", "n", "mean", "ci_low", "ci_high"]
DIFF_COLUMNS = ["diff", "diff_ci_low", "diff_ci_high", "diff_pct", "mdc", "mdc_pct"]
# with run.parameters=posterior: the stochastic part of each interval and the spread over the posterior
SPLIT_COLUMNS = ["ci_low_stochastic", "ci_high_stochastic", "sd_parameter"]
DIFF_SPLIT_COLUMNS = ["diff_ci_low_stochastic", "diff_ci_high_stochastic", "diff_sd_parameter",
                      "diff_draws_up", "diff_draws_down"]  # draws whose mean effect is above / below 0
BASELINE = "baseline"
# Minimum detectable change of a paired difference at 80% power in a 5% two-sided test:
# (z_0.975 + z_0.80) x its standard error = (1.96 + 0.84) x SE (the normal approximation;
# with few replicates the t quantiles make the true value larger: docs/running.md).
MDC_FACTOR = 2.8
# Indicators that can be negative. Every indicator the model produces today is a count,
# an amount of money, a share, a ratio or a percentage, none of which can, so this is
# empty; an indicator listed here (or one with a negative value in the data) gets the
# plain t-interval and unclipped differences.
SIGNED_INDICATORS: frozenset[str] = frozenset()
# Indicators with an upper bound too: shares (0-1) and percentages (0-100). Their intervals
# stay inside [0, bound] (:func:`logit_interval`), and a difference cannot take the arm past it.
UPPER_BOUNDS: dict[str, float] = {
    "irregular_share": 1.0, "interception_rate": 1.0, "trafficking_detected_share": 1.0,
    "formal_remittance_share": 1.0, "female_share_departures": 1.0, "female_share_regular_departures": 1.0,
    "youth_share_departures": 1.0, "remittance_cost_pct": 100.0}

Progress = Callable[[int, int], None]  # (steps done so far, steps in total)


@dataclass
class RunResult:
    """Everything a run produced, in the data-contract layouts (DESIGN.md, Outputs).

    ``config`` is the run's resolved config (for a comparison: the baseline's);
    ``configs`` maps every scenario run to its resolved config.
    """

    timeseries: pd.DataFrame
    indicators: pd.DataFrame
    summary: pd.DataFrame
    config: Config
    configs: dict[str, Config] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the writers could not do (no PDF browser, ...)


def run(cfg: Config, progress: bool | Progress = False, world=None) -> RunResult:
    """Run every replicate of ``cfg`` and summarise the indicators over replicates.

    With ``cfg.run.workers > 1`` replicates run in worker processes; where they are
    spawned (:func:`process_context`) a script calling this must guard its entry point
    with ``if __name__ == "__main__":`` (Python's rule; the CLI and notebooks need nothing).
    ``progress``: True draws a tqdm bar on stderr; a callable gets (done, total) months
    (:func:`months_ticked`).
    """
    _check_args(cfg, world)
    world = _world(cfg, world)
    _check_parameters(cfg, world)
    with _progress(progress, cfg.run.replicates * months_ticked(cfg), cfg.scenario.name) as tick:
        parts = run_jobs([(cfg, r) for r in range(cfg.run.replicates)], cfg.run.workers, world, tick)
    ts, ind = _collect(parts)
    return RunResult(ts, ind, summarise(ind, draws=_nesting(cfg)), cfg, {cfg.scenario.name: cfg})


def compare(cfg: Config, scenarios: Sequence, overrides: Sequence[str] = (),
            progress: bool | Progress = False, world=None) -> RunResult:
    """Run baseline and each scenario on the same replicate seeds; add paired differences.

    ``scenarios``: shipped names, paths of a user's scenario files (FILE.yaml) or
    :class:`Config` objects (used as given). Named and file arms are composed with the
    same ``overrides``, so a user's changes apply to every arm, except overrides written
    ``arm.NAME.KEY=VALUE``, which apply to arm NAME only (:func:`split_arm_overrides`).
    ``run`` settings (size, seed, replicates, workers) and the world are taken from
    ``cfg`` for every arm so the seeds, and hence the random numbers, are shared.
    Baseline is always run and comes first, whether or not it is listed.
    """
    _check_args(cfg, world)
    if isinstance(scenarios, str) or not isinstance(scenarios, Sequence) or \
            not all(isinstance(x, (str, Config)) for x in scenarios):
        raise policy.ConfigError("scenarios", scenarios, "a list of scenario names, scenario files or Config "
                                 "objects, e.g. ['visa_liberalisation']")
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise policy.ConfigError("overrides", overrides, "a list of strings such as ['run.months=24']")
    for o in overrides:
        if not isinstance(o, str):
            raise policy.ConfigError("overrides", o, "each override is a string such as run.months=24")
        if o.split("=", 1)[0].lstrip("+~") == "scenario":
            raise policy.ConfigError("scenario", o.split("=", 1)[-1],
                                     "compare takes scenario names in `scenarios`, not as a scenario= override")
    world = _world(cfg, world)
    _check_parameters(cfg, world)
    configs = arm_configs(cfg, scenarios, overrides, world)
    ts, ind = run_arms(configs, progress, world)
    return RunResult(ts, ind, summarise(ind, baseline=BASELINE, draws=_nesting(cfg)), configs[BASELINE],
                     configs)


def run_arms(configs: dict[str, Config], progress: bool | Progress = False, world=None,
             label: str = "compare") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every replicate of each config (composed alike, e.g. by :func:`arm_configs`): the stacked
    timeseries and indicators tables. Arms that share a spin-up run it once per replicate
    (:func:`run_jobs`). Workers: the first config's ``run.workers``."""
    first = next(iter(configs.values()))
    total = sum(c.run.replicates * months_ticked(c) for c in configs.values())
    with _progress(progress, total, label) as tick:
        jobs = [(c, r) for c in configs.values() for r in range(c.run.replicates)]
        parts = run_jobs(jobs, first.run.workers, _world(first, world), tick)
    return _collect(parts)


ARM_PREFIX = "arm."


def arm_name(spec) -> str:
    """The name an arm of a comparison goes by: a shipped scenario's name, a scenario file's
    ``meta.name`` or stem, a Config's ``scenario.name``."""
    if isinstance(spec, Config):
        return spec.scenario.name
    from gcm_sim.config import is_scenario_file, read_scenario_file

    if is_scenario_file(spec):
        return read_scenario_file(spec)[0]
    return str(spec)


def split_arm_overrides(overrides: Sequence[str], names: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split ``arm.NAME.KEY=VALUE`` overrides (one arm only) from the rest (every arm).

    ``names`` are the arms' names; NAME is matched against them (longest first, so a
    name may contain dots). Returns ``(common, {name: [KEY=VALUE, ...]})``.
    """
    common, per_arm = [], {}
    for o in overrides:
        key = o.lstrip("+~")
        if not key.startswith(ARM_PREFIX):
            common.append(o)
            continue
        prefix = o[: len(o) - len(key)]
        rest = key[len(ARM_PREFIX):]
        match = next((n for n in sorted(names, key=len, reverse=True) if rest.startswith(n + ".")), None)
        if match is None or "=" not in rest:
            raise policy.ConfigError(o.split("=", 1)[0], o.partition("=")[2] or None,
                                     "write arm.NAME.KEY=VALUE with NAME one of the arms: " + ", ".join(names))
        inner = rest[len(match) + 1:]
        if inner.split("=", 1)[0].split(".")[0] in ("run", "world", "scenario"):
            raise policy.ConfigError(o.split("=", 1)[0], o.partition("=")[2],
                                     "run settings, the world and the scenario are shared by every arm "
                                     "(set them without arm.NAME.)")
        per_arm.setdefault(match, []).append(prefix + inner)
    return common, per_arm


def in_arm(error: policy.ConfigError, name: str) -> policy.ConfigError:
    """A policy setting's error met while composing arm ``name`` of a comparison, saying so (an
    override given to every arm may fit one arm and not another)."""
    if error.key.split(".")[0] not in ("policy", "climate", "behaviour", "expect"):
        return error
    return policy.ConfigError(error.key, error.value, f"{error.allowed} (in arm {name}; an override for one arm "
                                                      "only is written arm.NAME.KEY=VALUE)")


def arm_configs(cfg: Config, scenarios: Sequence, overrides: Sequence[str] = (), world=None) -> dict[str, Config]:
    """The arms of a comparison: baseline first, then each scenario once (a name, a file path
    or a Config), each composed with ``overrides`` (``arm.NAME.KEY=VALUE`` ones only for
    arm NAME) and given ``cfg``'s run settings and world (so every arm has the same seeds),
    and named after its scenario. A Config arm named ``baseline`` that is not the baseline
    is renamed ``custom`` (``custom_2``, ...); two arms with one name are an error."""
    from gcm_sim.config import load_config  # config imports Hydra; keep experiment importable without it

    world = _world(cfg, world)
    specs: list = [BASELINE]
    names = [BASELINE]
    for spec in scenarios:
        if isinstance(spec, str) and spec == BASELINE:
            continue
        name = arm_name(spec)
        if isinstance(spec, Config) and name == BASELINE:
            i, name = 1, "custom"
            while name in names:
                i += 1
                name = f"custom_{i}"
        if name in names:
            if not isinstance(spec, Config) and specs[names.index(name)] == spec:
                continue  # the same scenario listed twice
            raise policy.ConfigError("scenario", str(spec) if not isinstance(spec, Config) else name,
                                     f"two arms are named {name!r}; give one a different meta.name")
        specs.append(spec)
        names.append(name)
    common, per_arm = split_arm_overrides(overrides, names)
    configs = {}
    for spec, name in zip(specs, names):
        if isinstance(spec, Config):
            if per_arm.get(name):
                raise policy.ConfigError(ARM_PREFIX + name, per_arm[name][0],
                                         "arm overrides apply to named or file scenarios; change a Config "
                                         "arm before passing it")
            c = spec
        else:
            try:
                c = load_config(spec, [*common, *per_arm.get(name, [])], world=world)
            except policy.ConfigError as e:
                raise in_arm(e, name) from None
        meta = dataclasses.replace(c.scenario, name=name)  # arms are told apart by name, even if meta.name was set
        configs[name] = c.replace(run=cfg.run, world=cfg.world, scenario=meta)
    return configs


# --- replicates -------------------------------------------------------------------------


def outputs(model) -> tuple[pd.DataFrame, dict[str, float]]:
    """What a finished replicate hands back by default: its timeseries and indicators."""
    return model.timeseries(), dict(model.indicators())


def run_replicate(cfg: Config, replicate: int, world=None, on_month: Callable[[], None] | None = None,
                  collect: Callable = outputs):
    """One replicate: build the model on its seed, step ``cfg.run.months`` times.

    Returns ``collect(model)``: by default ``(timeseries DataFrame, {indicator: value})``.
    """
    from gcm_sim.model import MigrationModel

    seed = replicate_seeds(cfg)[replicate]
    cfg = replicate_config(cfg, replicate, world)
    model = MigrationModel(cfg, rng=seed, replicate=replicate, world=world)
    return _finish(model, cfg.run.months, on_month, collect)


def _finish(model, months: int, on_month: Callable[[], None] | None, collect: Callable):
    """Step ``model`` ``months`` times (calling ``on_month`` after each) and hand back ``collect(model)``."""
    for _ in range(months):
        model.step()
        if on_month is not None:
            on_month()
    return collect(model)


def run_shared(cfgs: Sequence[Config], replicate: int, world=None, on_month: Callable[[], None] | None = None,
               collect: Callable = outputs) -> list:
    """Replicate r of several configs that share one spin-up (:func:`shares_spinup`): the
    spin-up runs once and each config branches from it (``MigrationModel.branch``), with the
    same numbers as :func:`run_replicate` on each. Returns ``collect(model)`` of each, in order."""
    from gcm_sim.model import MigrationModel

    if len(cfgs) == 1:
        return [run_replicate(cfgs[0], replicate, world, on_month, collect)]
    seed = replicate_seeds(cfgs[0])[replicate]
    cfgs = [replicate_config(c, replicate, world) for c in cfgs]
    root = MigrationModel(cfgs[0], rng=seed, replicate=replicate, world=world, branch_point=True)
    return [_finish(root.branch(c, copy=i < len(cfgs) - 1), c.run.months, on_month, collect)
            for i, c in enumerate(cfgs)]


def shares_spinup(cfg: Config, replicate: int):
    """A key equal for the jobs that can share a spin-up: the same replicate and the same
    spin-up config (:func:`gcm_sim.mechanisms.timing.spinup_config`); None without a spin-up."""
    from gcm_sim.mechanisms.timing import spinup_config

    spin = spinup_config(cfg)
    if spin is None:
        return None
    return replicate, policy.config_key(spin)


def spinup_groups(jobs: Sequence[tuple[Config, int]], workers: int) -> list[list[int]]:
    """Job indices in groups that share one spin-up (:func:`run_shared`), in job order.

    Groups are cut to at most ``ceil(len(jobs) / workers)`` jobs so that ``workers``
    processes have work (two arms x one replicate on two workers run apart; their spin-ups
    twice). Jobs without a spin-up run alone.
    """
    size = max(1, math.ceil(len(jobs) / max(1, workers)))
    groups: dict = {}
    for i, (c, r) in enumerate(jobs):
        key = shares_spinup(c, r)
        groups.setdefault(("alone", i) if key is None else key, []).append(i)
    return [g[k:k + size] for g in groups.values() for k in range(0, len(g), size)]


_MONTHS_DONE = None  # in a worker: the queue its months done go to (process_pool's progress queue)


def _remote_group(cfg_dicts: list[dict], replicate: int, world, timeseries: bool = True, collect=None,
                  group: int = 0):
    """Process-pool entry point: the frozen configs travel as plain data and are rebuilt.

    (Config holds MappingProxyType fields, which do not pickle; rebuilding also
    re-validates, which is cheap.) Without ``timeseries`` only the indicators travel back.
    Each month stepped is reported as ``(group, 1)`` on the pool's progress queue, if any.
    """
    cfgs = [policy.build_config(d, world.iso3, world.tags, world.behaviour) for d in cfg_dicts]
    queue = _MONTHS_DONE
    on_month = None if queue is None else (lambda: queue.put((group, 1)))
    return _shipped(run_shared(cfgs, replicate, world, on_month=on_month, collect=collect or outputs),
                    timeseries, collect)


def _shipped(parts: list, timeseries: bool, collect) -> list[tuple]:
    """Per job what run_jobs adds after (config, replicate): (timeseries or None, indicators) by
    default, (collect's result,) with a ``collect``."""
    if collect is not None:
        return [(p,) for p in parts]
    return [((ts if timeseries else None), ind) for ts, ind in parts]


def run_jobs(jobs: list[tuple[Config, int]], workers: int, world, tick: Callable[[int], None],
             timeseries: bool = True, collect: Callable | None = None):
    """Run (config, replicate) jobs serially or on a process pool; results in job order:
    ``(config, replicate, timeseries, indicators)``. ``timeseries=False`` keeps only the
    indicators (None in its place), for studies of many runs that need no more. With
    ``collect`` (a module-level function of the finished model, so that it travels to worker
    processes) the results are ``(config, replicate, collect(model))``.

    Jobs that share a spin-up (same replicate; configs that differ only in policy and
    scenario description) run it once (:func:`spinup_groups`, :func:`run_shared`): an
    experiment's arms cost their reported months plus one spin-up per replicate.
    """
    if jobs and jobs[0][0].run.shards > 1:  # each replicate split over shards on Dask
        from .shards import run_jobs_sharded
        return run_jobs_sharded(jobs, world, tick, timeseries, collect)
    groups = spinup_groups(jobs, workers)
    results: list = [None] * len(jobs)
    if workers <= 1 or len(groups) <= 1:
        for g in groups:
            parts = run_shared([jobs[i][0] for i in g], jobs[g[0]][1], world, on_month=lambda: tick(1),
                               collect=collect or outputs)
            for i, part in zip(g, _shipped(parts, timeseries, collect)):
                results[i] = (*jobs[i], *part)
        return results
    months = [sum(jobs[i][0].run.months for i in g) for g in groups]
    ticked = [0] * len(groups)

    def drain(queue) -> None:  # months the workers report as they step; a finished group's are done
        while True:
            try:
                k, n = queue.get_nowait()
            except Empty:
                return
            n = min(n, months[k] - ticked[k])
            ticked[k] += n
            tick(n)

    with process_pool(min(workers, len(groups)), progress=True) as pool:
        pending = {pool.submit(_remote_group, [policy.to_dict(jobs[i][0]) for i in g], jobs[g[0]][1], world,
                               timeseries, collect, k): k for k, g in enumerate(groups)}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                drain(pool.months_done)
                for fut in done:
                    k = pending.pop(fut)
                    for i, part in zip(groups[k], fut.result()):
                        results[i] = (*jobs[i], *part)
                    tick(months[k] - ticked[k])
                    ticked[k] = months[k]
        except BaseException:  # Ctrl-C or a failed replicate: stop the other workers now
            stop_pool(pool, pending)
            raise
    return results


def process_context():
    """How worker processes start: "fork" where it is safe, else "spawn".

    A forked worker starts at once with the parent's imports; a spawned one pays them
    (Mesa, pandas, SciPy: about 2.5 s per pool, docs/performance.md), which is most of
    the overhead of running a few replicates in parallel. Forking is safe on Linux when
    the parent has no other thread (no lock can be held by a thread the child lacks).
    The CLI makes that so: one BLAS thread (gcm_sim.edges.cli) and no tqdm monitor thread.
    Elsewhere (a notebook with NumPy's BLAS threads, macOS) workers are spawned.
    Results are the same either way: each task carries its own seed.
    """
    import os
    import sys

    if sys.platform.startswith("linux") and len(os.listdir("/proc/self/task")) == 1:  # OS threads
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def process_pool(workers: int, progress: bool = False) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes (:func:`process_context`) that ignore Ctrl-C
    (the parent handles it). With ``progress`` the pool's ``months_done`` queue carries
    what workers report as they step (:func:`run_jobs`' progress bar)."""
    ctx = process_context()
    queue = ctx.Queue() if progress else None
    pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=_worker_init,
                               initargs=(queue,))
    pool.months_done = queue
    return pool


def stop_pool(pool: ProcessPoolExecutor, pending=()) -> None:
    """Cancel ``pending`` futures and terminate the workers now (Ctrl-C, a failed task)."""
    for fut in pending:
        fut.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):  # no public API before 3.14
        proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _worker_init(months_done=None) -> None:
    """Workers ignore Ctrl-C: the parent handles it (one message, no worker tracebacks); they
    exit when the parent dies (gcm_sim.studies.lifeline); they report months stepped on
    ``months_done`` when the pool has one (:func:`process_pool`)."""
    import signal

    global _MONTHS_DONE
    _MONTHS_DONE = months_done

    from gcm_sim.studies.lifeline import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker must not inherit the CLI's SIGTERM handler:
    die_with_parent()                              # stop_pool's terminate() has to end it


def _check_args(cfg, world) -> None:
    """Python API arguments: a ConfigError naming the argument, not an AttributeError later."""
    if not isinstance(cfg, Config):
        raise policy.ConfigError("cfg", cfg if isinstance(cfg, (str, int, float)) else type(cfg).__name__,
                                 "a gcm_sim.Config from gcm_sim.load_config(...)")
    if world is not None and not all(hasattr(world, a) for a in ("iso3", "tags", "behaviour", "corridors")):
        raise policy.ConfigError("world", type(world).__name__, "a gcm_sim.World (gcm_sim.load_world()) or None")


def _check_parameters(cfg: Config, world) -> None:
    """run.parameters=posterior needs the world's posterior.csv, and run.shards at most the
    world's origins: checked before any work starts."""
    if cfg.run.shards > 1:
        from .shards import partition

        partition(world, cfg, cfg.run.shards)
    if cfg.run.parameters == "posterior":
        from .parameters import check_not_overridden, world_posterior

        check_not_overridden(cfg, world, world_posterior(world))


def _nesting(cfg: Config) -> int | None:
    """The number of posterior draws when the run draws parameters (for :func:`summarise`)."""
    return cfg.run.draws if cfg.run.parameters == "posterior" else None


def _collect(parts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack replicate outputs into the timeseries and indicators tables."""
    frames = [p[2] for p in parts if p[2] is not None]  # None: run without timeseries
    ts = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rows = [(c.scenario.name, r, name, float(v)) for c, r, _, ind in parts for name, v in ind.items()]
    ind = pd.DataFrame(rows, columns=["scenario", "replicate", "indicator", "value"])
    return ts, ind


# --- summaries --------------------------------------------------------------------------


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of the mean; NaN bounds when n < 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    from scipy import stats  # slow to import (~1 s); only needed here

    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def log_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a two-sided interval of the mean on the log scale, for values that cannot be
    negative: ``mean * exp(-+ t * SE / mean)`` (the t-interval of ``log(mean)`` by the delta
    method). Never below zero; to first order the t-interval when SE/mean is small, wider to
    the right when it is not (rare counts). All zeros give [0, 0]; NaN bounds when n < 2.
    Why this and not a percentile bootstrap: docs/running.md.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    mean, lo, hi = t_interval(x, level)
    if len(x) < 2 or not np.isfinite(lo):
        return mean, lo, hi
    if mean <= 0:  # all zeros (nothing negative reaches here): no spread to speak of
        return mean, 0.0, 0.0
    k = (hi - mean) / mean  # t quantile x SE / mean
    return mean, mean * float(np.exp(-k)), mean * float(np.exp(k))


def logit_interval(values: np.ndarray, upper: float = 1.0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a two-sided interval of the mean for values inside [0, ``upper``] (a share, a
    percentage): the t-interval of logit(mean / upper) by the delta method, back-transformed,
    so it never leaves [0, upper]. To first order the t-interval when SE is small against the
    distance to either bound. All values at a bound give [bound, bound]; NaN bounds when n < 2.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    mean, lo, hi = t_interval(x, level)
    if len(x) < 2 or not np.isfinite(lo):
        return mean, lo, hi
    p = mean / upper
    if p <= 0 or p >= 1:  # every value at a bound: no spread to speak of
        bound = 0.0 if p <= 0 else upper
        return mean, bound, bound
    k = (hi - mean) / upper / (p * (1 - p))  # t quantile x SE of logit(p)
    centre = float(np.log(p / (1 - p)))
    expit = lambda z: 1.0 / (1.0 + float(np.exp(-z)))  # noqa: E731
    return mean, upper * expit(centre - k), upper * expit(centre + k)


def upper_bound(indicator: str, values: np.ndarray) -> float | None:
    """An indicator's upper bound (:data:`UPPER_BOUNDS`), unless the data exceed it (then None)."""
    bound = UPPER_BOUNDS.get(indicator)
    x = np.asarray(values, dtype=float)
    return None if bound is None or bool((x[np.isfinite(x)] > bound).any()) else bound


def nonnegative(indicator: str, values: np.ndarray) -> bool:
    """Whether an indicator's interval must respect that it cannot be negative: every
    indicator not in :data:`SIGNED_INDICATORS`, unless the data hold a negative value."""
    x = np.asarray(values, dtype=float)
    return indicator not in SIGNED_INDICATORS and not bool((x[np.isfinite(x)] < 0).any())


def mean_interval(values: np.ndarray, nonneg: bool = True, level: float = 0.95,
                  upper: float | None = None) -> tuple[float, float, float]:
    """The summary's interval of a mean: :func:`logit_interval` for quantities bounded by 0 and
    ``upper`` (shares, percentages), :func:`log_interval` for other quantities that cannot be
    negative, :func:`t_interval` otherwise."""
    if nonneg and upper is not None:
        return logit_interval(values, upper, level)
    return log_interval(values, level) if nonneg else t_interval(values, level)


def paired_difference(arm: np.ndarray, base: np.ndarray, base_mean: float, nonneg: bool = True,
                      level: float = 0.95, upper: float | None = None) -> tuple[float, ...]:
    """``(diff, diff_ci_low, diff_ci_high, diff_pct, mdc, mdc_pct)`` of an arm against
    baseline, values matched by replicate (NaN pairs dropped).

    diff: mean of the per-replicate differences; its t-interval (differences can be
    negative). With ``nonneg`` the arm cannot fall below zero, so neither the difference
    nor its bounds go below ``-base_mean`` and ``diff_pct`` not below -100; with ``upper`` (a
    share or a percentage) the arm cannot pass it, so they do not go above ``upper - base_mean``.
    mdc: :data:`MDC_FACTOR` x the standard error of the paired difference (NaN when n < 2).
    Percentages are of ``base_mean`` (NaN when it is 0 or not finite).
    """
    paired = np.asarray(arm, float) - np.asarray(base, float)
    paired = paired[np.isfinite(paired)]
    d, lo, hi = t_interval(paired, level)
    mdc = float(MDC_FACTOR * paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) >= 2 else np.nan
    finite_base = np.isfinite(base_mean) and base_mean != 0
    d, lo, hi = _clip_difference((d, lo, hi), base_mean, nonneg, upper)
    pct = 100.0 * d / abs(base_mean) if finite_base else np.nan
    if nonneg and np.isfinite(pct):
        pct = max(pct, -100.0)
    mdc_pct = 100.0 * mdc / abs(base_mean) if finite_base and np.isfinite(mdc) else np.nan
    return d, lo, hi, pct, mdc, mdc_pct


def _clip_difference(values, base_mean: float, nonneg: bool, upper: float | None):
    """Differences clipped to what the arm can reach: not below -base_mean (nonneg), not above
    upper - base_mean."""
    if not np.isfinite(base_mean):
        return tuple(values)
    floor = -abs(base_mean) if nonneg else -np.inf
    ceiling = upper - base_mean if nonneg and upper is not None else np.inf
    return tuple(min(max(x, floor), ceiling) if np.isfinite(x) else x for x in values)


def nested_interval(values: np.ndarray, groups: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Replicates nested in posterior draws (``groups``: the draw of each value).

    The mean's interval must count both sources: it is the t-interval of the draw means
    (P - 1 degrees of freedom; each draw mean carries its parameter and its seed noise).
    The stochastic part alone: the pooled within-draw variance s_w^2 gives
    mean +- t(N - P) sqrt(s_w^2 / N). The parameter part: the standard deviation of the
    effect over the posterior, sqrt(max(var(draw means) - s_w^2 / k, 0)) with k values per
    draw (one-way random effects, method of moments). Returns mean, low, high, se (of the
    total), stoch_low, stoch_high, sd_parameter, and up / down: how many draw means lie above /
    below 0 (for a paired difference: in how many draws the policy raises / lowers the
    indicator); NaN where there are too few values.
    """
    from scipy import stats

    x, g = np.asarray(values, float), np.asarray(groups)
    ok = np.isfinite(x)
    x, g = x[ok], g[ok]
    nan = float("nan")
    out = dict(mean=nan, low=nan, high=nan, se=nan, stoch_low=nan, stoch_high=nan, sd_parameter=nan,
               up=nan, down=nan)
    if not len(x):
        return out
    keys, inv, counts = np.unique(g, return_inverse=True, return_counts=True)
    means = np.bincount(inv, weights=x) / counts
    out.update(up=int((means > 0).sum()), down=int((means < 0).sum()))
    out["mean"] = mean = float(x.mean())
    p, n = len(keys), len(x)
    if p >= 2:
        se = float(means.std(ddof=1) / np.sqrt(p))
        half = float(stats.t.ppf(0.5 + level / 2, p - 1)) * se
        out.update(low=mean - half, high=mean + half, se=se)
    if n > p:
        within = float(((x - means[inv]) ** 2).sum() / (n - p))
        half = float(stats.t.ppf(0.5 + level / 2, n - p)) * np.sqrt(within / n)
        out.update(stoch_low=mean - half, stoch_high=mean + half)
        if p >= 2:
            k = n / p
            out["sd_parameter"] = float(np.sqrt(max(means.var(ddof=1) - within / k, 0.0)))
    return out


def summarise(indicators: pd.DataFrame, baseline: str | None = None,
              draws: int | None = None) -> pd.DataFrame:
    """Per scenario and indicator: n, mean and its 95% interval over replicates.

    The interval (``ci_low``/``ci_high``) is :func:`mean_interval`: on the logit scale for
    shares and percentages (:data:`UPPER_BOUNDS`: never outside [0, bound]), on the log scale
    for other indicators that cannot be negative (never below zero), the t-interval otherwise.
    With ``baseline`` (a comparison) also the paired difference to baseline, matched
    by replicate (same seed), from :func:`paired_difference`: ``diff`` (mean of
    per-replicate differences), ``diff_ci_low``/``diff_ci_high`` (its 95% t-interval, not
    below -baseline mean), ``diff_pct`` (100 * diff / baseline mean, not below -100; NaN
    when the baseline mean is 0), ``mdc`` (minimum detectable change: 2.8 x the standard
    error of the paired difference) and ``mdc_pct`` (in % of the baseline mean). Baseline
    rows carry NaN in these columns: a difference to itself is not a result.
    Non-finite values (e.g. a ratio with no denominator) are left out; ``n`` counts
    the finite ones.

    With ``draws`` (run.parameters=posterior: replicate r ran posterior draw
    r % draws) the replicates are nested in draws: every interval, the mdc
    included, comes from :func:`nested_interval` (draw means), and the columns
    :data:`SPLIT_COLUMNS` / :data:`DIFF_SPLIT_COLUMNS` give the stochastic part of the
    interval and the standard deviation over the posterior separately.
    """
    nonneg = {name: nonnegative(name, g["value"].to_numpy(float))
              for name, g in indicators.groupby("indicator", sort=False)}
    upper = {name: upper_bound(name, g["value"].to_numpy(float)) if nonneg[name] else None
             for name, g in indicators.groupby("indicator", sort=False)}
    rows = []
    for (scen, name), g in indicators.groupby(["scenario", "indicator"], sort=False):
        vals = g["value"].to_numpy(dtype=float)
        mean, lo, hi = mean_interval(vals, nonneg[name], upper=upper[name])
        rows.append({"scenario": scen, "indicator": name, "n": int(np.isfinite(vals).sum()),
                     "mean": mean, "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if draws is not None:
        split = []
        for i, ((scen, name), g) in enumerate(indicators.groupby(["scenario", "indicator"], sort=False)):
            nest = nested_interval(g["value"].to_numpy(float), g["replicate"].to_numpy() % draws)
            floor = 0.0 if nonneg[name] else -np.inf
            ceiling = upper[name] if upper[name] is not None else np.inf
            out.loc[i, ["ci_low", "ci_high"]] = [max(nest["low"], floor), min(nest["high"], ceiling)]
            split.append((max(nest["stoch_low"], floor), min(nest["stoch_high"], ceiling), nest["sd_parameter"]))
        out[SPLIT_COLUMNS] = pd.DataFrame(split, columns=SPLIT_COLUMNS, index=out.index)
    if baseline is None:
        return out
    base = indicators[indicators["scenario"] == baseline].set_index(["indicator", "replicate"])["value"]
    diffs = []
    for row in out.itertuples(index=False):
        if row.scenario == baseline:
            diffs.append((np.nan,) * len(DIFF_COLUMNS))
            continue
        arm = indicators[(indicators["scenario"] == row.scenario) & (indicators["indicator"] == row.indicator)]
        arm = arm.set_index("replicate")["value"]
        try:
            b_all = base.loc[row.indicator]
        except KeyError:  # indicator absent in baseline
            diffs.append((np.nan,) * len(DIFF_COLUMNS))
            continue
        b = b_all.to_numpy(float)
        b_mean = float(np.nanmean(b)) if np.isfinite(b).any() else np.nan
        a, bb = arm.to_numpy(float), b_all.reindex(arm.index).to_numpy(float)
        res = paired_difference(a, bb, b_mean, nonneg[row.indicator], upper=upper[row.indicator])
        if draws is not None:
            res = _nested_difference(res, a - bb, arm.index.to_numpy() % draws, b_mean,
                                     nonneg[row.indicator], upper[row.indicator])
        diffs.append(res)
    columns = DIFF_COLUMNS + (DIFF_SPLIT_COLUMNS if draws is not None else [])
    diffs = [d if len(d) == len(columns) else d + (np.nan,) * (len(columns) - len(d)) for d in diffs]
    out[columns] = pd.DataFrame(diffs, columns=columns, index=out.index)
    return out


def _nested_difference(res: tuple, paired: np.ndarray, draws: np.ndarray, base_mean: float, nonneg: bool,
                       upper: float | None = None) -> tuple:
    """:func:`paired_difference`'s columns for replicates nested in posterior draws, plus the split."""
    d, _, _, pct, _, _ = res
    nest = nested_interval(paired, draws)
    lo, hi, slo, shi = _clip_difference((nest["low"], nest["high"], nest["stoch_low"], nest["stoch_high"]),
                                        base_mean, nonneg, upper)
    mdc = MDC_FACTOR * nest["se"]
    finite_base = np.isfinite(base_mean) and base_mean != 0
    mdc_pct = 100.0 * mdc / abs(base_mean) if finite_base and np.isfinite(mdc) else np.nan
    return d, lo, hi, pct, mdc, mdc_pct, slo, shi, nest["sd_parameter"], nest["up"], nest["down"]


# Indicators broken down by origin (and corridor): indicator -> the timeseries measures summed
# over the horizon (people or USD). Indicator names as in indicators.csv where one exists.
ORIGIN_INDICATORS = {"irregular_departures": ("departures_irregular",),
                     "regular_departures": ("departures_regular",),
                     "overstays": ("overstays",),
                     "deaths": ("deaths",),
                     "returns": ("returns_forced", "returns_voluntary"),
                     "remittances_received_usd": ("remittances_received_usd",)}
BY_ORIGIN_COLUMNS = ["scenario", "origin", "indicator", "n", "mean", "baseline_share_pct", *DIFF_COLUMNS,
                     "small_sample"]
SMALL_SAMPLE_REPLICATES = 5  # fewer replicates than this: every by-origin result is flagged
SMALL_SAMPLE_MDC_PCT = 50.0  # an mdc above half the baseline level: the run cannot see moderate effects


def by_origin(timeseries: pd.DataFrame, baseline: str = BASELINE, draws: int | None = None) -> pd.DataFrame:
    """Each origin's departures, overstays, deaths, returns and remittances over the horizon,
    per scenario, with the paired difference to baseline and its minimum detectable change
    (:func:`paired_difference`). See :func:`by_group`."""
    return by_group(timeseries, ("origin",), baseline, draws)


def by_corridor(timeseries: pd.DataFrame, baseline: str = BASELINE, draws: int | None = None) -> pd.DataFrame:
    """:func:`by_origin` by (origin, destination) pair: ``summary_by_corridor.csv``."""
    return by_group(timeseries, ("origin", "destination"), baseline, draws)


def by_group(timeseries: pd.DataFrame, keys: Sequence[str] = ("origin",), baseline: str = BASELINE,
             draws: int | None = None) -> pd.DataFrame:
    """Per scenario, ``keys`` (origin, or origin and destination) and indicator
    (:data:`ORIGIN_INDICATORS`): the mean over replicates of the horizon total, with the paired
    difference to baseline (matched by replicate) and its mdc.

    Zero cells are left out of the long timeseries, so every replicate a scenario ran gets
    every (key, indicator) total, 0 where it had no rows (:func:`dense` does the same for
    the monthly table). ``baseline_share_pct`` is the key's share of the world's baseline
    irregular departures. ``small_sample`` flags results to read with care: fewer than
    :data:`SMALL_SAMPLE_REPLICATES` replicates, or an mdc above :data:`SMALL_SAMPLE_MDC_PCT`
    percent of the baseline level (or a baseline level of 0) with an interval that includes
    zero (the run could not have seen a moderate effect, so "no change" means little; a
    clear effect larger than the mdc is not flagged).

    With ``draws`` (run.parameters=posterior: replicate r ran posterior draw r % draws) the
    differences' intervals and mdc rest on the draws' means, as in :func:`summarise`.
    """
    keys = list(keys)
    columns = BY_ORIGIN_COLUMNS if keys == ["origin"] else \
        ["scenario", *keys, *[c for c in BY_ORIGIN_COLUMNS if c not in ("scenario", "origin")]]
    if timeseries.empty:
        return pd.DataFrame(columns=columns)
    ind_of = {m: ind for ind, ms in ORIGIN_INDICATORS.items() for m in ms}
    sub = timeseries[timeseries["measure"].isin(list(ind_of))]
    for k in keys:
        sub = sub[sub[k].astype(str) != "all"]
    sub = sub.assign(indicator=sub["measure"].astype(str).map(ind_of), **{k: sub[k].astype(str) for k in keys})
    reps = {sc: sorted(r) for sc, r in timeseries.groupby("scenario", observed=True)["replicate"].unique().items()}
    tot = sub.groupby(["scenario", *keys, "indicator", "replicate"], observed=True)["value"].sum()
    cells = sorted(set(tot.index.droplevel(["scenario", "replicate"])))  # every (key..., indicator) seen
    if keys == ["origin"]:  # every indicator for every origin seen (a 0 is a result); corridors stay sparse
        cells = [(o, ind) for o in sorted({c[0] for c in cells}) for ind in ORIGIN_INDICATORS]
    if not cells:
        return pd.DataFrame(columns=columns)

    def block(sc):
        idx = pd.MultiIndex.from_tuples([(*c, r) for c in cells for r in reps[sc]],
                                        names=[*keys, "indicator", "replicate"])
        v = tot.xs(sc, level="scenario") if sc in tot.index.get_level_values("scenario") else pd.Series(dtype=float)
        return v.reindex(idx, fill_value=0.0).unstack("replicate")

    blocks = {sc: block(sc) for sc in reps}
    base = blocks.get(baseline)
    world_irr = float(base.xs("irregular_departures", level="indicator").sum(axis=0).mean()) \
        if base is not None and "irregular_departures" in base.index.get_level_values("indicator") else np.nan
    rows = []
    for sc, wide in blocks.items():
        for cell, vals in wide.iterrows():
            key_vals, ind = cell[:-1], cell[-1]
            x = vals.to_numpy(float)
            row = dict(zip(["scenario", *keys], [sc, *key_vals]))
            row.update(indicator=ind, n=len(x), mean=float(x.mean()), baseline_share_pct=np.nan)
            d = (np.nan,) * len(DIFF_COLUMNS)
            if base is not None:
                b = base.loc[cell].reindex(vals.index).to_numpy(float)
                if world_irr > 0:
                    irr_cell = (*key_vals, "irregular_departures")
                    row["baseline_share_pct"] = 100.0 * float(base.loc[irr_cell].mean()) / world_irr \
                        if irr_cell in base.index else 0.0
                if sc != baseline:
                    d = paired_difference(x, b, float(np.nanmean(b)))
                    if draws is not None:
                        d = _nested_difference(d, x - b, vals.index.to_numpy() % draws, float(np.nanmean(b)),
                                               True)[:len(DIFF_COLUMNS)]
            row.update(dict(zip(DIFF_COLUMNS, d)))
            mdc_pct, lo, hi = row["mdc_pct"], row["diff_ci_low"], row["diff_ci_high"]
            weak = not (np.isfinite(mdc_pct) and mdc_pct <= SMALL_SAMPLE_MDC_PCT)
            found = np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0)
            row["small_sample"] = bool(len(x) < SMALL_SAMPLE_REPLICATES or (
                sc != baseline and base is not None and weak and not found))
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


TIMESERIES_KEYS = ["origin", "destination", "channel", "sex", "age_group", "measure"]


def dense(timeseries: pd.DataFrame, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """The long timeseries with its zero cells filled in (docs/running.md, "Zero cells").

    timeseries.parquet leaves out rows whose value is 0, so a naive group-by over
    replicates averages only the replicates that had a non-zero value. This returns, for
    each scenario, every (origin, destination, channel, sex, age_group, measure) cell the
    run produced anywhere (in any scenario or replicate) for every replicate and month,
    with value 0 where it had no row. ``measures`` limits it to some measures (the full
    table can be large: cells x months x replicates x scenarios rows).
    """
    ts = timeseries if measures is None else timeseries[timeseries["measure"].isin(list(measures))]
    if ts.empty:
        return ts.copy()
    months = range(1, int(timeseries["month"].max()) + 1)
    cells = ts[TIMESERIES_KEYS].astype(str).drop_duplicates()
    frames = []
    for sc, g in timeseries.groupby("scenario", observed=True):
        reps = g[["replicate", "seed"]].drop_duplicates("replicate")
        grid = reps.merge(pd.DataFrame({"month": list(months)}), how="cross").merge(cells, how="cross")
        grid.insert(0, "scenario", sc)
        frames.append(grid)
    grid = pd.concat(frames, ignore_index=True)
    obs = ts.assign(**{k: ts[k].astype(str) for k in TIMESERIES_KEYS + ["scenario"]})
    obs = obs.groupby(["scenario", "replicate", "month", *TIMESERIES_KEYS], observed=True, as_index=False)["value"].sum()
    out = grid.merge(obs, on=["scenario", "replicate", "month", *TIMESERIES_KEYS], how="left")
    out["value"] = out["value"].fillna(0.0)
    return out[list(timeseries.columns)]


# --- progress ---------------------------------------------------------------------------


def months_ticked(cfg: Config) -> int:
    """Months a replicate of ``cfg`` counts on the progress bar: the reported months, and for a
    run split over shards (``run.shards``) its spin-up too (every sharded replicate steps its
    own, minutes at real scale; one process shares it between arms and takes seconds)."""
    return cfg.run.months + (cfg.run.spinup_months if cfg.run.shards > 1 else 0)


class _progress:
    """Context manager yielding ``tick(n)``: a tqdm bar on stderr, a callback, or nothing."""

    def __init__(self, progress: bool | Progress, total: int, label: str):
        self.progress, self.total, self.label = progress, total, label
        self.done, self.bar = 0, None

    def __enter__(self) -> Callable[[int], None]:
        if self.progress is True:
            from tqdm import tqdm

            import sys

            tty = sys.stderr.isatty()  # in a log file, redraw rarely
            tqdm.monitor_interval = 0  # no monitor thread, so workers can be forked (process_context)
            self.bar = tqdm(total=self.total, desc=self.label, unit="month", leave=False, dynamic_ncols=True,
                            mininterval=0.1 if tty else 10.0, file=sys.stderr)
        return self.tick

    def tick(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif callable(self.progress):
            self.progress(self.done, self.total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
