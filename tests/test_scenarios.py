"""The core scenarios on the default world move the headline indicators as DESIGN.md says.

Paired seeds (common random numbers) against baseline; 4 seeds, 20,000 households,
36 months; each effect must exceed two standard errors of the paired difference.
"""

import dataclasses

import numpy as np
import pytest

from gcm_sim.config import load_config

from .helpers import assert_direction, flow, paired

OVER = ["run.households=20000", "run.months=36", "run.spinup_months=1"]  # spin-up: as tests/helpers.config


def cfg(name):
    return load_config(scenario=name, overrides=OVER)


@pytest.fixture(scope="module")
def baseline():
    return cfg("baseline")


TARGETED = ["SEN", "GIN", "MLI", "CIV", "NGA", "NER", "GTM", "HND", "SLV", "MEX", "SYR", "AFG"]


@pytest.mark.parametrize("name", ["visa_liberalisation", "regular_pathways"])
def test_pathways_shift_people_from_irregular_to_regular(baseline, name):
    """Measured on the origins the scenarios open pathways for (elsewhere nothing changes,
    and the South Asian labour flows would only add noise). The fall in irregular
    departures is a substitution effect of a few percent; with draws keyed to the
    household (engine v2) the paired difference resolves it in 5 seeds (engine v1 needed 12)."""
    policy = cfg(name)
    seeds = range(5)
    assert_direction(paired(baseline, policy, flow("departures_irregular", TARGETED), seeds, 36), "down", name)
    assert_direction(paired(baseline, policy, flow("departures_regular", TARGETED), seeds, 36), "up", name)


def test_remittance_sdg_cuts_cost_to_about_3_and_raises_remittances(baseline):
    policy = cfg("remittance_sdg")
    d = paired(baseline, policy, "remittance_cost_pct", months=36)
    assert_direction(d, "down", "remittance_cost_pct")
    from .helpers import _result
    assert abs(_result(policy, 0, 36)[0]["remittance_cost_pct"] - 3.0) < 0.05
    assert_direction(paired(baseline, policy, "remittances_received_usd", months=36), "up", "received")


def test_enforcement_surge_raises_interceptions_and_fees_per_crossing(baseline):
    policy = cfg("enforcement_surge")
    assert_direction(paired(baseline, policy, "interception_rate", months=36), "up", "interception_rate")
    # smugglers' prices: effort^0.14 (Gathmann 2008) x (1 + anti_smuggling_price_effect x 0.5) on every
    # leg with interception. Fees per crossing averaged over legs also move with the route mix (the dear
    # US-Mexico leg is deterred most), so since issue 13 the price itself is checked, at the start
    # of a run where smugglers see the policy's interception exactly
    from gcm_sim.model import MigrationModel
    from .helpers import world
    m = MigrationModel(policy.replace(run=dataclasses.replace(policy.run, households=500, spinup_months=0)), rng=1,
                       world=world())
    b = m.b
    has = m.base_interception > 0
    expected = 2.5 ** b["smuggling_price_risk_elasticity"] * (1 + b["anti_smuggling_price_effect"] * 0.5)
    np.testing.assert_allclose(m.leg_price[has] / m.base_leg_fee[has], expected, rtol=1e-6)
    assert expected > 1.5


def test_climate_shock_affects_households_and_changes_departures_from_shocked_origins(baseline):
    policy = cfg("climate_shock")
    assert_direction(paired(baseline, policy, "climate_affected_households", months=36), "up", "affected")
    moves = flow("departures_internal", ["MLI", "NER", "SEN"])
    assert_direction(paired(baseline, policy, moves, months=36), "up", "internal moves from shocked origins")
