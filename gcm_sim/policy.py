"""Typed configuration: the policy levers, the run size and the behavioural parameters.

The whole resolved configuration (after Hydra has composed it) is turned into
a tree of frozen dataclasses by :func:`build_config`, exactly once, at the
boundary. Every problem raises :class:`ConfigError`, which names the key, the
bad value and what is allowed; the CLI turns it into exit code 2. Inside the
model the config is trusted plain Python.

Precedence of corridor values (DESIGN.md): the world data holds each
corridor's baseline; a ``policy.*.default`` value, when set, replaces it on
every corridor; an entry of a ``corridors`` list replaces it on the corridors
it selects and wins over ``default``. ``None`` means "the world data speaks".
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """An invalid configuration value: the message names key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"invalid config: {key}={value!r}: {allowed}")


# --- small typed pieces ------------------------------------------------------------

Selector = tuple[str, ...]  # ISO3 codes or region/bloc tags; an empty tuple selects every country


def _rng(lo: float | None = None, hi: float | None = None):
    """Field metadata: an allowed closed range for a number."""
    return {"range": (lo, hi)}


def _f(default, lo=None, hi=None, doc=""):
    return field(default=default, metadata={**_rng(lo, hi), "doc": doc})


def _sel(doc=""):
    return field(default=(), metadata={"selector": True, "doc": doc})


def _choice(default, choices, doc=""):
    return field(default=default, metadata={"choices": tuple(choices), "doc": doc})


@dataclass(frozen=True)
class VisaRule:
    """Visa regime for a corridor (GCM objectives 5, 11, 12)."""

    required: bool | None = field(default=None, metadata={"doc": "a visa is needed to enter"})
    fee_usd: float | None = _f(None, 0, 100_000, "visa fee paid by the applicant")
    refusal_rate: float | None = _f(None, 0, 1, "share of applications refused")
    processing_months: float | None = _f(None, 0, 60, "months from application to decision")
    multi_entry: bool | None = field(default=None, metadata={"doc": "visas allow repeated entry"})


@dataclass(frozen=True)
class VisaOverride(VisaRule):
    origin: Selector = _sel("origin countries or tags")
    destination: Selector = _sel("destination countries or tags")


@dataclass(frozen=True)
class BorderCommunity:
    """Local border-traffic passes for border communities (GCM 11): free, multi-entry, no wait."""

    origin: Selector = _sel("home countries of the border communities")
    destination: Selector = _sel("neighbouring countries the pass admits to")


@dataclass(frozen=True)
class VisaPolicy:
    default: VisaRule = field(default_factory=VisaRule)
    corridors: tuple[VisaOverride, ...] = ()
    digital_processing: float = _f(0.0, 0, 1, "rollout of digital identity and e-visa processing: cuts "
                                   "processing time, fees and refusals of bona fide applicants (GCM 4, 5, 12)")
    border_communities: tuple[BorderCommunity, ...] = ()


@dataclass(frozen=True)
class LabourAgreement:
    """A bilateral labour agreement: extra annual work visas on a corridor (GCM 5, 6)."""

    origin: Selector = _sel()
    destination: Selector = _sel()
    annual_quota: float = _f(0.0, 0, 1e8, "extra work visas a year, real people, per corridor")
    skill: str = _choice("any", ("low", "mid", "high", "any"), "skill level recruited")


@dataclass(frozen=True)
class SkillsPartnership:
    """Global skills partnership: origin training plus a recognised-skills work route (GCM 5, 18)."""

    origin: Selector = _sel()
    destination: Selector = _sel()
    annual_quota: float = _f(0.0, 0, 1e8, "trainees a year who may migrate, real people, per corridor")
    home_track_share: float = _f(0.5, 0, 1, "share of trainees trained for the home labour market")


@dataclass(frozen=True)
class FamilyReunification:
    """Family reunification for regular migrants' relatives (GCM 5, 12)."""

    enabled: bool = True
    quota_multiplier: float = _f(1.0, 0, 100, "multiplies the world's annual family visa quotas")
    processing_months: float | None = _f(None, 0, 120, "months to a decision; null = world data")


@dataclass(frozen=True)
class HumanitarianPathway:
    """Humanitarian visas / resettlement places (GCM 5, 7)."""

    origin: Selector = _sel()
    destination: Selector = _sel()
    annual_quota: float = _f(0.0, 0, 1e8, "places a year, real people, per corridor")


@dataclass(frozen=True)
class RegionalMobility:
    """A regional free-movement agreement among the selected countries (GCM 5, 23)."""

    countries: Selector = _sel("countries whose nationals move freely among one another")


@dataclass(frozen=True)
class SeasonalScheme:
    """Circular / seasonal labour scheme: work places with multi-entry permits (GCM 5, 6, 21)."""

    origin: Selector = _sel()
    destination: Selector = _sel()
    annual_quota: float = _f(0.0, 0, 1e8, "seasonal work places a year, real people, per corridor")


@dataclass(frozen=True)
class QuotaMultiplier:
    """Tightens (down to 0) or loosens the pathway quotas of the corridors it selects (GCM 5, 12).

    Multiplies a corridor's annual places after every pathway has added its own (world
    data, labour agreements, seasonal schemes, skills partnerships, humanitarian places),
    so ``labour: 0`` ends every labour programme on the corridor. Entries multiply.
    """

    origin: Selector = _sel("origin countries or tags; empty = every origin")
    destination: Selector = _sel("destination countries or tags; empty = every destination")
    labour: float = _f(1.0, 0, 100, "multiplies the corridor's labour places (world quota, agreements, "
                       "seasonal schemes); 0 ends the labour programme")
    skills: float = _f(1.0, 0, 100, "multiplies the corridor's skills-partnership places")
    family: float = _f(1.0, 0, 100, "multiplies the corridor's family reunification places")
    humanitarian: float = _f(1.0, 0, 100, "multiplies the corridor's humanitarian / resettlement places")


