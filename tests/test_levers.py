"""One test per lever: the direction of its effect, with paired seeds (common random numbers).

Each case sets a lever strongly on the default world at reduced size and checks the
indicator the lever's mechanism acts on moves the expected way by more than two
standard errors of the paired difference over four seeds.
"""

import numpy as np
import pytest

from gcm_sim.categories import ABROAD, DETAINED, IRREGULAR

from .helpers import MOBILE, assert_direction, config, flow, paired, run_model


def mobile(**levers):
    return config(behaviour=MOBILE, run__households=H, **levers)


H = 4000
MONTHS = 12
BASE = mobile()
WA_EU = {"origin": ["west_africa"], "destination": ["eu"]}
WEST_AFRICA = ["SEN", "GIN", "MLI", "CIV", "NGA", "NER"]
EU = ["ITA", "FRA", "DEU", "GRC"]

CASES = [
    # (id, dotted lever settings, indicator, direction)
    ("visa_fee", {"policy__visa__default__fee_usd": 3000.0}, "regular_departures", "down"),
    ("visa_refusal", {"policy__visa__default__refusal_rate": 0.9}, "regular_departures", "down"),
    ("visa_processing", {"policy__visa__default__processing_months": 18.0}, "regular_departures", "down"),
    ("visa_multi_entry", {"policy__visa__default__multi_entry": True}, "overstays", "down"),  # vs False
    ("visa_required", {"policy__visa__default__required": False}, "regular_departures", "up"),
    ("visa_corridors", {"policy__visa__corridors": [{**WA_EU, "required": True, "fee_usd": 20.0,
                                                     "refusal_rate": 0.0, "processing_months": 0.0}]},
     flow("departures_regular", WEST_AFRICA, EU), "up"),
    ("labour_agreements", {"policy__pathways__labour_agreements": [
        {"origin": ["west_africa", "ca4"], "destination": ["eu", "USA"], "annual_quota": 50000.0}]},
     flow("departures_regular", channel="labour"), "up"),
    ("skills_partnerships", {"policy__pathways__skills_partnerships": [
        {"origin": ["west_africa"], "destination": ["DEU"], "annual_quota": 100000.0}]},
     flow("departures_regular", WEST_AFRICA, "DEU", "labour"), "up"),
    ("family_reunification", {"policy__pathways__family_reunification__quota_multiplier": 5.0},
     flow("departures_regular", channel="family"), "up"),
    ("humanitarian", {"policy__pathways__humanitarian": [
        {"origin": ["SYR", "AFG"], "destination": ["DEU"], "annual_quota": 200000.0}]},
     flow("departures_regular", channel="humanitarian"), "up"),
    ("fee_cap", {"policy__recruitment__fee_cap_months": 0.5}, "recruitment_cost_months", "down"),
    ("employer_pays", {"policy__recruitment__employer_pays": True}, "recruitment_cost_months", "down"),
    ("licensing_enforcement", {"policy__recruitment__licensing_enforcement": 1.0}, "trafficking_victims", "down"),
    ("remittance_cost", {"policy__remittances__cost_pct": 1.0}, "remittances_sent_usd", "up"),
    ("remittance_corridors", {"policy__remittances__corridors": [
        {"origin": ["south_asia", "PHL"], "destination": ["gcc"], "cost_pct": 15.0}]}, "remittance_cost_pct", "up"),
    ("interception", {"policy__enforcement__interception_multiplier": 3.0}, "interception_rate", "up"),
    ("interception_deters", {"policy__enforcement__interception_multiplier": 3.0}, "irregular_departures", "down"),
    ("anti_smuggling", {"policy__enforcement__anti_smuggling": 1.0}, "smuggling_fee_per_crossing_usd", "up"),
    ("search_and_rescue", {"policy__enforcement__search_and_rescue": 1.0}, "deaths_per_1000_crossings", "down"),
    ("readmission", {"policy__enforcement__returns__readmission_rate": 1.0}, "returns_forced", "up"),
    ("reintegration", {"policy__enforcement__returns__reintegration_usd": 20000.0}, "returns_voluntary", "up"),
    # programme jobs for the poorer half raise their income above the subsistence floor, so they
    # can borrow for a move: irregular departures rise (the liquidity constraint of the migration
    # hump's rising branch; Clemens 2014; Angelucci 2015: Progresa raised migration from
    # credit-constrained households). Issue 13's credit mechanism; before it the test expected
    # regular departures "down" (10 seeds now: irregular +8.7 se, regular +1.8 se, not clear).
    ("origin_employment", {"policy__development__origin_employment": 1.0}, "irregular_departures", "up"),
    ("climate_shock", {"climate__shocks": [{"origin": ["BGD", "west_africa"], "start_month": 2,
                                            "income_loss_pct": 60.0, "asset_loss_pct": 50.0}]},
     flow("departures_internal", ["BGD", *WEST_AFRICA]), "up"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_lever_direction(case):
    name, levers, indicator, direction = case
    policy = mobile(**levers)
    base = mobile(policy__visa__default__multi_entry=False) if name == "visa_multi_entry" else BASE
    # rarer events need more seeds for the same power
    seeds = range(10) if name in ("visa_multi_entry", "fee_cap", "employer_pays", "licensing_enforcement",
                                  "origin_employment") \
        else range(4)
    assert_direction(paired(base, policy, indicator, seeds=seeds, months=MONTHS), direction, name)


def _state_sum(m, mask_fn):
    return float(m.migrants.view("weight")[mask_fn(m.migrants)].sum())


def test_employer_sanctions_cut_informal_work():
    """Employer sanctions: fewer people without status in work."""
    sanctions = mobile(policy__enforcement__employer_sanctions=1.0)
    diffs = []
    for s in range(4):
        worked = [
            _state_sum(run_model(c, s, 12), lambda mg: (mg.view("state") == ABROAD)
                       & (mg.view("status") == IRREGULAR) & mg.view("employed"))
            for c in (BASE, sanctions)]
        diffs.append(worked[1] - worked[0])
    assert_direction(np.array(diffs), "down", "employer_sanctions")


def test_alternatives_to_detention_empty_detention():
    alt = mobile(policy__enforcement__detention__alternatives_share=1.0,
                 policy__enforcement__interception_multiplier=2.0)
    enf = mobile(policy__enforcement__detention__alternatives_share=0.0,
                 policy__enforcement__interception_multiplier=2.0)
    detained = [sum(_state_sum(run_model(c, s, 12), lambda mg: mg.view("state") == DETAINED) for s in range(3))
                for c in (enf, alt)]
    assert detained[0] > 0 and detained[1] == 0


def test_vocational_training_raises_skills_and_home_income():
    trained = mobile(policy__development__vocational_training=1.0)
    for s in range(2):
        a, b = run_model(BASE, s, 12), run_model(trained, s, 12)
        assert (b.households.skill >= 1).mean() > (a.households.skill >= 1).mean() + 0.2
        assert b.households.income_usd.mean() > a.households.income_usd.mean()


def test_early_assistance_softens_climate_shock():
    shock = [{"origin": ["BGD", "west_africa"], "start_month": 2, "income_loss_pct": 60.0, "asset_loss_pct": 50.0}]
    alone = mobile(climate__shocks=shock)
    helped = mobile(climate__shocks=shock, climate__early_assistance=1.0)
    internal = flow("departures_internal", ["BGD", *WEST_AFRICA])
    assert_direction(paired(alone, helped, internal, seeds=range(6), months=MONTHS), "down", "early_assistance")
