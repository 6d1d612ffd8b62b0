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
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from ..measures import total

from gcm_sim.policy import ConfigError
from gcm_sim.edges.outputs import atomic_write
from gcm_sim.edges.report import save_figure

CLI_DEFAULTS = ("run.households=10000", "run.months=24", "run.replicates=3")
HUMP_ORIGIN = "SEN"
HUMP_GRID = (1000, 2000, 3500, 5000, 7000, 10000, 14000, 20000, 30000)
HUMP_PEAK = (5000.0, 12000.0)
REMIT_STEP = 0.05
REMIT_BAND = (-2.5, -1.0)
SKILLED_ORIGINS = ("IND", "PAK", "BGD", "NPL", "PHL")
SKILLED_DESTINATIONS = ("USA", "ITA", "FRA", "DEU", "GRC")
CROP_LOSS_PCT = 10.0
CROP_MONTHS = 60
CROP_BAND = (-0.5, -0.05)
CROP_AGES = ("youth", "adult")  # people 18+ at home: Feng et al. divide by people aged 15-65
# sizes fixed before running (issue 13): the origin a check measures is oversampled (_oversample)
HUMP_SIZE = {"households": 20_000}
CROP_SIZE = {"households": 20_000}
SHOCK_SIZES_PCT = (2.0, 10.0)
SHOCK_RATIO_BAND = (0.5, 2.0)
SHOCK_SIZE = {"households": 20_000, "replicates": 5, "months": 36}
# steady baseline (issue 12): bands fixed before running
STEADY_SIZE = {"households": 100_000, "replicates": 8, "months": 120}  # at least this size (8: t-intervals narrow enough to decide a year)
CMED_BAND = (70_000.0, 290_000.0)    # calibration range 119,000-181,000 (targets.yaml) x 0.6 and x 1.6
DEATHS_BAND = (3_000.0, 9_000.0)     # IOM-MMP: 3,041-3,129 recorded in the Mediterranean in 2023 (evidence.csv)
SLOPE_BAND_PCT = {"trends": 4.0, "no income growth": 2.0}  # |log-slope| of world irregular departures, %/year
# a route worse on every count (issue 12): Niger -> Tunisia at USD 5,000, 3 months, interception 0.3, death 0.02
WORSE_LEG = {"from": "NER", "to": "TUN", "mode": "land", "travel_months": 3.0, "smuggling_fee_usd": 5000.0,
             "interception_prob": 0.3, "death_prob": 0.02, "intercepted_by": "to", "pushback": "false"}
WEST_AFRICA = ("SEN", "GIN", "MLI", "CIV", "NGA", "NER")
WORSE_ROUTE_MAX_PCT = 5.0
WORSE_SIZE = {"households": 100_000, "replicates": 8, "months": 36}  # at least this size
INTERNATIONAL = ("departures_regular", "departures_irregular")
# enforcement and information (issue 13): bands fixed before running
ENFORCE_MULTIPLIER = 2.5
ENFORCE_DEPARTURES_BAND = (-50.0, 0.0)  # % change in irregular departures: a fall of at most half
ENFORCE_SIZE = {"households": 100_000, "replicates": 8, "months": 36}  # at least this size
INFO_SCENARIO = "information_campaigns"
INFO_MAX_PCT = 15.0
INFO_SIZE = {"households": 100_000, "replicates": 8, "months": 36}
TP_MONTHS = 120
TP_STOCK = 3.1e6  # Syrians under temporary protection in Turkiye, 2024 [TUR-TP]
TP_FACTOR = 1.5
STOCK_MEASURES = ("stock_regular", "stock_irregular", "stock_asylum_pending")  # all statuses abroad
REMIT_FACTOR = 1.5      # remittances_by_origin: simulated / published within [1/1.5, 1.5] for every scored origin
REMIT_YEAR_MONTHS = 12  # ... over the run's last 12 months (run.months must be at least 12)


@dataclass
class CheckResult:
    name: str
    title: str
    published: str
    source: str
    tolerance: str
    simulated: float
    ci_low: float
    ci_high: float
    passed: bool
    figure: str
    reading: str
    details: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- statistics on synthetic or simulated data (unit-tested) -------------------------------


def hump_peak(gni: Sequence[float], rate: Sequence[float]) -> tuple[float, float]:
    """Quadratic fit of rate on log GNI: (peak GNI, curvature). Peak is NaN unless concave."""
    x, y = np.log(np.asarray(gni, float)), np.asarray(rate, float)
    c2, c1, _ = np.polyfit(x, y, 2)
    if c2 >= 0:
        return float("nan"), float(c2)
    return float(math.exp(-c1 / (2 * c2))), float(c2)


def rises_then_falls(gni: Sequence[float], rate: Sequence[float]) -> bool:
    """The curve's maximum is interior and both ends are clearly below it (by 10% of the peak)."""
    y = np.asarray(rate, float)
    i = int(np.argmax(y))
    return 0 < i < len(y) - 1 and y[0] < 0.9 * y[i] and y[-1] < 0.9 * y[i]


def arc_elasticity(low_cost_value: float, high_cost_value: float, step: float = REMIT_STEP) -> float:
    """d ln(value) / d ln(cost) between cost x (1 - step) and cost x (1 + step)."""
    return (math.log(high_cost_value) - math.log(low_cost_value)) / (math.log(1 + step) - math.log(1 - step))


def semi_elasticity(rate_shock: float, rate_base: float, income_loss_pct: float) -> float:
    """d(emigration rate) / d ln(income) for an income fall of ``income_loss_pct``."""
    return (rate_shock - rate_base) / math.log(1 - income_loss_pct / 100)


def interval(values) -> tuple[float, float, float]:
    from gcm_sim.studies.experiment import t_interval

    return t_interval(np.asarray(values, float))


# --- running --------------------------------------------------------------------------------


def _runs(cfg, world) -> list[tuple[pd.DataFrame, dict]]:
    from gcm_sim.studies.experiment import run_jobs

    jobs = [(cfg, r) for r in range(cfg.run.replicates)]  # over run.workers processes
    return [(ts, ind) for _, _, ts, ind in run_jobs(jobs, cfg.run.workers, world, lambda n: None)]


def _people_at_home(ts: pd.DataFrame, origin: str, ages=None) -> float:
    """People at home in ``origin`` in the first month (of the age groups ``ages``, or all)."""
    return total(ts, "people_at_home", origin=origin, months=[int(ts["month"].min())], age_group=ages)


def _oversample(df: pd.DataFrame, origin: str) -> pd.DataFrame:
    """A sampling.csv that concentrates the sample on ``origin``: its departure rate is set to
    the allocation's floor, so the equal-precision half of the sample goes mostly to it
    (households.allocate). Weights restore real totals, so only the precision changes."""
    df["movers_per_household_year"] = df["movers_per_household_year"].astype(float)
    df.loc[df["origin"] == origin, "movers_per_household_year"] = 1e-4
    return df


