"""Asylum and temporary protection (issue 12, item 5): group protection on arrival, abandoned
claims, returns of asylum seekers and protection holders, onward movement, conservation."""

from __future__ import annotations


import numpy as np
import pandas as pd

from gcm_sim.categories import ABROAD, ASYLUM_PENDING, PROTECTED, RETURNED, TRANSIT
from gcm_sim.mechanisms import asylum, returns
from gcm_sim.model import MigrationModel
from gcm_sim.studies.validation import worst_year_factor
from gcm_sim.world import load_world
from tests.helpers import MOBILE, config, world


def _model(months=0, behaviour=None, households=3000, seed=3):
    m = MigrationModel(config(behaviour=behaviour, run__households=households), rng=seed, world=world())
    for _ in range(months):
        m.step()
    return m


def _pair(m, origin, destination):
    w = m.world.index
    k = slice(0, m.migrants.n)
    return (m.migrants.origin[k] == w[origin]) & (m.migrants.destination[k] == w[destination])


def test_syrian_stock_in_turkey_starts_under_temporary_protection_not_pending():
    m = _model()
    syr_tur = _pair(m, "SYR", "TUR") & (m.migrants.view("state") == ABROAD)
    status = m.migrants.view("status")[syr_tur]
    share = m.migrants.weight[: m.migrants.n][syr_tur][status == PROTECTED].sum() / m.migrants.weight[: m.migrants.n][syr_tur].sum()
    assert abs(share - 0.817) < 0.12  # corridors.csv asylum_share_pct 81.7
    assert not (status == ASYLUM_PENDING).any()
    assert m.rules.group_protection[m.world.index["SYR"], m.world.index["TUR"]]
    assert m.rules.group_protection.sum() == 1  # the only group regime of the default world


def test_syrians_arriving_in_turkey_get_protection_without_entering_the_queue():
    m = _model(months=12, behaviour=MOBILE)
    ts = m.timeseries()
    at = (ts.origin == "SYR") & (ts.destination == "TUR")
    grants = ts.loc[at & (ts.measure == "temporary_protection_grants"), "value"].sum()
    claims = ts.loc[at & (ts.measure == "asylum_claims"), "value"].sum()
    assert grants > 0 and claims == 0
    syr_tur = _pair(m, "SYR", "TUR") & (m.migrants.view("state") == ABROAD)
    assert not (m.migrants.view("status")[syr_tur] == ASYLUM_PENDING).any()
    # other nationalities still claim individually in Turkey
    afg = (ts.origin == "AFG") & (ts.destination == "TUR") & (ts.measure == "asylum_claims")
    assert ts.loc[afg, "value"].sum() > 0
    # protection holders count in stock_regular and in their own stock
    last = ts[at & (ts.month == 12)]
    tp = last.loc[last.measure == "stock_temporary_protection", "value"].sum()
    assert 0 < tp <= last.loc[last.measure == "stock_regular", "value"].sum()


def test_pending_claims_are_abandoned_at_the_stated_rate():
    rate = 0.3
    m = _model(behaviour={"asylum_abandon_rate": rate})
    mig = m.migrants
    abroad = np.flatnonzero(mig.view("state") == ABROAD)
    mig.status[abroad] = ASYLUM_PENDING
    gone = asylum.abandon(m, 5)
    n = len(abroad)
    assert n > 200
    assert abs(len(gone) / n - rate) < 4 * np.sqrt(rate * (1 - rate) / n)
    assert not (mig.status[gone] == ASYLUM_PENDING).any()
    assert (mig.state[gone] == ABROAD).all()  # they stay, without status


def test_protected_people_return_at_their_rate():
    rate = 0.4
    m = _model(behaviour={"return_protected_rate": rate})
    mig = m.migrants
    idx = np.flatnonzero((mig.view("state") == ABROAD) & (mig.view("debt_usd") <= 0))
    mig.status[idx] = PROTECTED  # every record abroad under temporary protection, whatever its savings or job
    assert len(idx) > 200
    returns.step(m, 1)
    back = mig.state[idx] == RETURNED
    assert abs(back.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / len(idx))
    # the default rate is lower than other migrants' base return hazard
    b = load_world().behaviour
    assert b["return_protected_rate"] < b["return_base"]


