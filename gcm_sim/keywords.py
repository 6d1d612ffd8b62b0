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
    try:
        return build_config(raw, world.iso3, world.tags, world.behaviour, world=world)
    except ConfigError as e:  # name the keyword argument the caller wrote, with its config key
        by_key = {v: k for k, v in KEYWORD_LEVERS.items() if k in levers}
        if e.key in by_key:
            raise ConfigError(f"{by_key[e.key]} ({e.key})", e.value, e.allowed) from None
        if e.key.startswith("climate.shocks[") and shock:
            field = e.key.rsplit(".", 1)[-1]
            name = next((k for k, v in SHOCK_KEYWORDS.items() if v == field and k in levers), None)
            if name:
                raise ConfigError(f"{name} ({e.key})", e.value, e.allowed) from None
        raise


def check_model_args(cfg, rng=None, replicate=0, world=None, levers=None) -> None:
    """Refuse wrong arguments to ``MigrationModel(cfg, rng=, replicate=, world=, **levers)``
    with a ConfigError naming the argument (instead of a TypeError deep inside Mesa or NumPy).

    ``rng``: None, a whole number from 0 to 2**63-1, a ``numpy.random.SeedSequence`` or a
    ``numpy.random.Generator``. Keyword levers are checked by :func:`apply_keywords`.
    """
    import math

    import numpy as np

    if cfg is not None and not isinstance(cfg, Config):
        raise ConfigError("cfg", cfg if isinstance(cfg, (str, int, float)) else type(cfg).__name__,
                          "a gcm_sim.Config (gcm_sim.load_config(...)) or None for the baseline")
    if world is not None and not isinstance(world, World):
        raise ConfigError("world", type(world).__name__, "a gcm_sim.World (gcm_sim.load_world()) or None")
    if isinstance(replicate, bool) or not isinstance(replicate, (int, np.integer)) or replicate < 0:
        raise ConfigError("replicate", replicate, "a whole number >= 0")
    if rng is None or isinstance(rng, (np.random.SeedSequence, np.random.Generator)):
        return
    if isinstance(rng, float) and not math.isfinite(rng):
        raise ConfigError("rng", rng, "a whole number from 0 to 2**63-1, a SeedSequence or a Generator")
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or not 0 <= int(rng) < 2**63:
        raise ConfigError("rng", rng, "a whole number from 0 to 2**63-1, a numpy SeedSequence or Generator, "
                                      "or None")
