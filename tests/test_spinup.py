"""The spin-up before month 1 (run.spinup_months): unreported, the same baseline in every arm,
and the policy, shocks and timing counted from month 1."""

import numpy as np

from gcm_sim.categories import ABROAD

from gcm_sim.model import MigrationModel

from .helpers import config, world


def test_the_spin_up_is_the_baseline_in_every_arm_and_is_not_reported():
    base = MigrationModel(config(run__households=2000, run__spinup_months=6), rng=3, world=world())
    visa = MigrationModel(config(run__households=2000, run__spinup_months=6,
                                 policy__visa__default__fee_usd=0.0, policy__visa__default__refusal_rate=0.0),
                          rng=3, world=world())
    # six months later, before month 1: the same people in the same places, draw for draw
    for a, b in ((base.households.assets_usd, visa.households.assets_usd),
                 (base.migrants.view("state"), visa.migrants.view("state"))):
        np.testing.assert_array_equal(a, b)
    assert visa.cfg.policy.visa.default.fee_usd == 0.0  # in force from month 1 on
    assert base.month == 0 and base.steps == 0 and base.timeseries().empty
    assert base.recorder.recruitment_months_den == 0.0  # no spin-up placement in the indicators
    for _ in range(3):
        base.step()
        visa.step()
    ts = base.timeseries()
    assert sorted(ts["month"].unique()) == [1, 2, 3] and base.steps == 3
    assert [month for month, *_ in base.leg_history] == [1, 2, 3]  # leg records (calibration, validation) too
    assert visa.indicators()["regular_departures"] > base.indicators()["regular_departures"]


def test_shocks_strike_in_the_reported_month_whatever_the_spin_up():
    shock = [{"origin": ["MLI"], "start_month": 2, "duration_months": 3, "income_loss_pct": 30.0,
              "asset_loss_pct": 0.0, "exposed_share": None}]
    for months in (0, 5):
        m = MigrationModel(config(run__households=2000, run__spinup_months=months, climate__shocks=shock), rng=1,
                           world=world())
        m.step()
        assert not m.households.shocked.size
        m.step()
        assert m.households.shocked.size



def test_arms_branched_from_one_spin_up_equal_arms_built_afresh():
    """Experiments run each replicate's spin-up once for all arms (MigrationModel.branch); a
    user's numbers must not depend on that: each branch equals its own run month for month."""
    import pandas as pd
    import pytest

    from gcm_sim.policy import ConfigError

    size = dict(run__households=2000, run__spinup_months=6)
    arms = [config(**size),
            config(**size, policy__visa__default__fee_usd=0.0, policy__visa__default__refusal_rate=0.0),
            config(**size, policy__enforcement__interception_multiplier=2.0, policy__timing__start_month=3)]
    root = MigrationModel(arms[0], rng=5, replicate=1, world=world(), branch_point=True)
    with pytest.raises(ValueError, match="branch"):
        root.step()
    for cfg in arms:
        branched, fresh = root.branch(cfg), MigrationModel(cfg, rng=5, replicate=1, world=world())
        for _ in range(5):
            branched.step()
            fresh.step()
        pd.testing.assert_frame_equal(branched.timeseries(), fresh.timeseries())
        assert branched.indicators() == fresh.indicators()
    other = config(**size, behaviour={"b_death": 2.0})  # a different spin-up: refused, named
    with pytest.raises(ConfigError, match="same spin-up"):
        root.branch(other)


def test_an_experiment_runs_one_spin_up_per_replicate_for_arms_that_share_it():
    from gcm_sim.studies.experiment import spinup_groups

    size = dict(run__households=1000, run__spinup_months=6)
    base, visa = config(**size), config(**size, policy__visa__default__fee_usd=0.0)
    shock = config(**size, climate__shocks=[{"origin": ["MLI"], "start_month": 2, "duration_months": 3,
                                             "income_loss_pct": 30.0, "asset_loss_pct": 0.0,
                                             "exposed_share": None}])
    jobs = [(c, r) for c in (base, visa, shock) for r in range(2)]
    assert spinup_groups(jobs, workers=1) == [[0, 2], [1, 3], [4], [5]]  # the shock changes the spin-up
    assert spinup_groups(jobs, workers=6) == [[0], [2], [1], [3], [4], [5]]  # six workers: all apart
    no_spin = [(config(run__households=1000, run__spinup_months=0), 0)] * 2
    assert spinup_groups(no_spin, workers=1) == [[0], [1]]


def test_victims_deceived_in_the_spin_up_count_in_the_detected_share():
    """Victims deceived before month 1 can be identified after it: they are recorded once, in
    month 1, as trafficking_victims_at_start, and the share detected divides by them too, so it
    is a share (it read 1.6 under border-official training when it did not)."""
    model = MigrationModel(config(run__households=8000, run__spinup_months=24,
                                  policy__enforcement__trafficking_training=1.0), rng=2, world=world())
    m = model.migrants
    in_exploitation = m.view("trafficked") & (m.view("state") == ABROAD)  # as month 1 begins
    exploited = m.view("weight")[in_exploitation].sum()
    assert exploited > 0 and np.isclose(model.victims_at_start[1].sum(), exploited)
    for _ in range(24):
        model.step()
    ts = model.timeseries()
    at_start = ts[ts["measure"] == "trafficking_victims_at_start"]
    assert set(at_start.loc[at_start["value"] > 0, "month"]) == {1} and np.isclose(at_start["value"].sum(), exploited, rtol=1e-5)
    ind, t = model.indicators(), model.recorder.totals()
    assert t["trafficking_detected"] > 0
    assert 0 < ind["trafficking_detected_share"] <= 1
    # the denominator counts the victims drawn, as the numerator does, so no replicate exceeds 1
    drawn = model.migrants.view("weight")[model.migrants.view("trafficked")].sum()  # still exploited
    assert model.recorder.trafficked_drawn > 0
    assert np.isclose(ind["trafficking_detected_share"],
                      t["trafficking_detected"] / (t["trafficking_victims_at_start"] + model.recorder.trafficked_drawn))
    assert t["trafficking_detected"] + drawn <= t["trafficking_victims_at_start"] + model.recorder.trafficked_drawn + 1
