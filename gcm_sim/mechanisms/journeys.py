"""Journeys: regular departures after the visa wait, irregular journeys leg by leg.

Reads migrants (state, route, leg, months_left, cash, weight), the legs' true
interception and death probabilities (:func:`leg_probabilities`), smugglers' prices,
border authorities; writes migrants (state, status, location, leg, cash, fee_owed_usd, moving,
months_abroad, has_id), households' ties abroad, the per-origin and per-leg counters that
beliefs are formed from (model.leg_attempts, leg_interceptions, leg_deaths, leg_retries,
leg_claims, [origin, leg]: summed over the shards of a sharded run, :mod:`gcm_sim.exchange`) and the measures
departures_regular, arrivals_regular, departures_irregular, smuggling_fees_usd,
leg_attempts, deaths, interceptions, arrivals_irregular, asylum_claims.

Irregular migrants pay smugglers leg by leg; on each leg they may die, be
intercepted (claim asylum where the arrival side has an asylum system, else be
held for return: :mod:`.transit`) or get through (DESIGN.md "Mechanisms").
People intercepted and released, pushed back or stranded try the same leg again from
where they are (:mod:`.transit`), paying the smuggler's up-front part again (:func:`pay_and_go`): ``migrants.tries`` counts a
record's attempts on its current leg, and attempts after the first are counted per leg
(``leg_retries``), so households hear how many of those caught try again
(:mod:`.beliefs`; Massey & Singer 1995 [MASSEY-SINGER-1995]: migrants try until they get in;
NRC 2013 [NRC-2013]: two in five Mexican men apprehended were apprehended again, mostly
within a month).
Interception effort ``m`` turns a leg's probability p into 1 - (1 - p)^m
(DESIGN.md); search and rescue cuts deaths at sea by ``sar_death_reduction``
(death probabilities: IOM Missing Migrants, SOURCES.md). Deaths are taken by
implicit capture (a share p of a record's weight dies; Lux & Koblinger 1991), so
their sampling noise disappears. Streams, keyed to the migrant: ``interception``
(and the leg), ``claim``, ``detention``, ``entry_id``.
"""

from __future__ import annotations

import numpy as np

from ..agents.border import effective_interception
from ..draws import ONCE
from ..categories import (ABROAD, ASYLUM_PENDING, DEAD, IRREGULAR, PENDING, PROTECTED, REGULAR, TRANSIT, VISITING,
                          VISITOR)
from .recording import record_people

DEAD_BIT = np.uint64(1 << 63)  # uid of the record that splits off a traveller's dead share


def leg_probabilities(legs, enforcement, b) -> tuple[np.ndarray, np.ndarray]:
    """True per-attempt interception and death probabilities under the policy.

    Enforcement effort m also raises the death risk of an attempt, as m^``enforcement_death_elasticity``
    on legs with interception: crossers and smugglers avoid patrols by taking remote and
    dangerous ways (Gathmann 2008 [GATHMANN-2008]: migrants switched to remote crossing
    places; Massey 2005 [MASSEY-2005]: the death rate at the US border tripled as the Border
    Patrol budget rose sevenfold, ln 3 / ln 7 = 0.56).
    """
    m = enforcement.interception_multiplier
    base_int = legs["interception_prob"].to_numpy(float)
    p_int = effective_interception(base_int, m)
    sea = (legs["mode"] == "sea").to_numpy()
    avoid = np.where(base_int > 0, max(m, 1e-3) ** b["enforcement_death_elasticity"], 1.0)
    p_death = np.minimum(legs["death_prob"].to_numpy(float) * avoid, 0.5) * np.where(
        sea, 1 - b["sar_death_reduction"] * enforcement.search_and_rescue, 1.0)
    return p_int, p_death


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


def start(model, idx: np.ndarray) -> None:
    """New irregular departures (rows already created in TRANSIT at their origin): pay the first leg.

    A departure from a household whose member was returned by force after an interception
    is that leg's retry (households.retry_leg), and is counted as one (``leg_retries``).
    """
    record_people(model, "departures_irregular", idx)
    hh = model.households
    back = hh.retry_leg[model.migrants.household[idx]]
    again = back >= 0
    if again.any():
        m = model.migrants
        np.add.at(model.leg_retries, (m.origin[idx[again]], back[again]), m.weight[idx[again]])
        hh.retry_leg[model.migrants.household[idx[again]]] = -1
    pay_and_go(model, idx)