class _WorldCopy:
    """The embedded world copied to a temporary folder, edited, loaded."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="gcm_validate_"))
        src = resources.files("gcm_sim") / "data"
        for f in src.iterdir():  # every table load_world reads (sampling.csv, transit.csv included)
            if f.name.endswith((".csv", ".yaml")):
                (self.dir / f.name).write_bytes(f.read_bytes())

    def edit(self, table: str, fn: Callable[[pd.DataFrame], pd.DataFrame]):
        from gcm_sim.world import load_world

        path = self.dir / table
        df = pd.read_csv(path, keep_default_na=False)
        fn(df).to_csv(path, index=False)
        return load_world(self.dir)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the checks -------------------------------------------------------------------------------


def check_hump(cfg, world, out: Path, say) -> CheckResult:
    cfg, size = _at_least(cfg, HUMP_SIZE)  # at 10,000 households Senegal had 235 and one departure a year
    orig = pd.read_csv(resources.files("gcm_sim") / "data" / "countries.csv", keep_default_na=False)
    base = orig.set_index("iso3").loc[HUMP_ORIGIN]
    rows = []
    wc = _WorldCopy()
    try:
        wc.edit("sampling.csv", lambda df: _oversample(df, HUMP_ORIGIN))
        for gni in HUMP_GRID:
            f = gni / float(base["gni_per_capita_ppp_usd"])

            def scale(df, f=f, gni=gni):
                sel = df["iso3"] == HUMP_ORIGIN
                for col in ("wage_low_usd_month", "wage_mid_usd_month", "wage_high_usd_month",
                            "gdp_per_capita_usd"):
                    df[col] = df[col].astype(float)
                    df.loc[sel, col] = df.loc[sel, col] * f
                df["gni_per_capita_ppp_usd"] = df["gni_per_capita_ppp_usd"].astype(float)
                df.loc[sel, "gni_per_capita_ppp_usd"] = float(gni)
                return df

            w = wc.edit("countries.csv", scale)
            say(f"hump: {HUMP_ORIGIN} at GNI {gni:,}")
            for r, (ts, _) in enumerate(_runs(cfg, w)):
                dep = total(ts, INTERNATIONAL, origin=HUMP_ORIGIN)
                rate = 1000 * dep / _people_at_home(ts, HUMP_ORIGIN) * 12 / cfg.run.months
                rows.append({"gni": gni, "replicate": r, "emigration_per_1000_year": rate})
    finally:
        wc.close()
    d = pd.DataFrame(rows)
    mean = d.groupby("gni")["emigration_per_1000_year"].mean()
    peak, curv = hump_peak(mean.index, mean.to_numpy())
    peaks = [hump_peak(g["gni"], g["emigration_per_1000_year"])[0] for _, g in d.groupby("replicate")]
    _, lo, hi = interval([p for p in peaks if np.isfinite(p)] or [np.nan])
    shape = rises_then_falls(mean.index, mean.to_numpy())
    # the peak and its interval over replicates inside the band (a replicate without a concave fit
    # has no peak: with fewer than two peaks there is no interval, and the check fails)
    passed = bool(shape and np.isfinite(peak) and HUMP_PEAK[0] <= peak <= HUMP_PEAK[1]
                  and np.isfinite(lo) and HUMP_PEAK[0] <= lo and hi <= HUMP_PEAK[1])
    fig = _plot_hump(d, mean, peak, out)
    return CheckResult(
        "hump", "Migration hump (emigration across origin income)",
        "emigration rises with income, slows past ~USD 5,000 and reverses past ~USD 10,000 GDP per capita PPP; "
        "earlier estimate of the turning point USD 6,000-8,000",
        "Clemens 2020 (CGD WP 540); Clemens 2014 (IZA DP 8592) [CLEMENS-2020, CLEMENS-2014]",
        f"curve rises then falls (both ends below 90% of the maximum) and the peak of a quadratic fit in "
        f"log GNI, and its 95% interval over replicates, lie in USD {HUMP_PEAK[0]:,.0f}-{HUMP_PEAK[1]:,.0f}",
        peak, lo, hi, passed, fig,
        f"{HUMP_ORIGIN}'s wages (all skills), GDP and GNI per capita scaled together over the grid; diaspora, "
        "fees, visas and all other countries unchanged. Emigration = regular + smuggled departures per 1,000 "
        f"people at home per year. Shape test: {'passed' if shape else 'failed'}; quadratic curvature "
        f"{curv:.3g}. The interval is over per-replicate peak estimates ({sum(np.isfinite(peaks))} of "
        f"{len(peaks)} replicates have a concave fit). Runs at {size['households']:,} households (or run.households, "
        f"if larger) with the sample concentrated on {HUMP_ORIGIN} (its sampling rate set to the floor in a copy "
        "of sampling.csv; weights restore real totals). A cross-country pattern reproduced within one origin: "
        "the model's hump comes from the liquidity constraint (rising part: credit is lent on income above "
        "subsistence, decisions.credit_usd) and the shrinking earnings gap (falling part).",
        d)


def check_remittance_elasticity(cfg, world, out: Path, say) -> CheckResult:
    wc = _WorldCopy()
    res = {}
    try:
        for k, f in (("low", 1 - REMIT_STEP), ("high", 1 + REMIT_STEP)):
            def scale(df, f=f):
                df["remittance_cost_pct"] = df["remittance_cost_pct"].astype(float) * f
                return df
            w = wc.edit("corridors.csv", scale)
            say(f"remittance elasticity: costs x {f}")
            res[k] = [ind["remittances_sent_usd"] for _, ind in _runs(cfg, w)]
            wc.edit("corridors.csv", lambda df, f=f: df.assign(
                remittance_cost_pct=df["remittance_cost_pct"].astype(float) / f))
    finally:
        wc.close()
    el = [arc_elasticity(a, b) for a, b in zip(res["low"], res["high"])]
    mean, lo, hi = interval(el)
    passed = bool(REMIT_BAND[0] <= mean <= REMIT_BAND[1])
    d = pd.DataFrame({"replicate": range(len(el)), "formal_sent_cost_x0.95": res["low"],
                      "formal_sent_cost_x1.05": res["high"], "elasticity": el})
    fig = _plot_points("remittance_elasticity", el, (-1.6, *REMIT_BAND),
                       "elasticity of formal remittances to cost", out)
    return CheckResult(
        "remittance_elasticity", "Remittance cost elasticity",
        "a 1% relative cut in cost raises formal remittances by about 1.6% (elasticity -1.6)",
        "Ahmed, Mughal & Martinez-Zarzoso 2021, World Economy 44(8); Kpodar & Imam 2024, World Development 177 [AMM-2021, KPODAR-IMAM-2024]",
        f"elasticity in [{REMIT_BAND[0]}, {REMIT_BAND[1]}] (issue 5)", mean, lo, hi, passed, fig,
        f"every corridor's cost x {1 - REMIT_STEP} and x {1 + REMIT_STEP} (arc elasticity around today's costs), "
        f"formal remittances sent over {cfg.run.months} months, paired by seed. Caveat: behaviour.yaml's "
        "formal_logit_slope and formal_parity_ratio were set by hand from this same source (not by the "
        "calibration; remittances v2: a few values tried on 10,000 households, keeping informal flows at "
        "35-75% of recorded ones, Freund & Spatafora 2008), so this checks that the mechanism delivers the "
        "intended response at the model's actual cost mix rather than an independent prediction.", d)


def check_family_vs_skilled(cfg, world, out: Path, say) -> CheckResult:
    from gcm_sim.policy import build_config, to_dict

    irregular = ("departures_irregular", "overstays")

    def measure(runs):
        return ([total(ts, irregular) for ts, _ in runs], [total(ts, "departures_regular") for ts, _ in runs])

    say("family vs skilled: baseline")
    base_irr, base_reg = measure(_runs(cfg, world))
    raw = to_dict(cfg)
    raw["policy"]["pathways"]["family_reunification"]["enabled"] = False
    fam_cfg = build_config(raw, world.iso3, world.tags, world.behaviour)
    say("family vs skilled: family reunification closed")
    fam_irr, fam_reg = measure(_runs(fam_cfg, world))
    # skilled labour routes closed with the lever, not by editing corridors.csv (issue 13)
    raw = to_dict(cfg)
    raw["policy"]["pathways"]["quota_multipliers"] = list(raw["policy"]["pathways"]["quota_multipliers"]) + [
        {"origin": list(SKILLED_ORIGINS), "destination": list(SKILLED_DESTINATIONS), "labour": 0.0}]
    sk_cfg = build_config(raw, world.iso3, world.tags, world.behaviour)
    say("family vs skilled: skilled labour routes closed")
    sk_irr, sk_reg = measure(_runs(sk_cfg, world))
    d_fam = np.subtract(fam_irr, base_irr)
    d_sk = np.subtract(sk_irr, base_irr)
    diff = d_fam - d_sk
    mean, lo, hi = interval(diff)
    passed = bool(mean > 0)
    lost_fam = np.subtract(base_reg, fam_reg)
    lost_sk = np.subtract(base_reg, sk_reg)
    d = pd.DataFrame({"replicate": range(len(diff)), "irregular_added_family_closed": d_fam,
                      "irregular_added_skilled_closed": d_sk, "regular_lost_family_closed": lost_fam,
                      "regular_lost_skilled_closed": lost_sk, "difference": diff})
    fig = _plot_bars({"family closed": d_fam, "skilled labour closed": d_sk},
                     "added irregular entries (smuggled + overstays), people", "family_vs_skilled", out)
    per = [f"{np.mean(a) / np.mean(b):.3g}" if np.mean(b) > 0 else "n/a"
           for a, b in ((d_fam, lost_fam), (d_sk, lost_sk))]
    return CheckResult(
        "family_vs_skilled", "Family vs skilled restriction: substitution into irregular channels",
        "restricting family visas moved the most people into unauthorised channels; restricting student and "
        "skilled visas moved few",
        "Simon, Schwartz, Hudson & Johnson 2018, PNAS 115(34) [SIMON-2018]",
        "added irregular entries with family reunification closed > with skilled labour routes closed "
        "(mean paired difference > 0)", mean, lo, hi, passed, fig,
        f"Family: policy.pathways.family_reunification.enabled=false. Skilled: policy.pathways.quota_multipliers "
        f"labour=0 on {'/'.join(SKILLED_ORIGINS)} -> {'/'.join(SKILLED_DESTINATIONS)} (the H-1B/L, EU skilled and nurse "
        "routes of SOURCES.md; the Gulf and H-2 routes are low-skill and stay open). Irregular entries = "
        f"smuggled departures + overstays over {cfg.run.months} months, all origins. The simulated value is "
        "the paired difference (family - skilled) in added irregular entries. Added irregular entries per "
        f"regular departure lost: family {per[0]}, skilled {per[1]}.", d)


def _shock_cfg(cfg, world, loss_pct: float):
    """``cfg`` with a climate shock cutting the income of Mexico's exposed (farm) households by
    ``loss_pct`` for the whole run (no asset loss; rural non-farm households lose
    ``rural_nonfarm_linkage`` of it, mechanisms/shocks.py)."""
    from gcm_sim.policy import build_config, to_dict

    raw = to_dict(cfg)
    raw["climate"]["shocks"] = [{"origin": ["MEX"], "start_month": 1, "duration_months": cfg.run.months,
                                 "income_loss_pct": loss_pct, "asset_loss_pct": 0.0, "exposed_share": None}]
    return build_config(raw, world.iso3, world.tags, world.behaviour)


def _mexico_rates(cfg, world) -> list[float]:
    """International departures from Mexico over the run per person 18+ at home in month 1."""
    return [total(ts, INTERNATIONAL, origin="MEX") / _people_at_home(ts, "MEX", CROP_AGES)
            for ts, _ in _runs(cfg, world)]


def check_mexico_crop_shock(cfg, world, out: Path, say) -> CheckResult:
    import dataclasses

    cfg, size = _at_least(cfg, CROP_SIZE)
    c60 = cfg.replace(run=dataclasses.replace(cfg.run, months=CROP_MONTHS))
    wc = _WorldCopy()
    try:
        w = wc.edit("sampling.csv", lambda df: _oversample(df, "MEX"))
        rates = {}
        for k, c in (("base", c60), ("shock", _shock_cfg(c60, w, CROP_LOSS_PCT))):
            say(f"mexico crop shock: {k}, {CROP_MONTHS} months")
            rates[k] = _mexico_rates(c, w)
    finally:
        wc.close()
    se = [semi_elasticity(s, b, CROP_LOSS_PCT) for s, b in zip(rates["shock"], rates["base"])]
    mean, lo, hi = interval(se)
    passed = bool(CROP_BAND[0] <= mean <= CROP_BAND[1] and hi < 0)  # and the interval excludes no effect
    d = pd.DataFrame({"replicate": range(len(se)), "rate_base": rates["base"], "rate_shock": rates["shock"],
                      "semi_elasticity": se})
    fig = _plot_points("mexico_crop_shock", se, (-0.2, *CROP_BAND),
                       "d(5-year emigration rate) / d ln(farm income)", out)
    return CheckResult(
        "mexico_crop_shock", "Mexico: crop (farm income) shock and emigration",
        "a 10% fall in crop yields sends about 2% more of the population abroad (semi-elasticity about -0.2)",
        "Feng, Krueger & Oppenheimer 2010, PNAS 107(32) [FENG-2010]",
        f"semi-elasticity in [{CROP_BAND[0]}, {CROP_BAND[1]}] (a factor of 2.5 around -0.2) and its 95% "
        "interval below 0", mean, lo, hi, passed, fig,
        "Reading: Feng et al. relate the emigration rate over a five-year census interval (emigrants as a share "
        "of the population aged 15-65) to log crop yields; -0.2 means a 10% yield fall (d ln = -0.105) adds "
        "about 2 percentage points to five-year emigration. Modelled as a 10% fall in the income of Mexico's "
        "exposed (rural farm) households for 60 months (climate.shocks, exposed_share null = farm share; a "
        "yield fall is read as an equal fall in farm income), which reaches the other rural households through "
        "lower farm demand (behaviour.rural_nonfarm_linkage, mechanisms/shocks.py); emigration = regular + "
        "smuggled departures from MEX over 60 months / people aged 18 and over at home in month 1 (the model's "
        "youth and adult groups: Feng et al.'s 15-65 without the 15-17 year-olds and with the over-65s). Runs "
        f"at {size['households']:,} households (or run.households, if larger) with the sample concentrated on "
        "MEX (its sampling rate set to the floor in a copy of sampling.csv; weights restore real totals), "
        "paired by seed. Wide band because the published estimate is itself contested (Auffhammer & Vincent "
        "2012, PNAS, found it sensitive to time trends) and the yield-to-income mapping is ours.", d)


def shock_ratio(se_small: float, se_large: float) -> float:
    """Semi-elasticity of the small shock / that of the large one (1 = the same response per log point)."""
    return se_small / se_large if se_large != 0 else math.nan


def check_shock_size(cfg, world, out: Path, say) -> CheckResult:
    cfg, size = _at_least(cfg, SHOCK_SIZE)
    small, large = SHOCK_SIZES_PCT
    wc = _WorldCopy()
    try:
        w = wc.edit("sampling.csv", lambda df: _oversample(df, "MEX"))
        say(f"shock size: baseline, {cfg.run.months} months")
        base = _mexico_rates(cfg, w)
        se = {}
        for pct in SHOCK_SIZES_PCT:
            say(f"shock size: {pct:g}% income loss on Mexico's exposed households")
            se[pct] = [semi_elasticity(r, b, pct) for r, b in zip(_mexico_rates(_shock_cfg(cfg, w, pct), w), base)]
    finally:
        wc.close()
    ratio = [shock_ratio(a, b) for a, b in zip(se[small], se[large])]
    mean, lo, hi = interval(ratio)
    passed = bool(np.isfinite(lo) and SHOCK_RATIO_BAND[0] <= lo and hi <= SHOCK_RATIO_BAND[1])
    d = pd.DataFrame({"replicate": range(len(ratio)), "rate_base": base,
                      f"semi_elasticity_{small:g}pct": se[small], f"semi_elasticity_{large:g}pct": se[large],
                      "ratio": ratio})
    fig = _plot_points("shock_size", ratio, (1.0, *SHOCK_RATIO_BAND),
                       f"semi-elasticity, {small:g}% shock / {large:g}% shock", out)
    m_small, m_large = float(np.mean(se[small])), float(np.mean(se[large]))
    return CheckResult(
        "shock_size", "Shock size: the response grows with the loss",
        "no published figure: a household's response to an income loss should scale with the loss, so the "
        "emigration response per log point of income should not depend much on the size of the shock",
        "issue 13 (a flat consideration multiplier gave a 2% shock a semi-elasticity of -1.2 and a 10% one -0.24); "
        "the Mexican setting of Feng, Krueger & Oppenheimer 2010 [FENG-2010]",
        f"the 95% interval of the ratio of the semi-elasticities ({small:g}% / {large:g}% shock) inside "
        f"[{SHOCK_RATIO_BAND[0]:g}, {SHOCK_RATIO_BAND[1]:g}] (within a factor of 2)", mean, lo, hi, passed, fig,
        f"A {small:g}% and a {large:g}% fall in the income of Mexico's exposed (farm) households for the whole "
        f"run ({size['months']} months), as in the crop-shock check (rural non-farm households lose "
        "rural_nonfarm_linkage of it); semi-elasticity = change in international departures from MEX per person "
        "18+ at home / ln(1 - loss), per replicate against the same baseline (paired seeds); the statistic is "
        f"the per-replicate ratio. Mean semi-elasticities: {small:g}% {m_small:.3g}, {large:g}% {m_large:.3g}. "
        f"Runs at {size['households']:,} households x {size['replicates']} replicates (or the run.* sizes given, "
        "if larger), with the sample concentrated on MEX (sampling rate at the floor in a copy of sampling.csv).",
        d)


def worst_year_factor(year_end_stocks: Sequence[float], published: float = TP_STOCK) -> float:
    """The largest factor by which a year-end stock departs from ``published``, either way."""
    s = np.asarray(year_end_stocks, float)
    if not len(s) or (s <= 0).any():
        return math.inf
    return float(np.exp(np.abs(np.log(s / published)).max()))


def check_syrians_in_turkey(cfg, world, out: Path, say) -> CheckResult:
    import dataclasses

    c = cfg.replace(run=dataclasses.replace(cfg.run, months=TP_MONTHS))
    say(f"syrians in turkey: baseline, {TP_MONTHS} months")
    years = range(1, TP_MONTHS // 12 + 1)
    rows, worst = [], []
    for r, (ts, _) in enumerate(_runs(c, world)):
        stocks = [total(ts, STOCK_MEASURES, origin="SYR", destination="TUR", months=[12 * y]) for y in years]
        protected = [total(ts, "stock_temporary_protection", origin="SYR", destination="TUR", months=[12 * y])
                     for y in years]
        pending = [total(ts, "stock_asylum_pending", origin="SYR", destination="TUR", months=[12 * y]) for y in years]
        worst.append(worst_year_factor(stocks))
        rows += [{"replicate": r, "year": y, "stock_all": s, "temporary_protection": p, "asylum_pending": q,
                  "ratio_to_3.1M": s / TP_STOCK} for y, s, p, q in zip(years, stocks, protected, pending)]
    mean, lo, hi = interval(worst)
    passed = bool(hi <= TP_FACTOR)  # the interval supports it, not only the mean
    d = pd.DataFrame(rows)
    fig = _plot_stock_years(d, out)
    return CheckResult(
        "syrians_in_turkey", "Syrians in Turkey: stock held near the published one",
        "3.1 million Syrians under temporary protection in Turkiye in 2024 (3.7 million in December 2021)",
        "Turkiye's registration under temporary protection [TUR-TP]; regime [TUR-TPR-2014]",
        f"worst year-end stock within a factor of {TP_FACTOR} of 3.1M, i.e. in "
        f"[{TP_STOCK / TP_FACTOR / 1e6:.2f}M, {TP_STOCK * TP_FACTOR / 1e6:.2f}M], in every year of "
        f"{TP_MONTHS} months (the 95% interval of the worst-year factor <= {TP_FACTOR})",
        mean, lo, hi, passed, fig,
        f"Reading: a baseline run of {TP_MONTHS} months (this check's own horizon, whatever run.months; "
        "households and replicates as given). Each year's December stock of Syrians in Turkey, all statuses "
        "(stock_regular, which holds temporary protection, + stock_irregular + stock_asylum_pending, origin "
        "SYR, destination TUR), is compared with 3.1M held constant (the issue's target: no published "
        "projection exists). The statistic is, per replicate, the worst year's factor max(s/3.1M, 3.1M/s); "
        "simulated = its mean over replicates with a 95% t-interval. The published figure counts registered "
        "people under temporary protection only; the model's all-status stock also holds the unregistered "
        "and the few with other regular status, so it should sit somewhat above 3.1M.", d)
def _yearly(job) -> dict:
    """One replicate of a long baseline, reduced to yearly series (runs in a worker process)."""
    from gcm_sim.policy import build_config
    from gcm_sim.studies.calibration import CMED_LEGS, _legs, run_replicate

    raw, r, world = job
    cfg = build_config(raw, world.iso3, world.tags, world.behaviour)
    d = run_replicate(cfg, r, world)
    year = lambda month: (np.asarray(month) - 1) // 12 + 1  # noqa: E731
    cm = _legs(d, CMED_LEGS)
    arrivals = (cm["attempts"] - cm["interceptions"] - cm["deaths"]).groupby(year(cm["month"])).sum()
    ts = d.timeseries
    by_year = lambda measure: ts[ts["measure"] == measure].groupby(year(ts.loc[ts["measure"] == measure, "month"]))["value"].sum()  # noqa: E731
    return {"cmed_arrivals": arrivals.to_dict(), "deaths": by_year("deaths").to_dict(),
            "irregular_departures": by_year("departures_irregular").to_dict()}


def _yearly_runs(cfg, world, say, label) -> pd.DataFrame:
    """Yearly CMed arrivals, deaths and irregular departures of every replicate (long format)."""
    from gcm_sim.policy import to_dict
    from gcm_sim.studies.experiment import process_pool

    jobs = [(to_dict(cfg), r, world) for r in range(cfg.run.replicates)]
    say(f"steady baseline: {label}, {cfg.run.replicates} replicates x {cfg.run.households:,} households x "
        f"{cfg.run.months} months")
    if cfg.run.workers <= 1:
        parts = [_yearly(j) for j in jobs]
    else:
        with process_pool(min(cfg.run.workers, len(jobs))) as pool:
            parts = list(pool.map(_yearly, jobs))
    rows = [{"arm": label, "replicate": r, "series": k, "year": y, "value": v}
            for r, part in enumerate(parts) for k, series in part.items() for y, v in series.items()]
    return pd.DataFrame(rows)


def log_slope_pct(years: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of log(values) on years, in % a year."""
    return 100.0 * float(np.polyfit(np.asarray(years, float), np.log(np.asarray(values, float)), 1)[0])


