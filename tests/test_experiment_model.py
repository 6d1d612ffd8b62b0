"""experiment.run / compare on the real model: reproducible, parallel == serial, paired seeds."""

from __future__ import annotations

import pandas as pd
import pytest

from gcm_sim.studies import experiment
from gcm_sim.config import load_config

SMALL = ["run.months=3", "run.households=500", "run.replicates=2"]
TS_COLUMNS = ["scenario", "replicate", "seed", "month", "origin", "destination", "channel", "sex",
              "age_group", "measure", "value"]


@pytest.fixture(scope="module")
def world():
    from gcm_sim.world import load_world

    return load_world()


def test_run_is_reproducible_and_tidy(world):
    cfg = load_config("baseline", SMALL, world=world)
    a = experiment.run(cfg, world=world)
    b = experiment.run(cfg, world=world)
    pd.testing.assert_frame_equal(a.indicators, b.indicators)
    assert list(a.timeseries.columns) == TS_COLUMNS
    assert sorted(a.indicators.replicate.unique()) == [0, 1]
    assert (a.summary.n == 2).all()


def test_workers_give_the_same_results_as_serial(world):
    serial = experiment.run(load_config("baseline", SMALL, world=world), world=world)
    par = experiment.run(load_config("baseline", [*SMALL, "run.workers=2"], world=world), world=world)
    pd.testing.assert_frame_equal(serial.indicators, par.indicators)
    pd.testing.assert_frame_equal(serial.timeseries, par.timeseries)


def test_compare_runs_baseline_first_on_the_same_seeds(world):
    cfg = load_config("baseline", SMALL, world=world)
    res = experiment.compare(cfg, ["remittance_sdg"], SMALL, world=world)
    assert list(dict.fromkeys(res.indicators.scenario)) == ["baseline", "remittance_sdg"]
    assert {"diff", "diff_ci_low", "diff_ci_high", "diff_pct"} <= set(res.summary.columns)
    alone = experiment.run(cfg, world=world)  # the baseline arm is exactly a plain baseline run
    base = res.indicators[res.indicators.scenario == "baseline"].reset_index(drop=True)
    pd.testing.assert_frame_equal(base, alone.indicators)