def leg_of(model, idx: np.ndarray) -> np.ndarray:
    """Index into world.legs of the leg each row is on or about to attempt."""
    m = model.migrants
    return model.route_legs[m.route[idx], m.leg[idx]]


def pay_and_go(model, idx: np.ndarray) -> np.ndarray:
    """Rows with enough cash for their next leg's whole fee pay its up-front part and set off; others wait.

    A smuggler takes part of a fee before the leg and the rest, ``smuggler_credit_share``, only
    when the leg is passed (:func:`settle`; DHS 2017 [DHS-2017]: a down payment of about 1,200
    of 9,200 USD, the rest on arrival). A traveller must carry the whole fee to set off, so
    the rest can always be paid; an attempt that fails costs the up-front part only, which
    is what a retry costs again (as households weigh it: ``options.retry_cost_usd``).
    """
    m = model.migrants
    if not len(idx):
        return idx
    legs = leg_of(model, idx)
    price = model.leg_price[legs]
    can = m.cash_usd[idx] >= price
    go, legs, price = idx[can], legs[can], price[can]
    on_passage = price * model.b["smuggler_credit_share"]
    up_front = price - on_passage
    m.cash_usd[go] -= up_front
    m.fee_owed_usd[go] = on_passage
    m.moving[go] = True
    m.months_left[go] = model.leg_months[legs]
    for leg in np.unique(legs):
        model.smugglers[leg].sell(m.weight[go[legs == leg]])
    record_people(model, "smuggling_fees_usd", go, value=m.weight[go] * up_front)
    stuck = idx[~can]
    m.moving[stuck] = False
    m.months_left[stuck] = 0
    return go


def settle(model, idx: np.ndarray) -> None:
    """Travellers who got through a leg pay the smuggler the part of its fee due on passage."""
    m = model.migrants
    owed = m.fee_owed_usd[idx]
    m.cash_usd[idx] -= owed
    m.fee_owed_usd[idx] = 0
    record_people(model, "smuggling_fees_usd", idx, value=m.weight[idx] * owed)


def step(model, month: int) -> None:
    """One month of travel: legs that end this month are attempted, possibly several in a row."""
    depart_pending(model, month)
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
        passed = attempt_legs(model, idx, month)
        keep = np.isin(idx, passed)
        idx, time_left = idx[keep], time_left[keep]
        settle(model, idx)
        m.leg[idx] += 1
        m.tries[idx] = 0
        m.location[idx] = model.leg_to[model.route_legs[m.route[idx], m.leg[idx] - 1]]
        done = m.leg[idx] >= model.route_length[m.route[idx]]
        arrive(model, idx[done], month)
        rest, time_left = idx[~done], time_left[~done]
        going = pay_and_go(model, rest)
        on_road, time_left = going, time_left[np.isin(rest, going)]


def attempt_legs(model, idx: np.ndarray, month: int) -> np.ndarray:
    """Resolve the leg each row just finished: death, interception or passage. Returns passers."""
    m = model.migrants
    legs = leg_of(model, idx)
    origin = m.origin[idx]  # counters are kept per origin and leg (gcm_sim.exchange)
    record_people(model, "leg_attempts", idx)
    np.add.at(model.leg_attempts, (origin, legs), m.weight[idx])
    p_death = model.leg_death[legs]
    die = p_death > 0
    dead_weight = (m.weight[idx] * p_death)[die]
    if len(dead_weight):
        src = idx[die]
        dead = m.add(len(src), **{f: getattr(m, f)[src] for f in ("household", "origin", "destination",
                                                                  "channel", "sex", "age", "skill", "route",
                                                                  "leg", "location")},
                     uid=m.uid[src] | DEAD_BIT, weight=dead_weight, state=DEAD)
        m.weight[src] -= dead_weight.astype(np.float32)
        record_people(model, "deaths", dead)
        np.add.at(model.leg_deaths, (origin[die], legs[die]), dead_weight)
    again = m.tries[idx] > 0
    np.add.at(model.leg_retries, (origin[again], legs[again]), m.weight[idx[again]])
    m.tries[idx] = np.minimum(m.tries[idx].astype(np.int16) + 1, 127).astype(np.int8)
    # a retry comes in a later month (transit.step), so it gets a fresh draw
    caught = model.draws.uniform("interception", month, m.uid[idx], sub=m.leg[idx]) < model.leg_interception[legs]
    # what households hear of: the expected number caught (as deaths, by implicit capture), not
    # the draws of a few records of thousands of people each; a leg with five records a year
    # would otherwise be heard of as intercepting everyone or no one (docs/decisions.md)
    expected_caught = m.weight[idx] * model.leg_interception[legs]
    np.add.at(model.leg_interceptions, (origin, legs), expected_caught)
    # ... and of those caught, the expected number who claim asylum at the border (caught, but in)
    authority = np.where(model.leg_by_to[legs], model.leg_to[legs], model.leg_from[legs])
    can_claim = model.leg_by_to[legs] & model.asylum_system[authority] & ~model.leg_pushback[legs]
    np.add.at(model.leg_claims, (origin, legs), expected_caught * np.where(can_claim, model.p_claim[origin], 0.0))
    intercepted(model, idx[caught], legs[caught], month)
    return idx[~caught]