@dataclass(frozen=True)
class Pathways:
    labour_agreements: tuple[LabourAgreement, ...] = ()
    skills_partnerships: tuple[SkillsPartnership, ...] = ()
    family_reunification: FamilyReunification = field(default_factory=FamilyReunification)
    humanitarian: tuple[HumanitarianPathway, ...] = ()
    regional_mobility: tuple[RegionalMobility, ...] = ()
    seasonal: tuple[SeasonalScheme, ...] = ()
    temporary_protection: float = _f(0.0, 0, 1, "share of rejected asylum seekers given temporary stay "
                                     "(vulnerable, not qualifying for protection; GCM 7)")
    skills_recognition: float = _f(0.0, 0, 1, "closes this share of the gap to full recognition of "
                                   "migrants' skills abroad (GCM 18)")
    quota_multipliers: tuple[QuotaMultiplier, ...] = ()


@dataclass(frozen=True)
class Recruitment:
    """Fair and ethical recruitment (GCM 6; SDG 10.7.1)."""

    fee_cap_months: float | None = _f(None, 0, 60, "cap on worker-paid fees, months of foreign wage")
    employer_pays: bool = False
    licensing_enforcement: float = _f(0.0, 0, 1, "share of unlicensed recruiters put out of business")


@dataclass(frozen=True)
class RemittanceOverride:
    origin: Selector = _sel()
    destination: Selector = _sel()
    cost_pct: float = _f(0.0, 0, 100, "cost of sending USD 200, % of amount")


@dataclass(frozen=True)
class Remittances:
    """Remittance cost (GCM 19, 20; SDG 10.c.1)."""

    cost_pct: float | None = _f(None, 0, 100, "cost on every corridor, % of amount; null = world data")
    corridors: tuple[RemittanceOverride, ...] = ()


@dataclass(frozen=True)
class Detention:
    alternatives_share: float | None = _f(None, 0, 1, "share of intercepted people not detained")
    children_alternatives: float = _f(0.0, 0, 1, "share of intercepted children placed under alternatives "
                                      "even when adults are detained (GCM 7, 13)")


@dataclass(frozen=True)
class Returns:
    readmission_rate: float | None = _f(None, 0, 1, "share of return decisions the origin accepts")
    reintegration_usd: float = _f(0.0, 0, 1e6, "reintegration support per returnee")


@dataclass(frozen=True)
class Enforcement:
    """Border management, smuggling, detention, returns (GCM 8-11, 13, 21)."""

    interception_multiplier: float = _f(1.0, 0, 100, "enforcement effort m: p -> 1-(1-p)^m")
    anti_smuggling: float = _f(0.0, 0, 1, "effort against smuggling networks")
    search_and_rescue: float = _f(0.0, 0, 1, "added search-and-rescue capacity on sea legs")
    employer_sanctions: float = _f(0.0, 0, 1, "enforcement against informal hiring")
    trafficking_training: float = _f(0.0, 0, 1, "share of border officials trained to identify trafficking "
                                     "victims (GCM 10, 11)")
    detention: Detention = field(default_factory=Detention)
    returns: Returns = field(default_factory=Returns)


@dataclass(frozen=True)
class Development:
    """Adverse drivers and skills (GCM 2, 18)."""

    origin_employment: float = _f(0.0, 0, 1, "share of low-income households given programme jobs")
    vocational_training: float = _f(0.0, 0, 1, "share of low-skill adults trained each year")
    youth_employment: float = _f(0.0, 0, 1, "share of households with young adults (18-29) given "
                                 "youth employment / entrepreneurship programme jobs (GCM 2)")
    budget_usd_year: float = _f(0.0, 0, 1e12, "migration-linked development budget, USD a year, spent "
                                "on programme jobs for the poorest households (GCM 2, 19)")
    origin: Selector = _sel("origins the programmes run in; empty = all origins")


INFORMATION_TOPICS = ("death", "interception", "earnings", "status")  # beliefs a campaign can correct


@dataclass(frozen=True)
class Information:
    """Information campaigns for would-be migrants (GCM 3)."""

    campaign: float = _f(0.0, 0, 1, "reach of the campaign: pulls the beliefs it informs about (``topics``) "
                         "toward the truth, as ties do")
    origin: Selector = _sel("origins the campaign runs in; empty = all origins")
    topics: tuple[str, ...] = field(default=("death", "interception"), metadata={
        "doc": "what the campaign informs about, any of: " + ", ".join(("death", "interception", "earnings",
                                                                        "status")) + " (default: route risks)"})

    def __post_init__(self) -> None:
        for i, t in enumerate(self.topics):
            if t not in INFORMATION_TOPICS:
                raise ConfigError(f"policy.information.topics[{i}]", t,
                                  f"allowed values: {', '.join(INFORMATION_TOPICS)}")


@dataclass(frozen=True)
class Inclusion:
    """Identity documents and gender-responsive policy (GCM 4, 7, 15, 20)."""

    local_id: float = _f(0.0, 0, 1, "share of migrants without status and without ID given a local identity "
                         "document (formal remittance channels, services)")
    gender_responsive: float = _f(0.0, 0, 1, "removes this share of the barriers that keep women out of "
                                  "regular labour and visitor channels")


@dataclass(frozen=True)
class Timing:
    """When the policy takes effect: every lever from ``start_month``, phased in linearly over
    ``phase_in_months`` (docs/decisions.md, "Timing switches the policy")."""

    start_month: int = _f(1, 1, 1200, "first month the scenario's levers act (1..run.months); before it "
                          "the baseline policy runs")
    phase_in_months: int = _f(0, 0, 1200, "months over which numeric levers move from their baseline to "
                              "their scenario values (0 = at once); step-only levers refuse a phase-in")