def _at_least(cfg, size: dict):
    """``cfg`` with run.households, run.replicates and run.months raised to a check's own minimum
    (a check whose statistic needs more people or months than the other checks says so)."""
    import dataclasses

    size = {k: max(getattr(cfg.run, k), v) for k, v in size.items()}
    return cfg.replace(run=dataclasses.replace(cfg.run, **size)), size


def check_steady_baseline(cfg, world, out: Path, say) -> CheckResult:
    c, size = _at_least(cfg, STEADY_SIZE)
    wc = _WorldCopy()
    try:
        flat = wc.edit("countries.csv", lambda df: df.assign(income_growth_pct=0.0))
        d = pd.concat([_yearly_runs(c, world, say, "trends"), _yearly_runs(c, flat, say, "no income growth")])
    finally:
        wc.close()
    rows, ok = [], True
    for (arm, series), g in d[d["series"].isin(["cmed_arrivals", "deaths"])].groupby(["arm", "series"]):
        band = CMED_BAND if series == "cmed_arrivals" else DEATHS_BAND
        for year, gy in g.groupby("year"):
            mean, lo, hi = interval(gy["value"])
            inside = bool(band[0] <= lo and hi <= band[1])
            ok &= inside or arm != "trends"
            rows.append({"arm": arm, "indicator": series, "year": int(year), "mean": mean, "ci_low": lo,
                         "ci_high": hi, "band": f"{band[0]:,.0f}-{band[1]:,.0f}", "inside": inside})
    slopes = {}
    for arm, limit in SLOPE_BAND_PCT.items():
        g = d[(d["arm"] == arm) & (d["series"] == "irregular_departures")]
        per = [log_slope_pct(x["year"], x["value"]) for _, x in g.groupby("replicate")]
        mean, lo, hi = interval(per)
        inside = bool(-limit <= lo and hi <= limit)
        ok &= inside
        slopes[arm] = (mean, lo, hi)
        rows.append({"arm": arm, "indicator": "log-slope of irregular departures, %/year", "year": "1-10",
                     "mean": mean, "ci_low": lo, "ci_high": hi, "band": f"+-{limit:g}", "inside": inside})
    table = pd.DataFrame(rows)
    worst = table[(table["arm"] == "trends") & (table["indicator"] != "log-slope of irregular departures, %/year")]
    fig = _plot_steady(d, out)
    mean, lo, hi = slopes["no income growth"]
    return CheckResult(
        "steady_baseline", "A steady ten-year baseline",
        "Central Mediterranean arrivals 119,000-181,000 a year (2016-2017, 2023); 3,041-3,129 deaths recorded in "
        "the Mediterranean in 2023 (66-85% of deaths are recorded); no source supports a trend in a world "
        "without change",
        "targets.yaml cmed_arrivals_year [ITA-SEA, UNODC-CMED, FRONTEX-2023]; IOM Missing Migrants Project [IOM-MMP, IOM-CMED]",
        f"every year of a {size['months']}-month baseline: the 95% interval of Central Mediterranean arrivals "
        f"inside {CMED_BAND[0]:,.0f}-{CMED_BAND[1]:,.0f} and of deaths on the modelled routes inside "
        f"{DEATHS_BAND[0]:,.0f}-{DEATHS_BAND[1]:,.0f}; the interval of the log-slope of world irregular "
        f"departures inside +-{SLOPE_BAND_PCT['no income growth']:g}%/year with income growth set to 0 and "
        f"+-{SLOPE_BAND_PCT['trends']:g}%/year with the world's trends (issue 12)",
        mean, lo, hi, bool(ok), fig,
        f"Runs at {size['households']:,} households x {size['replicates']} replicates x {size['months']} months "
        f"(or the run.* sizes given, if larger). The simulated value is the log-slope with income growth set "
        f"to 0 (%/year); with trends {slopes['trends'][0]:+.2f} [{slopes['trends'][1]:+.2f}, "
        f"{slopes['trends'][2]:+.2f}]. Years outside their band (trends arm): "
        f"{', '.join(f'{r.indicator} year {r.year}' for r in worst.itertuples() if not r.inside) or 'none'}. "
        "People on the road at month 1 come from the world's transit.csv (population.seed_transit).",
        table)


