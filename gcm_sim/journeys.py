"""Leaving and travelling: regular departures after a visa, irregular journeys leg by leg.

Irregular migrants pay smugglers leg by leg; on each leg they may die, be
intercepted (then detained or placed under alternatives, and returned if their
origin readmits them, else released where the leg began) or get through. A
migrant who cannot pay the next leg waits and works in the transit country, tries
again when the money is there, or goes home: transit countries hold stranded
people (DESIGN.md "Mechanisms").
"""

from __future__ import annotations

import numpy as np

from .agents.border import effective_interception
from .categories import (ABROAD, ASYLUM_PENDING, DEAD, DETAINED, IRREGULAR, PENDING, REGULAR, RETURNED,
                         TRANSIT, VISITING, VISITOR)


def record_people(model, measure: str, idx: np.ndarray, destination=None, value=None) -> None:
    """Record a measure for migrant rows ``idx`` with their full split."""
    if not len(idx):
        return
    value = model.migrants.weight[idx] if value is None else value
    model.recorder.add_keyed(measure, people_keys(model, idx, destination), value)


def people_keys(model, idx, destination=None) -> np.ndarray:
    """The recorder's packed split keys of migrant rows ``idx`` (destination overridable)."""
    m = model.migrants
    return model.recorder.split_keys(m.origin[idx], m.destination[idx] if destination is None else destination,
                                     m.channel[idx], m.sex[idx], m.age[idx])


def depart_pending(model, month: int) -> None:
    """Regular migrants whose visa wait is over travel (by air: they arrive the same month)."""
    m = model.migrants
    pending = np.flatnonzero(m.view("state") == PENDING)
    m.months_left[pending] -= 1
    go = pending[m.months_left[pending] <= 0]
    if not len(go):
        return
    visitor = m.channel[go] == VISITOR
    m.state[go] = ABROAD
    m.status[go] = np.where(visitor, VISITING, REGULAR)
    m.location[go] = m.destination[go]
    m.months_left[go] = np.where(visitor, model.b["visit_months"], 0)
    m.months_abroad[go] = 0
    record_people(model, "departures_regular", go)
    record_people(model, "arrivals_regular", go)
    model.households.add_abroad(m.household[go], m.destination[go], ~visitor, 1)


def start_journeys(model, idx: np.ndarray) -> None:
    """New irregular departures (rows already created in TRANSIT at their origin): pay the first leg."""
    record_people(model, "departures_irregular", idx)
    _pay_and_go(model, idx)


def _leg_of(model, idx: np.ndarray) -> np.ndarray:
    """Index into world.legs of the leg each row is on or about to attempt."""
    m = model.migrants
    return model.route_legs[m.route[idx], m.leg[idx]]


def _pay_and_go(model, idx: np.ndarray) -> np.ndarray:
    """Rows with enough cash pay the smuggler for their next leg and set off; others wait."""
    m = model.migrants
    if not len(idx):
        return idx
    legs = _leg_of(model, idx)
    price = model.leg_price[legs]
    can = m.cash_usd[idx] >= price
    go, legs, price = idx[can], legs[can], price[can]
    m.cash_usd[go] -= price
    m.moving[go] = True
    m.months_left[go] = model.leg_months[legs]
    for leg in np.unique(legs):
        sel = legs == leg
        model.smugglers[leg].sell(m.weight[go[sel]])
    record_people(model, "smuggling_fees_usd", go, value=m.weight[go] * price)
    stuck = idx[~can]
    m.moving[stuck] = False
    m.months_left[stuck] = 0
    return go


def travel(model, month: int) -> None:
    """One month of travel: legs that end this month are attempted, possibly several in a row."""
    m = model.migrants
    on_road = np.flatnonzero((m.view("state") == TRANSIT) & m.view("moving"))
    time_left = np.ones(len(on_road), dtype=np.float32)
    for _ in range(8):  # a route has at most 5 legs; short legs chain within the month
        if not len(on_road):
            break
        ends = m.months_left[on_road] <= time_left + 1e-6
        not_yet = on_road[~ends]
        m.months_left[not_yet] -= time_left[~ends]
        idx, time_left = on_road[ends], time_left[ends] - m.months_left[on_road[ends]]
        if not len(idx):
            break
        passed = _attempt_legs(model, idx, month)
        keep = np.isin(idx, passed)
        idx, time_left = idx[keep], time_left[keep]
        m.leg[idx] += 1
        m.location[idx] = model.leg_to[model.route_legs[m.route[idx], m.leg[idx] - 1]]
        done = m.leg[idx] >= model.route_length[m.route[idx]]
        _arrive(model, idx[done], month)
        rest, time_left = idx[~done], time_left[~done]
        going = _pay_and_go(model, rest)
        on_road, time_left = going, time_left[np.isin(rest, going)]