@dataclass(frozen=True)
class Regularisation:
    """Regularisation of migrants without status (GCM 7, 15, 20): they get a residence and work
    permit (regular status, an ID, formal jobs and remittances, multi-entry mobility).

    Spain's 2005 programme regularised about 575,000 of some 690,000 applicants (Elias,
    Monras & Vazquez-Grenno 2022); Italy's 2002 one about 650,000 (Di Porto, Martino &
    Naticchioni 2018). Take-up ``share`` is an ASSUMPTION per scenario (docs/levers.md).
    """

    share: float = _f(0.0, 0, 1, "share of the eligible people without status who apply and are "
                      "regularised; 0 = no regularisation")
    mode: str = _choice("one_off", ("one_off", "standing"), "one_off: once, at ``month``; standing: from "
                        "policy.timing.start_month, each person as soon as eligible")
    month: int | None = _f(None, 1, 1200, "month of a one-off programme; null = policy.timing.start_month")
    min_months_abroad: int = _f(12, 0, 1200, "eligibility: months of residence abroad")
    origin: Selector = _sel("nationalities eligible; empty = every origin")
    destination: Selector = _sel("destinations that regularise; empty = every destination")


@dataclass(frozen=True)
class Policy:
    visa: VisaPolicy = field(default_factory=VisaPolicy)
    pathways: Pathways = field(default_factory=Pathways)
    recruitment: Recruitment = field(default_factory=Recruitment)
    remittances: Remittances = field(default_factory=Remittances)
    enforcement: Enforcement = field(default_factory=Enforcement)
    development: Development = field(default_factory=Development)
    information: Information = field(default_factory=Information)
    inclusion: Inclusion = field(default_factory=Inclusion)
    regularisation: Regularisation = field(default_factory=Regularisation)
    timing: Timing = field(default_factory=Timing)


@dataclass(frozen=True)
class ClimateShock:
    """A climate shock on an origin: income and asset losses of exposed households (GCM 2)."""

    origin: Selector = _sel()
    start_month: int = _f(12, 1, 100_000, "first month of the shock")
    duration_months: int = _f(12, 1, 1200, "months the income loss lasts")
    income_loss_pct: float = _f(30.0, 0, 100, "income lost by exposed households")
    asset_loss_pct: float = _f(0.0, 0, 100, "assets lost by exposed households at the start")
    exposed_share: float | None = _f(None, 0, 1, "share of households exposed; null = rural farm share")


@dataclass(frozen=True)
class Climate:
    shocks: tuple[ClimateShock, ...] = ()
    early_assistance: float = _f(0.0, 0, 1, "share of affected households given early assistance")
    resilience: float = _f(0.0, 0, 1, "share of climate-exposed households with resilience investments "
                           "(irrigation, insurance) that cut a shock's losses")


@dataclass(frozen=True)
class Run:
    months: int = _f(120, 1, 1200, "months simulated")
    households: int = _f(100_000, 100, 1_000_000_000, "simulated households")
    seed: int = _f(0, 0, 2**63 - 1, "root seed; replicate r uses SeedSequence(seed).spawn()[r]")
    replicates: int = _f(8, 1, 10_000, "independent replicates")
    engine: str = _choice("fast", ("fast", "reference"), "vectorised or per-household Mesa agents")
    workers: int = _f(1, 1, 512, "processes the replicates are spread over")
    parameters: str = _choice("point", ("point", "posterior"),
                              "behavioural parameters: the world's behaviour.yaml values (point) or, per "
                              "replicate, a draw from the world's posterior.csv (gcm-sim calibrate method=abc)")
    draws: int = _f(4, 1, 10_000, "with run.parameters=posterior: distinct posterior draws; replicate r runs "
                    "draw r % draws on its own seed, so several seeds share each draw and parameter and "
                    "stochastic uncertainty can be told apart (at most run.replicates)")
    spinup_months: int = _f(60, 0, 240, "months run under the baseline policy before month 1 and not reported, "
                            "so month 1 starts from the baseline's own steady state (people recently removed "
                            "who try again, visas in process, beliefs, savings); every arm's policy takes "
                            "effect at month 1 (docs/decisions.md, 'A spin-up before month 1')")
    shards: int = _f(1, 1, 4096, "shards each replicate's households are split over, by blocks of origin "
                     "countries (run.block_households), stepped together on Dask (gcm_sim.studies.shards; "
                     "docs/scale.md); 1: one process")
    block_households: int = _f(2_000_000, 100, 1_000_000_000, "an origin with more simulated households is drawn "
                               "in blocks of at most this many (as equal as possible), each from its own random "
                               "stream, and the blocks of one origin may sit on different shards; the population "
                               "depends on it, not on run.shards (docs/scale.md)")
    scheduler: str = field(default="", metadata={
        "doc": "with run.shards > 1: the address of a running Dask scheduler (tcp://host:port); "
               "empty: a LocalCluster of run.workers worker processes on this machine"})
    checkpoint_months: int = _f(12, 0, 1200, "with run.shards > 1: months between shard checkpoints, from which a "
                                "shard whose worker is lost is rebuilt (0: none; the shard is rebuilt from month 1)")
    checkpoint_dir: str = field(default="", metadata={"doc": "with run.shards > 1: the folder shard checkpoints "
                                "are written to, which every worker must reach (a shared file system on a "
                                "cluster); empty: a temporary folder on this machine, removed at the end"})
    scale: float = _f(0.0, 0, 1, "simulated households per real household in every origin (1: one to one, "
                      "weights 1, the sample design off; run.households then follows from the world); 0: "
                      "run.households under the sample design")


@dataclass(frozen=True)
class Meta:
    """What a scenario is: shown in reports, never read by the model."""

    name: str = "baseline"
    description: str = ""
    gcm_objectives: tuple[int, ...] = ()
    question: str = ""
    title: str = ""  # how reports name the scenario; empty: made from the name (docs/scenarios.md)


