"""Benchmarks: speed, memory and scaling of the engines, measured in one run.

``gcm-sim bench`` runs each measurement in a fresh process (so peak memory is its
own) and reports household-months per second, start-up, stepping and output-writing
time separately, the floor kernel (the same per-month household arithmetic with no
bookkeeping), the fast/reference ratio and the speed-up of replicates on several
processes. Machines here are shared and noisy: compare ratios within one run.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Measurement:
    kind: str              # fast | reference | floor | replicates
    households: int
    months: int
    startup_s: float
    step_s: float
    output_s: float
    peak_rss_mb: float
    household_months_per_s: float
    bytes_per_household: float = float("nan")
    bytes_per_migrant: float = float("nan")
    migrants: int = 0
    note: str = ""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _engine(engine: str, households: int, months: int, seed: int) -> Measurement:
    from ..model import MigrationModel

    t0 = time.perf_counter()
    m = MigrationModel(rng=seed, households=households, engine=engine)
    t1 = time.perf_counter()
    for _ in range(months):
        m.step()
    t2 = time.perf_counter()
    ts = m.timeseries()
    import io

    ts.to_parquet(io.BytesIO())
    t3 = time.perf_counter()
    hh = m.households
    hh_bytes = sum(v.nbytes for v in vars(hh).values() if isinstance(v, np.ndarray))
    return Measurement(engine, households, months, t1 - t0, t2 - t1, t3 - t2, _peak_rss_mb(),
                       households * months / (t2 - t1), hh_bytes / hh.n,
                       m.migrants.nbytes() / max(m.migrants._cap, 1), m.migrants.n)


def floor_kernel(households: int, months: int, seed: int, n_options: int = 25,
                 n_countries: int = 28) -> Measurement:
    """The household arithmetic of the fast engine's month with no bookkeeping: income with
    trend, shock and programme; saving and debt repayment; the consideration draw; utilities
    with ties and a nested-logit choice for those who consider; people at home by country.
    No options refresh, quotas, migrants, institutions or measures. It uses the engine's
    data layout (contiguous country blocks, column-major members, float32 money) and its
    sparse consideration draw, so the ratio measures bookkeeping, not layout."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    n = households
    country = np.sort(rng.integers(0, 18, n)).astype(np.int16)  # contiguous blocks, as the engine keeps them
    block_country, block_start = np.unique(country, return_index=True)
    blocks = list(zip(block_country.tolist(), block_start.tolist(), np.append(block_start[1:], n).tolist()))
    base = rng.lognormal(5, 0.6, n).astype(np.float32)
    income = base.copy()
    assets = (4 * base).astype(np.float32)
    debt = np.zeros(n, np.float32)
    remit = np.zeros(n, np.float32)
    shock = np.zeros(n, np.float32)
    shocked = np.flatnonzero(rng.random(n) < 0.01)
    shock[shocked] = 0.3
    programme = np.flatnonzero(rng.random(n) < 0.01)
    members = np.asfortranarray(rng.integers(0, 3, (n, 5)), dtype=np.int8)
    weight = np.ones(n, np.float32)
    abroad = np.zeros((n, n_countries), np.int8)
    from ..world import load_world

    hazard = load_world().behaviour["consider_rate"]  # the default world's rate, as the engine uses
    trend = np.ones(n_countries, np.float32)
    asc = rng.normal(-4, 1, n_options)
    cost = rng.uniform(100, 5000, n_options)
    wage = rng.uniform(200, 2000, n_options)
    dest = rng.integers(0, n_countries, n_options)
    t1 = time.perf_counter()
    for month in range(months):
        trend *= np.float32(1.002)
        for c, lo, hi in blocks:
            np.multiply(base[lo:hi], trend[c], out=income[lo:hi])
        income[shocked] *= 1 - shock[shocked]
        income[programme] += np.float32(50.0)
        saved = income + remit
        saved *= np.float32(0.08)
        repay = np.minimum(debt, saved)
        debt -= repay
        saved -= repay
        assets += saved
        remit[:] = 0
        idx = np.concatenate([np.sort(lo + rng.choice(hi - lo, rng.binomial(hi - lo, hazard), replace=False))
                              for c, lo, hi in blocks])
        ties = abroad[idx][:, dest].astype(np.float64)
        earn = income[idx] / np.maximum(members[idx, :4].sum(axis=1, dtype=np.int16), 1)
        util = (asc + np.log(wage)[None, :] - np.log(earn)[:, None] + 0.6 * np.log1p(ties)
                - 0.5 * cost[None, :] / (12 * income[idx, None]))
        feasible = cost[None, :] <= assets[idx, None] + 600 * np.log1p(ties)
        v = np.where(feasible, util / 0.6, -np.inf)
        top = np.maximum(v.max(axis=1, keepdims=True), -1e300)
        e = np.where(feasible, np.exp(v - top), 0.0)
        tot = e.sum(axis=1)
        p_move = 1 / (1 + np.exp(np.clip(-0.6 * (np.log(np.maximum(tot, 1e-300)) + top[:, 0]), -700, 700)))
        draw = rng.random(len(idx))
        move = draw < p_move
        pick = (np.cumsum(e / np.maximum(tot, 1e-300)[:, None], axis=1) < (draw / np.maximum(p_move, 1e-300))[:, None]).sum(axis=1)
        go = idx[move & (pick < n_options)]
        assets[go] *= 0.5
        np.add.reduceat(members.sum(axis=1, dtype=np.int16) * weight, block_start, dtype=np.float64)
    t2 = time.perf_counter()
    return Measurement("floor", households, months, t1 - t0, t2 - t1, 0.0, _peak_rss_mb(),
                       households * months / (t2 - t1))


