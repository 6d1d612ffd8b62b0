"""Income and saving at home, and the development levers that act on them.

Set-up (:func:`setup`) reads cfg.policy.development and cfg.climate.resilience and
writes households.programme (programme jobs: origin employment, youth employment,
a migration-linked development budget for the poorest), model.development_mask,
model.programme_income and model.resilient (climate-resilient households).
Monthly (:func:`step`) reads households (base income, shocks, programme, remittances
received, debt) and writes income_usd, assets_usd, debt_usd, and skill/trained for
vocational-training trainees; quota budgets are topped up (a year's places arrive
as twelve monthly parts).

Households earn the wage of their skill at home (world data), save ``saving_rate``
of what income and remittances received leave above the subsistence need of the people at
home (``subsistence_usd_ppp_day`` x members, in the origin's market dollars: the need
:func:`gcm_sim.decisions.credit_usd` lends above), and repay debt first (DESIGN.md): to be
able to save, a household must first meet subsistence consumption, so saving rates rise with
income at low incomes (Ogaki, Ostry & Reinhart 1996, IMF Staff Papers 43(1); Masson, Bayoumi
& Samiei 1998, WBER 12(3)). Saving is buffer-stock
saving (Deaton 1991, Econometrica 59(5); Carroll 1997, QJE 112(1)): households hold a
target buffer of ``buffer_target_months`` of income and consume what lies above it at
``buffer_drawdown_rate`` a month, and large unplanned spending (health, schooling) hits
``spending_shock_rate_year`` of households a year for ``spending_shock_months`` of income
(catastrophic out-of-pocket health spending above 10% of the budget: 11.7% of the world's
population in 2010, Wagstaff et al. 2018, Lancet Global Health 6(2)), so assets are
stationary in a world without change. Stream ``spending_shock``. Vocational training
moves a low-skill household to mid skills with ``training_income_gain``.
Skills partnerships' home-track trainees (:func:`train_home_track`) gain skills and
earnings at home the same way. Streams: ``programme``, ``youth_programme``,
``resilience`` (set-up, month 0), ``training`` and ``home_track`` (monthly).
"""

from __future__ import annotations

import numpy as np

from ..exchange import Exchange, add_parts, merged, shared


def setup(model):
    """A generator: the two levers that target households of every origin exchange what they
    rank by (:mod:`gcm_sim.exchange`), so a sharded run enrols the households one process does."""
    hh, dev, draws = model.households, model.cfg.policy.development, model.draws
    sel = np.isin(hh.country, [model.world.index[c] for c in model.world.select(dev.origin)])
    model.development_mask = sel & np.isin(hh.country, list(model.recruiters))
    if dev.origin_employment > 0:  # programme jobs for that share of the poorer half (of all households)
        median = yield Exchange("income_median", hh.income_usd, median_of_parts)
        poor = hh.income_usd < median
        pick = draws.uniform("programme", 0, hh.uid) < dev.origin_employment / 0.5
        hh.programme[model.development_mask & poor & pick] = True
    if dev.youth_employment > 0:  # youth programmes enrol households with young adults at home
        youth = hh.members[:, :2].sum(axis=1) > 0
        pick = draws.uniform("youth_programme", 0, hh.uid) < dev.youth_employment
        hh.programme[model.development_mask & youth & pick] = True
    if dev.budget_usd_year > 0:  # the budget buys 12-month programme jobs for the poorest
        cost = 12 * model.b["programme_income_share"] * model.wage[hh.country, 0] * hh.weight
        cand = np.flatnonzero(model.development_mask & ~hh.programme)
        cand = cand[np.lexsort((hh.uid[cand], hh.income_usd[cand]))]  # ties by uid, not storage order
        cand = cand[: int(np.searchsorted(np.cumsum(cost[cand]), dev.budget_usd_year, side="right"))]
        head = {"income": hh.income_usd[cand], "uid": hh.uid[cand], "cost": cost[cand],
                "budget": dev.budget_usd_year}
        funded = yield Exchange("development_budget", head, within_budget)
        hh.programme[cand[np.isin(hh.uid[cand], funded)]] = True
    model.resilient = np.zeros(hh.n, bool)
    if model.cfg.climate.resilience > 0:
        model.resilient = hh.exposed & (draws.uniform("resilience", 0, hh.uid) < model.cfg.climate.resilience)
    model.programme_income = model.b["programme_income_share"] * model.wage[hh.country, 0]
    model.home_track = home_track(model)