def _attempt_legs(model, idx: np.ndarray, month: int) -> np.ndarray:
    """Resolve the leg each row just finished: death, interception or passage. Returns passers.

    Deaths are rare per attempt (0.01-1%) while a row stands for thousands of people, so
    they are taken by *implicit capture* (survival weighting; Lux & Koblinger 1991,
    *Monte Carlo Particle Transport Methods*, ch. 7): a share p of the row's weight
    splits off into a new row in state ``dead``, the rest travels on. The expected
    toll is unchanged and its sampling noise disappears. Interception (10-50%) is drawn.
    """
    m, rng = model.migrants, model.rng
    legs = _leg_of(model, idx)
    record_people(model, "leg_attempts", idx)
    np.add.at(model.leg_attempts, legs, m.weight[idx])
    p_death = model.leg_death[legs]
    die = p_death > 0
    dead_weight = (m.weight[idx] * p_death)[die]
    if len(dead_weight):
        src = idx[die]
        dead = m.add(len(src), **{f: getattr(m, f)[src] for f in ("household", "origin", "destination",
                                                                  "channel", "sex", "age", "skill", "route",
                                                                  "leg", "location")},
                     weight=dead_weight, state=DEAD)
        m.weight[src] -= dead_weight.astype(np.float32)
        record_people(model, "deaths", dead)
        np.add.at(model.leg_deaths, legs[die], dead_weight)
    caught = rng.random(len(idx)) < model.leg_interception[legs]
    np.add.at(model.leg_interceptions, legs[caught], m.weight[idx[caught]])
    _intercepted(model, idx[caught], legs[caught], month)
    return idx[~caught]


def _intercepted(model, idx: np.ndarray, legs: np.ndarray, month: int) -> None:
    """Interception: claim asylum at the arrival side's border, or be held for return."""
    m, rng = model.migrants, model.rng
    if not len(idx):
        return
    record_people(model, "interceptions", idx)
    by_to = model.leg_by_to[legs]
    authority = np.where(by_to, model.leg_to[legs], model.leg_from[legs])
    can_claim = by_to & model.asylum_system[authority]
    claims = can_claim & (rng.random(len(idx)) < model.p_claim[m.origin[idx]])
    claimants = idx[claims]
    m.location[claimants] = authority[claims]
    m.destination[claimants] = authority[claims]
    m.moving[claimants] = False
    _enter(model, claimants, month, claim=np.ones(len(claimants), bool))
    held, held_at = idx[~claims], authority[~claims]
    for a in np.unique(held_at):
        model.borders[a].hold(m, held[held_at == a], rng, month)


def _arrive(model, idx: np.ndarray, month: int) -> None:
    m, rng = model.migrants, model.rng
    if not len(idx):
        return
    claim = model.asylum_system[m.destination[idx]] & (rng.random(len(idx)) < model.p_claim[m.origin[idx]])
    m.moving[idx] = False
    _enter(model, idx, month, claim)


def _enter(model, idx: np.ndarray, month: int, claim: np.ndarray) -> None:
    """Irregular entry into the destination: asylum claim or life without status."""
    m = model.migrants
    if not len(idx):
        return
    m.state[idx] = ABROAD
    m.location[idx] = m.destination[idx]
    m.months_abroad[idx] = 0
    m.months_left[idx] = 0
    m.status[idx] = np.where(claim, ASYLUM_PENDING, IRREGULAR)
    m.claim_month[idx] = month
    m.has_id[idx] = model.rng.random(len(idx)) < model.b["irregular_id_share"]
    record_people(model, "arrivals_irregular", idx)
    record_people(model, "asylum_claims", idx[claim])
    model.households.add_abroad(m.household[idx], m.destination[idx], np.zeros(len(idx), bool), 1)


