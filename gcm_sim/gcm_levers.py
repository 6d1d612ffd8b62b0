"""Mechanisms of the GCM implementation-agenda levers (issue 3), each a small pure-ish function.

Every lever acts on an input of a mechanism the model already has, never on an
output: the corridor rules households choose from (:func:`corridor_levers`), the
rates the institutions apply (:func:`effective_behaviour`), what households believe
(:func:`info_boost`), who holds a programme job (:func:`enrol`), which household
member leaves (:func:`propensity_table`), who is detained (:func:`child_alternative`)
and what happens to rejected asylum seekers (:func:`temporary_stay`). The model calls
them through one-line hooks; ``docs/levers.md`` documents each lever.
"""

from __future__ import annotations

import numpy as np

from .categories import ADULT, CHILD, FEMALE, MALE, MEMBER_AGE, MEMBER_SEX, REGULAR, YOUTH

# channels whose member propensities gender-responsive policy equalises (regular ways of leaving)
GENDER_CHANNELS = ("labour", "visitor", "regional")


def _lift(share: float, x: float) -> float:
    """Close ``x`` of the gap between ``share`` and 1."""
    return share + x * (1.0 - share)


# --- set-up: corridor rules (called at the end of corridors.resolve) ---------------------


def corridor_levers(r, world, cfg) -> None:
    """Digital visa processing, border-community passes, regional mobility, seasonal schemes."""
    from .corridors import pairs

    b, visa, pw = cfg.behaviour, cfg.policy.visa, cfg.policy.pathways
    x = visa.digital_processing
    if x > 0:  # e-visas and verifiable identity: faster, cheaper, fewer bona fide refusals
        r.processing_months *= 1 - x * b["digital_processing_cut"]
        r.visa_fee_usd *= 1 - x * b["digital_fee_cut"]
        r.refusal_rate *= 1 - x * b["digital_refusal_cut"]
    for bc in visa.border_communities:  # local border-traffic pass: free, immediate, multi-entry
        sel = pairs(world, bc.origin, bc.destination)
        r.exists |= sel
        r.visa_required[sel] = True
        r.visa_fee_usd[sel] = 0.0
        r.refusal_rate[sel] = 0.0
        r.processing_months[sel] = 0.0
        r.multi_entry[sel] = True
    for rm in pw.regional_mobility:  # free movement among the members, both ways
        sel = pairs(world, rm.countries, rm.countries)
        r.regional |= sel
        r.visa_required[sel] = False
    for sc in pw.seasonal:  # work places with multi-entry permits: seasonal workers circulate
        sel = pairs(world, sc.origin, sc.destination)
        r.labour_quota_year[sel] += sc.annual_quota
        r.multi_entry[sel] = True
        r.exists |= sel


# --- set-up: model attributes (called from MigrationModel.__init__) --------------------------


def effective_behaviour(b: dict, policy) -> None:
    """Rates that levers change, in the model's own copy of the behavioural parameters.

    Local identity documents raise the share of migrants without status who hold an ID
    (formal remittance channels need one); skills recognition raises the chance a
    regular migrant's skills count abroad; training border officials raises the
    monthly chance a trafficking victim is identified.
    """
    b["irregular_id_share"] = _lift(b["irregular_id_share"], policy.inclusion.local_id)
    b["skill_recognition"] = _lift(b["skill_recognition"], policy.pathways.skills_recognition)
    b["trafficking_detection_rate"] = min(
        1.0, b["trafficking_detection_rate"] + policy.enforcement.trafficking_training * b["training_detection_gain"])


def info_boost(world, cfg) -> np.ndarray:
    """Per origin country: the reach of information campaigns (0 where none runs).

    In the choice kernel (decisions.option_utilities) it raises the weight households
    give to the true risks over their prior, like more diaspora ties do.
    """
    out = np.zeros(len(world.codes))
    inf = cfg.policy.information
    if inf.campaign > 0:
        out[[world.index[c] for c in world.select(inf.origin)]] = inf.campaign
    return out


def propensity_table(world, cfg) -> np.ndarray:
    """Member propensities by channel [7, 5]; gender-responsive policy lifts women's toward men's."""
    from .model import PROPENSITY_NAME

    table = np.array([world.member_propensity[name] for name in PROPENSITY_NAME], dtype=float)
    g = cfg.policy.inclusion.gender_responsive
    if g > 0:
        sex, age = np.asarray(MEMBER_SEX), np.asarray(MEMBER_AGE)
        for ch in GENDER_CHANNELS:
            row = table[PROPENSITY_NAME.index(ch)]
            for a in (YOUTH, ADULT):
                f = np.flatnonzero((sex == FEMALE) & (age == a))
                m = np.flatnonzero((sex == MALE) & (age == a))
                row[f] += g * np.maximum(row[m] - row[f], 0.0)
    return table


def enrol(model) -> None:
    """Youth employment programmes and a migration-linked development budget: programme jobs.

    Youth programmes enrol the given share of households with young adults at home;
    the budget buys programme jobs (12 months of ``programme_income_share`` x the
    low-skill wage each) for the poorest households not yet enrolled. Both only in the
    origins of ``policy.development.origin``. Also draws the climate-resilient households.
    """
    hh, dev, rng = model.households, model.cfg.policy.development, model.rng
    if dev.youth_employment > 0:
        youth = hh.members[:, :2].sum(axis=1) > 0
        hh.programme[model.development_mask & youth & (rng.random(hh.n) < dev.youth_employment)] = True
    if dev.budget_usd_year > 0:
        cost = 12 * model.b["programme_income_share"] * model.wage[hh.country, 0] * hh.weight
        cand = np.flatnonzero(model.development_mask & ~hh.programme)
        cand = cand[np.argsort(hh.income_usd[cand], kind="stable")]
        fits = np.cumsum(cost[cand]) <= dev.budget_usd_year
        hh.programme[cand[fits]] = True
    model.resilient = np.zeros(hh.n, bool)  # no draws unless the lever is set: baseline streams unchanged
    if model.cfg.climate.resilience > 0:
        model.resilient = hh.exposed & (rng.random(hh.n) < model.cfg.climate.resilience)


# --- monthly (one-line hooks in the mechanisms) ----------------------------------------------


def child_alternative(age: np.ndarray, u: np.ndarray, cfg) -> np.ndarray:
    """Intercepted children placed under alternatives to detention (the same draw ``u`` as adults)."""
    return (age == CHILD) & (u < cfg.policy.enforcement.detention.children_alternatives)


def temporary_stay(model, rejected: np.ndarray) -> np.ndarray:
    """Rejected asylum seekers given temporary stay (regular status); returns the rest."""
    x = model.cfg.policy.pathways.temporary_protection
    if x <= 0 or not len(rejected):
        return rejected
    m = model.migrants
    stay = model.rng.random(len(rejected)) < x
    granted = rejected[stay]
    m.status[granted] = REGULAR
    model.households.add_regular_tie(m.household[granted], m.destination[granted], 1)
    return rejected[~stay]