def test_protected_people_can_move_on_and_people_are_conserved():
    beh = {**MOBILE, "onward_rate": 0.3, "asylum_abandon_rate": 0.2, "return_protected_rate": 0.05}
    m = MigrationModel(config(behaviour=beh, run__households=2500, run__spinup_months=0), rng=11, world=world())
    start = sum(m.people_by_state().values())
    tur = m.world.index["TUR"]
    for _ in range(8):
        m.step()
        people = m.people_by_state()
        assert all(v >= -1e-3 for v in people.values())
        assert abs(sum(people.values()) - start) <= 1e-6 * start, people
        assert (m.households.abroad >= 0).all() and (m.households.abroad_regular >= 0).all()
    ts = m.timeseries()
    onward = ts[(ts.measure == "onward_departures") & (ts.origin == "SYR")]
    assert onward["value"].sum() > 0
    assert set(onward["destination"].astype(str)) - {"TUR"}  # heading beyond Turkey
    # some are on the road again from Turkey or have arrived further on
    moved = (m.migrants.view("origin") == m.world.index["SYR"]) & (m.migrants.view("location") != tur) & (
        (m.migrants.view("state") == TRANSIT) | (m.migrants.view("state") == ABROAD))
    assert moved.any()


def test_a_world_without_the_group_protection_column_loads_with_none(tmp_path):
    src = load_world().source
    from importlib import resources
    data = resources.files("gcm_sim") / "data"
    for name in ("countries.csv", "corridors.csv", "legs.csv", "behaviour.yaml"):
        (tmp_path / name).write_bytes((data / name).read_bytes())
    df = pd.read_csv(tmp_path / "corridors.csv", keep_default_na=False).drop(columns=["group_protection"])
    df.to_csv(tmp_path / "corridors.csv", index=False)
    w = load_world(tmp_path)
    assert not w.corridors["group_protection"].any()
    assert src


def test_worst_year_factor():
    assert worst_year_factor([3.1e6, 3.1e6]) == 1.0
    assert abs(worst_year_factor([3.1e6, 6.2e6, 2.0e6]) - 2.0) < 1e-12
    assert abs(worst_year_factor([1.55e6]) - 2.0) < 1e-12
    assert worst_year_factor([0.0]) == float("inf")


def test_steady_baseline_reports_each_large_corridors_stock_against_its_start():
    """The stock-drift diagnostic: December stock / UN DESA start, per large corridor and year."""
    import pandas as pd
    from gcm_sim.studies.validation.baseline import DRIFT_MIN_STOCK, _large_corridors, _stock_drift

    w = load_world()
    big = _large_corridors(w)
    assert ("MEX", "USA") == big[0] and ("IND", "ARE") in big
    assert all(w.corridors.set_index(["origin", "destination"]).loc[c, "diaspora_stock"] >= DRIFT_MIN_STOCK
               for c in big)
    start = float(w.corridors.query("origin == 'IND' and destination == 'ARE'")["diaspora_stock"].iloc[0])
    d = pd.DataFrame([{"arm": "trends", "replicate": r, "series": "stock IND->ARE", "year": y,
                       "value": start * (1 - 0.1 * y) * (1 + 0.01 * r)} for r in range(3) for y in (1, 2)])
    drift = _stock_drift(d, w)
    assert list(drift["year"]) == [1, 2]
    assert abs(drift["mean"].iloc[1] - 0.8 * 1.01) < 1e-9 and drift["ci_low"].iloc[1] < 0.808 < drift["ci_high"].iloc[1]


def test_people_intercepted_at_the_turkish_border_are_turned_back_without_a_claim():
    from gcm_sim.mechanisms.journeys import intercepted

    m = _model(households=3000)
    w, mi = m.world.index, m.migrants
    leg = int(np.flatnonzero((m.world.legs["from"] == "SYR") & (m.world.legs["to"] == "TUR"))[0])
    assert m.leg_pushback[leg] and m.leg_pushback.sum() == 1
    route = next(i for i, r in enumerate(m.world.routes) if r.legs == (leg,))
    hh = np.flatnonzero(m.households.country == w["SYR"])[:5]
    rows = mi.add(len(hh), uid=m.households.new_migrant_ids(hh), household=hh, origin=w["SYR"],
                  destination=w["TUR"], channel=5, weight=m.households.weight[hh], state=TRANSIT,
                  location=w["SYR"], route=route, leg=0, moving=True)
    intercepted(m, rows, np.full(len(rows), leg), month=1)
    assert (mi.state[rows] == TRANSIT).all() and not mi.moving[rows].any()
    assert (mi.location[rows] == w["SYR"]).all() and (mi.status[rows] == 0).all()
    m.recorder.close_month(1)
    ts = m.recorder.month_totals()
    assert ts["interceptions"] > 0
    assert ts["asylum_claims"] == 0.0 and ts["temporary_protection_grants"] == 0.0
