"""Transit and detention: people held or stranded in transit countries.

Reads migrants in ``detained`` or waiting in ``transit`` (months_left, location,
cash), readmission rates, transit wages; writes migrants (state, location, cash,
moving) and sends people home (:func:`.returns.return_home`) or back on the road
(:func:`.journeys.pay_and_go`). Detention ends after the country's
``detention_months``: return if the origin readmits (readmission rates, SOURCES.md),
else release where the leg began. Under alternatives to detention people wait in
the community and ``atd_compliance`` of return decisions are followed. Stranded
people work informally, then retry (``retry_rate``), go home
(``stranded_return_rate``) or wait (DESIGN.md: transit countries hold stranded
people). Streams, keyed to the migrant: ``readmission``, ``stranded``.
"""

from __future__ import annotations

import numpy as np

from ..categories import DETAINED, TRANSIT
from . import journeys
from .returns import return_home


def step(model, month: int) -> None:
    m, b, draws = model.migrants, model.b, model.draws
    state = m.view("state")
    # detention ends: return if the origin readmits, else release where the leg began
    det = np.flatnonzero(state == DETAINED)
    m.months_left[det] -= 1
    out = det[m.months_left[det] <= 0]
    back = draws.uniform("readmission", month, m.uid[out]) < model.readmission[m.origin[out]]
    return_home(model, out[back], forced=True)
    release(model, out[~back])
    # alternatives to detention: same wait, most comply with a return decision
    waiting = np.flatnonzero((state == TRANSIT) & ~m.view("moving"))
    under_atd = waiting[m.months_left[waiting] > 0]
    m.months_left[under_atd] -= 1
    out = under_atd[m.months_left[under_atd] <= 0]
    back = (draws.uniform("readmission", month, m.uid[out])
            < model.readmission[m.origin[out]] * b["atd_compliance"])
    return_home(model, out[back], forced=True)
    release(model, out[~back])
    # stranded: work informally, then retry, go home, or wait
    stranded = np.flatnonzero((m.view("state") == TRANSIT) & ~m.view("moving") & (m.view("months_left") <= 0))
    loc = m.location[stranded]
    earn = (model.wage[loc, 0] * (1 - model.informal_penalty[loc]) * model.p_employed_informal[loc]
            * (1 - b["living_cost_share"]))
    m.cash_usd[stranded] += earn.astype(np.float32)
    u = draws.uniform("stranded", month, m.uid[stranded])
    retry = stranded[u < b["retry_rate"]]
    home = stranded[(u >= b["retry_rate"]) & (u < b["retry_rate"] + b["stranded_return_rate"])]
    return_home(model, home, forced=False)
    journeys.pay_and_go(model, retry)


def release(model, idx: np.ndarray) -> None:
    m = model.migrants
    m.state[idx] = TRANSIT
    m.moving[idx] = False
    m.months_left[idx] = 0
    m.location[idx] = model.leg_from[journeys.leg_of(model, idx)]