def wait_in_transit(model, month: int) -> None:
    """People held or stranded in transit countries: release, return, work, retry or go home."""
    m, rng, b = model.migrants, model.rng, model.b
    state = m.view("state")
    # detention ends: return if the origin readmits, else release where the leg began
    det = np.flatnonzero(state == DETAINED)
    m.months_left[det] -= 1
    out = det[m.months_left[det] <= 0]
    back = rng.random(len(out)) < model.readmission[m.origin[out]]
    return_home(model, out[back], forced=True)
    _release(model, out[~back])
    # alternatives to detention: same wait, most comply with a return decision
    waiting = np.flatnonzero((state == TRANSIT) & ~m.view("moving"))
    under_atd = waiting[m.months_left[waiting] > 0]
    m.months_left[under_atd] -= 1
    out = under_atd[m.months_left[under_atd] <= 0]
    back = rng.random(len(out)) < model.readmission[m.origin[out]] * b["atd_compliance"]
    return_home(model, out[back], forced=True)
    _release(model, out[~back])
    # stranded: work informally, then retry, go home, or wait
    stranded = np.flatnonzero((m.view("state") == TRANSIT) & ~m.view("moving") & (m.view("months_left") <= 0))
    loc = m.location[stranded]
    earn = (model.wage[loc, 0] * (1 - model.informal_penalty[loc]) * model.p_employed_informal[loc]
            * (1 - b["living_cost_share"]))
    m.cash_usd[stranded] += earn.astype(np.float32)
    u = rng.random(len(stranded))
    retry = stranded[u < b["retry_rate"]]
    home = stranded[(u >= b["retry_rate"]) & (u < b["retry_rate"] + b["stranded_return_rate"])]
    return_home(model, home, forced=False)
    _pay_and_go(model, retry)


def _release(model, idx: np.ndarray) -> None:
    m = model.migrants
    m.state[idx] = TRANSIT
    m.moving[idx] = False
    m.months_left[idx] = 0
    m.location[idx] = model.leg_from[_leg_of(model, idx)]


def return_home(model, idx: np.ndarray, forced: bool) -> None:
    """Returns to the origin: savings and reintegration support go to the household."""
    m = model.migrants
    if not len(idx):
        return
    was_abroad = m.state[idx] == ABROAD
    record_people(model, "returns_forced" if forced else "returns_voluntary", idx)
    reint = model.cfg.policy.enforcement.returns.reintegration_usd
    model.households.receive_assets(m.household[idx], m.savings_usd[idx] + m.cash_usd[idx] + reint)
    ab = idx[was_abroad]
    model.households.add_abroad(m.household[ab], m.destination[ab], m.status[ab] == REGULAR, -1)
    m.state[idx] = RETURNED
    m.status[idx] = 0
    m.location[idx] = m.origin[idx]
    m.employed[idx] = False
    m.moving[idx] = False
    m.savings_usd[idx] = 0
    m.cash_usd[idx] = 0


def update_leg_beliefs(model) -> None:
    """What people hear about each leg: realised interception and death rates, smoothed."""
    keep = model.b["belief_memory"]
    seen = model.leg_attempts > 0
    rate_int = np.where(seen, model.leg_interceptions / np.maximum(model.leg_attempts, 1e-9), 0)
    rate_death = np.where(seen, model.leg_deaths / np.maximum(model.leg_attempts, 1e-9), 0)
    model.belief_interception = np.where(seen, keep * model.belief_interception + (1 - keep) * rate_int,
                                         model.belief_interception)
    model.belief_death = np.where(seen, keep * model.belief_death + (1 - keep) * rate_death, model.belief_death)
    model.leg_attempts[:] = 0
    model.leg_interceptions[:] = 0
    model.leg_deaths[:] = 0
    for s in model.smugglers:
        s.set_price(float(model.belief_interception[s.leg]))
    model.leg_price = np.array([s.price_usd for s in model.smugglers])


def leg_probabilities(legs, enforcement, b) -> tuple[np.ndarray, np.ndarray]:
    """True per-attempt interception and death probabilities under the policy."""
    p_int = effective_interception(legs["interception_prob"].to_numpy(float), enforcement.interception_multiplier)
    sea = (legs["mode"] == "sea").to_numpy()
    p_death = legs["death_prob"].to_numpy(float) * np.where(
        sea, 1 - b["sar_death_reduction"] * enforcement.search_and_rescue, 1.0)
    return p_int, p_death