@dataclass(frozen=True)
class Config:
    run: Run = field(default_factory=Run)
    policy: Policy = field(default_factory=Policy)
    climate: Climate = field(default_factory=Climate)
    behaviour: types.MappingProxyType = field(default_factory=lambda: types.MappingProxyType({}))
    world: str | None = None  # folder holding countries.csv, corridors.csv, legs.csv; None = embedded
    scenario: Meta = field(default_factory=Meta)
    expect: types.MappingProxyType = field(default_factory=lambda: types.MappingProxyType({}))

    def replace(self, **changes) -> "Config":
        """A copy with ``changes`` (whole sections or values), validated again like a loaded config."""
        names = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in names:
                raise ConfigError(name, changes[name], f"not a section of Config (in Config.replace); "
                                                       f"allowed: {', '.join(sorted(names))}")
        new = dataclasses.replace(self, **changes)
        return revalidate(new)


EXPECT_DIRECTIONS = ("up", "down", "flat", "any")
GCM_OBJECTIVES = range(1, 24)  # the Compact has 23 objectives


# --- behavioural parameters: allowed ranges and why ------------------------------------
#
# The world data (behaviour.yaml) holds the values; the ranges belong to the formulas
# that read them, so they live here, beside the levers' ranges. Each kind says why its
# bounds are what they are; a value outside is refused (ConfigError from behaviour.NAME=V,
# WorldDataError from a world's behaviour.yaml) before any run starts.
_KINDS = {
    "share": (0.0, 1.0, "a share or probability"),
    "hazard": (0.0, 1.0, "a monthly probability"),
    "weight": (0.0, 100.0, "a utility weight; its sign is in the formula, so a negative weight would reverse "
                           "the behaviour"),
    "asc": (-50.0, 50.0, "an alternative-specific constant; beyond +-50 exp() of the utility under- or "
                         "overflows in float32"),
    "boost": (0.0, 100.0, "a multiplier or added effect, never negative"),
    "elasticity": (0.0, 100.0, "a response strength; the direction is in the formula"),
    "usd": (0.0, 1e7, "an amount in USD"),
    "wait": (0.0, 120.0, "a waiting time in months, at most 10 years"),
}
_BEHAVIOUR_KINDS = {
    "share": "nest_dissimilarity? prior_death_belief_per_leg prior_status_belief prior_retry_share belief_memory saving_rate employment_per_adult "
             "recruiter_credit_share smuggler_credit_share skill_share_mid skill_share_high skill_recognition "
             "deception_prob exploitation_wage_loss family_refusal_rate humanitarian_min_insecurity overstay_prob "
             "digital_processing_cut digital_fee_cut digital_refusal_cut overstay_multi_entry_factor "
             "sar_death_reduction atd_compliance claim_base claim_insecurity sanction_hiring_effect initial_employed "
             "remit_share remit_share_contract remit_share_family remit_share_refugee living_cost_share irregular_id_share "
             "early_assistance_effect rural_income_factor training_deception_cut collateral_share rural_nonfarm_linkage",
    "hazard": "consider_rate trafficking_detection_rate training_detection_gain retry_rate stranded_return_rate "
              "job_find_regular job_loss return_base return_target_boost return_unemployed_boost "
              "return_circular_boost reintegration_weight asylum_abandon_rate return_protected_rate onward_rate "
              "reattempt_consider_rate",
    "weight": "b_gain b_ties b_cost b_death b_delay b_insecurity info_per_tie",
    "asc": "asc_internal asc_labour asc_family asc_humanitarian asc_visitor asc_regional asc_smuggled asc_smuggled_west_africa",
    "boost": "insecurity_consider_boost shock_consider_per_loss sanction_separation_effect unlicensed_fee_markup "
             "trip_cash_buffer training_income_gain programme_income_share return_irregular_factor "
             "anti_smuggling_price_effect women_barrier_utility",
    "elasticity": "smuggling_price_risk_elasticity remit_cost_semi_elasticity formal_logit_slope "
                  "return_reentry_elasticity enforcement_death_elasticity",
    "usd": "internal_move_cost_usd subsistence_usd_ppp_day",
    "wait": "skills_training_months family_processing_months asylum_work_wait_months reattempt_window_months",
}
BEHAVIOUR_RANGES: dict[str, tuple[float, float, str]] = {
    name.rstrip("?"): _KINDS[kind] for kind, names in _BEHAVIOUR_KINDS.items() for name in names.split()}
