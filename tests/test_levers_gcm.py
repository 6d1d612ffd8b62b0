"""One direction test per GCM implementation-agenda lever (issue 3), as in test_levers.py.

Each case sets a lever strongly on the high-mobility variant of the default world
(``MOBILE``) at reduced size and checks that the indicator its mechanism acts on moves
the expected way by more than two standard errors of the paired difference (common
random numbers: the same seeds for lever and baseline).
"""

import numpy as np
import pytest

from gcm_sim.categories import ABROAD, REGULAR, SMUGGLED

from .helpers import MOBILE, assert_direction, config, flow, paired, run_model

H = 4000
MONTHS = 12


def mobile(**levers):
    return config(behaviour=MOBILE, **{"run__households": H, **levers})


BASE = mobile()
SHOCK = [{"origin": ["BGD", "west_africa"], "start_month": 2, "income_loss_pct": 60.0, "asset_loss_pct": 50.0}]
SHOCKED = ["BGD", "SEN", "GIN", "MLI", "CIV", "NGA", "NER"]

CASES = [
    # (id, lever settings, indicator, direction, seeds, months, baseline settings)
    # a campaign on every topic corrects beliefs both ways: people overestimate the risk of dying
    # (more would leave) and their chances of legal status and their earnings abroad (fewer would).
    # With b_death set from Bah & Batista's ratio of the two corrections (+2.29 and -2.88 points,
    # 2020) the downward corrections win, as in their experiment; at b_death 8 (before 2026-12-02)
    # the death correction dominated and the test expected "up".
    # The effect is small (-3% in validation), so this case pairs 12 seeds (6 gave 1.8 se once
    # failed attempts began to cost only the smuggler's up-front part, 2026-12-03).
    ("information_campaign", {"policy__information__campaign": 1.0}, "irregular_departures", "down", 12, MONTHS, {}),
    # programme income lifts households above the subsistence floor of credit (issue 13), so more can pay
    # for a move: irregular departures rise (the hump's rising branch; Clemens 2014; Angelucci 2015).
    # Before credit followed income the test expected regular departures down (now -1.3 se: not clear).
    ("youth_employment", {"policy__development__youth_employment": 1.0}, "irregular_departures", "up", 10, MONTHS,
     {}),
    ("digital_processing", {"policy__visa__digital_processing": 1.0}, "regular_departures", "up", 6, MONTHS, {}),
    ("seasonal", {"policy__pathways__seasonal": [{"origin": ["MEX", "ca4"], "destination": ["USA"],
                                                  "annual_quota": 200000.0}]},
     flow("departures_regular", ["MEX", "GTM", "HND", "SLV"], "USA", "labour"), "up", 6, MONTHS, {}),
    ("skills_recognition", {"policy__pathways__skills_recognition": 1.0}, "remittances_sent_usd", "up", 6, MONTHS,
     {}),
    # trafficking training: since issue 13 it also cuts recruiters' deception, so there are fewer
    # victims to detect and the count detected has no clear sign (+0.9 se in 10 seeds); its direction
    # test is on the victims (tests/test_levers_timing.py, trafficking_training_victims: down)
    ("local_id", {"policy__inclusion__local_id": 1.0}, "formal_remittance_share", "up", 6, MONTHS, {}),
    ("gender_responsive", {"policy__inclusion__gender_responsive": 1.0}, "female_share_regular_departures", "up",
     6, MONTHS, {}),
    ("climate_resilience", {"climate__shocks": SHOCK, "climate__resilience": 1.0},
     flow("departures_internal", SHOCKED), "down", 6, MONTHS, {"climate__shocks": SHOCK}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gcm_lever_direction(case):
    name, levers, indicator, direction, n_seeds, months, base_levers = case
    base = mobile(**base_levers) if base_levers else BASE
    diffs = paired(base, mobile(**levers), indicator, seeds=range(n_seeds), months=months)
    assert_direction(diffs, direction, name)


def _regular_share_of_irregular_arrivals(model) -> float:
    """Among people abroad who came by smuggling routes: the share now holding regular status."""
    m = model.migrants
    came = (m.view("state") == ABROAD) & (m.view("channel") == SMUGGLED)
    w = m.view("weight")
    return float(w[came & (m.view("status") == REGULAR)].sum() / w[came].sum())


def test_temporary_protection_regularises_rejected_asylum_seekers():
    """Rejected asylum seekers given temporary stay stay regular instead of irregular or returned."""
    tp = mobile(policy__pathways__temporary_protection=1.0)
    diffs = np.array([_regular_share_of_irregular_arrivals(run_model(tp, s, 24))
                      - _regular_share_of_irregular_arrivals(run_model(BASE, s, 24)) for s in range(4)])
    assert_direction(diffs, "up", "temporary_protection")


def test_children_alternatives_keep_children_out_of_detention():
    """Children placed under alternatives while adults are still detained."""
    enf = {"policy__enforcement__interception_multiplier": 2.0,
           "policy__enforcement__detention__alternatives_share": 0.0}
    base = mobile(**enf)
    kids = mobile(**enf, policy__enforcement__detention__children_alternatives=1.0)
    before = [run_model(base, s, MONTHS).indicators() for s in range(3)]
    after = [run_model(kids, s, MONTHS).indicators() for s in range(3)]
    assert sum(i["detained_children_person_months"] for i in before) > 0
    assert sum(i["detained_children_person_months"] for i in after) == 0
    assert sum(i["detention_person_months"] for i in after) > 0  # adults are still detained


def test_development_budget_buys_programme_jobs_for_the_poorest():
    """The budget buys about budget / cost programme jobs, for the poorest households first.
    (Its effect on departures can go either way: the migration hump; see migration_development.)"""
    budget = 2e9
    m = run_model(mobile(policy__development__budget_usd_year=budget, policy__development__origin=["ca4"]), 0, 1)
    hh = m.households
    cost = 12 * m.b["programme_income_share"] * m.wage[hh.country, 0] * hh.weight
    spent = float(cost[hh.programme].sum())
    assert 0.9 * budget < spent <= budget
    ca4 = m.development_mask
    assert hh.income_usd[hh.programme].max() <= np.quantile(hh.income_usd[ca4], 0.9)
    assert not hh.programme[~ca4].any()


def test_regional_mobility_opens_the_regional_channel():
    """Free movement MEX + CA-4: CA-4 households get a regional (visa-free) option to Mexico."""
    from gcm_sim.categories import REGIONAL

    base = run_model(BASE, 0, 1)
    free = run_model(mobile(policy__pathways__regional_mobility=[{"countries": ["MEX", "ca4"]}]), 0, 1)
    gtm, mex = free.world.index["GTM"], free.world.index["MEX"]
    has = lambda m: bool(((m.options()[gtm].channel == REGIONAL) & (m.options()[gtm].dest == mex)).any())  # noqa: E731
    assert has(free) and not has(base)
    assert not free.rules.visa_required[gtm, mex]


def _expected_regular_choices(cfg, origin: str, destination: str) -> float:
    """Real households expected to choose a regular option origin -> destination, at the start
    (the same households on the same seed whatever the visa policy)."""
    from gcm_sim.categories import INTERNAL, SMUGGLED
    from gcm_sim.model import MigrationModel

    model = MigrationModel(cfg, rng=1)
    o, d = model.world.index[origin], model.world.index[destination]
    hh, opts = model.households, model.options()[o]
    sel = np.flatnonzero(hh.country == o)
    p_move, within, _ = model.choice_probabilities(o, opts, sel)
    cols = (opts.dest == d) & (opts.channel != INTERNAL) & (opts.channel != SMUGGLED)
    return float(hh.weight[sel] @ (p_move * within[:, cols].sum(axis=1)))


def test_border_communities_open_a_regular_way_across_the_border():
    """A local border-traffic pass (free, immediate, never refused) makes regular crossings
    Guatemala -> Mexico more likely. On one small corridor the realised flow is a handful of
    records, so the test reads the choice probabilities themselves (no sampling noise)."""
    levers = {"policy__visa__border_communities": [{"origin": ["GTM"], "destination": ["MEX"]}]}
    base = _expected_regular_choices(BASE, "GTM", "MEX")
    assert _expected_regular_choices(mobile(**levers), "GTM", "MEX") > (1 + 1e-6) * base > 0
