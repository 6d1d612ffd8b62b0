"""Unit tests of the kernels: measure key packing, corridor rule precedence, the nested logit.

Each kernel is tested on its own (no model run), through its public entry point.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gcm_sim.categories import ADULT, AGE_GROUPS, ALL_AGES, ALL_CHANNELS, ALL_SEXES, CHANNELS, FEMALE, \
    LABOUR, MALE, SEXES, SMUGGLED, YOUTH
from gcm_sim.decisions import nest_probabilities, shares_from
from gcm_sim.measures import MEASURE_ID, PREAGGREGATE_EVENTS, Recorder

CODES = ["SEN", "ITA", "FRA", "MLI"]


# --- measures.Recorder: key packing ----------------------------------------------------------


def test_split_keys_round_trip_every_field():
    rec = Recorder(CODES)
    rng = np.random.default_rng(3)
    n = 500
    o = rng.integers(0, len(rec.codes), n)  # includes the 'all' country
    d = rng.integers(0, len(rec.codes), n)
    ch = rng.integers(0, len(CHANNELS), n)
    s = rng.integers(0, len(SEXES), n)
    a = rng.integers(0, len(AGE_GROUPS), n)
    keys = MEASURE_ID["deaths"] * rec.stride + rec.split_keys(o, d, ch, s, a)
    assert len(np.unique(keys)) == len({*zip(o, d, ch, s, a)}), "distinct splits get distinct keys"
    m2, o2, d2, ch2, s2, a2 = rec._decode(keys)
    assert (m2 == MEASURE_ID["deaths"]).all()
    for got, want in ((o2, o), (d2, d), (ch2, ch), (s2, s), (a2, a)):
        np.testing.assert_array_equal(got, want)
    assert (0 <= rec.split_keys(o, d, ch, s, a)).all() and (rec.split_keys(o, d, ch, s, a) < rec.stride).all()


def test_split_keys_defaults_mean_all():
    rec = Recorder(CODES)
    _, o, d, ch, s, a = rec._decode(np.atleast_1d(rec.split_keys()))
    assert (o[0], d[0], ch[0], s[0], a[0]) == (rec.all_country, rec.all_country, ALL_CHANNELS, ALL_SEXES, ALL_AGES)
    assert rec.codes[rec.all_country] == "all"


def test_recorded_events_come_out_under_their_own_labels():
    rec = Recorder(CODES)
    rec.add("departures_irregular", np.array([2.0, 3.0]), origin=np.array([0, 3]), destination=np.array([1, 2]),
            channel=SMUGGLED, sex=np.array([FEMALE, MALE]), age=np.array([YOUTH, ADULT]))
    rec.close_month(1)
    f = rec.frame("baseline", 0, 7)
    rows = f[(f.measure == "departures_irregular") & (f.value != 0)]
    got = {(r.origin, r.destination, r.channel, r.sex, r.age_group, r.value) for r in rows.itertuples()}
    assert got == {("SEN", "ITA", "smuggled", "female", "youth", 2.0), ("MLI", "FRA", "smuggled", "male", "adult", 3.0)}


def test_add_broadcasts_a_scalar_value_over_array_splits():
    rec = Recorder(CODES)
    rec.add("deaths", 1.0, origin=np.array([0, 0, 3]), destination=1, channel=SMUGGLED)
    rec.add("deaths", np.array([], float), origin=np.array([], int))  # nothing to record
    rec.close_month(1)
    f = rec.frame("baseline", 0, 0)
    got = f[(f.measure == "deaths") & (f.value != 0)].groupby("origin", observed=True)["value"].sum().to_dict()
    assert got == {"SEN": 2.0, "MLI": 1.0}


def _sums(rec: Recorder, month_index: int = -1) -> dict:
    _, keys, sums = rec._months[month_index]
    return {int(k): float(v) for k, v in zip(keys, sums) if v != 0}


def test_add_keyed_sums_by_key():
    rec = Recorder(CODES)
    keys = rec.split_keys(np.array([0, 0, 3, 0]), np.array([1, 1, 1, 2]), LABOUR, FEMALE, YOUTH)
    rec.add_keyed("remittances_sent_usd", keys, np.array([10.0, 5.0, 1.0, 2.0]))
    rec.add_keyed("remittances_sent_usd", keys[:1], 100.0)  # a second batch on the same key adds up
    rec.add_keyed("remittance_fees_usd", keys, 1.0)           # same keys, another measure, one value each
    rec.close_month(1)
    base = MEASURE_ID["remittances_sent_usd"] * rec.stride
    fees = MEASURE_ID["remittance_fees_usd"] * rec.stride
    assert _sums(rec) == {base + int(keys[0]): 115.0, base + int(keys[2]): 1.0, base + int(keys[3]): 2.0,
                          fees + int(keys[0]): 2.0, fees + int(keys[2]): 1.0, fees + int(keys[3]): 1.0}
    assert rec.month_totals()["remittances_sent_usd"] == 118.0


def test_large_batches_sum_the_same_as_small_ones():
    rng = np.random.default_rng(5)
    n = PREAGGREGATE_EVENTS * 3  # above the threshold: summed by key when recorded
    big, small = Recorder(CODES), Recorder(CODES)
    keys = big.split_keys(rng.integers(0, 4, n), rng.integers(0, 4, n), rng.integers(0, 8, n), rng.integers(0, 2, n),
                          rng.integers(0, 3, n))
    vals = rng.random(n)
    big.add_keyed("stock_regular", keys, vals)
    for lo in range(0, n, 1000):  # the same events in batches below the threshold
        small.add_keyed("stock_regular", keys[lo:lo + 1000], vals[lo:lo + 1000])
    big.close_month(1)
    small.close_month(1)
    a, b = _sums(big), _sums(small)
    assert a.keys() == b.keys()
    assert all(a[k] == pytest.approx(b[k]) for k in a)
    assert sum(a.values()) == pytest.approx(vals.sum())


# --- corridors.resolve: precedence corridors > default > world -----------------------------------


@pytest.fixture(scope="module")
def world():
    from gcm_sim.world import load_world

    return load_world()


def _rules(world, *overrides):
    from gcm_sim.config import load_config
    from gcm_sim.corridors import resolve

    return resolve(world, load_config("baseline", list(overrides), world=world))


def _changed(a, b) -> dict[str, np.ndarray]:
    """Per field of CorridorRules, the mask of entries that differ between a and b."""
    out = {}
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        diff = ~np.isclose(x, y) if x.dtype.kind == "f" else x != y
        if diff.any():
            out[f.name] = diff
    return out


@pytest.fixture(scope="module")
def baseline_rules(world):
    return _rules(world)


def test_world_data_speaks_in_the_baseline(world, baseline_rules):
    ix = world.index
    row = world.corridors[(world.corridors.origin == "SEN") & (world.corridors.destination == "ITA")].iloc[0]
    assert baseline_rules.visa_fee_usd[ix["SEN"], ix["ITA"]] == row["visa_fee_usd"]
    assert baseline_rules.refusal_rate[ix["SEN"], ix["ITA"]] == row["visa_refusal_rate"]
    assert len(np.unique(baseline_rules.visa_fee_usd[baseline_rules.exists])) > 1, "corridors differ in the world"


def test_default_replaces_the_world_value_on_every_corridor(world, baseline_rules):
    r = _rules(world, "policy.visa.default.fee_usd=7")
    changed = _changed(baseline_rules, r)
    assert set(changed) == {"visa_fee_usd"}, "only the field that was set"
    off_diagonal = ~np.eye(len(world.codes), dtype=bool)
    assert (r.visa_fee_usd[off_diagonal] == 7).all()
    np.testing.assert_array_equal(np.diag(r.visa_fee_usd), np.diag(baseline_rules.visa_fee_usd))


def test_corridor_override_changes_exactly_the_selected_corridors(world, baseline_rules):
    from gcm_sim.corridors import pairs

    r = _rules(world, "policy.visa.corridors=[{origin:west_africa,destination:[ITA,FRA],refusal_rate:0.05}]")
    changed = _changed(baseline_rules, r)
    assert set(changed) == {"refusal_rate"}
    sel = pairs(world, "west_africa", ["ITA", "FRA"])
    assert sel.sum() == len(world.select("west_africa")) * 2
    assert (r.refusal_rate[sel] == 0.05).all()
    np.testing.assert_array_equal(r.refusal_rate[~sel], baseline_rules.refusal_rate[~sel])
    assert (changed["refusal_rate"] <= sel).all(), "nothing outside the selection changed"


def test_corridor_override_wins_over_default_field_by_field(world, baseline_rules):
    ix = world.index
    r = _rules(world, "policy.visa.default.fee_usd=7", "policy.visa.default.refusal_rate=0.3",
               "policy.visa.corridors=[{origin:SEN,destination:ITA,fee_usd:1}]")
    se_it = (ix["SEN"], ix["ITA"])
    assert r.visa_fee_usd[se_it] == 1, "the corridor entry wins over default"
    assert r.refusal_rate[se_it] == 0.3, "a field the entry leaves unset comes from default"
    mask = ~np.eye(len(world.codes), dtype=bool)
    mask[se_it] = False
    assert (r.visa_fee_usd[mask] == 7).all(), "other corridors keep default"
    # order of the overrides on the command line does not matter: corridors always win
    r2 = _rules(world, "policy.visa.corridors=[{origin:SEN,destination:ITA,fee_usd:1}]",
                "policy.visa.default.fee_usd=7", "policy.visa.default.refusal_rate=0.3")
    np.testing.assert_array_equal(r.visa_fee_usd, r2.visa_fee_usd)


# --- decisions.nest_probabilities: the nested logit ------------------------------------------------


def _synthetic(n=200, k=6, seed=11):
    rng = np.random.default_rng(seed)
    u = rng.normal(-1.0, 2.0, (n, k))
    feasible = rng.random((n, k)) < 0.6
    feasible[0] = False  # a row with nothing feasible
    feasible[1] = True
    return u, feasible


@pytest.mark.parametrize("nest", [1.0, 0.6, 0.2])
def test_shares_sum_to_one_and_infeasible_options_get_nothing(nest):
    u, feasible = _synthetic()
    p_move, within = nest_probabilities(u, feasible, nest)
    shares = shares_from(p_move, within)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert (shares >= 0).all()
    assert (within[~feasible] == 0).all() and (shares[:, 1:][~feasible] == 0).all()
    assert p_move[0] == 0 and shares[0, 0] == 1, "nothing feasible: everyone stays"
    has = feasible.any(axis=1)
    np.testing.assert_allclose(within[has].sum(axis=1), 1.0)


def test_nest_one_is_the_plain_logit_with_stay_at_zero():
    u, feasible = _synthetic()
    shares = shares_from(*nest_probabilities(u, feasible, 1.0))
    v = np.concatenate([np.zeros((len(u), 1)), np.where(feasible, u, -np.inf)], axis=1)
    logit = np.exp(v - v.max(axis=1, keepdims=True))
    logit /= logit.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(shares, logit, rtol=1e-12, atol=1e-15)


def test_nest_below_one_breaks_iia_in_favour_of_staying():
    # improve the second way of leaving: under plain logit the odds of the first option against
    # staying do not change (IIA); with nest < 1 the first option, a close substitute, loses more
    u = np.array([[-1.0, -1.0], [-1.0, 0.0]])
    feasible = np.ones((2, 2), bool)
    for nest in (1.0, 0.5, 0.2):
        s = shares_from(*nest_probabilities(u, feasible, nest))
        before, after = s[0, 1] / s[0, 0], s[1, 1] / s[1, 0]
        if nest == 1.0:
            assert after == pytest.approx(before)
        else:
            assert after < 0.9 * before, nest


def test_nested_logit_closed_form():
    # McFadden (1978): P(move) = 1 / (1 + exp(-nest * IV)), IV = log sum exp(u / nest) over feasible
    # options (staying: utility 0, its own nest); P(option | move) = softmax(u / nest)
    u = np.array([[0.3, -2.0, 1.0]])
    feasible = np.array([[True, True, False]])
    nest = 0.4
    p_move, within = nest_probabilities(u, feasible, nest)
    iv = np.log(np.exp(0.3 / nest) + np.exp(-2.0 / nest))
    assert p_move[0] == pytest.approx(1 / (1 + np.exp(-nest * iv)))
    e = np.exp(np.array([0.3, -2.0]) / nest)
    np.testing.assert_allclose(within[0], [*(e / e.sum()), 0.0])


@pytest.mark.parametrize("nest", [1.0, 0.5])
def test_adding_an_infeasible_option_changes_nothing(nest):
    u, feasible = _synthetic()
    p_move, within = nest_probabilities(u, feasible, nest)
    for extra_u in (50.0, -50.0, 0.0):
        u2 = np.concatenate([u[:, :2], np.full((len(u), 1), extra_u), u[:, 2:]], axis=1)
        f2 = np.concatenate([feasible[:, :2], np.zeros((len(u), 1), bool), feasible[:, 2:]], axis=1)
        p2, w2 = nest_probabilities(u2, f2, nest)
        np.testing.assert_array_equal(p2, p_move)
        np.testing.assert_array_equal(np.delete(w2, 2, axis=1), within)
        assert (w2[:, 2] == 0).all()


# --- decisions.choose_keyed: the keyed draw from the nested logit -------------------------------


def _draw(u, feasible, nest, seed=3, extra_keys=()):
    """Choices of rows ``u`` with draws keyed to (row, option key) as the model keys them."""
    from gcm_sim.decisions import choose_keyed
    from gcm_sim.draws import Draws

    d = Draws(np.random.SeedSequence(seed))
    n, k = u.shape
    rows = np.arange(n)
    keys = np.concatenate([np.arange(k - len(extra_keys)), np.asarray(extra_keys, int)]).astype(np.uint64)
    p_move, _ = nest_probabilities(u, feasible, nest)
    return choose_keyed(u, feasible, nest, p_move, d.uniform("move", 1, rows), d.gumbel("option", 1, rows, keys))


@pytest.mark.parametrize("nest", [1.0, 0.5])
def test_keyed_choices_follow_the_nested_logit_shares(nest):
    n = 100_000
    u = np.tile(np.array([[-0.5, 0.2, -1.5, 0.0]]), (n, 1))
    feasible = np.tile(np.array([[True, True, True, False]]), (n, 1))
    col = _draw(u, feasible, nest)
    assert not (col == 3).any(), "an infeasible option is never chosen"
    p_move, within = nest_probabilities(u[:1], feasible[:1], nest)
    want = np.concatenate([1 - p_move, p_move * within[0, :3]])
    got = np.array([(col == c).mean() for c in (-1, 0, 1, 2)])
    assert (np.abs(got - want) <= 4 * np.sqrt(want * (1 - want) / n)).all(), (got, want)


def test_a_new_option_takes_its_choosers_from_the_others_and_changes_nobody_else():
    n = 20_000
    rng = np.random.default_rng(8)
    u = rng.normal(-1, 1, (n, 3))
    feasible = np.ones((n, 3), bool)
    before = _draw(u, feasible, 0.7)
    u2 = np.concatenate([u, np.full((n, 1), -0.5)], axis=1)  # a new regular pathway, key 99
    after = _draw(u2, np.ones((n, 4), bool), 0.7, extra_keys=[99])
    movers = before >= 0
    assert (after[movers] == 3).any(), "the new option draws some of those who were leaving anyway"
    # a household that was leaving keeps its choice unless it takes the new option
    assert np.isin(after[movers] - before[movers], [0]).sum() + (after[movers] == 3).sum() == movers.sum()
    # nobody who was leaving now stays (the new option only adds to the value of moving)
    assert (after[movers] >= 0).all()


# --- mechanisms.placement.ration: first come, first served within a budget ------------------------


def test_ration_admits_the_budget_in_expectation():
    from gcm_sim.mechanisms.placement import ration

    weight = np.array([400.0, 250.0, 300.0, 500.0])
    assert ration(weight, 2_000.0, np.full(4, 0.99)).all(), "everybody fits"
    assert not ration(weight, 0.0, np.zeros(4)).any(), "no places, nobody"
    ok = ration(weight, 800.0, np.array([0.5, 0.5, 0.1, 0.5]))
    np.testing.assert_array_equal(ok, [True, True, True, False])  # 650 fit; 150/300 > 0.1 admits the third
    u = np.random.default_rng(2).random(20_000)
    admitted = np.array([weight[ration(weight, 800.0, np.array([0.0, 0.0, x, 0.0]))].sum() for x in u])
    assert admitted.mean() == pytest.approx(800.0, rel=0.02)


def test_the_last_adult_never_leaves():
    from gcm_sim.agents.households import member_draw

    members = np.array([[0, 0, 1, 0, 3], [1, 0, 0, 1, 0]], dtype=np.int8)
    propensity = np.ones(5)
    for u in np.linspace(0.01, 0.99, 25):
        m = member_draw(members, propensity, np.full(2, u))
        assert m[0] in (4,), "a lone adult stays with the children: only a child can go"
        assert m[1] in (0, 3)


# --- agents.households.allocate: the sample design -----------------------------------------------


def test_allocation_adds_up_and_gives_every_origin_its_share_of_precision():
    from gcm_sim.agents.households import MIN_HOUSEHOLDS, allocate

    real = np.array([3e8, 5e7, 2e6, 2e6])
    rate = np.array([0.003, 0.008, 0.02, 0.08])  # departures per household and year
    for n in (100, 1_000, 20_000, 100_003):
        counts = allocate(real, n, rate)
        assert counts.sum() == max(n, MIN_HOUSEHOLDS * len(real)) and (counts >= MIN_HOUSEHOLDS).all()
    counts = allocate(real, 100_000, rate)
    movers = counts * rate
    # half the sample gives every origin the same expected movers, so none has fewer than
    # half of the equal share
    assert movers.min() >= 0.5 * 0.5 * 100_000 / (1 / rate).sum()
    # the two small origins have the same population: the one whose households rarely leave gets more
    assert counts[2] > counts[3]
    # without rates: square-root allocation
    sqrt = allocate(real, 10_000)
    np.testing.assert_allclose(sqrt / sqrt.sum(), np.sqrt(real) / np.sqrt(real).sum(), atol=2e-3)


# --- mechanisms.remittances.RemittanceTerms: the price of sending money home ---------------------


def test_remittance_terms_fall_with_the_cost_of_sending():
    from gcm_sim.mechanisms.remittances import RemittanceTerms, informal_cost_pct
    from gcm_sim.world import load_world

    b = load_world().behaviour
    cost = np.array([[0.0, 3.0], [5.0, 12.0]])
    t = RemittanceTerms.of(cost, b)
    informal = informal_cost_pct(b)
    np.testing.assert_array_equal(t.cost_pct, cost.ravel())  # flat over origin * n + destination
    assert t.formal_share_with_id[0] == 1.0, "a free formal channel takes everything"
    assert (np.diff(t.formal_share_with_id) < 0).all()
    # the amount falls with the cost while formal channels carry most of it; where formal is dear,
    # people switch to the informal channel, so the effective cost never exceeds the dearer channel
    assert (np.diff(t.amount_with_id[:3]) < 0).all()
    assert (t.amount_with_id >= np.exp(-b["remit_cost_semi_elasticity"] * np.maximum(t.cost_pct, informal) / 100) - 1e-12).all()
    assert ((0 < t.formal_share_with_id[1:]) & (t.formal_share_with_id[1:] < 1)).all()
    # the logit's parity: half goes formally where formal costs formal_parity_ratio x the informal cost
    assert informal > 0, "the informal channel is not free"
    mid = RemittanceTerms.of(np.array([b["formal_parity_ratio"] * informal]), b)
    assert mid.formal_share_with_id[0] == pytest.approx(0.5)
    # people without an ID pay the informal price whatever the formal one
    assert t.amount_without_id == pytest.approx(np.exp(-b["remit_cost_semi_elasticity"] * informal / 100))


# --- decisions.RouteNests: route variants nested under their destination --------------------------


def test_route_nests_reduce_to_the_two_level_logit_at_scale_one_and_ignore_dominated_routes():
    from gcm_sim.decisions import RouteNests

    u = np.array([[-1.0, -0.5, -0.8]])  # a regular option and two routes to one destination
    feasible = np.ones((1, 3), bool)
    nest = 0.6
    flat = nest_probabilities(u, feasible, nest)
    one = nest_probabilities(u, feasible, nest, RouteNests(np.array([-1, 0, 0]), np.array([7], np.uint64), 1.0))
    np.testing.assert_allclose(one[0], flat[0]), np.testing.assert_allclose(one[1], flat[1])
    # a route worse than the best route to that destination joins its nest: at scale 0.2 it
    # adds almost nothing to the chance of moving; as an option of its own (scale 1) it adds more
    u2 = np.concatenate([u, [[-1.3]]], axis=1)
    f2 = np.ones((1, 4), bool)
    gains = {}
    for scale in (0.2, 1.0):
        r1 = RouteNests(np.array([-1, 0, 0]), np.array([7], np.uint64), scale)
        r2 = RouteNests(np.array([-1, 0, 0, 0]), np.array([7], np.uint64), scale)
        gains[scale] = nest_probabilities(u2, f2, nest, r2)[0][0] / nest_probabilities(u, feasible, nest, r1)[0][0] - 1
    assert 0 < gains[0.2] < 0.002 and gains[1.0] > 0.01, gains
