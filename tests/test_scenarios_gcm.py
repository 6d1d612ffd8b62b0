"""GCM implementation-agenda scenarios (issue 3): every file loads, describes itself, names
real indicators in `expect:`, and (slow) its expected directions hold with paired seeds."""

import pytest

from gcm_sim.config import list_scenarios, load_config
from gcm_sim.measures import INDICATORS

from .helpers import assert_direction, paired

GCM = ["information_campaigns", "youth_employment", "climate_resilience", "disaster_early_assistance",
       "digital_visa_processing", "multi_entry_visas", "border_communities", "border_official_training",
       "alternatives_to_detention", "labour_market_pathways", "regional_mobility", "skills_partnerships",
       "family_reunification", "anti_trafficking_cooperation", "temporary_protection", "local_identity_documents",
       "gender_responsive_migration", "fair_recruitment", "skills_recognition", "migration_development",
       "circular_migration", "enforcement_only", "pathways_plus_enforcement", "full_gcm_package",
       "labour_programme_ended", "regularisation_programme"]


def test_every_measure_has_a_scenario_file():
    assert set(GCM) <= set(list_scenarios())


@pytest.mark.parametrize("name", list_scenarios())
def test_scenario_describes_itself_and_expects_real_indicators(name):
    cfg = load_config(name, ["run.households=1000", "run.months=12"])  # shocks start by month 12
    assert cfg.scenario.description and cfg.scenario.question
    assert all(1 <= o <= 23 for o in cfg.scenario.gcm_objectives)
    unknown = [k for k in cfg.expect if k not in INDICATORS]
    assert not unknown, f"{name}: expect names unknown indicators {unknown}"
    if name != "baseline":
        assert cfg.expect and cfg.scenario.gcm_objectives


def _check(name, households, months, seeds):
    over = [f"run.households={households}", f"run.months={months}"]
    base, policy = load_config("baseline", over), load_config(name, over)
    for ind, direction in policy.expect.items():
        if direction in ("up", "down"):
            assert_direction(paired(base, policy, ind, seeds=range(seeds), months=months), direction,
                             f"{name}: {ind}")


# fast subset: mechanisms with large, direct effects
@pytest.mark.parametrize("name", ["local_identity_documents"])
def test_expected_directions_hold_fast(name):
    _check(name, 4000, 24, 4)


@pytest.mark.slow
@pytest.mark.parametrize("name", GCM)
def test_expected_directions_hold(name):
    _check(name, 20000, 36, 6)