def check_worse_route(cfg, world, out: Path, say) -> CheckResult:
    cfg, size = _at_least(cfg, WORSE_SIZE)  # at 10,000 households one Nigerian record is 39,000 people
    wc = _WorldCopy()
    try:
        w = wc.edit("legs.csv", lambda df: pd.concat([df, pd.DataFrame([WORSE_LEG])], ignore_index=True))
        say("worse route: baseline")
        base = [total(ts, "departures_irregular", origin=WEST_AFRICA) for ts, _ in _runs(cfg, world)]
        say("worse route: with a Niger-Tunisia leg worse on every count")
        added = [total(ts, "departures_irregular", origin=WEST_AFRICA) for ts, _ in _runs(cfg, w)]
    finally:
        wc.close()
    pct = [100.0 * (a / b - 1) for a, b in zip(added, base)]
    mean, lo, hi = interval(pct)
    passed = bool(-WORSE_ROUTE_MAX_PCT <= lo and hi <= WORSE_ROUTE_MAX_PCT)
    d = pd.DataFrame({"replicate": range(len(pct)), "baseline": base, "with_worse_leg": added, "change_pct": pct})
    fig = _plot_points("worse_route", pct, (0.0, -WORSE_ROUTE_MAX_PCT, WORSE_ROUTE_MAX_PCT),
                       "change in West African irregular departures, %", out)
    leg = WORSE_LEG
    return CheckResult(
        "worse_route", "A route worse on every count adds no demand",
        "a dominated alternative should not change how many people leave (routes nested under destinations)",
        "McFadden 1978, nested logit (routes as one nest under each destination) [MCFADDEN-1978]; issue 12",
        f"95% interval of the change in West African irregular departures inside +-{WORSE_ROUTE_MAX_PCT:g}%",
        mean, lo, hi, passed, fig,
        f"In a copy of the world a leg {leg['from']}-{leg['to']} at USD {leg['smuggling_fee_usd']:,.0f}, "
        f"{leg['travel_months']:g} months, interception {leg['interception_prob']}, death risk "
        f"{leg['death_prob']} is added; irregular departures from {'/'.join(WEST_AFRICA)} over "
        f"{cfg.run.months} months, paired by seed, at {size['households']:,} households x {size['replicates']} "
        "replicates (or the run.* sizes given, if larger).", d)
