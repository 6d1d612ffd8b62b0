"""Bayesian calibration by ABC-SMC (pyabc), and the posterior that runs draw from (issue 14).

Why: the behavioural parameters of ``data/behaviour.yaml`` are not pinned by sources, so a
result that treats them as known understates its uncertainty. This module fits a posterior
over the parameters no source pins down to the published targets (``data/targets.yaml``,
the same statistics and loss as :mod:`.calibration`) and lets every run, comparison and
sweep draw from it.

- :func:`calibrate_abc`: approximate Bayesian computation by sequential Monte Carlo
  (Toni et al. 2009; Del Moral, Doucet & Jasra 2012) with pyabc (Schaelte et al. 2022,
  JOSS 7(74)): uniform priors on each parameter's range (log-uniform where the parameter is
  on a log scale), a particle's distance is the calibration loss (the weighted sum of
  squared log distances to each target's published range; zero inside every range), the
  tolerance falls generation by generation as pyabc's median epsilon schedule sets it.
  Every particle runs ``run.replicates`` replicates on the same seeds and is scored by their
  mean statistics. Particles run in this process, on ``workers`` processes or on a Dask
  cluster (``address``), with random numbers seeded from ``run.seed`` (:mod:`.abc_sampling`),
  so a calibration is reproducible wherever it runs. Each generation is stored in an SQLite history (``abc.db``)
  when it ends, so a killed calibration resumes from its last full generation.
- :func:`predictive`: posterior predictive runs (one replicate per posterior draw) and the
  coverage of each target's published value by the predictive interval.
- The posterior as data (``posterior.csv``) and the draws runs take from it are in
  :mod:`.parameters`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gcm_sim.policy import ConfigError

from .calibration import (Parameter, Target, evaluate, loss, relative_difference_by_system, systems_markdown,
                          table)
from .parameters import POSTERIOR_FILE, WEIGHT, Posterior, effective_sample_size, with_behaviour

DB_NAME = "abc.db"


# --- ABC-SMC ----------------------------------------------------------------------------------


@dataclass
class AbcResult:
    posterior: Posterior
    generations: pd.DataFrame  # t, epsilon, particles, samples, acceptance
    parameters: list[Parameter]
    db: Path
    table: pd.DataFrame       # targets at the posterior median (final replicates)
    predictive: pd.DataFrame  # per draw statistics of the posterior predictive runs


class _Simulator:
    """pyabc's model: unit-box parameters -> mean statistics over the replicates (picklable)."""

    def __init__(self, cfg_dict: dict, world, targets: Sequence[Target], params: Sequence[Parameter]):
        self.cfg_dict, self.world, self.targets, self.params = cfg_dict, world, list(targets), list(params)

    def __call__(self, particle: dict) -> dict:
        from gcm_sim.policy import build_config

        w = self.world
        cfg = build_config(self.cfg_dict, w.iso3, w.tags, w.behaviour)
        values = {p.name: p.from_unit(particle[p.name]) for p in self.params}
        stats = evaluate(with_behaviour(cfg, w, values), w, self.targets).mean()
        return {k: float(v) for k, v in stats.items()}


class _Distance:
    def __init__(self, targets: Sequence[Target]):
        self.targets = list(targets)

    def __call__(self, x: dict, x0: dict) -> float:
        return loss(self.targets, x)


