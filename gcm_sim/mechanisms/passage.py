"""Passage: households buy irregular journeys from smugglers.

Reads the movers who chose a smuggled route this month and the route's current
price (smugglers' prices respond to enforcement: :class:`gcm_sim.agents.recruiters.Smuggler`);
writes households (assets, debt, members), migrants (new records in ``transit`` at
their origin) and starts their journeys (:mod:`.journeys`), which pay the first leg.
The household finances the route price plus ``trip_cash_buffer`` for the way;
what its assets do not cover is debt (DESIGN.md: credit from ties and smugglers).
Streams: ``member``, ``child_sex`` (keyed to the household).
"""

from __future__ import annotations

import numpy as np

from ..agents.households import member_draw, member_sex_age
from ..categories import SMUGGLED, TRANSIT
from . import journeys


def step(model, movers, month: int) -> None:
    hh, m, draws = model.households, model.migrants, model.draws
    for o, opts, idx, col in movers:
        irr = opts.channel[col] == SMUGGLED
        idx, col = idx[irr], col[irr]
        if not len(idx):
            continue
        member = member_draw(hh.members[idx], model.propensity_table[np.full(len(idx), SMUGGLED)],
                             draws.uniform("member", month, hh.uid[idx]))
        has = member >= 0
        idx, col, member = idx[has], col[has], member[has]
        if not len(idx):
            continue
        cash = opts.cost_usd[col] * (1 + model.b["trip_cash_buffer"])
        hh.pay(idx, cash)
        hh.leave(idx, member)
        sex, age = member_sex_age(member, draws.uniform("child_sex", month, hh.uid[idx]))
        rows = m.add(len(idx), uid=hh.new_migrant_ids(idx), household=idx, origin=o, destination=opts.dest[col],
                     channel=SMUGGLED, sex=sex, age=age, skill=hh.skill[idx], weight=hh.weight[idx],
                     state=TRANSIT, location=o, route=opts.route[col], leg=0, cash_usd=cash)
        journeys.start(model, rows)