def median_of_parts(parts: list[np.ndarray]) -> float:
    """The median income of every simulated household, all shards together."""
    return np.median(parts[0] if len(parts) == 1 else np.concatenate(parts))


def within_budget(parts: list[dict]) -> np.ndarray:
    """uids of the poorest candidates (by income, then uid) of every shard that the budget pays
    for; each shard's part holds its candidates that its own budget alone would pay for, which
    include all of its candidates the merged ranking pays for."""
    ranked = merged(parts, ("income", "uid", "cost"), by=("income", "uid"))
    return ranked["uid"][np.cumsum(ranked["cost"]) <= parts[0]["budget"]]


def home_track(model) -> np.ndarray:
    """Skills partnerships' home-track trainees a month, real people, by origin country.

    Each partnership trains ``annual_quota`` people a year per corridor it selects;
    ``home_track_share`` of them train for the home labour market (Clemens 2015, IZA J.
    Labor Policy 4:2, "Global Skill Partnerships": the "home" track of a partnership).
    """
    w, n = model.world, len(model.world.codes)
    out = np.zeros(n)
    origins, destinations = set(w.with_role("origin")), set(w.with_role("destination"))
    for sp in model.cfg.policy.pathways.skills_partnerships:
        dests = w.select(sp.destination) & destinations
        for o in w.select(sp.origin) & origins:
            out[w.index[o]] += sp.annual_quota * sp.home_track_share * len(dests - {o}) / 12.0
    return out


def train_home_track(model, month: int):
    """Home-track trainees of skills partnerships: low-skill households of the origin gain mid
    skills and earn ``training_income_gain`` more at home (as vocational training does);
    a trainee a household, drawn with the chance that fills the month's places (stream
    ``home_track``). A generator: the low-skill people of an origin split over shards are
    summed over them (:func:`gcm_sim.exchange.shared`)."""
    hh = model.households
    countries = np.flatnonzero(model.home_track > 0)
    if not len(countries):
        return
    people = np.array([hh.weight[(hh.country == c) & (hh.skill == 0)].sum(dtype=np.float64) for c in countries])
    people = yield from shared(model, "home_track_people", people, add_parts)
    for c, n in zip(countries, people):
        if n <= 0:
            continue
        p = min(1.0, model.home_track[c] / n)
        trainee = (hh.country == c) & (hh.skill == 0) & (model.draws.uniform("home_track", month, hh.uid) < p)
        hh.train(trainee, model.b["training_income_gain"])


def step(model, month: int):
    """A generator (home-track training may exchange: :func:`train_home_track`)."""
    hh, dev = model.households, model.cfg.policy.development
    if dev.vocational_training > 0:
        trainee = (model.development_mask & (hh.skill == 0)
                   & (model.draws.uniform("training", month, hh.uid) < dev.vocational_training / 12))
        hh.train(trainee, model.b["training_income_gain"])
    yield from train_home_track(model, month)
    growth = (1 + model.growth) ** (model.calendar_month(month) / 12)  # world incomes are month 0's
    b = model.b
    hh.earn_and_save(growth, b["saving_rate"], model.programme_income, b["buffer_target_months"],
                     b["buffer_drawdown_rate"], hh.subsistence_usd(model.subsistence_person_month))
    # large unplanned spending (illness, schooling, funerals) draws the buffer down
    hit = np.flatnonzero(model.draws.uniform("spending_shock", month, hh.uid) < b["spending_shock_rate_year"] / 12)
    cost = np.float32(b["spending_shock_months"]) * hh.income_usd[hit]
    hh.assets_usd[hit] -= np.minimum(np.maximum(hh.assets_usd[hit], 0), cost)
    model.quota_budget = np.minimum(model.quota_budget + model.quota_annual / 12, model.quota_cap)