def calibrate_abc(cfg, world, targets: Sequence[Target], params: Sequence[Parameter], population: int,
                  generations: int, run_dir: Path, workers: int = 1, address: str | None = None,
                  min_epsilon: float = 0.0, say: Callable[[str], None] = lambda msg: None):
    """Run (or resume) ABC-SMC into ``run_dir/abc.db``; returns the pyabc History.

    Resumes when ``abc.db`` holds a run: the generations already done count towards
    ``generations``. Stops early when the tolerance reaches ``min_epsilon`` (0: every target
    inside its range). Reproducible: the same config, ``run.seed`` and options give the same
    particles on one process, on ``workers`` processes or on Dask (:class:`SeededSampler`),
    and a resumed run continues as the uninterrupted one would.
    """
    import pyabc

    from gcm_sim.policy import to_dict

    from .abc_sampling import seed_main_process

    prior = pyabc.Distribution(**{p.name: pyabc.RV("uniform", 0.0, 1.0) for p in params})
    model = _Simulator(to_dict(cfg), world, targets, params)
    sampler, close = _sampler(workers, address, cfg.run.seed)
    seed_main_process(cfg.run.seed)  # what pyabc draws here, outside the tasks
    try:
        abc = pyabc.ABCSMC(model, prior, _Distance(targets), population_size=population, sampler=sampler)
        db = run_dir / DB_NAME
        url = "sqlite:///" + str(db.resolve())
        done = 0
        if db.is_file() and db.stat().st_size > 0:
            history = pyabc.History(url)
            done = history.n_populations if history.id is not None else 0
        if done:
            abc.load(url, 1)
            say(f"resuming {db}: {done} generation(s) done")
        else:
            abc.new(url, {})
        left = generations - done
        if left > 0:
            history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=left)
        else:
            history = pyabc.History(url)
    finally:
        if close is not None:
            close()
    return history


def _sampler(workers: int, address: str | None, seed: int):
    """A :class:`~.abc_sampling.SeededSampler` mapping its tasks in this process, over
    ``workers`` processes, or on the Dask cluster at ``address``; and what to call after (or None)."""
    from .abc_sampling import SeededSampler

    if address:
        from .executors import dask_client

        client, _ = dask_client(address, None, key="address")  # gcm-sim calibrate address=
        return SeededSampler(seed, lambda f, xs: client.gather(client.map(f, list(xs), pure=False))), client.close
    if workers > 1:
        from .experiment import process_pool, stop_pool

        pool = process_pool(workers)
        return SeededSampler(seed, pool.map), lambda: stop_pool(pool)
    return SeededSampler(seed), None


def history_tables(history, params: Sequence[Parameter]) -> tuple[Posterior, pd.DataFrame]:
    """The last generation as a :class:`Posterior` in natural units, and the generations table."""
    df, w = history.get_distribution(m=0, t=history.max_t)
    values = pd.DataFrame({p.name: [p.from_unit(u) for u in df[p.name]] for p in params})
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    gens = pd.DataFrame({"generation": pops["t"].to_numpy(int), "epsilon": pops["epsilon"].to_numpy(float),
                         "samples": pops["samples"].to_numpy(int),
                         "particles": [history.get_nr_particles_per_population().get(t, 0) for t in pops["t"]]})
    gens["acceptance"] = gens["particles"] / gens["samples"].where(gens["samples"] > 0)
    gens["ess"] = [effective_sample_size(history.get_distribution(m=0, t=int(t))[1]) for t in gens["generation"]]
    return Posterior(values, np.asarray(w, float) / float(np.sum(w)), str(history.db)), gens


# --- predictive checks -------------------------------------------------------------------------


def predictive(cfg, world, targets: Sequence[Target], post: Posterior, draws: int) -> pd.DataFrame:
    """One replicate per posterior draw (draw r on replicate seed r): the targets' statistics."""
    import dataclasses

    one = cfg.replace(run=dataclasses.replace(cfg.run, replicates=1))
    rows = []
    for r in range(draws):
        values = post.draw(cfg.run.seed, r)
        c = with_behaviour(one, world, values)
        c = c.replace(run=dataclasses.replace(c.run, seed=int(cfg.run.seed) + r))
        stats = evaluate(c, world, targets).iloc[0].to_dict()
        rows.append({"draw": r, **values, **stats})
    return pd.DataFrame(rows)


