"""Compaction: migrant records whose story is over leave the arrays.

Reads migrants (state) and writes migrants (rows in state ``rejoined`` or ``dead`` removed,
the others kept in their order) and model.dead_by_key (the people dead on the way, by the
recorder's key, that ``people_dead`` keeps counting: :mod:`.recording`). No random numbers.

A returnee who rejoined the household is a member at home again (:mod:`.demography`), and
the dead share of a traveller (:mod:`.journeys`, implicit capture) only counts in the
``people_dead`` stock; nothing reads either record again. Rows were never deleted, so the
arrays grew with every departure: over a 120-month run with its spin-up about threefold
(docs/scale.md). Once such rows are a quarter of the records they are dropped, the dead by
key first. The kept rows keep their order, and every draw is keyed to the migrant's uid,
not its row (:mod:`gcm_sim.draws`), so no result changes. Runs at the end of the month,
after the month's measures.
"""

from __future__ import annotations

import numpy as np

from ..categories import DEAD, REJOINED
from .recording import people_keys

SHARE = 0.25  # compact when records whose story is over are this share of all records


def setup(model) -> None:
    model.dead_by_key = np.zeros(model.recorder.stride)  # real people dead, by packed split key


def step(model, month: int) -> None:
    m = model.migrants
    state = m.view("state")
    over = (state == DEAD) | (state == REJOINED)
    if over.sum() < SHARE * m.n:
        return
    dead = np.flatnonzero(state == DEAD)
    np.add.at(model.dead_by_key, people_keys(model, dead), m.weight[dead])
    m.compact(~over)
