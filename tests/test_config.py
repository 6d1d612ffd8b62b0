"""Config composition and validation through gcm_sim.config.load_config (no model needed)."""

from __future__ import annotations

import pytest

from gcm_sim.config import list_scenarios, load_config
from gcm_sim.policy import Config, ConfigError

CORE = ["baseline", "visa_liberalisation", "regular_pathways", "remittance_sdg", "climate_shock",
        "enforcement_surge"]


@pytest.fixture(scope="module")
def world():
    from gcm_sim.world import load_world

    return load_world()


def test_core_scenarios_are_listed():
    assert set(CORE) <= set(list_scenarios())


@pytest.mark.parametrize("name", CORE)
def test_each_scenario_composes_and_validates(name, world):
    cfg = load_config(name, world=world)
    assert isinstance(cfg, Config)
    assert cfg.scenario.name == name
    assert cfg.scenario.description and cfg.scenario.question
    if name != "baseline":
        assert cfg.scenario.gcm_objectives
        assert cfg.expect, "every policy scenario says what it expects"


def test_baseline_mirrors_schema_defaults(world):
    """config.yaml lists every key at the dataclass default: the world data speaks."""
    cfg = load_config("baseline", world=world)
    default = Config()
    assert cfg.run == default.run
    assert cfg.policy == default.policy
    assert cfg.climate == default.climate
    assert cfg.world is None
    assert dict(cfg.behaviour) == dict(world.behaviour)


def test_scenario_levers_are_set(world):
    v = load_config("visa_liberalisation", world=world).policy.visa.corridors
    assert [c.fee_usd for c in v] == [60, 60] and v[0].origin == ("west_africa",) and v[1].destination == ("USA",)
    assert load_config("remittance_sdg", world=world).policy.remittances.cost_pct == 3
    shock = load_config("climate_shock", world=world).climate.shocks[0]
    assert (shock.origin, shock.start_month, shock.income_loss_pct) == (("MLI", "NER", "SEN"), 12, 40)
    e = load_config("enforcement_surge", world=world).policy.enforcement
    assert (e.interception_multiplier, e.returns.readmission_rate) == (2.5, 0.6)
    p = load_config("regular_pathways", world=world).policy.pathways
    assert p.labour_agreements[1].annual_quota == 50000 and p.humanitarian[0].destination == ("DEU",)


def test_overrides_win_over_scenario(world):
    cfg = load_config("remittance_sdg", ["policy.remittances.cost_pct=5", "run.months=24"], world=world)
    assert cfg.policy.remittances.cost_pct == 5 and cfg.run.months == 24
    cfg = load_config("visa_liberalisation", ["policy.visa.corridors=[]"], world=world)
    assert cfg.policy.visa.corridors == ()


def test_scenario_override_wins_over_argument(world):
    cfg = load_config("baseline", ["scenario=remittance_sdg"], world=world)
    assert cfg.scenario.name == "remittance_sdg" and cfg.policy.remittances.cost_pct == 3


def test_list_override_syntax(world):
    cfg = load_config(overrides=["climate.shocks=[{origin:[MLI,NER],start_month:12,income_loss_pct:40}]"],
                      world=world)
    assert cfg.climate.shocks[0].origin == ("MLI", "NER")


def test_behaviour_parameter_needs_no_plus(world):
    name = sorted(world.behaviour)[0]
    cfg = load_config(overrides=[f"behaviour.{name}=0.25"], world=world)
    assert cfg.behaviour[name] == 0.25


def test_meta_name_can_be_overridden(world):
    assert load_config("remittance_sdg", ["meta.name=cheap"], world=world).scenario.name == "cheap"


def test_load_config_is_repeatable(world):
    a = load_config("climate_shock", world=world)
    b = load_config("climate_shock", world=world)
    assert a == b


@pytest.mark.parametrize("overrides, key, value", [
    (["policy.visa.default.refusal_rate=1.5"], "policy.visa.default.refusal_rate", "1.5"),
    (["policy.remittances.cost_pct=-3"], "policy.remittances.cost_pct", "-3"),
    (["+policy.visa.default.feee_usd=3"], "policy.visa.default.feee_usd", "3"),
    (["scenario=nowhere"], "scenario", "nowhere"),
    (["run.households=-5"], "run.households", "-5"),
    (["run.engine=warp"], "run.engine", "warp"),
    (["run.months=many"], "run.months", "many"),
    (["+foo=1"], "foo", "1"),
    (["run.foo=1"], "run.foo", "1"),
    (["behaviour.unknown_param=1"], "behaviour.unknown_param", "1"),
    (["policy.remittances.corridors=[{origin:XYZ,destination:USA,cost_pct:3}]"], "origin", "XYZ"),
    (["policy.development.origin=[atlantis]"], "policy.development.origin", "atlantis"),
    (["climate.shocks=[{origin:[MLI],start_month:0}]"], "climate.shocks[0].start_month", "0"),
    (["policy.pathways.labour_agreements=[{origin:SEN,destination:ITA,annual_quota:-5}]"], "annual_quota", "-5"),
    (["run.months=[1,2"], "run.months", "[1,2"),
    (["run.months=1,2"], "run.months", "1,2"),
    (["+run.months=3"], "run.months", "3"),
    (["meta.gcm_objectives=[x]"], "meta.gcm_objectives", "x"),
    (["expect.irregular_departures=sideways"], "expect.irregular_departures", "sideways"),
])
def test_bad_values_name_key_and_value(overrides, key, value, world):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides, world=world)
    msg = str(info.value)
    assert key in msg and value in msg, msg


def test_unknown_scenario_lists_known_ones(world):
    with pytest.raises(ConfigError) as info:
        load_config("nowhere", world=world)
    assert all(name in str(info.value) for name in CORE)


def test_world_folder_is_loaded(tmp_path):
    """world=DIR loads that folder; the saved path is absolute."""
    import shutil
    from importlib import resources

    src = resources.files("gcm_sim") / "data"
    dst = tmp_path / "myworld"
    shutil.copytree(str(src), dst)
    cfg = load_config(overrides=[f"world={dst}"])
    assert cfg.world == str(dst.resolve())
