"""Validation: published behaviour the calibration did not fit (issue 5; ``gcm-sim validate``).

Each check is a small experiment with its own figure and a pass/fail against a
tolerance stated before running it (and not tuned afterwards):

- ``hump``: the migration hump. One origin's earnings (and GNI) are scaled over a
  grid with everything else held fixed; emigration per 1,000 people must rise then
  fall, with the peak of a quadratic fit in log GNI, and its 95% interval over
  replicates, between USD 5,000 and 12,000 (Clemens 2020; Clemens 2014).
- ``remittance_elasticity``: every corridor's remittance cost cut and raised by 5%
  (relative); the arc elasticity of formal remittances sent must lie in
  [-2.5, -1.0] (published about -1.6; Ahmed, Mughal & Martinez-Zarzoso 2021).
- ``family_vs_skilled``: closing family reunification must move more people into
  irregular channels (smuggled departures plus overstays) than closing the skilled
  labour routes (Simon et al. 2018).
- ``mexico_crop_shock``: a 10% fall in agricultural income of Mexico's farm
  households for five years (reaching rural non-farm incomes through
  ``rural_nonfarm_linkage``); the semi-elasticity of the five-year emigration rate per
  person aged 18 and over at home (Feng et al.'s denominator is people 15-65) to log
  income must lie in [-0.5, -0.05] with its 95% interval below 0 (Feng, Krueger &
  Oppenheimer 2010: -0.2).
- ``shock_size``: a 2% and a 10% income shock on Mexico's exposed households give
  semi-elasticities within a factor of 2 of each other: the 95% interval of their ratio
  inside [0.5, 2] (issue 13).
- ``syrians_in_turkey``: a 120-month baseline (its own horizon, whatever run.months);
  Syrians in Turkey (all statuses: temporary protection and other regular status,
  pending claims, no status) at the end of every year must stay within a factor of 1.5
  of the 3.1M under temporary protection in 2024, held constant ([TUR-TP]); the
  statistic is each replicate's worst year, as a factor max(s/3.1M, 3.1M/s).
- ``steady_baseline``: every year of a ten-year baseline keeps Central Mediterranean
  arrivals in 70,000-290,000 and deaths in 3,000-9,000, and world irregular
  departures have no trend (|log-slope| <= 2%/year without income growth, 4% with).
- ``worse_route``: adding a leg worse on every count changes West African irregular
  departures by less than 5%.
- ``remittances_by_origin``: formal remittances received per origin over the run's last
  12 months against the World Bank's personal remittances received times the share of
  the origin's emigrants (UN DESA 2020) living on the corridors the world models; every
  scored origin within a factor of 1.5 (``gcm_sim/data/remittances_received.csv``).
- ``enforcement_effort``: interception effort x2.5 on every leg (paired with the baseline)
  must raise interceptions and the death rate per crossing (deaths per 1,000 attempted leg
  crossings) and lower irregular departures by at most half: the 95% intervals of the first
  two changes above 0, that of the change in departures inside [-50%, 0%). The US build-up
  (Border Patrol budget +600% 1993-2006, agents x3) raised apprehensions and tripled the
  death rate per crossing (Massey 2005) without a comparable fall in eventual entry (Massey,
  Durand & Pren 2016); Gathmann 2008 finds that enforcement more than tripling cut illegal
  migration by about 10%.
- ``information_campaign``: the ``information_campaigns`` scenario (paired with the
  baseline) moves irregular departures by less than 15% either way (95% interval inside
  [-15%, +15%]): field experiments find small effects of information on irregular
  migration (Tjaden & Dunsch 2021, Senegal: lower intentions three months on, no change in
  factual knowledge; Bah, Batista, Gubert & McKenzie 2023, The Gambia: no detectable effect
  on irregular migration; Bah & Batista 2018: correcting death-risk beliefs raises
  willingness to migrate by 2.3 points, correcting legal-status beliefs lowers it by 2.9).

All arms of a check share replicate seeds (common random numbers); intervals are
95% t-intervals over replicates of the per-replicate statistic. Worlds with one
thing changed are written to a temporary folder and loaded like any user world.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from gcm_sim.edges.outputs import atomic_write
from gcm_sim.policy import ConfigError

# the package's modules, one per family of checks; the names tests and tools use are re-exported
from .baseline import (check_steady_baseline, check_syrians_in_turkey, check_worse_route, log_slope_pct,  # noqa: F401
                       worst_year_factor)
from .common import (CLI_DEFAULTS, ENFORCE_DEPARTURES_BAND, ENFORCE_MULTIPLIER, INFO_MAX_PCT,  # noqa: F401
                     INFO_SCENARIO, REMIT_FACTOR, REMIT_STEP, REMIT_YEAR_MONTHS, CheckResult, _oversample, _pct)
from .published import (arc_elasticity, check_family_vs_skilled, check_hump, check_mexico_crop_shock,  # noqa: F401
                        check_remittance_elasticity, check_shock_size, hump_peak, rises_then_falls,
                        semi_elasticity, shock_ratio)
from .remittances import check_remittances_by_origin, off_by, remittance_targets, within_factor  # noqa: F401
from .report import _fmt, markdown
from .responses import check_enforcement_effort, check_information_campaign


CHECKS: dict[str, Callable] = {
    "hump": check_hump,
    "remittance_elasticity": check_remittance_elasticity,
    "family_vs_skilled": check_family_vs_skilled,
    "mexico_crop_shock": check_mexico_crop_shock,
    "syrians_in_turkey": check_syrians_in_turkey,
    "steady_baseline": check_steady_baseline,
    "worse_route": check_worse_route,
    "remittances_by_origin": check_remittances_by_origin,
    "shock_size": check_shock_size,
    "enforcement_effort": check_enforcement_effort,
    "information_campaign": check_information_campaign,
}


def main(items: Sequence[str], run_dir: str | None, resolve_run_dir, echo=print) -> int:
    """``gcm-sim validate [checks=a,b] [config overrides]``."""
    import sys

    from gcm_sim.config import load_config
    from gcm_sim.world import load_world

    checks, overrides = list(CHECKS), []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(item, None, "write KEY=VALUE; validate takes checks=a,b and config overrides")
        if key == "checks":
            checks = [c for c in value.split(",") if c]
            bad = [c for c in checks if c not in CHECKS]
            if bad or not checks:
                raise ConfigError("checks", value, f"known checks: {', '.join(CHECKS)}")
        else:
            overrides.append(item)
    cfg = load_config("baseline", [*CLI_DEFAULTS, *overrides])
    if cfg.world:
        raise ConfigError("world", cfg.world, "validation edits copies of the embedded world; world=DIR is not supported")
    if cfg.run.replicates < 2:
        raise ConfigError("run.replicates", cfg.run.replicates, ">= 2 (intervals need replicates)")
    if "remittances_by_origin" in checks and cfg.run.months < REMIT_YEAR_MONTHS:
        raise ConfigError("run.months", cfg.run.months, f">= {REMIT_YEAR_MONTHS} for remittances_by_origin "
                                                        "(a year of remittances)")
    world = load_world()
    out = Path(resolve_run_dir(run_dir or str(Path("outputs") / "validation" /
                                              _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))))
    out.mkdir(parents=True, exist_ok=True)
    echo(f"gcm-sim: validation checks {', '.join(checks)}; {cfg.run.replicates} replicates x "
         f"{cfg.run.households:,} households; results will go to {out}", flush=True)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    results = [CHECKS[c](cfg, world, out, say) for c in checks]
    meta = {"command": ("gcm-sim validate " + " ".join(items)).strip(),
            "date": _dt.datetime.now().isoformat(timespec="seconds"), "run_dir": str(out),
            "households": cfg.run.households, "replicates": cfg.run.replicates, "seed": cfg.run.seed,
            "months": cfg.run.months, "overrides": " ".join(o for o in overrides)}
    atomic_write(out / "validation.md", lambda f: f.write(markdown(results, meta)))
    table = pd.DataFrame([{"check": r.name, "published": r.published, "simulated": r.simulated, "ci_low": r.ci_low,
                           "ci_high": r.ci_high, "tolerance": r.tolerance, "passed": r.passed, "source": r.source}
                          for r in results])
    atomic_write(out / "validation.csv", lambda f: table.to_csv(f, index=False))
    for r in results:
        echo(f"{'PASS' if r.passed else 'FAIL'}  {r.name}: simulated {_fmt(r.simulated)} "
             f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]; tolerance {r.tolerance}")
    echo(f"gcm-sim: results in {out} (validation.md, validation.csv, figures/)")
    return 0
