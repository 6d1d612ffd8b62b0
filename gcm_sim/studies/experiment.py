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
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gcm_sim import policy
from gcm_sim.policy import Config

SUMMARY_COLUMNS = ["scenario", "indicator", "n", "mean", "ci_low", "ci_high"]
DIFF_COLUMNS = ["diff", "diff_ci_low", "diff_ci_high", "diff_pct", "mdc", "mdc_pct"]
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


def replicate_seeds(cfg: Config) -> list[np.random.SeedSequence]:
    """Replicate r's seed: the r-th child of ``SeedSequence(cfg.run.seed)`` (the contract)."""
    return np.random.SeedSequence(cfg.run.seed).spawn(cfg.run.replicates)


def run(cfg: Config, progress: bool | Progress = False, world=None) -> RunResult:
    """Run every replicate of ``cfg`` and summarise the indicators over replicates.

    With ``cfg.run.workers > 1`` replicates run in worker processes; where they are
    spawned (:func:`process_context`) a script calling this must guard its entry point
    with ``if __name__ == "__main__":`` (Python's rule; the CLI and notebooks need nothing).
    ``progress``: True draws a tqdm bar on stderr; a callable gets (done, total) months.
    """
    _check_args(cfg, world)
    world = _world(cfg, world)
    with _progress(progress, cfg.run.replicates * cfg.run.months, cfg.scenario.name) as tick:
        parts = run_jobs([(cfg, r) for r in range(cfg.run.replicates)], cfg.run.workers, world, tick)
    ts, ind = _collect(parts)
    return RunResult(ts, ind, summarise(ind), cfg, {cfg.scenario.name: cfg})


def compare(cfg: Config, scenarios: Sequence[str], overrides: Sequence[str] = (),
            progress: bool | Progress = False, world=None) -> RunResult:
    """Run baseline and each named scenario on the same replicate seeds; add paired differences.

    Each scenario is composed with the same ``overrides`` (so a user's changes apply to
    every arm); ``run`` settings (size, seed, replicates, workers) and the world are
    taken from ``cfg`` for every arm so the seeds, and hence the random numbers, are
    shared. Baseline is always run and comes first, whether or not it is listed.
    """
    _check_args(cfg, world)
    if isinstance(scenarios, str) or not isinstance(scenarios, Sequence) or \
            not all(isinstance(x, str) for x in scenarios):
        raise policy.ConfigError("scenarios", scenarios, "a list of scenario names, e.g. ['visa_liberalisation']")
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise policy.ConfigError("overrides", overrides, "a list of strings such as ['run.months=24']")
    for o in overrides:
        if not isinstance(o, str):
            raise policy.ConfigError("overrides", o, "each override is a string such as run.months=24")
        if o.split("=", 1)[0].lstrip("+~") == "scenario":
            raise policy.ConfigError("scenario", o.split("=", 1)[-1],
                                     "compare takes scenario names in `scenarios`, not as a scenario= override")
    world = _world(cfg, world)
    configs = arm_configs(cfg, scenarios, overrides, world)
    names = list(configs)
    total = len(names) * cfg.run.replicates * cfg.run.months
    with _progress(progress, total, "compare") as tick:
        jobs = [(c, r) for c in configs.values() for r in range(cfg.run.replicates)]
        parts = run_jobs(jobs, cfg.run.workers, world, tick)
    ts, ind = _collect(parts)
    return RunResult(ts, ind, summarise(ind, baseline=BASELINE), configs[BASELINE], configs)


def arm_configs(cfg: Config, scenarios: Sequence[str], overrides: Sequence[str] = (), world=None) -> dict[str, Config]:
    """The arms of a comparison: baseline first, then each named scenario once, each composed
    with ``overrides`` and given ``cfg``'s run settings and world (so every arm has the same
    seeds), and named after its scenario."""
    from gcm_sim.config import load_config  # config imports Hydra; keep experiment importable without it

    world = _world(cfg, world)
    names = [BASELINE] + [s for s in dict.fromkeys(scenarios) if s != BASELINE]
    configs = {}
    for name in names:
        c = load_config(name, overrides, world=world)
        meta = dataclasses.replace(c.scenario, name=name)  # arms are told apart by name, even if meta.name was set
        configs[name] = c.replace(run=cfg.run, world=cfg.world, scenario=meta)
    return configs


# --- replicates -------------------------------------------------------------------------


def run_replicate(cfg: Config, replicate: int, world=None, on_month: Callable[[], None] | None = None):
    """One replicate: build the model on its seed, step ``cfg.run.months`` times.

    Returns ``(timeseries DataFrame, {indicator: value})``.
    """
    from gcm_sim.model import MigrationModel

    seed = replicate_seeds(cfg)[replicate]
    model = MigrationModel(cfg, rng=seed, replicate=replicate, world=world)
    for _ in range(cfg.run.months):
        model.step()
        if on_month is not None:
            on_month()
    return model.timeseries(), dict(model.indicators())


