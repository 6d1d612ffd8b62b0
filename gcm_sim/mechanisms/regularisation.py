"""Regularisation: migrants without status who qualify get residence and work permits.

Reads cfg.policy.regularisation (share, mode, month, min_months_abroad, origin,
destination) and policy.timing.start_month; migrants abroad without status (state
``abroad``, status ``irregular``) in the selected destinations, of the selected
origins, with at least ``min_months_abroad`` months abroad. Writes migrants (status
``regular``, has_id, multi_entry), households' regular ties abroad and the measure
``regularisations``. Stream ``regularisation`` (once per migrant: whether the person
applies and is accepted, so a standing programme takes each person at most once).

What the new status does is what regular status does everywhere in the model: work in
the regular labour market at the wage of the recognised sector (hiring: regular
job-finding and separation rates; Amuedo-Dorantes & Bansak 2011 and Kossoudji &
Cobb-Clark 2002 find legalisation raised wages), an identity document and so formal
remittance channels (mechanisms/remittances.py; Amuedo-Dorantes, Bansak & Pozo 2005
on legal status and remittances), no inland removal, the return hazards of regular
migrants, and a residence permit that allows travel home and back (multi-entry:
ASSUMPTION, Spain's and Italy's permits were renewable residence and work permits).
Sizes: Spain's 2005 programme regularised about 575,000 of some 690,000 applicants, a
job contract required (Elias, Monras & Vazquez-Grenno 2022, "Understanding the effects
of legalizing undocumented immigrants", J. Labor Econ.); Italy's 2002 about 650,000
(Di Porto, Martino & Naticchioni 2018). The take-up ``share`` is the scenario's
ASSUMPTION (docs/levers.md).
"""

from __future__ import annotations

import numpy as np

from ..categories import ABROAD, IRREGULAR, REGULAR
from ..draws import ONCE
from .recording import record_people


def step(model, month: int) -> None:
    reg = model.cfg.policy.regularisation
    if reg.share <= 0:
        return
    start, now = model.cfg.policy.timing.start_month, model.calendar_month(month)
    if reg.mode == "one_off":
        if now != (reg.month if reg.month is not None else start):
            return
    elif now < start:
        return
    m, w = model.migrants, model.world
    idx = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == IRREGULAR)
                         & (m.view("months_abroad") >= reg.min_months_abroad))
    if not len(idx):
        return
    dest = np.isin(m.location[idx], [w.index[c] for c in w.select(reg.destination)])
    orig = np.isin(m.origin[idx], [w.index[c] for c in w.select(reg.origin)])
    idx = idx[dest & orig]
    idx = idx[model.draws.uniform("regularisation", ONCE, m.uid[idx]) < reg.share]
    if not len(idx):
        return
    m.status[idx] = REGULAR
    m.has_id[idx] = True
    m.multi_entry[idx] = True
    model.households.add_regular_tie(m.household[idx], m.destination[idx], 1)
    record_people(model, "regularisations", idx, destination=m.location[idx])