BEHAVIOUR_RANGES.update({  # parameters with bounds of their own
    "route_nest_scale": (0.01, 1.0, "a route nest's dissimilarity relative to the moving nest: 0 < scale <= 1 "
                                    "(1 = every route an option of its own); route utilities are divided by it"),
    "nest_dissimilarity": (0.05, 1.0, "the nested-logit dissimilarity: 0 < lambda <= 1 for a model consistent "
                                      "with utility maximisation (1 = plain logit); utilities are divided by it"),
    "urban_income_premium": (0.1, 10.0, "an urban/rural earnings ratio"),
    "retry_belief_weight": (0.0, 1e9, "people caught a month the prior retry share counts for"),
    "earnings_belief_bias": (-0.9, 5.0, "relative error of uninformed beliefs about earnings abroad: believed = "
                                        "truth x (1 + bias); -0.9 to +5 (below -1 earnings would be negative)"),
    "initial_assets_months": (0.0, 600.0, "months of household income held as assets"),
    "income_sigma": (0.0, 3.0, "a lognormal spread: not negative; above 3 the Gini exceeds 0.97"),
    "formal_parity_ratio": (0.0, 100.0, "a ratio of two remittance costs (formal / informal cost at which half "
                                         "is sent formally)"),
    "informal_fee_pct": (0.0, 50.0, "an informal transfer fee in % of the amount sent"),
    "informal_loss_pct": (0.0, 50.0, "a share of informal transfers lost on the way, % of the amount sent"),
    "remit_decay_per_year": (0.0, 1.0, "a yearly rate at which the share remitted decays with years abroad"),
    "visit_months": (1.0, 24.0, "a visit lasts at least one month (the model's time step), at most 2 years"),
    "return_savings_target_months": (0.0, 1200.0, "months of household income"),
    "settlement_months": (1.0, 1200.0, "a time scale in months (return hazards are divided by it): at least 1"),
    "contract_months": (1.0, 1200.0, "a contract length in months (the hazard is 1/contract_months): at least 1"),
    "buffer_target_months": (0.0, 600.0, "months of household income held as a buffer"),
    "buffer_drawdown_rate": (0.0, 1.0, "a monthly share of the assets above the buffer target"),
    "spending_shock_rate_year": (0.0, 1.0, "a yearly probability"),
    "spending_shock_months": (0.0, 120.0, "a spending shock in months of household income"),
    "credit_income_months": (0.0, 600.0, "months of income above subsistence lent (at most 50 years)"),
    "credit_months_per_tie": (0.0, 600.0, "added months of income lent per unit of log(1 + ties)"),
})
# Sums that must stay shares: (names, upper bound, reason)
BEHAVIOUR_SUMS = ((("skill_share_mid", "skill_share_high"), 1.0, "shares of the same households"),
                  (("remit_share", "living_cost_share"), 1.0, "shares of the same earnings"),
                  (("remit_share_contract", "living_cost_share"), 1.0, "shares of the same earnings"),
                  (("remit_share_family", "living_cost_share"), 1.0, "shares of the same earnings"),
                  (("remit_share_refugee", "living_cost_share"), 1.0, "shares of the same earnings"))


def behaviour_range_text(name: str) -> str:
    lo, hi, why = BEHAVIOUR_RANGES[name]
    return f"allowed range {_num(lo)} to {_num(hi)} ({why})"


def check_behaviour(values: dict, where: str = "behaviour") -> str | None:
    """The first problem of a complete set of behavioural parameters as (key, value, allowed), or None.

    ``where`` prefixes the key (``behaviour`` for config overrides, ``parameters`` for a
    world's behaviour.yaml). Missing names, unknown names, non-numbers, values out of
    range and sums over their bound are all problems.
    """
    for name in BEHAVIOUR_RANGES:
        if name not in values:
            return (f"{where}.{name}", None, "missing: every behavioural parameter needs a value "
                    f"({behaviour_range_text(name)})")
    for name, value in values.items():
        if name not in BEHAVIOUR_RANGES:
            return (f"{where}.{name}", value, "unknown behavioural parameter (the model does not read it); "
                    f"known: {', '.join(sorted(BEHAVIOUR_RANGES))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return (f"{where}.{name}", value, f"expected a finite number; {behaviour_range_text(name)}")
        lo, hi, _ = BEHAVIOUR_RANGES[name]
        if not lo <= value <= hi:
            return (f"{where}.{name}", value, f"out of range; {behaviour_range_text(name)}")
    for names, bound, why in BEHAVIOUR_SUMS:
        total = sum(values[n] for n in names)
        if total > bound:
            return (f"{where}.{names[-1]}", values[names[-1]],
                    f"{' + '.join(names)} = {total:g} must not exceed {_num(bound)} ({why})")
    return None


# --- building and validating ---------------------------------------------------------


def _is_optional(tp) -> tuple[bool, Any]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return True, rest[0]
    return False, tp


def _build(cls, raw: Any, key: str, countries: frozenset[str], tags: frozenset[str]):
    """Build dataclass ``cls`` from a plain mapping, checking every key and value."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(key, raw, f"expected a mapping with keys {_field_names(cls)}")
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(names))
    if unknown:
        bad = f"{key}.{unknown[0]}" if key else unknown[0]
        raise ConfigError(bad, raw[unknown[0]], f"unknown key; allowed keys here: {_field_names(cls)}")
    values = {}
    for name, f in names.items():
        sub = f"{key}.{name}" if key else name
        if name not in raw:
            continue
        values[name] = _value(hints[name], f, raw[name], sub, countries, tags)
    return cls(**values)


def _field_names(cls) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _value(tp, f, v, key, countries, tags):
    optional, tp = _is_optional(tp)
    meta = f.metadata if f is not None else {}
    if v is None:
        if optional:
            return None
        raise ConfigError(key, v, "a value is required (null is not allowed here)")
    if meta.get("selector"):
        return _selector(v, key, countries, tags)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, v, key, countries, tags)
    if origin is tuple:
        (item,) = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if not isinstance(v, (list, tuple)):
            raise ConfigError(key, v, "expected a list")
        return tuple(_value(item, None, x, f"{key}[{i}]", countries, tags) for i, x in enumerate(v))
    if tp is bool:
        if not isinstance(v, bool):
            raise ConfigError(key, v, "expected true or false")
        return v
    if tp in (int, float):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(key, v, f"expected a number{_range_text(meta)}")
        if not math.isfinite(float(v)):  # before the whole-number test: int(nan) and int(inf) raise
            raise ConfigError(key, v, f"expected a finite number{_range_text(meta)}")
        if tp is int and float(v) != int(v):
            raise ConfigError(key, v, f"expected a whole number{_range_text(meta)}")
        lo, hi = meta.get("range", (None, None))
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(key, v, f"out of range{_range_text(meta)}")
        return tp(v)
    if tp is str:
        if not isinstance(v, str):
            raise ConfigError(key, v, "expected a string")
        choices = meta.get("choices")
        if choices and v not in choices:
            raise ConfigError(key, v, f"allowed values: {', '.join(choices)}")
        return v
    raise TypeError(f"unsupported config type {tp} at {key}")  # pragma: no cover - schema bug


def _range_text(meta) -> str:
    lo, hi = meta.get("range", (None, None))
    if lo is not None and hi is not None:
        return f"; allowed range {_num(lo)} to {_num(hi)}"
    if lo is not None:
        return f"; allowed: >= {_num(lo)}"
    return ""


def _num(x) -> str:
    """1e8 -> '100000000', 0.5 -> '0.5' (so a user can paste the bound back)."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _selector(v, key, countries, tags) -> Selector:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise ConfigError(key, v, "expected an ISO3 code, a region tag, or a list of them")
    for x in items:
        if x not in countries and x not in tags:
            raise ConfigError(
                key, x,
                f"unknown country or tag; known countries: {', '.join(sorted(countries))}; "
                f"tags: {', '.join(sorted(tags))}",
            )
    return tuple(items)


def build_config(raw: dict, countries: frozenset[str], tags: frozenset[str],
                 behaviour_defaults: dict[str, float], world=None) -> Config:
    """Validate a plain composed config (nested dicts/lists) and build the frozen tree.

    ``countries`` and ``tags`` are the ISO3 codes and region/bloc tags of the world the
    config will run on; ``behaviour_defaults`` the world's behavioural parameters (the
    only ``behaviour.*`` keys allowed). With ``world`` (a :class:`gcm_sim.world.World`)
    corridor selectors are also checked to select something in it
    (:func:`check_against_world`).
    """
    if not isinstance(raw, dict) and raw is not None:
        raise ConfigError("config", type(raw).__name__, "expected a mapping of config keys to values")
    raw = dict(raw or {})
    behaviour = raw.pop("behaviour", None) or {}
    expect = raw.pop("expect", None) or {}
    if not isinstance(behaviour, dict):
        raise ConfigError("behaviour", behaviour, "expected a mapping of parameter names to numbers")
    merged = dict(behaviour_defaults)
    for name, value in behaviour.items():
        if name not in behaviour_defaults:
            raise ConfigError(f"behaviour.{name}", value,
                              f"unknown key; allowed keys: {', '.join(sorted(behaviour_defaults))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"behaviour.{name}", value, "expected a finite number"
                              + (f"; {behaviour_range_text(name)}" if name in BEHAVIOUR_RANGES else ""))
        merged[name] = float(value)
    problem = check_behaviour(merged)
    if problem:
        raise ConfigError(*problem)
    if not isinstance(expect, dict):
        raise ConfigError("expect", expect, "expected a mapping of indicator names to up/down/flat/any")
    for name, direction in expect.items():
        if direction not in EXPECT_DIRECTIONS:
            raise ConfigError(f"expect.{name}", direction, f"allowed: {', '.join(EXPECT_DIRECTIONS)}")
    cfg = _build(Config, raw, "", countries, tags)
    cfg = dataclasses.replace(cfg, behaviour=types.MappingProxyType(merged),
                              expect=types.MappingProxyType(dict(expect)))
    _check_consistency(cfg)
    if world is not None:
        check_against_world(cfg, world)
        if cfg.run.scale > 0:  # run.households follows from the world (gcm_sim.population.origin_counts)
            from .population import real_households, scaled_counts

            households = int(scaled_counts(real_households(world), cfg.run.scale).sum())
            cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, households=households))
        _WORLDS[cfg.world] = world  # for revalidate (Config.replace): the world this config was checked on
    return cfg