def remittance_targets() -> pd.DataFrame:
    """gcm_sim/data/remittances_received.csv with ``target_usd``: the World Bank figure times the share of
    the origin's emigrants the world's corridors cover (what the world can be expected to deliver)."""
    df = pd.read_csv(resources.files("gcm_sim") / "data" / "remittances_received.csv", keep_default_na=False)
    df["scored"] = df["scored"].astype(str).str.lower() == "true"
    df["target_usd"] = df["usd_bn"].astype(float) * 1e9 * df["covered_share"].astype(float)
    return df


def within_factor(ratio: float, factor: float = REMIT_FACTOR) -> bool:
    """simulated / published within [1 / factor, factor]."""
    return bool(np.isfinite(ratio) and ratio > 0 and 1.0 / factor <= ratio <= factor)


def off_by(ratio: float) -> float:
    """How far a ratio is from 1 as a factor (2 for both 2 and 0.5)."""
    return float(max(ratio, 1.0 / ratio)) if ratio > 0 else float("inf")


def check_remittances_by_origin(cfg, world, out: Path, say) -> CheckResult:
    months = cfg.run.months
    if months < REMIT_YEAR_MONTHS:
        raise ConfigError("run.months", months, f">= {REMIT_YEAR_MONTHS} for remittances_by_origin (a year of "
                                                "remittances)")
    year = list(range(months - REMIT_YEAR_MONTHS + 1, months + 1))  # the last 12 months: one year, no scaling
    targets = remittance_targets()
    targets = targets[targets["origin"].isin(world.iso3)]
    say(f"remittances by origin: baseline, last {REMIT_YEAR_MONTHS} of {months} months")
    rows = []
    for r, (ts, _) in enumerate(_runs(cfg, world)):
        for t in targets.itertuples(index=False):
            formal = (total(ts, "remittances_sent_usd", origin=t.origin, months=year)
                      - total(ts, "remittance_fees_usd", origin=t.origin, months=year))
            rows.append({"origin": t.origin, "replicate": r, "formal_received_usd": formal,
                         "received_usd": total(ts, "remittances_received_usd", origin=t.origin, months=year)})
    sim = pd.DataFrame(rows)
    agg = sim.groupby("origin", sort=False)[["formal_received_usd", "received_usd"]].mean()
    d = targets.set_index("origin").join(agg)
    d["ratio"] = d["formal_received_usd"] / d["target_usd"]
    d["ratio_all_channels"] = d["received_usd"] / d["target_usd"]
    d["within"] = [within_factor(x) for x in d["ratio"]]
    scored = d[d["scored"]]
    failed = scored.index[~scored["within"]].tolist()
    passed = not failed
    worst = max(off_by(x) for x in scored["ratio"]) if len(scored) else float("nan")
    per_rep = []  # the worst origin's factor in each replicate, for the interval
    for r, g in sim.groupby("replicate"):
        g = g.set_index("origin").join(d[["target_usd", "scored"]])
        per_rep.append(max(off_by(x) for x in (g["formal_received_usd"] / g["target_usd"])[g["scored"]]))
    _, lo, hi = interval(per_rep)
    passed = bool(passed and np.isfinite(hi) and hi <= REMIT_FACTOR)  # the interval must support it too
    fig = _plot_remittances(d, sim, out)
    lines = "; ".join(
        f"{o} {x['ratio']:.2f} (covered {100 * x['covered_share']:.0f}% of emigrants"
        f"{'' if x['scored'] else ', not scored'}{'' if x['within'] or not x['scored'] else ', FAIL'})"
        for o, x in d.iterrows())
    d["year"] = d["year"].astype(str)
    details = d.reset_index()[["origin", "usd_bn", "year", "covered_share", "target_usd", "formal_received_usd",
                               "received_usd", "ratio", "ratio_all_channels", "scored", "within"]]
    return CheckResult(
        "remittances_by_origin", "Remittances received by origin",
        "personal remittances received by each origin (2024; Nepal 2023), times the share of its emigrants "
        "living on the corridors the world models",
        "World Bank WDI BX.TRF.PWKR.CD.DT [WDI-REM]; Nepal: World Bank/KNOMAD estimate [NPL-REM-ALT]; "
        "emigrant stocks UN DESA 2020 [DESA-EMIG, DESA]",
        f"every scored origin's simulated / published ratio within a factor of {REMIT_FACTOR} "
        f"([{1 / REMIT_FACTOR:.3g}, {REMIT_FACTOR}]) and the 95% interval of the worst factor below {REMIT_FACTOR}; "
        "simulated value = the largest factor off over scored origins",
        worst, lo, hi, passed, fig,
        f"Simulated: formal remittances received (remittances_sent_usd - remittance_fees_usd), the counterpart of "
        f"the recorded flows the World Bank reports (informal transfers are largely unrecorded; Freund & "
        f"Spatafora 2008 [FREUND-SPATAFORA-2008]), summed over the last {REMIT_YEAR_MONTHS} of {months} months "
        f"(one year), mean over replicates. Published: the World Bank figure x covered share (the world's "
        f"corridor stocks / the origin's UN DESA emigrant total), which assumes that emigrants elsewhere remit "
        f"as much per head. Ratio simulated / published per origin: {lines}. "
        f"{'Failed: ' + ', '.join(failed) + '.' if failed else 'All scored origins within the factor.'} "
        "SYR (latest figure 2010, before the war) and AFG (a flat placeholder) are shown, not scored. The "
        "column ratio_all_channels adds informal transfers (remittances_received_usd) for comparison; it is "
        "not scored. The interval is over per-replicate worst factors.", details)


