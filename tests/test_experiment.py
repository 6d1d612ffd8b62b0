"""Replicate summaries, paired differences, output files (experiment.py, report.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gcm_sim.studies.experiment import DIFF_COLUMNS, SUMMARY_COLUMNS, mean_interval, replicate_seeds, summarise, t_interval
from gcm_sim.policy import Config, Run


def test_t_interval_matches_scipy():
    x = np.array([3.0, 5.0, 4.0, 8.0, 6.0])
    mean, lo, hi = t_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean()) and (lo, hi) == pytest.approx(ref)


def test_single_replicate_has_nan_bounds():
    mean, lo, hi = t_interval(np.array([2.0]))
    assert mean == 2.0 and math.isnan(lo) and math.isnan(hi)


def _indicators():
    rows = []
    for r, (b, s) in enumerate([(10.0, 7.0), (12.0, 10.0), (11.0, 8.0)]):
        rows += [("baseline", r, "irregular_departures", b), ("visa", r, "irregular_departures", s)]
    return pd.DataFrame(rows, columns=["scenario", "replicate", "indicator", "value"])


def test_summary_columns_and_paired_difference():
    s = summarise(_indicators(), baseline="baseline")
    assert list(s.columns) == SUMMARY_COLUMNS + DIFF_COLUMNS
    base = s[s.scenario == "baseline"].iloc[0]
    assert all(math.isnan(base[c]) for c in DIFF_COLUMNS), "baseline rows carry NaN differences"
    arm = s[s.scenario == "visa"].iloc[0]
    d = np.array([-3.0, -2.0, -3.0])  # per-replicate differences: the paired interval is narrow
    assert arm["diff"] == pytest.approx(d.mean())
    assert (arm.diff_ci_low, arm.diff_ci_high) == pytest.approx(
        stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d)))
    assert arm.diff_pct == pytest.approx(100 * d.mean() / 11.0)
    assert arm.n == 3


def test_plain_summary_has_no_diff_columns():
    assert list(summarise(_indicators()).columns) == SUMMARY_COLUMNS


def test_replicate_seeds_follow_the_contract():
    cfg = Config(run=Run(seed=11, replicates=3))
    want = np.random.SeedSequence(11).spawn(3)
    got = replicate_seeds(cfg)
    assert [g.generate_state(4).tolist() for g in got] == [w.generate_state(4).tolist() for w in want]


def test_format_summary_and_atomic_outputs(tmp_path):
    from gcm_sim.studies.experiment import RunResult
    from gcm_sim.edges.report import format_summary, write_run_dir

    ind = _indicators()
    ts = pd.DataFrame({"scenario": "baseline", "replicate": [0, 1], "seed": 0, "month": 1, "origin": "SEN",
                       "destination": "ITA", "channel": "smuggled", "sex": "all", "age_group": "all",
                       "measure": "departures_irregular", "value": [5.0, 6.0]})
    res = RunResult(ts, ind, summarise(ind, baseline="baseline"), Config(), {"baseline": Config(), "visa": Config()})
    text = format_summary(res.summary)
    assert "irregular_departures" in text and "diff" in text
    d = write_run_dir(res, tmp_path / "run")
    for f in ["timeseries.parquet", "indicators.csv", "summary.csv", "config.yaml", "report.md",
              "figures/departures.png", "configs/visa.yaml"]:
        assert (d / f).is_file(), f
    assert not list(d.rglob("*.tmp")), "no temp files left behind"
    back = pd.read_parquet(d / "timeseries.parquet")
    assert list(back.columns) == list(ts.columns)
    assert pd.read_csv(d / "summary.csv").columns.tolist() == SUMMARY_COLUMNS + DIFF_COLUMNS


def _two_arms(name, base_vals, arm_vals):
    rows = [("baseline", r, name, b) for r, b in enumerate(base_vals)]
    rows += [("arm", r, name, a) for r, a in enumerate(arm_vals)]
    return pd.DataFrame(rows, columns=["scenario", "replicate", "indicator", "value"])


def test_mdc_is_2_8_standard_errors_of_the_paired_difference():
    s = summarise(_indicators(), baseline="baseline")
    arm = s[s.scenario == "visa"].iloc[0]
    d = np.array([-3.0, -2.0, -3.0])
    assert arm.mdc == pytest.approx(2.8 * stats.sem(d))
    assert arm.mdc_pct == pytest.approx(100 * 2.8 * stats.sem(d) / 11.0)
    base = s[s.scenario == "baseline"].iloc[0]
    assert math.isnan(base.mdc) and math.isnan(base.mdc_pct)


def test_mdc_is_nan_with_one_replicate():
    s = summarise(_two_arms("deaths", [4.0], [3.0]), baseline="baseline")
    arm = s[s.scenario == "arm"].iloc[0]
    assert arm["diff"] == -1.0 and math.isnan(arm.mdc) and math.isnan(arm.mdc_pct)


def test_interval_of_a_count_never_goes_below_zero():
    vals = [0.0, 0.0, 0.0, 10.0]  # a rare count: the t-interval would reach below zero
    assert t_interval(np.array(vals))[1] < 0
    s = summarise(_two_arms("deaths", vals, vals))
    row = s.iloc[0]
    assert 0 < row.ci_low < row["mean"] < row.ci_high
    k = stats.t.ppf(0.975, 3) * stats.sem(vals) / np.mean(vals)  # log scale, delta method
    assert (row.ci_low, row.ci_high) == pytest.approx((2.5 * np.exp(-k), 2.5 * np.exp(k)))


def test_log_interval_is_close_to_the_t_interval_when_precise():
    x = np.array([100.0, 102.0, 98.0, 101.0, 99.0])
    m, lo, hi = mean_interval(x)
    _, tlo, thi = t_interval(x)
    assert m == pytest.approx(100.0) and lo == pytest.approx(tlo, rel=1e-3) and hi == pytest.approx(thi, rel=1e-3)
    assert mean_interval(np.zeros(4)) == (0.0, 0.0, 0.0)


def test_indicators_that_can_be_negative_keep_the_t_interval():
    vals = [-1.0, 2.0, 0.5]
    s = summarise(_two_arms("net_change", vals, vals))
    assert (s.iloc[0].ci_low, s.iloc[0].ci_high) == pytest.approx(t_interval(np.array(vals))[1:])


def test_difference_interval_respects_that_the_arm_cannot_be_negative():
    base = [10.0, 2.0, 1.0]  # mean 13/3
    arm = [0.0, 0.0, 0.0]     # the policy removes every case
    s = summarise(_two_arms("deaths", base, arm), baseline="baseline")
    row = s[s.scenario == "arm"].iloc[0]
    d = np.array(arm) - np.array(base)
    assert stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))[0] < -13 / 3  # would be impossible
    assert row.diff_ci_low == pytest.approx(-13 / 3)
    assert row["diff"] == pytest.approx(-13 / 3) and row.diff_ci_high > row["diff"]
    assert row.diff_pct == pytest.approx(-100.0)
    # a signed indicator is not clipped
    s = summarise(_two_arms("net_change", [-1.0, 10.0, 2.0], [-5.0, -4.0, -3.0]), baseline="baseline")
    row = s[s.scenario == "arm"].iloc[0]
    lo = stats.t.interval(0.95, 2, loc=np.mean([-4, -14, -5]), scale=stats.sem([-4, -14, -5]))[0]
    assert row.diff_ci_low == pytest.approx(lo)


def test_report_flags_effects_below_the_minimum_detectable_change():
    from gcm_sim.studies.experiment import RunResult
    from gcm_sim.edges.report import headline_sentences, markdown_table

    noisy = _two_arms("irregular_departures", [100.0, 140.0, 60.0, 120.0], [101.0, 120.0, 80.0, 121.0])
    sharp = _two_arms("regular_departures", [100.0, 140.0, 60.0, 120.0], [150.0, 191.0, 109.0, 170.0])
    ind = pd.concat([noisy, sharp], ignore_index=True)
    s = summarise(ind, baseline="baseline")
    res = RunResult(pd.DataFrame(), ind, s, Config(), {"baseline": Config(), "arm": Config()})
    lines = headline_sentences(res)["arm"]
    small = [x for x in lines if "irregular departures" in x][0]
    mdc_pct = s[(s.scenario == "arm") & (s.indicator == "irregular_departures")].mdc_pct.iloc[0]
    assert abs(s[(s.scenario == "arm") & (s.indicator == "irregular_departures")].diff_pct.iloc[0]) < mdc_pct
    assert f"below the minimum detectable change (mdc {mdc_pct:.1f}%): run more replicates or households" in small
    clear = [x for x in lines if "regular departures" in x and "irregular" not in x][0]
    assert "minimum detectable" not in clear
    assert "mdc %" in markdown_table(s)