# lists of entries whose origin/destination selectors must pick a pair of the world
CORRIDOR_LISTS = ("policy.visa.corridors", "policy.remittances.corridors", "policy.pathways.labour_agreements",
                  "policy.pathways.skills_partnerships", "policy.pathways.humanitarian", "policy.pathways.seasonal",
                  "policy.pathways.quota_multipliers")


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def check_against_world(cfg: Config, world) -> None:
    """Selectors that select nothing the model uses are errors, not silent no-ops (DESIGN.md).

    An entry of a corridor list must select at least one (origin, destination) pair of
    different countries with the origin and destination roles: households live only in
    origins, and only destinations employ or admit migrants. Climate shocks and the
    development and information programmes must select at least one origin.
    """
    origins, destinations = set(world.with_role("origin")), set(world.with_role("destination"))
    for dotted in CORRIDOR_LISTS:
        for i, e in enumerate(_get(cfg, dotted)):
            o = world.select(e.origin) & origins
            d = world.select(e.destination) & destinations
            if not o:
                raise ConfigError(f"{dotted}[{i}].origin", list(e.origin),
                                  f"selects no origin country of the world; origins: {', '.join(sorted(origins))}")
            if not d or not any(a != b for a in o for b in d):
                raise ConfigError(f"{dotted}[{i}].destination", list(e.destination),
                                  "selects no destination country of the world (other than the origin); "
                                  f"destinations: {', '.join(sorted(destinations))}")
    _check_modifiers_match(cfg, world)
    for i, s in enumerate(cfg.climate.shocks):
        if not world.select(s.origin) & origins:
            raise ConfigError(f"climate.shocks[{i}].origin", list(s.origin),
                              f"selects no origin country of the world; origins: {', '.join(sorted(origins))}")
    reg = cfg.policy.regularisation
    if reg.share > 0:
        for key, sel, role in (("policy.regularisation.origin", reg.origin, origins),
                               ("policy.regularisation.destination", reg.destination, destinations)):
            if not world.select(sel) & role:
                raise ConfigError(key, list(sel), f"selects no {'origin' if role is origins else 'destination'} "
                                                  f"country of the world; allowed: {', '.join(sorted(role))}")
    for key in ("policy.development.origin", "policy.information.origin"):
        sel = _get(cfg, key)
        if sel and not world.select(sel) & origins:
            raise ConfigError(key, list(sel), f"selects no origin country of the world; origins: "
                                              f"{', '.join(sorted(origins))}")