def _pct(new, old) -> list[float]:
    return [100.0 * (a / b - 1) if b > 0 else float("nan") for a, b in zip(new, old)]


def check_enforcement_effort(cfg, world, out: Path, say) -> CheckResult:
    import dataclasses

    cfg, size = _at_least(cfg, ENFORCE_SIZE)
    enf = dataclasses.replace(cfg.policy.enforcement, interception_multiplier=ENFORCE_MULTIPLIER)
    surge = cfg.replace(policy=dataclasses.replace(cfg.policy, enforcement=enf))
    names = ("irregular_departures", "interceptions", "deaths_per_1000_crossings")
    say("enforcement effort: baseline")
    base = [{k: ind[k] for k in names} for _, ind in _runs(cfg, world)]
    say(f"enforcement effort: interception effort x{ENFORCE_MULTIPLIER}")
    high = [{k: ind[k] for k in names} for _, ind in _runs(surge, world)]
    ch = {k: _pct([h[k] for h in high], [b[k] for b in base]) for k in names}
    rows, verdict = [], {}
    for k in names:
        mean, lo, hi = interval(ch[k])
        ok = (ENFORCE_DEPARTURES_BAND[0] <= lo and hi < ENFORCE_DEPARTURES_BAND[1]) if k == "irregular_departures" \
            else bool(lo > 0)
        verdict[k] = (mean, lo, hi, bool(ok))
        rows.append({"indicator": k, "baseline": float(np.mean([b[k] for b in base])),
                     f"effort_x{ENFORCE_MULTIPLIER:g}": float(np.mean([h[k] for h in high])),
                     "change_pct": mean, "ci_low": lo, "ci_high": hi,
                     "required": "interval inside [-50%, 0%)" if k == "irregular_departures" else "interval above 0",
                     "met": ok})
    passed = all(v[3] for v in verdict.values())
    d = pd.DataFrame(rows)
    fig = _plot_points("enforcement_effort", ch["irregular_departures"], (0.0, *ENFORCE_DEPARTURES_BAND),
                       f"change in irregular departures at effort x{ENFORCE_MULTIPLIER:g}, %", out)
    mean, lo, hi, _ = verdict["irregular_departures"]
    i, r = verdict["interceptions"], verdict["deaths_per_1000_crossings"]
    return CheckResult(
        "enforcement_effort", "Enforcement effort x2.5: more interceptions and deaths per crossing, departures down by at most half",
        "US border build-up 1993-2006 (Border Patrol budget +600%, agents about 4,000 to 12,350): apprehensions "
        "rose and the border death rate tripled without a comparable fall in eventual entry; enforcement more "
        "than tripling cut illegal migration by about 10% and raised smuggling prices by 17%",
        "Massey 2005 [MASSEY-2005]; Massey, Durand & Pren 2016, AJS 121(5) [MDP-2016]; Gathmann 2008, "
        "J. Public Econ. 92(10-11) [GATHMANN-2008]; issue 13",
        f"paired with the baseline at interception effort x{ENFORCE_MULTIPLIER:g}: the 95% intervals of the "
        "changes in interceptions and in deaths per 1,000 attempted leg crossings above 0, and that of the "
        f"change in irregular departures inside [{ENFORCE_DEPARTURES_BAND[0]:g}%, {ENFORCE_DEPARTURES_BAND[1]:g}%)",
        mean, lo, hi, passed, fig,
        f"Every leg's interception effort x{ENFORCE_MULTIPLIER:g} (policy.enforcement.interception_multiplier), "
        f"nothing else; {size['households']:,} households x {size['replicates']} replicates x {size['months']} "
        "months (or the run.* sizes given, if larger), paired by seed. The simulated value is the change in "
        f"irregular departures, %; interceptions {i[0]:+.1f}% [{i[1]:+.1f}, {i[2]:+.1f}], deaths per 1,000 "
        f"crossings {r[0]:+.1f}% [{r[1]:+.1f}, {r[2]:+.1f}]. The mechanisms: retries after interception and "
        "forced return, beliefs about eventual success, smugglers' prices (elasticity 0.14), death risk rising "
        "with effort (elasticity 0.56), returns weighing the cost of coming back (docs/model.md, Enforcement).",
        d)