def intercepted(model, idx: np.ndarray, legs: np.ndarray, month: int) -> None:
    """Interception: claim asylum at the arrival side's border, or be held for return.

    On a ``pushback`` leg (legs.csv; Turkey's border with Syria, closed and walled since
    2015-2016, where Human Rights Watch documented guards turning back and shooting at
    asylum seekers [HRW-2018-TUR]) people are turned back where the leg began, without a
    claim or a procedure, and wait there to try again or go home (:mod:`.transit`).
    """
    m = model.migrants
    if not len(idx):
        return
    record_people(model, "interceptions", idx)
    m.fee_owed_usd[idx] = 0  # due on passage only
    back = model.leg_pushback[legs]
    turned = idx[back]
    m.moving[turned] = False
    m.months_left[turned] = 0
    m.location[turned] = model.leg_from[legs[back]]
    idx, legs = idx[~back], legs[~back]
    by_to = model.leg_by_to[legs]
    authority = np.where(by_to, model.leg_to[legs], model.leg_from[legs])
    can_claim = by_to & model.asylum_system[authority]
    claims = can_claim & (model.draws.uniform("claim", ONCE, m.uid[idx]) < model.p_claim[m.origin[idx]])
    claimants = idx[claims]
    m.location[claimants] = authority[claims]
    m.destination[claimants] = authority[claims]
    m.moving[claimants] = False
    enter(model, claimants, month, claim=np.ones(len(claimants), bool))
    held, held_at = idx[~claims], authority[~claims]
    u = model.draws.uniform("detention", month, m.uid[held])
    for a in np.unique(held_at):
        at = held_at == a
        model.borders[a].hold(m, held[at], u[at])


def arrive(model, idx: np.ndarray, month: int) -> None:
    m = model.migrants
    if not len(idx):
        return
    claim = (model.asylum_system[m.destination[idx]]
             & (model.draws.uniform("claim", ONCE, m.uid[idx]) < model.p_claim[m.origin[idx]]))
    m.moving[idx] = False
    enter(model, idx, month, claim)


def enter(model, idx: np.ndarray, month: int, claim: np.ndarray) -> None:
    """Irregular entry into the destination: asylum claim, group protection or life without status.

    Where the origin-destination pair grants group (prima facie) temporary protection
    (``corridors.csv`` ``group_protection``; Turkey's Temporary Protection Regulation of
    2014 for Syrians, SOURCES.md [TUR-TPR-2014]), people who seek protection are registered
    under it on arrival: no individual claim, no place in the asylum queue, an identity
    document (the temporary protection identification document).
    """
    m = model.migrants
    if not len(idx):
        return
    group = claim & model.rules.group_protection[m.origin[idx], m.destination[idx]]
    claim = claim & ~group
    m.state[idx] = ABROAD
    m.location[idx] = m.destination[idx]
    m.months_abroad[idx] = 0
    m.months_left[idx] = 0
    m.status[idx] = np.where(group, PROTECTED, np.where(claim, ASYLUM_PENDING, IRREGULAR))
    m.claim_month[idx] = month
    m.has_id[idx] = group | (model.draws.uniform("entry_id", ONCE, m.uid[idx]) < model.b["irregular_id_share"])
    record_people(model, "arrivals_irregular", idx)
    record_people(model, "asylum_claims", idx[claim])
    record_people(model, "temporary_protection_grants", idx[group])
    model.households.add_abroad(m.household[idx], m.destination[idx], np.zeros(len(idx), bool), 1)
