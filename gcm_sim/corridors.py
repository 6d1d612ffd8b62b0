"""Effective corridor rules: the world data with the policy levers applied.

Precedence (DESIGN.md): the world data holds each corridor's baseline; a
``policy.*.default`` value, when set, replaces it on every corridor; an entry of a
``corridors`` list replaces it on the corridors it selects and wins over
``default``. Pathway lists (labour agreements, skills partnerships, humanitarian
places, seasonal schemes) add quota on the corridors they select; then
``policy.pathways.quota_multipliers`` scale each corridor's labour, skills, family and
humanitarian places (down to 0: a programme ended), after everything was added.

The result is a set of dense ``[n_countries, n_countries]`` matrices indexed
``[origin, destination]``, computed once per model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .policy import Config
from .world import World


@dataclass
class CorridorRules:
    exists: np.ndarray             # bool: a regular corridor (diaspora or pathway) exists
    regional: np.ndarray           # bool: free movement within a bloc
    visa_required: np.ndarray      # bool
    visa_fee_usd: np.ndarray
    refusal_rate: np.ndarray
    processing_months: np.ndarray
    multi_entry: np.ndarray        # bool
    remittance_cost_pct: np.ndarray
    recruitment_fee_usd: np.ndarray
    labour_quota_year: np.ndarray  # any skill
    labour_skill_quota_year: np.ndarray  # [3, n, n] agreements for one skill level
    skills_quota_year: np.ndarray
    family_quota_year: np.ndarray
    humanitarian_quota_year: np.ndarray
    travel_cost_usd: np.ndarray
    diaspora_stock: np.ndarray
    group_protection: np.ndarray   # bool: arrivals who seek protection get temporary protection on arrival


def resolve(world: World, cfg: Config) -> CorridorRules:
    n = len(world.codes)
    ix = world.index
    z = lambda dtype=np.float64: np.zeros((n, n), dtype)  # noqa: E731
    r = CorridorRules(exists=z(bool), regional=z(bool), visa_required=np.ones((n, n), bool),
                      visa_fee_usd=z(), refusal_rate=z(), processing_months=z(), multi_entry=z(bool),
                      remittance_cost_pct=z(), recruitment_fee_usd=z(), labour_quota_year=z(),
                      labour_skill_quota_year=np.zeros((3, n, n)),
                      skills_quota_year=z(), family_quota_year=z(), humanitarian_quota_year=z(),
                      travel_cost_usd=z(), diaspora_stock=z(), group_protection=z(bool))
    # defaults for pairs without a corridor row: regional averages of the table (assumption, SOURCES.md)
    c = world.corridors
    r.visa_fee_usd[:] = c["visa_fee_usd"].median()
    r.refusal_rate[:] = c["visa_refusal_rate"].median()
    r.processing_months[:] = c["visa_processing_months"].median()
    r.remittance_cost_pct[:] = c["remittance_cost_pct"].median()
    r.recruitment_fee_usd[:] = c["recruitment_fee_usd"].median()
    r.travel_cost_usd[:] = c["travel_cost_usd"].median()
    for _, row in c.iterrows():
        o, d = ix[row["origin"]], ix[row["destination"]]
        r.exists[o, d] = True
        r.visa_required[o, d] = row["visa_required"]
        r.visa_fee_usd[o, d] = row["visa_fee_usd"]
        r.refusal_rate[o, d] = row["visa_refusal_rate"]
        r.processing_months[o, d] = row["visa_processing_months"]
        r.multi_entry[o, d] = row["multi_entry"]
        r.remittance_cost_pct[o, d] = row["remittance_cost_pct"]
        r.recruitment_fee_usd[o, d] = row["recruitment_fee_usd"]
        r.labour_quota_year[o, d] = row["labour_quota_year"]
        r.family_quota_year[o, d] = row["family_quota_year"]
        r.humanitarian_quota_year[o, d] = row["humanitarian_quota_year"]
        r.travel_cost_usd[o, d] = row["travel_cost_usd"]
        r.diaspora_stock[o, d] = row["diaspora_stock"]
        r.group_protection[o, d] = row["group_protection"]
    for a in world.codes:
        for b in world.codes:
            if a != b and world.same_free_movement_bloc(a, b):
                r.regional[ix[a], ix[b]] = True
                r.visa_required[ix[a], ix[b]] = False

    visa = cfg.policy.visa
    _apply(r, visa.default, everywhere(n))
    for ov in visa.corridors:
        _apply(r, ov, pairs(world, ov.origin, ov.destination))

    rem = cfg.policy.remittances
    if rem.cost_pct is not None:
        r.remittance_cost_pct[:] = rem.cost_pct
    for ov in rem.corridors:
        r.remittance_cost_pct[pairs(world, ov.origin, ov.destination)] = ov.cost_pct

    pw = cfg.policy.pathways
    for la in pw.labour_agreements:
        sel = pairs(world, la.origin, la.destination)
        if la.skill == "any":
            r.labour_quota_year[sel] += la.annual_quota
        else:
            r.labour_skill_quota_year[("low", "mid", "high").index(la.skill)][sel] += la.annual_quota
        r.exists |= sel
    for sp in pw.skills_partnerships:
        sel = pairs(world, sp.origin, sp.destination)
        r.skills_quota_year[sel] += sp.annual_quota * (1 - sp.home_track_share)
        r.exists |= sel
    for hp in pw.humanitarian:
        sel = pairs(world, hp.origin, hp.destination)
        r.humanitarian_quota_year[sel] += hp.annual_quota
        r.exists |= sel
    fam = pw.family_reunification
    r.family_quota_year *= fam.quota_multiplier if fam.enabled else 0.0
    _corridor_levers(r, world, cfg)  # digital visas, border passes, regional, seasonal
    for qm in pw.quota_multipliers:  # per-corridor cuts (to 0) or expansions of every pathway's places
        sel = pairs(world, qm.origin, qm.destination)
        r.labour_quota_year[sel] *= qm.labour
        r.labour_skill_quota_year[:, sel] *= qm.labour
        r.skills_quota_year[sel] *= qm.skills
        r.family_quota_year[sel] *= qm.family
        r.humanitarian_quota_year[sel] *= qm.humanitarian
    np.fill_diagonal(r.exists, False)
    np.fill_diagonal(r.regional, False)
    return r


def blend(base: CorridorRules, scen: CorridorRules, f: float) -> CorridorRules:
    """Rules a fraction ``f`` of the way from ``base`` to ``scen`` (policy.timing phase-in).

    Numbers move linearly; yes/no rules take the scenario's value as soon as ``f > 0``
    (a corridor a new programme opens exists from its first month; step-only levers
    cannot be phased in: policy.STEP_ONLY_LEVERS).
    """
    if f <= 0:
        return base
    if f >= 1:
        return scen
    out = {}
    for name in base.__dataclass_fields__:
        a, b = getattr(base, name), getattr(scen, name)
        out[name] = b.copy() if a.dtype == bool else a + f * (b - a)
    return CorridorRules(**out)


def everywhere(n: int) -> np.ndarray:
    m = np.ones((n, n), bool)
    np.fill_diagonal(m, False)
    return m


def pairs(world: World, origin, destination) -> np.ndarray:
    """Boolean [n, n] mask of the (origin, destination) pairs a selector pair picks."""
    n = len(world.codes)
    o = np.zeros(n, bool)
    d = np.zeros(n, bool)
    o[[world.index[c] for c in world.select(origin)]] = True
    d[[world.index[c] for c in world.select(destination)]] = True
    m = o[:, None] & d[None, :]
    np.fill_diagonal(m, False)
    return m


def _apply(r: CorridorRules, rule, sel: np.ndarray) -> None:
    if rule.required is not None:
        r.visa_required[sel] = rule.required
    if rule.fee_usd is not None:
        r.visa_fee_usd[sel] = rule.fee_usd
    if rule.refusal_rate is not None:
        r.refusal_rate[sel] = rule.refusal_rate
    if rule.processing_months is not None:
        r.processing_months[sel] = rule.processing_months
    if rule.multi_entry is not None:
        r.multi_entry[sel] = rule.multi_entry


def _corridor_levers(r: CorridorRules, world: World, cfg: Config) -> None:
    """Digital visa processing, border-community passes, regional mobility, seasonal schemes."""
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