def check_information_campaign(cfg, world, out: Path, say) -> CheckResult:
    from gcm_sim.config import load_config

    cfg, size = _at_least(cfg, INFO_SIZE)
    scen = load_config(INFO_SCENARIO)
    info = cfg.replace(policy=scen.policy)
    say("information campaign: baseline")
    base = [ind["irregular_departures"] for _, ind in _runs(cfg, world)]
    say(f"information campaign: {INFO_SCENARIO}")
    arm = [ind["irregular_departures"] for _, ind in _runs(info, world)]
    pct = _pct(arm, base)
    mean, lo, hi = interval(pct)
    passed = bool(-INFO_MAX_PCT <= lo and hi <= INFO_MAX_PCT)
    d = pd.DataFrame({"replicate": range(len(pct)), "baseline": base, INFO_SCENARIO: arm, "change_pct": pct})
    fig = _plot_points("information_campaign", pct, (0.0, -INFO_MAX_PCT, INFO_MAX_PCT),
                       "change in irregular departures, %", out)
    inf = scen.policy.information
    return CheckResult(
        "information_campaign", "Information campaigns move irregular departures only a little",
        "field experiments find small effects of information campaigns on irregular migration: lower intentions "
        "and higher risk awareness three months on, no change in factual knowledge (Senegal); no detectable "
        "effect on irregular migration (The Gambia); correcting overestimated death risk raises willingness to "
        "migrate by 2.3 points, correcting overestimated chances of legal status lowers it by 2.9 points (The Gambia)",
        "Tjaden & Dunsch 2021, World Development 145 [TJADEN-DUNSCH-2021]; Bah, Batista, Gubert & McKenzie 2023, "
        "J. Dev. Econ. 165 [BAH-2023]; Bah & Batista 2018, NOVAFRICA WP 1803 [BAH-BATISTA-2018]; Shrestha 2020, "
        "WBER 34(1) [SHRESTHA-2020]; issue 13",
        f"95% interval of the change in irregular departures inside +-{INFO_MAX_PCT:g}%",
        mean, lo, hi, passed, fig,
        f"The {INFO_SCENARIO} scenario's policy (reach {inf.campaign:g} in {', '.join(inf.origin) or 'all origins'}, "
        f"topics {', '.join(inf.topics)}) against the baseline, paired by seed; irregular departures from every "
        f"origin over {size['months']} months at {size['households']:,} households x {size['replicates']} "
        "replicates (or the run.* sizes given, if larger).", d)


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


# --- figures --------------------------------------------------------------------------------------


