"""Shocks, credit and networks (issue 13, items 3 and 5).

The consideration hazard grows with the size of a shock's income loss; credit grows with
income above subsistence, with assets and with ties, and is floored at what
intermediaries lend; diaspora ties follow the stock abroad (cumulative causation).
"""

from __future__ import annotations

import numpy as np

from gcm_sim.categories import ABROAD
from gcm_sim.decisions import Weights, credit_usd
from gcm_sim.exchange import run_local
from gcm_sim.measures import total
from gcm_sim.mechanisms import networks
from gcm_sim.mechanisms.choice import shock_hazard
from gcm_sim.model import MigrationModel

from .helpers import config, world


def weights(**b) -> Weights:
    return Weights.from_behaviour({**world().behaviour, **b})


def test_the_hazard_grows_with_the_loss_in_proportion():
    base = 0.01
    h = shock_hazard(base, np.array([0.0, 0.02, 0.1, 0.3]), 10.0)
    assert h[0] == base
    assert np.all(np.diff(h) > 0)
    # a 2% loss adds a fifth of what a 10% loss adds: the response per unit of loss is the same
    assert np.isclose((h[1] - base) / (h[2] - base), 0.2)
    assert shock_hazard(0.5, 1.0, 10.0) == 1.0  # a probability


def test_credit_rises_with_income_and_assets_and_is_floored():
    w = weights(credit_income_months=6.0, credit_months_per_tie=6.0, collateral_share=0.5)
    share, base = np.array([0.0, 0.5]), np.array([0.0, 2000.0])  # no intermediary; a smuggler's half
    sub = np.full(4, 100.0)
    ties = np.zeros((4, 2))
    income = np.array([50.0, 100.0, 200.0, 400.0])
    c = credit_usd(income, np.zeros(4), sub, ties, share, base, w)
    # nothing is lent on income at or below subsistence: only the intermediary's part
    assert np.all(c[:2, 0] == 0) and np.all(c[:2, 1] == 1000.0)
    assert np.all(np.diff(c[:, 0]) >= 0) and c[3, 0] == 6 * 300.0
    assets = np.array([0.0, 1000.0, 2000.0, 4000.0])
    ca = credit_usd(np.full(4, 50.0), assets, sub, ties, share, base, w)
    assert np.all(np.diff(ca[:, 0]) > 0) and np.allclose(ca[:, 0], 0.5 * assets)
    # ties add months of lending on the surplus, never on income below subsistence
    ct = credit_usd(np.array([400.0, 50.0]), np.zeros(2), sub[:2], np.log1p(np.array([[0.0, 0.0], [5.0, 5.0]]))[[1, 1]],
                    share, base, w)
    assert ct[0, 0] > c[3, 0] and ct[1, 0] == 0.0
    assert np.all(credit_usd(income, -assets, sub, ties, share, base, w) >= 0)  # never negative


def test_the_poorest_cannot_finance_what_the_better_off_can():
    from gcm_sim.decisions import option_utilities

    m = MigrationModel(config(run__households=2000), rng=1)
    o = m.world.index["SEN"]
    opts = m.options()[o]
    col = int(np.argmax(np.where(opts.route >= 0, opts.cost_usd, -1)))  # the dearest smuggling route
    n = 2
    ties = np.zeros((n, len(opts)))
    args = lambda income: (opts, np.zeros(n, np.int64), income, income, np.full(n, 100.0), ties,  # noqa: E731
                           np.zeros((n, len(opts)), bool), 0.0, np.zeros(n, bool), np.zeros(n), np.ones(len(opts), bool),
                           0.0, m.weights, np.full(n, 150.0))
    _, poor = option_utilities(*args(np.array([100.0, 150.0])))
    _, rich = option_utilities(*args(np.array([5000.0, 8000.0])))
    assert not poor[:, col].any() and rich[:, col].all()


def test_ties_follow_the_stock_abroad():
    m = MigrationModel(config(run__households=3000, run__spinup_months=0), rng=2)  # the world's ties at the start
    mex, usa = m.world.index["MEX"], m.world.index["USA"]
    start = m.community[mex, usa]
    assert start > 0 and np.isclose(start, m.community_0[mex, usa])
    run_local(networks.step(m, 1))
    assert np.isclose(m.community[mex, usa], start)  # nothing moved yet: the world's ties
    mig = m.migrants
    here = np.flatnonzero((mig.view("state") == ABROAD) & (mig.view("origin") == mex) & (mig.view("destination") == usa))
    mig.weight[here] *= 1.5  # the diaspora grows by half
    run_local(networks.step(m, 2))
    assert np.isclose(m.community[mex, usa], 1.5 * start, rtol=1e-4)
    other = m.world.index["IND"], m.world.index["ARE"]
    assert np.isclose(m.community[other], m.community_0[other])


