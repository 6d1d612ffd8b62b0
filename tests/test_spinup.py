"""The spin-up before month 1 (run.spinup_months): unreported, the same baseline in every arm,
and the policy, shocks and timing counted from month 1."""

import numpy as np

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

