"""Calibration v2 (issue 14): ABC-SMC with pyabc, the posterior as data, runs that draw from it,
and parameter and stochastic uncertainty told apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gcm_sim.policy import ConfigError
from gcm_sim.studies import parameters as params_mod
from gcm_sim.studies import posterior as post_mod
from gcm_sim.studies.experiment import nested_interval, replicate_config

from .helpers import config, world


def _posterior_world(tmp_path, rows):
    from importlib import resources

    for f in (resources.files("gcm_sim") / "data").iterdir():
        if f.name.endswith((".csv", ".yaml")) and f.name != "posterior.csv":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    pd.DataFrame(rows).to_csv(tmp_path / "posterior.csv", index=False)
    from gcm_sim.world import load_world

    return load_world(tmp_path)


def test_nested_interval_tells_parameter_from_seed_noise():
    rng = np.random.default_rng(0)
    draws, seeds = 400, 4
    a = rng.normal(0, 2.0, draws)                        # the parameter's effect, sd 2
    x = (a[:, None] + rng.normal(0, 1.0, (draws, seeds))).ravel()   # seed noise, sd 1
    g = np.repeat(np.arange(draws), seeds)
    out = nested_interval(x, g)
    assert out["sd_parameter"] == pytest.approx(2.0, rel=0.1)
    # stochastic half-width ~ 1.96 * 1 / sqrt(1600); total ~ 1.96 * sqrt(4 + 1/4) / sqrt(400)
    assert (out["stoch_high"] - out["stoch_low"]) / 2 == pytest.approx(1.96 / 40, rel=0.1)
    assert (out["high"] - out["low"]) / 2 == pytest.approx(1.97 * np.sqrt(4.25 / 400), rel=0.1)


def test_without_a_parameter_effect_the_parameter_sd_is_near_zero():
    rng = np.random.default_rng(1)
    x = rng.normal(5, 1, 800)
    out = nested_interval(x, np.repeat(np.arange(200), 4))
    assert out["sd_parameter"] < 0.15


def test_the_report_says_when_an_effect_changes_sign_across_the_posterior():
    """A policy effect that the parameters push both ways is flagged; one whose draws scatter
    around zero by seed noise alone, or that keeps its sign, is not (issue 14: 'say when a
    policy's effect changes sign across the posterior')."""
    import pandas as pd

    from gcm_sim.edges.report import effect, sign_text
    from gcm_sim.studies.experiment import DIFF_COLUMNS, DIFF_SPLIT_COLUMNS, _nested_difference, paired_difference

    rng = np.random.default_rng(2)
    draws, seeds, base = 8, 4, 100.0
    g = np.repeat(np.arange(draws), seeds)

    def row(paired):
        res = _nested_difference(paired_difference(base + paired, np.full(paired.size, base), base, False),
                                 paired, g, base, False)
        return pd.Series({"mean": base + res[0], **dict(zip(DIFF_COLUMNS + DIFF_SPLIT_COLUMNS, res))})

    both_ways = np.repeat(np.array([-6.0, 5, -4, 6, -5, 4, -6, 5]), seeds) + rng.normal(0, 0.5, draws * seeds)
    e = effect(row(both_ways), "regular_departures")
    assert e["changes_sign"] and e["draws_up"] == 4 and e["draws_down"] == 4
    assert "rises in 4 of 8 posterior draws and falls in 4" in sign_text(e)
    noise_only = rng.normal(0, 1.0, draws * seeds)           # no parameter effect at all
    assert not effect(row(noise_only), "regular_departures")["changes_sign"]
    one_way = np.repeat(np.linspace(2, 9, draws), seeds) + rng.normal(0, 0.5, draws * seeds)
    e = effect(row(one_way), "regular_departures")
    assert not e["changes_sign"] and e["draws_down"] == 0 and sign_text(e) == ""


def test_a_posterior_draw_is_keyed_to_seed_and_draw_and_follows_the_weights():
    p = params_mod.Posterior(pd.DataFrame({"consider_rate": [0.01, 0.02]}), np.array([0.9, 0.1]))
    assert p.draw(7, 3) == p.draw(7, 3)
    picks = [p.draw(7, r)["consider_rate"] for r in range(2000)]
    assert np.mean(np.isclose(picks, 0.01)) == pytest.approx(0.9, abs=0.03)


def test_replicates_share_a_draw_within_a_group_and_arms_share_it(tmp_path):
    w = _posterior_world(tmp_path, {"consider_rate": [0.01, 0.02, 0.03], "asc_smuggled": [-5.0, -4.5, -4.0],
                                    "weight": [1, 1, 1]})
    cfg = config(run__parameters="posterior", run__draws=3, run__replicates=6)
    got = [replicate_config(cfg, r, w).behaviour["consider_rate"] for r in range(6)]
    assert got[0] == got[3] and got[1] == got[4] and got[2] == got[5]
    assert len(set(got)) >= 2
    other = config(run__parameters="posterior", run__draws=3, run__replicates=6,
                   policy__visa__default__fee_usd=10.0)
    assert [replicate_config(other, r, w).behaviour["consider_rate"] for r in range(6)] == got


@pytest.mark.parametrize("rows, message", [
    ({"consider_rate": [0.01], "weight": [-1]}, "weights"),
    ({"not_a_parameter": [1.0], "weight": [1]}, "not_a_parameter"),
    ({"consider_rate": [0.01]}, "weight column"),
    ({"consider_rate": [5.0], "weight": [1]}, "consider_rate"),
])
def test_a_bad_posterior_file_is_refused_with_its_name(tmp_path, rows, message):
    pd.DataFrame(rows).to_csv(tmp_path / "posterior.csv", index=False)
    with pytest.raises(ConfigError, match=message):
        params_mod.load_posterior(tmp_path / "posterior.csv", dict(world().behaviour))


def test_a_world_without_a_posterior_is_refused_before_work_starts(tmp_path):
    from gcm_sim.studies.experiment import run

    w = _posterior_world(tmp_path, {"consider_rate": [0.01], "weight": [1]})
    (tmp_path / "posterior.csv").unlink()
    with pytest.raises(ConfigError, match="run.parameters.*posterior.csv"):
        run(config(run__parameters="posterior", run__households=500, run__months=2), world=w)


def test_more_draws_than_replicates_is_refused():
    with pytest.raises(ConfigError, match="run.draws"):
        config(run__parameters="posterior", run__draws=9, run__replicates=8)


def test_overriding_a_drawn_parameter_is_refused(tmp_path):
    from gcm_sim.studies.experiment import run

    w = _posterior_world(tmp_path, {"consider_rate": [0.01], "weight": [1]})
    cfg = config(behaviour={"consider_rate": 0.03}, run__parameters="posterior", run__households=500,
                 run__months=2)
    with pytest.raises(ConfigError, match="behaviour.consider_rate"):
        run(cfg, world=w)


def test_a_comparison_on_the_posterior_reports_both_parts_of_its_uncertainty(tmp_path):
    from gcm_sim.studies.experiment import compare

    w = _posterior_world(tmp_path, {"consider_rate": [0.008, 0.03], "weight": [1, 1]})
    cfg = config(run__parameters="posterior", run__draws=4, run__replicates=8, run__households=1500,
                 run__months=6)
    import dataclasses

    # the arm as a Config (used as given: no Hydra composition, which other tests' state can disturb)
    arm = config(run__parameters="posterior", run__draws=4, run__replicates=8, run__households=1500,
                 run__months=6, policy__visa__default__fee_usd=10.0)
    arm = arm.replace(scenario=dataclasses.replace(arm.scenario, name="visa_liberalisation"))
    res = compare(cfg, [arm], world=w)
    s = res.summary
    row = s[(s["scenario"] == "baseline") & (s["indicator"] == "regular_departures")].iloc[0]
    # the consideration rate quadruples between the draws: most of the spread is the parameter's
    assert row["sd_parameter"] > 0
    assert row["ci_high"] - row["ci_low"] > row["ci_high_stochastic"] - row["ci_low_stochastic"]
    arm = s[(s["scenario"] == "visa_liberalisation") & (s["indicator"] == "regular_departures")].iloc[0]
    assert np.isfinite(arm["diff_ci_low_stochastic"]) and np.isfinite(arm["diff_sd_parameter"])


def test_abc_smc_runs_resumes_and_writes_a_posterior(tmp_path):
    from gcm_sim.studies.calibration import load_targets, parameters

    cfg = config(run__households=800, run__months=12, run__replicates=1)
    targets = [t for t in load_targets() if t.fit][:4]
    params = parameters(["consider_rate"], dict(cfg.behaviour))
    h = post_mod.calibrate_abc(cfg, world(), targets, params, population=4, generations=1, run_dir=tmp_path)
    assert h.n_populations == 1
    h = post_mod.calibrate_abc(cfg, world(), targets, params, population=4, generations=2, run_dir=tmp_path)
    assert h.n_populations == 2  # resumed: one more generation on the same database
    post, gens = post_mod.history_tables(h, params)
    assert list(gens["generation"]) == [0, 1] and gens["epsilon"].iloc[1] <= gens["epsilon"].iloc[0]
    assert ((gens["ess"] >= 1 - 1e-9) & (gens["ess"] <= gens["particles"] + 1e-9)).all()  # Kish's ESS
    assert post_mod.effective_sample_size([1, 1, 1, 1]) == pytest.approx(4)
    assert post_mod.effective_sample_size([1, 0, 0, 0]) == pytest.approx(1)
    assert len(post.weights) == 4 and post.weights.sum() == pytest.approx(1.0)
    lo, hi = params[0].low, params[0].high
    assert post.values["consider_rate"].between(lo, hi).all()


def test_abc_smc_gives_the_same_particles_for_the_same_seed_on_one_process_or_two(tmp_path):
    """Reproducible: run.seed fixes pyabc's proposals (abc_sampling.SeededSampler), whichever
    process samples a particle (this one, a pool of two, a Dask worker on 127.0.0.1); another
    seed gives other particles."""
    from gcm_sim.studies.calibration import load_targets, parameters

    targets = [t for t in load_targets() if t.fit][:4]

    def particles(name, workers=1, seed=7, address=None):
        cfg = config(run__households=600, run__months=6, run__replicates=1, run__seed=seed)
        params = parameters(["consider_rate"], dict(cfg.behaviour))
        h = post_mod.calibrate_abc(cfg, world(), targets, params, population=3, generations=2,
                                   run_dir=_made(tmp_path / name), workers=workers, address=address)
        df, w = h.get_distribution(m=0, t=h.max_t)
        return df["consider_rate"].to_numpy(), np.asarray(w)

    from distributed import LocalCluster

    one, two, other = particles("one"), particles("two", workers=2), particles("other", seed=8)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = particles("dask", address=cluster.scheduler_address)
    for same in (two, dask):
        np.testing.assert_array_equal(one[0], same[0])
        np.testing.assert_array_equal(one[1], same[1])
    assert not np.array_equal(one[0], other[0])


def _made(path):
    path.mkdir()
    return path


def test_calibrate_says_when_the_point_values_fit_better_than_the_posterior_median():
    """The distance at the posterior median is read from its targets table and compared with the point
    values' on the same size and seeds; at the point values themselves the two agree."""
    from gcm_sim.studies.calibration import evaluate, load_targets, loss, table

    cfg = config(run__households=800, run__months=12, run__replicates=1)
    targets = load_targets()
    tab = table(targets, evaluate(cfg, world(), targets))  # a "posterior" whose median is the point values
    d = post_mod.distances(cfg, world(), targets, tab)
    assert d["median"] == pytest.approx(d["point"]) and d["point"] > 0
    assert d["point"] == pytest.approx(loss(targets, evaluate(cfg, world(), targets).mean().to_dict()))
    assert "not ready" in post_mod.distance_sentence({"median": 25.9, "point": 11.3})
    assert "at least as well" in post_mod.distance_sentence({"median": 9.0, "point": 11.3})