def coverage(targets: Sequence[Target], pred: pd.DataFrame, level: float = 0.9) -> pd.DataFrame:
    """Each target's predictive interval at ``level`` and whether it covers the published value
    (a range target: the interval overlaps the range)."""
    a = (1 - level) / 2
    rows = []
    for t in targets:
        x = pred[t.name].to_numpy(float)
        x = x[np.isfinite(x)]
        lo, hi = (np.quantile(x, [a, 1 - a]) if len(x) else (math.nan, math.nan))
        pub_lo, pub_hi = (t.value, t.value) if t.value is not None else (t.low, t.high)
        rows.append({"target": t.name, "published": t.published, "pred_low": lo, "pred_high": hi,
                     "covered": bool(len(x) and lo <= pub_hi and hi >= pub_lo)})
    return pd.DataFrame(rows)


def posterior_median_table(cfg, world, targets: Sequence[Target], post: Posterior) -> pd.DataFrame:
    """The targets table (calibration.table) at the weighted posterior median."""
    med = {r.parameter: r.median for r in post.summary().itertuples()}
    return table(targets, evaluate(with_behaviour(cfg, world, med), world, targets))


def distances(cfg, world, targets: Sequence[Target], tab: pd.DataFrame) -> dict[str, float]:
    """The calibration loss (the ABC distance) at the posterior median, from its targets table, and
    at the point values of the config's behaviour on the same size and seeds: a posterior whose
    median fits worse than the point values is not ready to replace them."""
    at_median = loss(targets, dict(zip(tab["target"], tab["simulated_mean"])))
    at_point = loss(targets, evaluate(cfg, world, targets).mean().to_dict())
    return {"median": at_median, "point": at_point}


def distance_sentence(d: dict[str, float]) -> str:
    verdict = ("the point values fit the targets better: this posterior is not ready to replace them"
               if d["point"] < d["median"] else "the posterior median fits the targets at least as well")
    return (f"Distance (calibration loss over the fitted targets) at the posterior median {d['median']:.3g}, "
            f"at the point values of behaviour.yaml {d['point']:.3g} (same size and seeds): {verdict}.")


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


# --- outputs and command line (gcm-sim calibrate method=abc) -------------------------------------

ABC_OPTIONS = ("method", "params", "targets", "population", "generations", "predictive", "address",
               "min_epsilon", "write")


def parse_options(items: Sequence[str]) -> tuple[dict, list[str]]:
    """Split ``gcm-sim calibrate method=abc ...`` arguments into ABC options and config overrides."""
    opts, rest = {}, []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(item, None, f"write KEY=VALUE; calibrate method=abc takes {', '.join(ABC_OPTIONS)} "
                                          "and config overrides")
        if key in ("maxfev", "final_replicates"):
            raise ConfigError(key, value, "an option of method=nelder-mead; method=abc (the default) takes "
                                          f"{', '.join(ABC_OPTIONS)}")
        (opts.__setitem__(key, value) if key in ABC_OPTIONS else rest.append(item))
    out = {"params": [s for s in opts.get("params", "").split(",") if s] or None,
           "targets": opts.get("targets") or None, "address": opts.get("address") or None}
    for key, default, low in (("population", 40, 4), ("generations", 4, 1), ("predictive", 20, 2)):
        v = opts.get(key, str(default))
        if not v.isdigit() or int(v) < low:
            raise ConfigError(key, v, f"a whole number >= {low}")
        out[key] = int(v)
    try:
        out["min_epsilon"] = float(opts.get("min_epsilon", "0"))
    except ValueError:
        raise ConfigError("min_epsilon", opts["min_epsilon"], "a number >= 0") from None
    if not math.isfinite(out["min_epsilon"]) or out["min_epsilon"] < 0:
        raise ConfigError("min_epsilon", opts["min_epsilon"], "a number >= 0")
    w = opts.get("write", "false").lower()
    if w not in ("true", "false"):
        raise ConfigError("write", opts.get("write"), "true or false")
    out["write"] = w == "true"
    return out, rest