def _remote_replicate(cfg_dict: dict, replicate: int, world, timeseries: bool = True):
    """Process-pool entry point: the frozen config travels as plain data and is rebuilt.

    (Config holds MappingProxyType fields, which do not pickle; rebuilding also
    re-validates, which is cheap.) Without ``timeseries`` only the indicators travel back.
    """
    cfg = policy.build_config(cfg_dict, world.iso3, world.tags, world.behaviour)
    ts, ind = run_replicate(cfg, replicate, world)
    return (ts if timeseries else None), ind


def run_jobs(jobs: list[tuple[Config, int]], workers: int, world, tick: Callable[[int], None],
             timeseries: bool = True):
    """Run (config, replicate) jobs serially or on a process pool; results in job order:
    ``(config, replicate, timeseries, indicators)``. ``timeseries=False`` keeps only the
    indicators (None in its place), for studies of many runs that need no more."""
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for c, r in jobs:
            ts, ind = run_replicate(c, r, world, on_month=lambda: tick(1))
            out.append((c, r, ts if timeseries else None, ind))
        return out
    results: list = [None] * len(jobs)
    with process_pool(min(workers, len(jobs))) as pool:
        pending = {pool.submit(_remote_replicate, policy.to_dict(c), r, world, timeseries): i
                   for i, (c, r) in enumerate(jobs)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    c, r = jobs[i]
                    results[i] = (c, r, *fut.result())
                    tick(c.run.months)
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


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes (:func:`process_context`) that ignore Ctrl-C
    (the parent handles it)."""
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=process_context(),
                               initializer=_worker_init)


def stop_pool(pool: ProcessPoolExecutor, pending=()) -> None:
    """Cancel ``pending`` futures and terminate the workers now (Ctrl-C, a failed task)."""
    for fut in pending:
        fut.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):  # no public API before 3.14
        proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _worker_init() -> None:
    """Workers ignore Ctrl-C: the parent handles it (one message, no worker tracebacks); they
    exit when the parent dies (gcm_sim.studies.lifeline)."""
    import signal

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


def _world(cfg: Config, world):
    if world is not None:
        return world
    from gcm_sim.world import load_world

    return load_world(cfg.world) if cfg.world else load_world()


def _collect(parts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack replicate outputs into the timeseries and indicators tables."""
    ts = pd.concat([p[2] for p in parts], ignore_index=True) if parts else pd.DataFrame()
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


def nonnegative(indicator: str, values: np.ndarray) -> bool:
    """Whether an indicator's interval must respect that it cannot be negative: every
    indicator not in :data:`SIGNED_INDICATORS`, unless the data hold a negative value."""
    x = np.asarray(values, dtype=float)
    return indicator not in SIGNED_INDICATORS and not bool((x[np.isfinite(x)] < 0).any())


def mean_interval(values: np.ndarray, nonneg: bool = True, level: float = 0.95) -> tuple[float, float, float]:
    """The summary's interval of a mean: :func:`log_interval` for quantities that cannot be
    negative, :func:`t_interval` otherwise."""
    return log_interval(values, level) if nonneg else t_interval(values, level)


def paired_difference(arm: np.ndarray, base: np.ndarray, base_mean: float, nonneg: bool = True,
                      level: float = 0.95) -> tuple[float, ...]:
    """``(diff, diff_ci_low, diff_ci_high, diff_pct, mdc, mdc_pct)`` of an arm against
    baseline, values matched by replicate (NaN pairs dropped).

    diff: mean of the per-replicate differences; its t-interval (differences can be
    negative). With ``nonneg`` the arm cannot fall below zero, so neither the difference
    nor its bounds go below ``-base_mean`` and ``diff_pct`` not below -100.
    mdc: :data:`MDC_FACTOR` x the standard error of the paired difference (NaN when n < 2).
    Percentages are of ``base_mean`` (NaN when it is 0 or not finite).
    """
    paired = np.asarray(arm, float) - np.asarray(base, float)
    paired = paired[np.isfinite(paired)]
    d, lo, hi = t_interval(paired, level)
    mdc = float(MDC_FACTOR * paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) >= 2 else np.nan
    finite_base = np.isfinite(base_mean) and base_mean != 0
    if nonneg and np.isfinite(base_mean):
        floor = -abs(base_mean)
        d, lo, hi = (max(x, floor) if np.isfinite(x) else x for x in (d, lo, hi))
    pct = 100.0 * d / abs(base_mean) if finite_base else np.nan
    if nonneg and np.isfinite(pct):
        pct = max(pct, -100.0)
    mdc_pct = 100.0 * mdc / abs(base_mean) if finite_base and np.isfinite(mdc) else np.nan
    return d, lo, hi, pct, mdc, mdc_pct


def summarise(indicators: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Per scenario and indicator: n, mean and its 95% interval over replicates.

    The interval (``ci_low``/``ci_high``) is :func:`mean_interval`: on the log scale for
    indicators that cannot be negative (never below zero), the t-interval otherwise.
    With ``baseline`` (a comparison) also the paired difference to baseline, matched
    by replicate (same seed), from :func:`paired_difference`: ``diff`` (mean of
    per-replicate differences), ``diff_ci_low``/``diff_ci_high`` (its 95% t-interval, not
    below -baseline mean), ``diff_pct`` (100 * diff / baseline mean, not below -100; NaN
    when the baseline mean is 0), ``mdc`` (minimum detectable change: 2.8 x the standard
    error of the paired difference) and ``mdc_pct`` (in % of the baseline mean). Baseline
    rows carry NaN in these columns: a difference to itself is not a result.
    Non-finite values (e.g. a ratio with no denominator) are left out; ``n`` counts
    the finite ones.
    """
    nonneg = {name: nonnegative(name, g["value"].to_numpy(float))
              for name, g in indicators.groupby("indicator", sort=False)}
    rows = []
    for (scen, name), g in indicators.groupby(["scenario", "indicator"], sort=False):
        vals = g["value"].to_numpy(dtype=float)
        mean, lo, hi = mean_interval(vals, nonneg[name])
        rows.append({"scenario": scen, "indicator": name, "n": int(np.isfinite(vals).sum()),
                     "mean": mean, "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
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
        diffs.append(paired_difference(arm.to_numpy(float), b_all.reindex(arm.index).to_numpy(float), b_mean,
                                       nonneg[row.indicator]))
    out[DIFF_COLUMNS] = pd.DataFrame(diffs, columns=DIFF_COLUMNS, index=out.index)
    return out


ORIGIN_INDICATORS = {"irregular_departures": "departures_irregular", "regular_departures": "departures_regular"}
BY_ORIGIN_COLUMNS = ["scenario", "origin", "indicator", "n", "mean", "baseline_share_pct", *DIFF_COLUMNS]


def by_origin(timeseries: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Each origin's irregular and regular departures over the horizon, per scenario, with the
    paired difference to baseline and its minimum detectable change (:func:`paired_difference`).

    Replicates with no departures from an origin have no rows in the long timeseries (zero
    cells are left out), so the per-replicate totals are filled with 0 for every replicate
    the scenario ran. ``baseline_share_pct`` is the origin's share of the world's baseline
    irregular departures (the issue's "origins with at least 1%").
    """
    if timeseries.empty:
        return pd.DataFrame(columns=BY_ORIGIN_COLUMNS)
    ts = timeseries[timeseries["measure"].isin(ORIGIN_INDICATORS.values())]
    reps = timeseries.groupby("scenario", observed=True)["replicate"].unique()
    tot = ts.groupby(["scenario", "measure", "origin", "replicate"], observed=True)["value"].sum()
    irr = tot.xs("departures_irregular", level="measure") if "departures_irregular" in set(ts["measure"]) else None
    world_irr = float(irr.xs(baseline, level="scenario").groupby("replicate").sum().mean()) \
        if irr is not None and baseline in irr.index.get_level_values("scenario") else np.nan
    rows = []
    origins = sorted(set(ts["origin"].astype(str)) - {"all"})
    for scen in reps.index:
        for ind, measure in ORIGIN_INDICATORS.items():
            for o in origins:
                def series(sc):
                    try:
                        v = tot.loc[(sc, measure, o)]
                    except KeyError:
                        v = pd.Series(dtype=float)
                    return v.reindex(sorted(reps[sc]), fill_value=0.0)
                vals = series(scen)
                share = np.nan
                base = series(baseline) if baseline in reps.index else None
                if base is not None and ind == "irregular_departures" and world_irr > 0:
                    share = 100.0 * float(base.mean()) / world_irr
                row = {"scenario": scen, "origin": o, "indicator": ind, "n": len(vals), "mean": float(vals.mean()),
                       "baseline_share_pct": share}
                if base is not None and scen != baseline:
                    d = paired_difference(vals.to_numpy(float), base.reindex(vals.index).to_numpy(float),
                                          float(base.mean()))
                else:
                    d = (np.nan,) * len(DIFF_COLUMNS)
                rows.append({**row, **dict(zip(DIFF_COLUMNS, d))})
    out = pd.DataFrame(rows, columns=BY_ORIGIN_COLUMNS)
    # the irregular share of baseline applies to both indicators of an origin
    share = out[out["indicator"] == "irregular_departures"].groupby("origin")["baseline_share_pct"].first()
    out["baseline_share_pct"] = out["origin"].map(share)
    return out


# --- progress ---------------------------------------------------------------------------


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