def test_ties_grow_over_a_run_with_emigration():
    m = MigrationModel(config(run__households=3000, behaviour={"consider_rate": 0.1}), rng=3)
    for _ in range(12):
        m.step()
    grew = m.community > m.community_0 * 1.0001
    assert grew.any()
    mex, usa = m.world.index["MEX"], m.world.index["USA"]
    stock = networks.stock_abroad(m)[mex, usa]
    assert np.isclose(m.community[mex, usa] / m.community_0[mex, usa],
                      stock / m.stock_0[mex, usa] * m.home_0[mex] / networks.people_at_home(m)[mex], rtol=1e-6)


def test_people_at_home_by_age_add_up():
    m = MigrationModel(config(run__households=2000), rng=4)
    m.step()
    ts = m.timeseries()
    rows = ts[ts["measure"] == "people_at_home"]
    assert set(rows["age_group"]) <= {"child", "youth", "adult"}
    assert np.isclose(total(ts, "people_at_home"), m.people_by_state()["home"], rtol=1e-6)
    adults = total(ts, "people_at_home", origin="MEX", age_group=["youth", "adult"])
    assert 0 < adults < total(ts, "people_at_home", origin="MEX")


def test_a_farm_shock_reaches_rural_non_farm_households():
    shock = [{"origin": ["MEX"], "start_month": 1, "duration_months": 12, "income_loss_pct": 10.0,
              "asset_loss_pct": 0.0, "exposed_share": None}]
    m = MigrationModel(config(run__households=3000, climate__shocks=shock), rng=5)
    hh, mex = m.households, m.world.index["MEX"]
    struck = (hh.country == mex) & hh.exposed  # where households stand when the shock strikes
    m.step()
    farm = struck & (hh.country == mex) & hh.exposed  # still on the farm at the month's end (none moved away)
    nonfarm = (hh.country == mex) & hh.rural & ~hh.exposed
    urban = (hh.country == mex) & ~hh.rural
    link = m.b["rural_nonfarm_linkage"]
    assert np.allclose(hh.shock_loss[farm & ~hh.assisted], 0.1)
    assert np.allclose(hh.shock_loss[nonfarm & ~hh.assisted], link * 0.1)
    assert np.all(hh.shock_loss[urban] == 0)
    affected = total(m.timeseries(), "climate_affected_households", origin="MEX")
    assert np.isclose(affected, hh.weight[struck].sum(), rtol=1e-5)  # only the directly exposed


def test_validation_oversampling_concentrates_the_sample_and_the_shock_ratio():
    import pandas as pd

    from gcm_sim.agents.households import allocate
    from gcm_sim.studies.validation import CHECKS, _oversample, shock_ratio

    assert "shock_size" in CHECKS
    assert shock_ratio(-0.2, -0.2) == 1.0 and np.isnan(shock_ratio(-0.1, 0.0))
    w = world()
    df = pd.DataFrame({"origin": list(w.sampling), "movers_per_household_year": list(w.sampling.values())})
    rates = _oversample(df, "MEX").set_index("origin")["movers_per_household_year"]
    origins = w.with_role("origin")
    pop = w.countries.loc[origins, "population"].to_numpy(float) / w.countries.loc[origins, "household_size"].to_numpy(float)
    before = allocate(pop, 20_000, np.array([w.sampling[c] for c in origins]))
    after = allocate(pop, 20_000, np.array([rates[c] for c in origins]))
    i = origins.index("MEX")
    assert after.sum() == before.sum() and after[i] > 3 * before[i]


def test_households_save_only_what_lies_above_subsistence():
    """Saving is ``saving_rate`` x (income + remittances - subsistence), never below zero: the poorest
    save nothing however long they wait (Ogaki, Ostry & Reinhart 1996), and remittances first cover
    the household's subsistence need."""
    from gcm_sim.agents.households import Households

    n = 4
    hh = Households(country=np.zeros(n, np.int64), weight=np.ones(n), rural=np.zeros(n, bool),
                    skill=np.zeros(n, np.int8), members=np.tile([0, 1, 0, 1, 0], (n, 1)),
                    base_income_usd=np.array([50.0, 100.0, 300.0, 50.0]), assets_usd=np.zeros(n),
                    exposed=np.zeros(n, bool), n_countries=1, n_destinations=1)
    hh.remittances_usd[:] = np.array([0.0, 0.0, 0.0, 250.0], np.float32)
    hh.earn_and_save(np.ones(1), 0.1, np.zeros(n), subsistence_usd=np.full(n, 100.0))
    assert np.allclose(hh.assets_usd, [0.0, 0.0, 20.0, 20.0])
    hh.earn_and_save(np.ones(1), 0.1, np.zeros(n))  # without a need: a share of all of it, as before
    assert np.allclose(hh.assets_usd, [5.0, 10.0, 50.0, 25.0])
