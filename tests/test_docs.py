"""Documentation stays in step with the code."""

from pathlib import Path

from gcm_sim.model import KEYWORD_LEVERS
from gcm_sim.policy import lever_table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_config_key_and_keyword_lever_is_in_the_lever_reference():
    text = (DOCS / "levers.md").read_text()
    keys = [r["key"] for r in lever_table() if not r["key"].startswith("scenario.") and r["key"] != "world"]
    missing = [k for k in keys if f"`{k}`" not in text]
    missing += [k for k in KEYWORD_LEVERS if f"`{k}`" not in text]
    assert not missing, f"document these in docs/levers.md: {missing}"


def test_every_behavioural_parameter_has_a_source():
    import yaml

    from gcm_sim.world import load_world

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "gcm_sim/data/behaviour.yaml").read_text())
    assert set(raw["parameters"]) == set(load_world().behaviour)
    for name, entry in raw["parameters"].items():
        assert entry["source"].strip(), name