# lists of entries that change corridors (they open none): each entry must select at least one
# corridor the model has, else it would change nothing (DESIGN.md: nothing is silently ignored)
MODIFIER_LISTS = ("policy.visa.corridors", "policy.remittances.corridors", "policy.pathways.quota_multipliers")
# lists of entries that open a regular corridor (gcm_sim/corridors.py sets ``exists`` on their pairs)
OPENING_LISTS = ("policy.pathways.labour_agreements", "policy.pathways.skills_partnerships",
                 "policy.pathways.humanitarian", "policy.pathways.seasonal", "policy.visa.border_communities")


def model_corridors(cfg: Config, world, routes: bool = True) -> set[tuple[str, str]]:
    """The (origin, destination) pairs the model has for ``cfg``: corridors.csv's rows, the pairs
    the config's pathways open, free movement (blocs of the world data, regional agreements) and,
    with ``routes``, every irregular route's end points (remittance costs apply to them too)."""
    have = set(zip(world.corridors["origin"], world.corridors["destination"]))
    for dotted in OPENING_LISTS:
        for e in _get(cfg, dotted):
            have |= {(o, d) for o in world.select(e.origin) for d in world.select(e.destination) if o != d}
    for rm in cfg.policy.pathways.regional_mobility:
        members = world.select(rm.countries)
        have |= {(a, b) for a in members for b in members if a != b}
    if routes:
        have |= {(r.origin, r.destination) for r in world.routes}
    return have


def _check_modifiers_match(cfg: Config, world) -> None:
    """An entry of a corridor-changing list that selects no corridor the model has is an error
    naming the entry and the corridors its origins do have."""
    regular = regular_all = None
    for dotted in MODIFIER_LISTS:
        entries = _get(cfg, dotted)
        if not entries:
            continue
        if regular is None:
            regular, regular_all = model_corridors(cfg, world, routes=False), model_corridors(cfg, world)
        have = regular_all if dotted == "policy.remittances.corridors" else regular
        for i, e in enumerate(entries):
            o, d = world.select(e.origin), world.select(e.destination)
            picked = {(a, b) for a in o for b in d if a != b}
            if picked & have or any(world.same_free_movement_bloc(a, b) for a, b in picked):
                continue
            known = sorted(f"{a}-{b}" for a, b in have if a in o)
            what = ("a corridor (corridors.csv), an irregular route or a pathway of this config"
                    if have is regular_all else "a regular corridor (corridors.csv) or a pathway of this config "
                                                "that opens one")
            raise ConfigError(f"{dotted}[{i}]", {"origin": list(e.origin), "destination": list(e.destination)},
                              f"selects no corridor of the world: none of its pairs is {what}, so it would "
                              "change nothing; "
                              + (f"its origins have {', '.join(known[:30])}" + (", ..." if len(known) > 30 else "")
                                 if known else "its origins have no corridor"))


def _check_consistency(cfg: Config) -> None:
    """Rules that involve more than one key."""
    for i, s in enumerate(cfg.climate.shocks):
        if not s.origin:
            raise ConfigError(f"climate.shocks[{i}].origin", list(s.origin),
                              "a shock needs at least one origin country or tag")
        if s.start_month > cfg.run.months:  # nothing is silently ignored (DESIGN.md)
            raise ConfigError(f"climate.shocks[{i}].start_month", s.start_month,
                              f"the shock would start after the last month simulated (run.months="
                              f"{cfg.run.months}); allowed range 1 to {cfg.run.months}")
    for i, g in enumerate(cfg.scenario.gcm_objectives):
        if g not in GCM_OBJECTIVES:
            raise ConfigError(f"scenario.gcm_objectives[{i}]", g, "a GCM objective number, 1 to 23")
    for group, entries in (("labour_agreements", cfg.policy.pathways.labour_agreements),
                           ("skills_partnerships", cfg.policy.pathways.skills_partnerships),
                           ("humanitarian", cfg.policy.pathways.humanitarian)):
        for i, e in enumerate(entries):
            for side in ("origin", "destination"):
                if not getattr(e, side):
                    raise ConfigError(f"policy.pathways.{group}[{i}].{side}", [],
                                      "name at least one country or tag")
    for i, e in enumerate(cfg.policy.pathways.regional_mobility):
        if len(e.countries) < 1:
            raise ConfigError(f"policy.pathways.regional_mobility[{i}].countries", [],
                              "name the member countries or tags")
    for group, entries in (("policy.pathways.seasonal", cfg.policy.pathways.seasonal),
                           ("policy.visa.border_communities", cfg.policy.visa.border_communities)):
        for i, e in enumerate(entries):
            for side in ("origin", "destination"):
                if not getattr(e, side):
                    raise ConfigError(f"{group}[{i}].{side}", [], "name at least one country or tag")
    if cfg.run.parameters == "posterior" and cfg.run.draws > cfg.run.replicates:
        raise ConfigError("run.draws", cfg.run.draws,
                          f"at most run.replicates ({cfg.run.replicates}): each draw needs a replicate, and two or "
                          "more replicates per draw separate parameter from stochastic uncertainty")
    _check_timing(cfg)
    if cfg.run.engine == "reference" and cfg.run.households > 200_000:
        raise ConfigError("run.households", cfg.run.households,
                          "the reference engine (one Mesa agent per household) allows at most 200000; "
                          "use run.engine=fast for larger runs")
    if cfg.run.shards > 1 and cfg.run.engine != "fast":
        raise ConfigError("run.engine", cfg.run.engine, "run.shards > 1 needs run.engine=fast")
    if cfg.run.scheduler and not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://[^\s]+", cfg.run.scheduler):
        raise ConfigError("run.scheduler", cfg.run.scheduler, "a Dask scheduler address such as "
                          "tcp://127.0.0.1:8786, or empty for a LocalCluster")