def main(items: Sequence[str], run_dir: str | None, resolve_run_dir, echo=print) -> int:
    """``gcm-sim calibrate method=abc [population=40] [generations=4] [predictive=20] [params=a,b]
    [targets=FILE] [address=HOST:PORT] [min_epsilon=0] [write=true] [config overrides]``.
    Everything is validated before any run starts; a run directory holding ``abc.db`` resumes."""
    import datetime as _dt
    import sys
    from importlib import resources

    from .calibration import prepare

    opts, overrides = parse_options(items)
    targets, cfg, world, params = prepare(opts, overrides, "write=true ships the posterior with the embedded world")
    out = Path(resolve_run_dir(run_dir or str(Path("outputs") / "calibration" /
                                              _dt.datetime.now().strftime("abc_%Y-%m-%d_%H-%M-%S"))))
    out.mkdir(parents=True, exist_ok=True)
    echo(f"gcm-sim: ABC-SMC (pyabc) over {', '.join(p.name for p in params)} against {sum(t.fit for t in targets)} "
         f"fitted targets: {opts['population']} particles x up to {opts['generations']} generations, each "
         f"particle {cfg.run.replicates} replicates x {cfg.run.households:,} households x {cfg.run.months} months, "
         f"on {'Dask at ' + opts['address'] if opts['address'] else f'{cfg.run.workers} process(es)'}; "
         f"results will go to {out}" + (" (resuming abc.db)" if (out / DB_NAME).is_file() else ""), flush=True)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    fitted = [t for t in targets if t.fit]
    history = calibrate_abc(cfg, world, fitted, params, opts["population"], opts["generations"], out,
                            workers=cfg.run.workers, address=opts["address"], min_epsilon=opts["min_epsilon"],
                            say=say)
    post, gens = history_tables(history, params)
    say(f"posterior predictive: {opts['predictive']} draws x 1 replicate; targets at the posterior median")
    pred = predictive(cfg, world, targets, post, opts["predictive"])
    cov = coverage(targets, pred)
    tab = posterior_median_table(cfg, world, targets, post)
    say("distance at the point values, for comparison")
    dist = distances(cfg, world, targets, tab)
    write_outputs(out, cfg, post, gens, tab, pred, cov, params, "gcm-sim calibrate " + " ".join(items), dist)
    echo(post.summary().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    echo(f"targets inside their range at the posterior median: {int(tab['inside'].sum())} of {len(tab)}; "
         f"90% predictive intervals covering the published value: {int(cov['covered'].sum())} of {len(cov)}")
    echo(distance_sentence(dist))
    echo("averaged relative difference per system at the posterior median: "
         + ", ".join(f"{sy} {ard:.2f}" for sy, (_, ard) in relative_difference_by_system(tab).items()))
    if opts["write"]:
        dest = Path(str(resources.files("gcm_sim") / "data" / POSTERIOR_FILE))
        from gcm_sim.edges.outputs import atomic_write

        atomic_write(dest, lambda f: _posterior_frame(post).to_csv(f, index=False, float_format="%.6g"))
        echo(f"gcm-sim: posterior written to {dest} (run.parameters=posterior draws from it)")
    echo(f"gcm-sim: results in {out} (posterior.md, posterior.csv, generations.csv, predictive.csv, abc.db)")
    return 0


def _posterior_frame(post: Posterior) -> pd.DataFrame:
    return post.values.assign(**{WEIGHT: post.weights})


def write_outputs(out: Path, cfg, post: Posterior, gens: pd.DataFrame, tab: pd.DataFrame, pred: pd.DataFrame,
                  cov: pd.DataFrame, params: Sequence[Parameter], command: str,
                  dist: dict[str, float] | None = None) -> None:
    import datetime as _dt

    import yaml

    from gcm_sim.edges.outputs import atomic_write
    from gcm_sim.edges.report import save_figure
    from gcm_sim.policy import to_dict

    atomic_write(out / POSTERIOR_FILE, lambda f: _posterior_frame(post).to_csv(f, index=False, float_format="%.6g"))
    atomic_write(out / "generations.csv", lambda f: gens.to_csv(f, index=False))
    atomic_write(out / "predictive.csv", lambda f: pred.to_csv(f, index=False))
    atomic_write(out / "targets.csv", lambda f: tab.merge(cov, on=["target", "published"]).to_csv(f, index=False))
    atomic_write(out / "config.yaml", lambda f: f.write(yaml.safe_dump(to_dict(cfg), sort_keys=False)))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(params), figsize=(3 * len(params), 2.6), squeeze=False)
    for ax, p in zip(axes[0], params):
        ax.hist(post.values[p.name], weights=post.weights, bins=15, color="tab:blue", alpha=0.8)
        ax.set_xlim(p.low, p.high)
        if p.scale == "log":
            ax.set_xscale("log")
        ax.set_title(p.name, fontsize=8)
    fig_path = save_figure(fig, out / "figures" / "posterior.png")
    s = post.summary()
    f = lambda x: "-" if x is None or not np.isfinite(x) else f"{x:,.4g}"  # noqa: E731
    lines = ["# Posterior of the behavioural parameters (ABC-SMC, pyabc)", "",
             f"Produced by `{command.strip()}` on {_dt.datetime.now().isoformat(timespec='seconds')}: "
             f"{cfg.run.households:,} households x {cfg.run.months} months, {cfg.run.replicates} replicates per "
             f"particle on the seeds of run.seed={cfg.run.seed}; {len(post.weights)} particles in the last "
             "generation. Priors: uniform on each range (log-uniform on log scales). Distance: the calibration "
             "loss over the fitted targets (0 = every target inside its range).", "",
             f"![posterior](figures/{fig_path.name})", "", "## Parameters", "",
             "| parameter | prior range | posterior median | 90% interval |", "|---|---|---|---|"]
    for p, r in zip(params, s.itertuples()):
        lines.append(f"| `{p.name}` | {f(p.low)} - {f(p.high)} ({p.scale}) | {f(r.median)} | "
                     f"{f(r.low)} - {f(r.high)} |")
    lines += ["", "## Generations", "", "Effective sample size: Kish's (sum w)^2 / sum w^2 of the generation's "
              "importance weights, the number of equally weighted particles it is worth; far below the "
              "particles, the posterior rests on a few of them and its intervals are too narrow.", "",
              "| generation | epsilon | samples | particles | acceptance | effective sample size |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {g.generation} | {f(g.epsilon)} | {g.samples} | {g.particles} | {f(g.acceptance)} | "
              f"{f(getattr(g, 'ess', float('nan')))} |" for g in gens.itertuples()]
    if dist is not None:
        lines += ["", distance_sentence(dist)]
    merged = tab.merge(cov, on=["target", "published"])
    lines += ["", "## Targets", "",
              "At the posterior median (mean over the replicates, 95% interval) and the 90% posterior "
              f"predictive interval ({len(pred)} draws, one replicate each). Inside at the median: "
              f"{int(merged['inside'].sum())} of {len(merged)}; predictive intervals covering the published "
              f"value: {int(merged['covered'].sum())} of {len(merged)}.", "",
              "| target | published | at the median [95% CI] | inside | 90% predictive | covered | fitted |",
              "|---|---|---|---|---|---|---|"]
    for r in merged.itertuples():
        lines.append(f"| {r.target} | {r.published} | {f(r.simulated_mean)} [{f(r.ci_low)}, {f(r.ci_high)}] | "
                     f"{'yes' if r.inside else 'no'} | {f(r.pred_low)} - {f(r.pred_high)} | "
                     f"{'yes' if r.covered else 'no'} | {'yes' if r.fitted else 'no'} |")
    lines += ["", *systems_markdown(tab)]
    atomic_write(out / "posterior.md", lambda fh: fh.write("\n".join(lines) + "\n"))
