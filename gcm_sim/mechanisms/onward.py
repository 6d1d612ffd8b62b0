"""Onward movement: people abroad without a settled status set off again along a route.

Reads migrants abroad under temporary protection, awaiting a decision or without
status (location, origin, savings, cash), the irregular routes of the world and the
smugglers' prices; writes migrants (state ``transit``, destination, route, leg,
channel, employment, cash), households' ties abroad and onward_departures, then
hands the travellers to :func:`.journeys.pay_and_go`. A monthly hazard
``onward_rate`` (ASSUMPTION, data/behaviour.yaml: Syrians' onward movement from Turkey
to Greece and on is a small share of the stock a year) acts on everyone whose location
lies on a route from their origin to a further destination and who can pay the next
leg from savings and cash; the route is drawn among those candidates. Nobody else
moves on: regular migrants and recognised refugees stay or return (:mod:`.returns`).
Streams, keyed to the migrant: ``onward``, ``onward_route``.
"""

from __future__ import annotations

import numpy as np

from ..categories import ABROAD, ASYLUM_PENDING, IRREGULAR, PROTECTED, SMUGGLED, TRANSIT
from . import journeys
from .recording import record_people


def onward_legs(model) -> dict[tuple[int, int], np.ndarray]:
    """(origin, location) -> [k, 2] candidate (route, next leg index) pairs, leaving location
    for a further destination along a route of that origin. Built once per model."""
    if getattr(model, "_onward_legs", None) is None:
        out: dict[tuple[int, int], list] = {}
        ix = model.world.index
        for r, route in enumerate(model.world.routes):
            o = ix[route.origin]
            for j in range(1, len(route.legs)):
                out.setdefault((o, int(model.leg_from[route.legs[j]])), []).append((r, j))
        model._onward_legs = {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}
    return model._onward_legs


def step(model, month: int) -> None:
    m, rate = model.migrants, model.b["onward_rate"]
    if rate <= 0:
        return
    status = m.view("status")
    idx = np.flatnonzero((m.view("state") == ABROAD)
                         & ((status == PROTECTED) | (status == ASYLUM_PENDING) | (status == IRREGULAR)))
    idx = idx[model.draws.uniform("onward", month, m.uid[idx]) < rate]
    if not len(idx):
        return
    table = onward_legs(model)
    route = np.full(len(idx), -1, dtype=np.int64)
    leg = np.zeros(len(idx), dtype=np.int64)
    u = model.draws.uniform("onward_route", month, m.uid[idx])
    pairs = m.origin[idx].astype(np.int64) * 100000 + m.location[idx].astype(np.int64)
    for key in np.unique(pairs):
        cand = table.get((int(key // 100000), int(key % 100000)))
        if cand is None:
            continue
        at = pairs == key
        pick = np.minimum((u[at] * len(cand)).astype(np.int64), len(cand) - 1)
        route[at], leg[at] = cand[pick, 0], cand[pick, 1]
    ok = route >= 0
    idx, route, leg = idx[ok], route[ok], leg[ok]
    price = model.leg_price[model.route_legs[route, leg]]
    funds = m.savings_usd[idx] + m.cash_usd[idx]
    can = funds >= price
    idx, route, leg = idx[can], route[can], leg[can]
    if not len(idx):
        return
    model.households.add_abroad(m.household[idx], m.destination[idx], np.zeros(len(idx), bool), -1)
    m.cash_usd[idx] += m.savings_usd[idx]
    m.savings_usd[idx] = 0
    m.state[idx] = TRANSIT
    m.status[idx] = 0
    m.channel[idx] = SMUGGLED
    m.route[idx] = route
    m.leg[idx] = leg
    m.destination[idx] = [model.world.index[model.world.routes[r].destination] for r in route]
    m.employed[idx] = False
    m.wage_usd[idx] = 0
    record_people(model, "onward_departures", idx)
    journeys.pay_and_go(model, idx)