def _figdir(out: Path) -> Path:
    p = out / "figures"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _plot_hump(d, mean, peak, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.axvspan(*HUMP_PEAK, color="tab:green", alpha=0.12, label="published peak range")
    for r, g in d.groupby("replicate"):
        ax.plot(g["gni"], g["emigration_per_1000_year"], color="grey", lw=0.8, alpha=0.6)
    ax.plot(mean.index, mean.to_numpy(), "o-", color="tab:blue", label="mean over replicates")
    if np.isfinite(peak):
        ax.axvline(peak, color="tab:red", ls="--", label=f"fitted peak {peak:,.0f}")
    ax.set_xscale("log")
    ax.set_xlabel(f"{HUMP_ORIGIN} GNI per capita, PPP USD (wages scaled with it)")
    ax.set_ylabel("emigration per 1,000 per year")
    ax.legend(fontsize=8)
    path = save_figure(fig, _figdir(out) / "hump.png")
    return f"figures/{path.name}"


def _plot_points(name, values, ref, label, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.axhspan(ref[1], ref[2], color="tab:green", alpha=0.12, label="accepted band")
    ax.axhline(ref[0], color="tab:green", ls="--", label=f"published {ref[0]}")
    ax.plot(range(len(values)), values, "o", color="tab:blue", label="replicates")
    ax.axhline(float(np.mean(values)), color="tab:blue", lw=1, label="simulated mean")
    ax.set_xlabel("replicate")
    ax.set_ylabel(label)
    ax.legend(fontsize=8)
    path = save_figure(fig, _figdir(out) / f"{name}.png")
    return f"figures/{path.name}"


def _plot_stock_years(d: pd.DataFrame, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.axhspan(TP_STOCK / TP_FACTOR / 1e6, TP_STOCK * TP_FACTOR / 1e6, color="tab:green", alpha=0.12,
               label=f"accepted band (factor {TP_FACTOR})")
    ax.axhline(TP_STOCK / 1e6, color="tab:green", ls="--", label="3.1M under temporary protection (2024)")
    for r, g in d.groupby("replicate"):
        ax.plot(g["year"], g["stock_all"] / 1e6, "o-", color="tab:blue", lw=1, alpha=0.7,
                label="all statuses" if r == 0 else None)
        ax.plot(g["year"], g["temporary_protection"] / 1e6, "s:", color="tab:orange", lw=1, alpha=0.7,
                label="of which temporary protection" if r == 0 else None)
    ax.set_xlabel("year of the run (December)")
    ax.set_ylabel("Syrians in Turkey, millions")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    path = save_figure(fig, _figdir(out) / "syrians_in_turkey.png")
    return f"figures/{path.name}"


def _plot_steady(d: pd.DataFrame, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, (series, band, title) in zip(axes, (("cmed_arrivals", CMED_BAND, "Central Mediterranean arrivals"),
                                                ("deaths", DEATHS_BAND, "deaths on routes"),
                                                ("irregular_departures", None, "irregular departures, world"))):
        if band:
            ax.axhspan(*band, color="tab:green", alpha=0.12, label="accepted band")
        for (arm, _), g in d[d["series"] == series].groupby(["arm", "replicate"]):
            ax.plot(g["year"], g["value"], color="tab:blue" if arm == "trends" else "tab:orange", lw=0.8, alpha=0.7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("year")
        ax.set_ylim(bottom=0)
    axes[0].plot([], [], color="tab:blue", label="trends")
    axes[0].plot([], [], color="tab:orange", label="no income growth")
    axes[0].legend(fontsize=7)
    path = save_figure(fig, _figdir(out) / "steady_baseline.png")
    return f"figures/{path.name}"


def _plot_bars(groups: dict, label, name, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    names = list(groups)
    means = [float(np.mean(v)) for v in groups.values()]
    half = []
    for v in groups.values():
        m, lo, hi = interval(v)
        half.append((hi - lo) / 2 if np.isfinite(lo) else 0.0)
    ax.bar(names, means, yerr=half, capsize=5, color=["tab:orange", "tab:blue"])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(label, fontsize=8)
    path = save_figure(fig, _figdir(out) / f"{name}.png")
    return f"figures/{path.name}"


def _plot_remittances(d: pd.DataFrame, sim: pd.DataFrame, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(d))
    ax.axhspan(1 / REMIT_FACTOR, REMIT_FACTOR, color="tab:green", alpha=0.12, label=f"within x{REMIT_FACTOR}")
    ax.axhline(1.0, color="tab:green", ls="--", lw=0.8)
    for i, (o, row) in enumerate(d.iterrows()):
        reps = sim[sim["origin"] == o]["formal_received_usd"] / row["target_usd"]
        ax.plot(np.full(len(reps), i), reps, ".", color="grey", alpha=0.6)
    colour = ["tab:blue" if s else "lightgrey" for s in d["scored"]]
    ax.scatter(x, d["ratio"], color=colour, zorder=3, label="formal received / published (mean)")
    ax.scatter(x, d["ratio_all_channels"], marker="x", color="tab:orange", zorder=3,
               label="with informal transfers (not scored)")
    ax.set_yscale("log")
    ax.set_xticks(x, d.index, rotation=90, fontsize=8)
    ax.set_ylabel("simulated / World Bank x covered share")
    ax.legend(fontsize=7)
    path = save_figure(fig, _figdir(out) / "remittances_by_origin.png")
    return f"figures/{path.name}"


# --- report -------------------------------------------------------------------------------------


def _fmt(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:,.4g}"


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return ""
    cell = lambda v: _fmt(float(v)) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)  # noqa: E731
    rows = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    rows += ["| " + " | ".join(cell(v) for v in rec) + " |" for rec in df.itertuples(index=False)]
    return "\n".join(rows)


def markdown(results: Sequence[CheckResult], meta: dict) -> str:
    lines = ["# Validation of gcm-sim", "",
             f"Produced by `{meta['command']}` on {meta['date']} (run directory `{meta['run_dir']}`): "
             f"{meta['households']:,} households, {meta['replicates']} replicates per arm on the seeds of "
             f"run.seed={meta['seed']} (common random numbers across arms), {meta['months']} months unless a "
             "check says otherwise. Behavioural parameters: the current `gcm_sim/data/behaviour.yaml`"
             f"{' with overrides ' + meta['overrides'] if meta['overrides'] else ''}.", "",
             "None of these quantities is a calibration target; tolerances were fixed before running and a "
             "failed check stays failed.", "",
             "| check | published | simulated [95% CI] | tolerance | result |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.title} | {r.published} | {_fmt(r.simulated)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}] "
                     f"| {r.tolerance} | **{'PASS' if r.passed else 'FAIL'}** |")
    for r in results:
        lines += ["", f"## {r.title}: {'PASS' if r.passed else 'FAIL'}", "",
                  f"![{r.name}]({r.figure})", "",
                  f"- published: {r.published} ({r.source})",
                  f"- simulated: {_fmt(r.simulated)}, 95% CI [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                  f"- tolerance: {r.tolerance}",
                  f"- how: {r.reading}", "",
                  "Per replicate / grid point:", "",
                  _md_table(r.details), ""]
    return "\n".join(lines)


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
