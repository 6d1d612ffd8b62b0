"""The keyword-lever API: ``MigrationModel(households=5000, visa_fee_usd=60, rng=1)``.

Mesa's ``batch_run`` and SolaraViz sliders set model parameters as keyword
arguments; this module maps each keyword to its config key (docs/levers.md) and
validates the result like any other config. Nothing here runs the model.
"""

from __future__ import annotations

from .policy import Config, ConfigError, build_config, to_dict
from .world import World

# Keyword levers for Mesa's batch_run and SolaraViz sliders (docs/levers.md): name -> config key
KEYWORD_LEVERS = {
    "households": "run.households",
    "months": "run.months",
    "engine": "run.engine",
    "visa_required": "policy.visa.default.required",
    "visa_fee_usd": "policy.visa.default.fee_usd",
    "visa_refusal_rate": "policy.visa.default.refusal_rate",
    "visa_processing_months": "policy.visa.default.processing_months",
    "multi_entry": "policy.visa.default.multi_entry",
    "remittance_cost_pct": "policy.remittances.cost_pct",
    "fee_cap_months": "policy.recruitment.fee_cap_months",
    "employer_pays": "policy.recruitment.employer_pays",
    "licensing_enforcement": "policy.recruitment.licensing_enforcement",
    "interception_multiplier": "policy.enforcement.interception_multiplier",
    "anti_smuggling": "policy.enforcement.anti_smuggling",
    "search_and_rescue": "policy.enforcement.search_and_rescue",
    "employer_sanctions": "policy.enforcement.employer_sanctions",
    "alternatives_share": "policy.enforcement.detention.alternatives_share",
    "readmission_rate": "policy.enforcement.returns.readmission_rate",
    "reintegration_usd": "policy.enforcement.returns.reintegration_usd",
    "origin_employment": "policy.development.origin_employment",
    "vocational_training": "policy.development.vocational_training",
    "family_quota_multiplier": "policy.pathways.family_reunification.quota_multiplier",
    "early_assistance": "climate.early_assistance",
}
# a climate shock from keywords: climate_origin (ISO3 or tag) plus these
SHOCK_KEYWORDS = {"climate_origin": "origin", "climate_start_month": "start_month",
                  "climate_duration_months": "duration_months", "climate_income_loss_pct": "income_loss_pct",
                  "climate_asset_loss_pct": "asset_loss_pct"}
# extra annual work visas (real people) on every origin -> destination corridor row of the world
LABOUR_QUOTA_KEYWORD = "labour_agreement_quota"


def default_config(world: World) -> Config:
    return build_config({}, world.iso3, world.tags, world.behaviour)


def apply_keywords(cfg: Config, world: World, levers: dict) -> Config:
    """Set keyword levers on a config and validate the result like any other config."""
    if not levers:
        return cfg
    raw = to_dict(cfg)
    shock = {}
    for name, value in levers.items():
        if name in SHOCK_KEYWORDS:
            shock[SHOCK_KEYWORDS[name]] = value
            continue
        if name == LABOUR_QUOTA_KEYWORD:
            if value:  # one agreement per corridor row; validation checks the quota's range
                raw["policy"]["pathways"]["labour_agreements"] = list(raw["policy"]["pathways"]["labour_agreements"]) + [
                    {"origin": [o], "destination": [d], "annual_quota": value, "skill": "any"}
                    for o, d in zip(world.corridors["origin"], world.corridors["destination"])]
            continue
        if name not in KEYWORD_LEVERS:
            raise ConfigError(name, value, "unknown keyword lever; allowed: "
                              + ", ".join(sorted([*KEYWORD_LEVERS, *SHOCK_KEYWORDS, LABOUR_QUOTA_KEYWORD])))
        node = raw
        *path, leaf = KEYWORD_LEVERS[name].split(".")
        for part in path:
            node = node[part]
        node[leaf] = value
    if shock:
        raw["climate"]["shocks"] = list(raw["climate"]["shocks"]) + [shock]
    raw["behaviour"] = dict(cfg.behaviour)
    return build_config(raw, world.iso3, world.tags, world.behaviour, world=world)