def _replicates(workers: int, households: int, months: int, replicates: int) -> Measurement:
    from ..config import load_config
    from .experiment import run

    cfg = load_config(overrides=[f"run.households={households}", f"run.months={months}",
                                 f"run.replicates={replicates}", f"run.workers={workers}"])
    t0 = time.perf_counter()
    run(cfg)
    t1 = time.perf_counter()
    return Measurement("replicates", households, months, 0.0, t1 - t0, 0.0, _peak_rss_mb(),
                       households * months * replicates / (t1 - t0), note=f"workers={workers}")


def _child(fn, args, queue):
    queue.put(asdict(fn(*args)))


def isolated(fn, *args) -> Measurement:
    """Run one measurement in a fresh process, so its peak memory is its own."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    out = q.get()
    p.join()
    return Measurement(**out)


def hardware_ceiling(households: int, months: int, replicates: int) -> Measurement:
    """Wall time of the replicate workload split over two independent serial processes
    started together: no pool, no transfer of results. What two processes can gain on this
    machine whatever the parallel machinery (cores may share caches and memory bandwidth)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    halves = (replicates - replicates // 2, replicates // 2)
    procs = [ctx.Process(target=_child, args=(_replicates, (1, households, months, r), q)) for r in halves if r]
    for p in procs:
        p.start()
    parts = [Measurement(**q.get()) for _ in procs]
    for p in procs:
        p.join()
    # each part times its own run (imports excluded); both ran at the same time
    wall = max(p.step_s for p in parts)
    return Measurement("replicates", households, months, 0.0, wall, 0.0, max(p.peak_rss_mb for p in parts),
                       households * months * replicates / wall, note="ceiling")


def run_all(sizes=(10_000, 100_000, 1_000_000), months: int = 120, reference_sizes=(10_000,),
            replicate_check=(20_000, 120, 4), seed: int = 1, progress=print) -> list[Measurement]:
    results = []
    for n in sizes:
        for kind, fn, args in (("fast", _engine, ("fast", n, months, seed)),
                               ("floor", floor_kernel, (n, months, seed))):
            r = isolated(fn, *args)
            progress(f"{kind:>10} {n:>9,} households: {r.household_months_per_s:,.0f} household-months/s")
            results.append(r)
    for n in reference_sizes:
        r = isolated(_engine, "reference", n, months, seed)
        progress(f"{'reference':>10} {n:>9,} households: {r.household_months_per_s:,.0f} household-months/s")
        results.append(r)
    if replicate_check:
        h, mo, reps = replicate_check
        for workers in (1, 2):
            r = isolated(_replicates, workers, h, mo, reps)
            progress(f"{'replicates':>10} workers={workers}: {r.step_s:.1f} s")
            results.append(r)
        r = hardware_ceiling(h, mo, reps)
        progress(f"{'replicates':>10} two independent processes at once: {r.step_s:.1f} s")
        results.append(r)
    return results


def summarise(results: list[Measurement]) -> dict[str, float]:
    """Headline figures: marginal throughput, ratio to floor and to reference, slope, speed-up."""
    by = {(r.kind, r.households): r for r in results}
    fast = sorted((r for r in results if r.kind == "fast"), key=lambda r: r.households)
    out: dict[str, float] = {}
    if len(fast) >= 2:
        a, b = fast[-2], fast[-1]
        out["marginal_household_months_per_s"] = (b.households - a.households) * b.months / (b.step_s - a.step_s)
        out["loglog_slope"] = float(np.log(b.step_s / a.step_s) / np.log(b.households / a.households))
        fa, fb = by.get(("floor", a.households)), by.get(("floor", b.households))
        if fa and fb:
            floor_marginal = (b.households - a.households) * b.months / (fb.step_s - fa.step_s)
            out["ratio_to_floor"] = floor_marginal / out["marginal_household_months_per_s"]
        out["peak_rss_mb_largest"] = b.peak_rss_mb
    for r in results:
        if r.kind == "reference" and ("fast", r.households) in by:
            out[f"fast_over_reference_{r.households}"] = (by[("fast", r.households)].household_months_per_s
                                                          / r.household_months_per_s)
    reps = {r.note: r for r in results if r.kind == "replicates"}
    if "workers=1" in reps and "workers=2" in reps:
        out["replicate_speedup_2_workers"] = reps["workers=1"].step_s / reps["workers=2"].step_s
    if "workers=1" in reps and "ceiling" in reps:
        out["replicate_speedup_ceiling"] = reps["workers=1"].step_s / reps["ceiling"].step_s
    return out


def plot(results: list[Measurement], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for kind, style in (("fast", "o-"), ("floor", "s--"), ("reference", "^:")):
        rs = sorted((r for r in results if r.kind == kind), key=lambda r: r.households)
        if rs:
            ax.loglog([r.households for r in rs], [r.step_s for r in rs], style, label=kind)
    ax.set_xlabel("households")
    ax.set_ylabel(f"seconds for {results[0].months} months (stepping only)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("gcm-sim: time against households")
    from ..edges.report import save_figure

    save_figure(fig, path, dpi=120)


# --- common random numbers ------------------------------------------------------------------

CRN_SCENARIOS = ("visa_liberalisation", "regular_pathways", "remittance_sdg", "climate_shock", "enforcement_surge")
CRN_INDICATORS = ("irregular_departures", "regular_departures", "deaths", "remittances_received_usd", "returns")
CRN_COLUMNS = ["scenario", "indicator", "effect_pct", "var_paired", "var_unpaired", "factor", "factor_ci_low",
               "factor_ci_high", "counted"]
INDEPENDENT_SEED_OFFSET = 1_000_003  # the independent arms' run.seed: seed + this (shares no replicate seed)
MIN_EFFECT_PCT = 1.0  # cells whose effect is smaller than this % of baseline are not counted


def crn(households: int = 20_000, months: int = 36, replicates: int = 32, seed: int = 0, workers: int = 2,
        progress=False, world=None, n_resamples: int = 2000) -> pd.DataFrame:
    """How much common random numbers reduce the variance of a scenario's effect.

    Runs baseline and each of :data:`CRN_SCENARIOS` on the same replicate seeds, as
    ``experiment.compare`` does (same ``experiment.arm_configs``, the same ``run_jobs``
    pool), and each scenario again on independent seeds (``run.seed`` + 1,000,003). Per
    scenario and indicator of :data:`CRN_INDICATORS`, with ``b_r`` baseline's replicate r:

    - paired difference ``p_r - b_r`` (scenario on the same seeds), unpaired ``u_r - b_r``
      (scenario on independent seeds);
    - ``factor`` = Var(unpaired) / Var(paired) (sample variances over replicates): how many
      times more replicates an unpaired comparison would need for the same precision;
    - its 95% percentile interval from 2,000 seeded resamples of replicate indices (one
      index set for both differences, which share baseline's replicate r; resamples where
      both variances are 0 are left out);
    - ``effect_pct`` = 100 x mean paired difference / baseline mean; ``counted`` when
      \\|effect_pct\\| >= 1 (the target counts only cells where the policy moves the indicator).

    Returns the table (:data:`CRN_COLUMNS`), one row per cell.
    """
    import dataclasses

    import pandas as pd  # not at module level: the isolated measurements' peak memory must not include it

    from ..config import load_config
    from .experiment import BASELINE, _progress, _world, arm_configs, run_jobs

    cfg = load_config(BASELINE, [f"run.households={households}", f"run.months={months}",
                                 f"run.replicates={replicates}", f"run.seed={seed}", f"run.workers={workers}"],
                      world=world)
    world = _world(cfg, world)
    paired = arm_configs(cfg, CRN_SCENARIOS, world=world)
    indep_run = dataclasses.replace(cfg.run, seed=seed + INDEPENDENT_SEED_OFFSET)
    arms = [("paired", name, c) for name, c in paired.items()]
    arms += [("independent", name, c.replace(run=indep_run)) for name, c in paired.items() if name != BASELINE]
    jobs = [(c, r) for _, _, c in arms for r in range(replicates)]
    with _progress(progress, len(jobs) * months, "crn") as tick:
        parts = run_jobs(jobs, workers, world, tick, timeseries=False)
    values = {}  # (kind, scenario) -> {indicator: [R]}
    for i, (kind, name, _) in enumerate(arms):
        inds = [parts[i * replicates + r][3] for r in range(replicates)]
        values[(kind, name)] = {k: np.array([float(d.get(k, np.nan)) for d in inds]) for k in CRN_INDICATORS}
    rows = []
    for name in CRN_SCENARIOS:
        for k in CRN_INDICATORS:
            b, p, u = values[("paired", BASELINE)][k], values[("paired", name)][k], values[("independent", name)][k]
            rows.append({"scenario": name, "indicator": k,
                         **variance_reduction(p - b, u - b, b, np.random.default_rng(seed), n_resamples)})
    return pd.DataFrame(rows, columns=CRN_COLUMNS)


def variance_reduction(paired: np.ndarray, unpaired: np.ndarray, base: np.ndarray, rng,
                       n_resamples: int = 2000) -> dict:
    """One cell of :func:`crn`: effect, both variances, their ratio and its bootstrap interval."""
    ok = np.isfinite(paired) & np.isfinite(unpaired) & np.isfinite(base)
    dp, du, b = paired[ok], unpaired[ok], base[ok]
    n = len(dp)
    nan = float("nan")
    out = {"effect_pct": nan, "var_paired": nan, "var_unpaired": nan, "factor": nan, "factor_ci_low": nan,
           "factor_ci_high": nan, "counted": False}
    if n < 2:
        return out
    b_mean = float(b.mean())
    out["effect_pct"] = 100.0 * float(dp.mean()) / abs(b_mean) if b_mean != 0 else nan
    vp, vu = float(dp.var(ddof=1)), float(du.var(ddof=1))
    out.update(var_paired=vp, var_unpaired=vu, factor=_ratio(np.array(vu), np.array(vp)).item())
    idx = rng.integers(0, n, (n_resamples, n))
    ratios = _ratio(du[idx].var(axis=1, ddof=1), dp[idx].var(axis=1, ddof=1))
    ratios = ratios[~np.isnan(ratios)]
    if len(ratios):
        lo, hi = np.percentile(ratios, [2.5, 97.5], method="inverted_cdf")  # no interpolation: inf stays inf
        out.update(factor_ci_low=float(lo), factor_ci_high=float(hi))
    out["counted"] = bool(np.isfinite(out["effect_pct"]) and abs(out["effect_pct"]) >= MIN_EFFECT_PCT)
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den; inf where only den is 0, NaN where both are."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, np.nan))


def crn_summary(table: pd.DataFrame) -> dict[str, float]:
    """Median and minimum factor over the counted cells, and how many there are."""
    f = table.loc[table["counted"].astype(bool), "factor"].to_numpy(float)
    f = f[~np.isnan(f)]
    return {"median_factor": float(np.median(f)) if len(f) else float("nan"),
            "min_factor": float(f.min()) if len(f) else float("nan"), "counted_cells": int(len(f)),
            "cells": int(len(table))}


def crn_markdown(table: pd.DataFrame, summary: dict, households: int, months: int, replicates: int,
                 seed: int) -> str:
    """crn.md: the run, the table, the summary line."""
    def num(x, fmt="{:.3g}"):
        return "-" if not np.isfinite(x) else ("inf" if np.isinf(x) else fmt.format(x))

    lines = ["# Common random numbers: variance reduction of scenario effects\n",
             f"{replicates} replicates x {months} months, {households:,} households, seed {seed} (independent "
             f"arms: seed {seed + INDEPENDENT_SEED_OFFSET}). factor = Var(scenario on independent seeds - "
             f"baseline) / Var(scenario on the same seeds - baseline), over replicates; 95% interval from "
             f"resampled replicates. Counted: cells whose effect is at least {MIN_EFFECT_PCT:g}% of baseline.\n",
             "| scenario | indicator | effect % | var paired | var unpaired | factor | 95% CI | counted |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.scenario} | {r.indicator} | {num(r.effect_pct, '{:+.1f}')} | {num(r.var_paired)} | "
                     f"{num(r.var_unpaired)} | {num(r.factor)} | {num(r.factor_ci_low)} .. "
                     f"{num(r.factor_ci_high)} | {'yes' if r.counted else 'no'} |")
    lines += ["", crn_summary_line(summary), ""]
    return "\n".join(lines)


def crn_summary_line(summary: dict) -> str:
    return (f"median variance reduction factor {summary['median_factor']:.3g} over {summary['counted_cells']} "
            f"of {summary['cells']} cells with |effect| >= {MIN_EFFECT_PCT:g}% of baseline "
            f"(minimum {summary['min_factor']:.3g})")


def design(households: int = 50_000, months: int = 120, replicates: int = 4, seed: int = 0, workers: int = 2,
           progress=False, world=None):
    """The world's measured starting tables, from baseline runs: ``(sampling, transit)``.

    ``sampling``: international departures (regular and irregular) per real household and
    year, by origin (the sample design's rates; the world's ``sampling.csv``).
    ``transit``: people on irregular routes per real household of their origin, by route,
    leg and moving or waiting, with the cash they carry, averaged over the second half of
    the run, when the stock on the road no longer depends on the empty start (the world's
    ``transit.csv``, seeded at month 1 by :func:`gcm_sim.population.seed_transit`).
    """
    import pandas as pd

    from ..config import load_config
    from ..policy import to_dict
    from .experiment import _progress, _world, process_pool

    cfg = load_config("baseline", [f"run.households={households}", f"run.months={months}",
                                   f"run.replicates={replicates}", f"run.seed={seed}"])
    world = _world(cfg, world)
    jobs = [(to_dict(cfg), r, world) for r in range(replicates)]
    parts = []
    with _progress(progress, replicates * months, "design") as tick:
        if workers <= 1 or replicates <= 1:
            results = map(_design_replicate, jobs)
            for part in results:
                parts.append(part)
                tick(months)
        else:
            with process_pool(min(workers, replicates)) as pool:
                for part in pool.map(_design_replicate, jobs):
                    parts.append(part)
                    tick(months)
    t = world.countries
    origins = world.with_role("origin")
    real = (t.loc[origins, "population"].astype(float) / t.loc[origins, "household_size"].astype(float))
    departures = sum(d for d, _ in parts) / replicates / (months / 12)
    sampling = pd.DataFrame({"origin": origins,
                             "movers_per_household_year": (departures.reindex(origins).fillna(0.0) / real).to_numpy()})
    road = pd.concat([r for _, r in parts]).groupby(["origin", "route", "leg", "moving"], as_index=False).sum()
    snapshots = replicates * (months - months // 2)
    road["people_per_household"] = road["people"] / snapshots / road["origin"].map(real)
    road["cash_usd"] = road["cash"] / road["people"].where(road["people"] > 0)
    transit = road.loc[road["people"] > 0, ["origin", "route", "leg", "moving", "people_per_household", "cash_usd"]]
    transit["moving"] = transit["moving"].map({True: "true", False: "false"})
    return sampling, transit.reset_index(drop=True)


def _design_replicate(job):
    """One baseline replicate: departures by origin over the run, and people on the road (weight
    and cash by origin, route, leg, moving) summed over the month ends of its second half."""
    import pandas as pd

    from ..categories import TRANSIT
    from ..model import MigrationModel
    from ..policy import build_config
    from .experiment import replicate_seeds

    raw, r, world = job
    cfg = build_config(raw, world.iso3, world.tags, world.behaviour)
    model = MigrationModel(cfg, rng=replicate_seeds(cfg)[r], replicate=r, world=world)
    paths = [world.route_path(x) for x in world.routes]
    frames = []
    for month in range(1, cfg.run.months + 1):
        model.step()
        if month <= cfg.run.months // 2:
            continue
        m = model.migrants
        on = np.flatnonzero(m.view("state") == TRANSIT)
        frames.append(pd.DataFrame({"origin": np.asarray(world.codes)[m.origin[on]], "route": m.route[on],
                                    "leg": m.leg[on], "moving": m.moving[on], "people": m.weight[on],
                                    "cash": m.weight[on] * m.cash_usd[on]}))
    road = pd.concat(frames).groupby(["origin", "route", "leg", "moving"], as_index=False).sum()
    road["route"] = [paths[i] for i in road["route"]]
    ts = model.timeseries()
    dep = ts[ts["measure"].isin(["departures_regular", "departures_irregular"])]
    return dep.groupby("origin", observed=True)["value"].sum(), road