# Levers that switch rather than scale: a phase-in has no meaning for them (a visa is required
# or not; a corridor is free-movement or not) or their baseline value is "the world data
# speaks" outside the corridor tables, so there is nothing to interpolate from. With
# policy.timing.phase_in_months > 0 setting one is an error, not a silent switch.
STEP_ONLY_LEVERS = ("policy.visa.default.required", "policy.visa.default.multi_entry",
                    "policy.visa.corridors[].required", "policy.visa.corridors[].multi_entry",
                    "policy.visa.border_communities", "policy.pathways.regional_mobility",
                    "policy.pathways.family_reunification.enabled", "policy.recruitment.employer_pays",
                    "policy.recruitment.fee_cap_months", "policy.enforcement.returns.readmission_rate",
                    "policy.enforcement.detention.alternatives_share",
                    "policy.pathways.family_reunification.processing_months")


def _step_only_set(policy: "Policy") -> list[tuple[str, Any]]:
    """The step-only levers a policy sets away from their defaults: [(key, value)]."""
    base, out = Policy(), []
    get = lambda obj, key: _get(obj, key.removeprefix("policy."))  # noqa: E731
    for key in STEP_ONLY_LEVERS:
        if "[]" in key:
            head, leaf = key.split("[].")
            for i, e in enumerate(get(policy, head)):
                if getattr(e, leaf) is not None:
                    out.append((f"{head}[{i}].{leaf}", getattr(e, leaf)))
        elif get(policy, key) != get(base, key):
            out.append((key, get(policy, key)))
    return out


def _check_timing(cfg: Config) -> None:
    t, months = cfg.policy.timing, cfg.run.months
    if t.start_month > months:
        raise ConfigError("policy.timing.start_month", t.start_month,
                          f"the policy would start after the last month simulated (run.months={months}); "
                          f"allowed range 1 to {months}")
    if t.phase_in_months > 0:
        bad = _step_only_set(cfg.policy)
        if bad:
            key, value = bad[0]
            raise ConfigError("policy.timing.phase_in_months", t.phase_in_months,
                              f"{key}={value!r} switches, it cannot be phased in (a yes/no rule, or a value "
                              "whose baseline is the world data outside the corridor tables); use "
                              "phase_in_months=0 for it, or leave it out")
    reg = cfg.policy.regularisation
    if reg.month is not None and reg.month > months:
        raise ConfigError("policy.regularisation.month", reg.month,
                          f"after the last month simulated (run.months={months}); allowed range 1 to {months}")
    if reg.month is not None and reg.month < t.start_month:
        raise ConfigError("policy.regularisation.month", reg.month,
                          f"before the policy starts (policy.timing.start_month={t.start_month}); allowed range "
                          f"{t.start_month} to {months}")
    if reg.mode == "standing" and reg.month is not None:
        raise ConfigError("policy.regularisation.month", reg.month,
                          "a standing regularisation has no month (it runs from policy.timing.start_month); "
                          "set mode=one_off or leave month null")


def revalidate(cfg: Config) -> Config:
    """Check a config built or changed in Python (``Config.replace``) like a loaded one.

    The world named by ``cfg.world`` (or the embedded one) supplies the countries,
    tags and behavioural parameters. Returns the rebuilt, equal config.
    """
    if cfg.world is not None and not isinstance(cfg.world, str):
        raise ConfigError("world", cfg.world, "a folder path or None for the embedded world")
    raw = to_dict(cfg)
    world = _WORLDS.get(cfg.world)
    if world is not None:
        return build_config(raw, world.iso3, world.tags, world.behaviour, world=world)
    # a config never checked against its world in this process (unpickled, hand-built):
    # check types and ranges; the selectors are taken as they are
    names = set()

    def collect(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("origin", "destination", "countries") and isinstance(v, (list, tuple)):
                    names.update(x for x in v if isinstance(x, str))
                else:
                    collect(v)
        elif isinstance(obj, list):
            for x in obj:
                collect(x)

    collect(raw)
    behaviour = raw.get("behaviour") or {}
    return build_config(raw, frozenset(names), frozenset(), dict(behaviour) if isinstance(behaviour, dict) else {})


# Worlds configs were validated on, by their ``world`` path (None: embedded), filled by
# build_config(world=...): Config.replace revalidates on the same world without loading it.
_WORLDS: dict = {}


def to_dict(obj) -> Any:
    """A frozen config (or part of it) as plain nested dicts/lists, for writing to YAML."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, (dict, types.MappingProxyType)):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def config_key(cfg) -> str:
    """A short digest of a resolved config (:func:`to_dict`): equal configs, equal keys. Caches of
    runs (the briefing book's arms, its parameter screen) and spin-up groups are keyed by it."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(to_dict(cfg), sort_keys=True, default=str).encode()).hexdigest()[:16]


def lever_table() -> list[dict]:
    """Every leaf key of the config schema with its type, default, range and doc (for docs)."""
    rows: list[dict] = []

    def walk(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{prefix}.{f.name}" if prefix else f.name
            _, tp = _is_optional(hints[f.name])
            if dataclasses.is_dataclass(tp):
                walk(tp, key)
                continue
            if typing.get_origin(tp) is tuple and not f.metadata.get("selector"):
                (item,) = [a for a in typing.get_args(tp) if a is not Ellipsis]
                if dataclasses.is_dataclass(item):
                    walk(item, key + "[]")
                    continue
            default = f.default if f.default is not dataclasses.MISSING else "(see below)"
            rows.append({"key": key, "type": tp, "default": default, "range": f.metadata.get("range"),
                         "choices": f.metadata.get("choices"), "doc": f.metadata.get("doc", "")})

    walk(Config, "")
    return rows
