"""Demography and the starting state: returnees rejoin their households, income follows its
earners, people abroad age, and people are on the road at month 1 (transit.csv)."""

import numpy as np
import pytest

from gcm_sim.categories import ABROAD, CHILD, REJOINED, RETURNED, TRANSIT, YOUTH
from gcm_sim.mechanisms import demography
from gcm_sim.mechanisms.returns import return_home
from gcm_sim.model import MigrationModel
from gcm_sim.world import WorldDataError, load_world

from .helpers import config, world


def _model(households=3000, seed=3):
    return MigrationModel(config(run__households=households), rng=seed, world=world())


def test_a_returnee_is_a_member_at_home_again_the_next_month_and_earns_there():
    m = _model()
    mi, hh = m.migrants, m.households
    # an adult abroad of a household with at least one adult at home
    adults_abroad = np.flatnonzero((mi.view("state") == ABROAD) & (mi.view("age") != CHILD))
    k = int(adults_abroad[0])
    h = int(mi.household[k])
    people, income = int(hh.people()[h]), float(hh.base_income_usd[h])
    adults = int(hh.members[h, :4].sum())
    return_home(m, np.array([k]), forced=False)
    assert mi.state[k] == RETURNED and int(hh.people()[h]) == people  # the month of return: not yet home
    demography.rejoin(m)
    assert mi.state[k] == REJOINED
    assert int(hh.people()[h]) == people + 1
    assert float(hh.base_income_usd[h]) == pytest.approx(income * (adults + 1) / max(adults, 1), rel=1e-5)


def test_people_are_conserved_through_returns_rejoining_and_a_birthday():
    m = _model(2000)
    total = sum(m.people_by_state().values())
    rejoined = 0.0
    for _ in range(14):
        m.step()
        people = m.people_by_state()
        assert abs(sum(people.values()) - total) <= 1e-6 * total
        rejoined = float(m.migrants.weight[: m.migrants.n][m.migrants.view("state") == REJOINED].sum())
    assert rejoined > 0  # returnees did come home


def test_income_falls_when_an_adult_leaves():
    m = _model()
    hh = m.households
    h = int(np.flatnonzero(hh.members[:, :4].sum(axis=1) >= 3)[0])
    before, adults = float(hh.base_income_usd[h]), int(hh.members[h, :4].sum())
    hh.leave(np.array([h]), np.array([int(np.flatnonzero(hh.members[h, :4])[0])]))
    assert float(hh.base_income_usd[h]) == pytest.approx(before * (adults - 1) / adults, rel=1e-5)


def test_children_abroad_grow_up_at_one_in_eighteen_a_year():
    m = _model(6000)
    mi = m.migrants
    away = np.flatnonzero(mi.view("state") == ABROAD)
    mi.age[away] = CHILD
    demography.age_abroad(m, 12)
    share = float(np.mean(mi.age[away] == YOUTH))
    n = len(away)
    assert abs(share - 1 / 18) < 4 * np.sqrt((1 / 18) * (17 / 18) / n), (share, n)


def test_people_are_on_the_road_at_month_one_as_transit_csv_says():
    w = world()
    assert w.transit is not None
    m = MigrationModel(config(run__households=20000), rng=1, world=w)
    mi = m.migrants
    on = mi.view("state") == TRANSIT
    assert on.any() and mi.moving[: mi.n][on].any() and (~mi.moving[: mi.n][on]).any()
    # real people on the road by origin: the table's rate x real households, up to the stochastic
    # rounding of each row's record count (a Bernoulli of at most one record, variance <= 1/4)
    hh = m.households
    for c, rows in w.transit.groupby("origin"):
        o = w.index[c]
        weight = float(hh.weight[hh.country == o][0])
        expected = float(rows["people_per_household"].sum() * hh.weight[hh.country == o].sum())
        got = float(mi.weight[: mi.n][on & (mi.view("origin") == o)].sum())
        assert abs(got - expected) <= 4 * weight * np.sqrt(len(rows) / 4) + 1e-6 * expected, c


def test_a_transit_row_naming_a_route_the_world_lacks_is_refused(tmp_path):
    from importlib import resources

    src = resources.files("gcm_sim") / "data"
    for f in src.iterdir():
        if f.name.endswith((".csv", ".yaml")):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "transit.csv").write_text("origin,route,leg,moving,people_per_household,cash_usd\n"
                                          "NGA,NGA>MAR>ESP,0,true,0.001,500\n")
    with pytest.raises(WorldDataError, match=r"transit.csv.*row 2.*route.*NGA>MAR>ESP"):
        load_world(tmp_path)


def test_a_returnee_who_lost_a_dead_share_on_the_way_is_not_counted_twice():
    m = _model()
    mi = m.migrants
    k = int(np.flatnonzero(mi.view("state") == ABROAD)[0])
    mi.weight[k] *= np.float32(0.97)  # as after a leg's implicit capture split 3% off as dead
    before = sum(m.people_by_state().values())
    return_home(m, np.array([k]), forced=False)
    demography.rejoin(m)
    assert sum(m.people_by_state().values()) == pytest.approx(before, rel=1e-9)
    assert m.households.absent[mi.household[k]] == pytest.approx(0.03, rel=1e-3)
