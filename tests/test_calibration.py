"""Calibration objective, targets table, optimiser plumbing and validation statistics (issue 5).

Fast: synthetic data and tiny runs only. The full calibration and validation are
`gcm-sim calibrate` / `gcm-sim validate` (minutes), not part of `make test`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gcm_sim.studies import calibration as cal
from gcm_sim.studies import validation as val
from gcm_sim.edges.cli import main
from gcm_sim.policy import ConfigError


def _t(**kw):
    base = dict(name="x", description="", unit="u", year="2023", source="s")
    return cal.Target(**{**base, **kw})


# --- loss ---------------------------------------------------------------------------------


def test_point_target_loss_is_squared_log_error():
    t = _t(value=100.0)
    assert cal.target_loss(t, 100.0) == 0.0
    assert cal.target_loss(t, 200.0) == pytest.approx(math.log(2) ** 2)
    assert cal.target_loss(t, 50.0) == pytest.approx(math.log(2) ** 2)  # symmetric in ratio


def test_range_target_loss_is_zero_inside_and_log_distance_outside():
    t = _t(low=10.0, high=20.0, weight=2.0)
    assert cal.target_loss(t, 15.0) == 0.0
    assert cal.target_loss(t, 10.0) == 0.0
    assert cal.target_loss(t, 40.0) == pytest.approx(2 * math.log(2) ** 2)
    assert cal.target_loss(t, 5.0) == pytest.approx(2 * math.log(2) ** 2)


def test_zero_or_nan_simulated_gives_large_finite_loss():
    t = _t(value=1000.0)
    for x in (0.0, float("nan"), -3.0):
        v = cal.target_loss(t, x)
        assert np.isfinite(v) and v > 100


def test_loss_sums_fitted_targets_only_unless_asked():
    a, b = _t(name="a", value=1.0), _t(name="b", value=1.0, fit=False)
    stats = {"a": math.e, "b": math.e}
    assert cal.loss([a, b], stats) == pytest.approx(1.0)
    assert cal.loss([a, b], stats, fitted_only=False) == pytest.approx(2.0)


def test_inside():
    assert _t(low=1.0, high=2.0).inside(1.5) and not _t(low=1.0, high=2.0).inside(2.5)
    assert _t(value=100.0).inside(109.0) and not _t(value=100.0).inside(111.0)
    assert not _t(value=100.0).inside(float("nan"))


# --- targets table -------------------------------------------------------------------------


def test_shipped_targets_parse_and_every_statistic_exists():
    targets = cal.load_targets()
    assert len(targets) >= 10
    names = {t.name for t in targets}
    assert {"cmed_arrivals_year", "us_unauthorised_mex_ca", "bgd_sau_labour_year"} <= names
    for t in targets:
        assert t.name in cal.STATISTICS and t.source and t.unit and t.year
        assert (t.value is not None) != (t.low is not None)


@pytest.mark.parametrize("body, key", [
    ("targets: {nope: {value: 1, unit: u, year: 1, source: s}}", "targets.nope"),
    ("targets: {cmed_death_rate: {unit: u, year: 1, source: s}}", "targets.cmed_death_rate"),
    ("targets: {cmed_death_rate: {value: 1, range: [1, 2], unit: u, year: 1, source: s}}", "targets.cmed_death_rate"),
    ("targets: {cmed_death_rate: {range: [2, 1], unit: u, year: 1, source: s}}", "targets.cmed_death_rate.range"),
    ("targets: {cmed_death_rate: {value: -1, unit: u, year: 1, source: s}}", "targets.cmed_death_rate.value"),
    ("targets: {cmed_death_rate: {value: 1, unit: u, year: 1}}", "targets.cmed_death_rate.source"),
    ("targets: {cmed_death_rate: {value: 1, unit: u, year: 1, source: s, weight: -1}}",
     "targets.cmed_death_rate.weight"),
    ("targets: {cmed_death_rate: {value: 1, unit: u, year: 1, source: s, system: mars}}",
     "targets.cmed_death_rate.system"),
    ("targets: {cmed_death_rate: {value: 1, unit: u, year: 1, source: s, wieght: 2}}",
     "targets.cmed_death_rate.wieght"),
    ("targets: [1, 2]", "targets"),
])
def test_bad_targets_name_the_key(tmp_path, body, key):
    p = tmp_path / "t.yaml"
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        cal.load_targets(p)
    assert e.value.key == key


def test_relative_difference_is_zero_inside_a_range_and_relative_to_the_nearer_bound():
    point, rng = _t(value=200.0), _t(low=100.0, high=200.0)
    assert point.relative_difference(150.0) == pytest.approx(0.25)
    assert rng.relative_difference(150.0) == 0.0
    assert rng.relative_difference(50.0) == pytest.approx(0.5)
    assert rng.relative_difference(300.0) == pytest.approx(0.5)
    assert math.isnan(rng.relative_difference(float("nan")))


def test_every_system_has_targets_and_the_table_reports_each_systems_averaged_difference():
    targets = cal.load_targets()
    by_system = {s: [t for t in targets if t.system == s] for s in cal.SYSTEMS}
    assert all(by_system.values()), {s: len(v) for s, v in by_system.items()}
    sim = {t.name: (t.value if t.value is not None else t.high) * 1.5 for t in targets}  # every target 50% high
    per_rep = pd.DataFrame([sim, sim])
    tab = cal.table(targets, per_rep)
    lines = cal.systems_markdown(tab)
    for s in cal.SYSTEMS:
        row = next(line for line in lines if line.startswith(f"| {s} |"))
        n = len(by_system[s])
        # point targets are 0.5 off, ranges (1.5 x high - high) / high = 0.5 off too
        assert row == f"| {s} | {n} | 0.5 |"


# --- parameters and write-back ----------------------------------------------------------------


def test_parameter_unit_transform_round_trips_and_clips():
    p = cal.Parameter("consider_rate", 0.001, 0.1, "log")
    for v in (0.001, 0.01, 0.1):
        assert p.from_unit(p.to_unit(v)) == pytest.approx(v)
    assert p.to_unit(0.01) == pytest.approx(0.5)
    assert p.from_unit(2.0) == pytest.approx(0.1)
    q = cal.Parameter("asc_labour", -6.0, -1.0)
    assert q.from_unit(0.5) == pytest.approx(-3.5)


def test_unknown_parameter_is_refused():
    with pytest.raises(ConfigError):
        cal.parameters(["b_gain_typo"], {"b_gain": 1.0})


def test_write_behaviour_edits_values_and_keeps_provenance(tmp_path):
    from importlib import resources

    src = (resources.files("gcm_sim") / "data" / "behaviour.yaml").read_text()
    p = tmp_path / "behaviour.yaml"
    p.write_text(src)
    cal.write_behaviour(p, {"consider_rate": 0.0123, "asc_labour": -2.5}, "run R, 2025-01-01, objective 1.5")
    text = p.read_text()
    import yaml

    data = yaml.safe_load(text)["parameters"]
    assert data["consider_rate"]["value"] == pytest.approx(0.0123)
    assert data["asc_labour"]["value"] == pytest.approx(-2.5)
    assert "CALIBRATED (run R, 2025-01-01, objective 1.5)" in data["consider_rate"]["source"]
    assert data["asc_smuggled"] == yaml.safe_load(src)["parameters"]["asc_smuggled"]  # others untouched
    assert "objective 1.5" in text.splitlines()[0]


# --- statistics on a synthetic run ----------------------------------------------------------------


def _synthetic_run():
    rows = []
    for month in range(1, 25):
        rows.append(dict(month=month, origin="BGD", destination="SAU", channel="labour",
                         measure="departures_regular", value=1000.0))
        rows.append(dict(month=month, origin="BGD", destination="SAU", channel="labour",
                         measure="recruitment_fees_usd", value=1000.0 * 4210.0))
        rows.append(dict(month=month, origin="MEX", destination="USA", channel="smuggled",
                         measure="stock_irregular", value=float(month)))
    ts = pd.DataFrame(rows)
    legs = pd.DataFrame([dict(**{"from": "LBY", "to": "ITA"}, month=m, attempts=100.0, interceptions=40.0,
                              deaths=1.0) for m in range(1, 25)])
    return cal.RunData(ts, {"recruitment_cost_months": 3.0, "remittance_cost_pct": 5.0}, legs,
                       {"SAU": 421.0}, 24)


def test_statistics_on_synthetic_run():
    d = _synthetic_run()
    s = cal.statistics(d, ["bgd_sau_labour_year", "cmed_arrivals_year", "cmed_interception_rate",
                           "cmed_death_rate", "us_unauthorised_mex_ca", "recruitment_cost_months"])
    assert s["bgd_sau_labour_year"] == pytest.approx(12_000)  # last 12 months
    assert s["cmed_arrivals_year"] == pytest.approx(12 * 59)
    assert s["cmed_interception_rate"] == pytest.approx(0.4)
    assert s["cmed_death_rate"] == pytest.approx(0.01)
    assert s["us_unauthorised_mex_ca"] == pytest.approx(24.0)  # the last month's stock
    by_origin = cal.statistics(d, [f"us_unauthorised_{o}" for o in ("mex", "slv", "gtm", "hnd")])
    assert by_origin == {"us_unauthorised_mex": pytest.approx(24.0), "us_unauthorised_slv": 0.0,
                         "us_unauthorised_gtm": 0.0, "us_unauthorised_hnd": 0.0}  # each its own origin's
    assert cal.STATISTICS["recruitment_months_pak_sau"](d) != cal.STATISTICS["recruitment_months_pak_sau"](d)  # NaN
    d.timeseries.loc[d.timeseries.origin == "BGD", "origin"] = "BGD"
    months = cal._recruitment_months("BGD", "SAU")(d)
    assert months == pytest.approx(10.0)


# --- a tiny optimiser run --------------------------------------------------------------------------


def test_tiny_calibration_runs_and_writes_outputs(tmp_path):
    from gcm_sim.config import load_config
    from gcm_sim.world import load_world

    world = load_world()
    cfg = load_config("baseline", ["run.households=400", "run.months=2", "run.replicates=1"], world=world)
    targets = [t for t in cal.load_targets() if t.name in ("bgd_sau_labour_year", "remittance_cost_pct")]
    params = cal.parameters(["consider_rate"], dict(cfg.behaviour))
    res = cal.calibrate(cfg, world, targets, params, maxfev=1, final_replicates=2)
    assert res.evaluations == 1 and np.isfinite(res.objective)
    assert res.objective <= res.start_objective
    assert set(res.fitted) == {"consider_rate"}
    meta = cal.write_outputs(res, cfg, tmp_path, "gcm-sim calibrate test")
    tab = pd.read_csv(tmp_path / "calibration.csv")
    assert list(tab["target"]) == [t.name for t in targets]
    assert {"simulated_mean", "ci_low", "ci_high", "inside", "source"} <= set(tab.columns)
    md = (tmp_path / "calibration.md").read_text()
    assert "consider_rate" in md and "objective" in md
    assert meta["seed"] == cfg.run.seed and (tmp_path / "fitted.yaml").exists()


# --- validation statistics on synthetic data --------------------------------------------------------


def test_hump_peak_finds_the_vertex_of_a_log_quadratic():
    gni = np.array([1000, 2000, 4000, 8000, 16000, 32000], float)
    rate = 10 - (np.log(gni) - np.log(8000)) ** 2
    peak, curv = val.hump_peak(gni, rate)
    assert peak == pytest.approx(8000, rel=1e-6) and curv < 0
    assert val.rises_then_falls(gni, rate)
    assert not np.isfinite(val.hump_peak(gni, np.log(gni))[0]) or not val.rises_then_falls(gni, np.log(gni))
    assert not val.rises_then_falls(gni, np.log(gni))  # monotone: no hump


def test_a_flat_channel_leaves_the_hump_peak_where_it_was_and_the_reading_names_each_channel():
    from gcm_sim.studies.validation.published import hump_channels_sentence

    gni = np.array([1000, 2000, 4000, 8000, 16000, 32000], float)
    humped = 10 - (np.log(gni) - np.log(8000)) ** 2
    assert val.hump_peak(gni, humped + 5.0)[0] == pytest.approx(val.hump_peak(gni, humped)[0])
    by = pd.DataFrame({"labour": 5.0, "smuggled": humped, "visitor": 0.0}, index=pd.Index(gni.astype(int), name="gni"))
    text = hump_channels_sentence(by)
    assert "labour 5.00 at 1,000, at most 5.00" in text and "smuggled" in text and "(at 8,000)" in text
    assert "visitor" not in text  # a channel nobody uses is left out


def test_arc_and_semi_elasticities():
    # value = cost^-1.6 exactly: the arc elasticity recovers -1.6
    assert val.arc_elasticity(0.95 ** -1.6, 1.05 ** -1.6) == pytest.approx(-1.6)
    # a 10% income fall adding 2 points of emigration: about -0.19
    assert val.semi_elasticity(0.05, 0.03, 10.0) == pytest.approx(0.02 / math.log(0.9))


# --- command line ------------------------------------------------------------------------------------


NM = "method=nelder-mead"


@pytest.mark.parametrize("argv", [
    ["calibrate", NM, "maxfev=0"], ["calibrate", NM, "maxfev=x"], ["calibrate", NM, "params=nope"],
    ["calibrate", NM, "write=maybe"], ["calibrate", NM, "final_replicates=1"], ["calibrate", NM, "oops"],
    ["calibrate", NM, "targets=/nonexistent.yaml"], ["calibrate", NM, "run.households=-5"],
    ["calibrate", "method=annealing"], ["calibrate", "population=2"], ["calibrate", "generations=0"],
    ["calibrate", "maxfev=10"], ["calibrate", "params=nope"], ["calibrate", "min_epsilon=-1"],
    ["calibrate", "write=maybe"], ["calibrate", "run.parameters=guess"], ["calibrate", "run.parameters=posterior"],
    ["calibrate", NM, "run.parameters=posterior"],
    ["validate", "checks=nope"], ["validate", "run.replicates=1"], ["validate", "bad"],
])
def test_cli_bad_input_exits_2(argv, capsys, tmp_path):
    assert main([*argv, f"hydra.run.dir={tmp_path / 'out'}"]) == 2
    assert "error" in capsys.readouterr().err
