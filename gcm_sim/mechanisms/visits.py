"""Visits: visitors whose stay ends go home or overstay (GCM objective 5).

Reads migrants with ``visitor`` status (months_left, multi_entry); writes their
status and channel (``overstay``), has_id, overstays, and sends the others home
(:func:`.returns.return_home`). A visitor overstays with ``overstay_prob``; a
multi-entry visa makes coming back cheap, so fewer overstay
(``overstay_prob`` and ``overstay_multi_entry_factor``: ASSUMPTIONS, data/behaviour.yaml). Streams, keyed to the migrant: ``overstay``, ``overstay_id``.
"""

from __future__ import annotations

import numpy as np

from ..draws import ONCE
from ..categories import ABROAD, IRREGULAR, OVERSTAY, VISITING
from .recording import record_people
from .returns import return_home


def step(model, month: int) -> None:
    m, b, draws = model.migrants, model.b, model.draws
    idx = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == VISITING))
    m.months_left[idx] -= 1
    due = idx[m.months_left[idx] <= 0]
    p = b["overstay_prob"] * np.where(m.multi_entry[due], b["overstay_multi_entry_factor"], 1.0)
    stay = draws.uniform("overstay", month, m.uid[due]) < p
    over = due[stay]
    m.status[over] = IRREGULAR
    m.channel[over] = OVERSTAY
    m.has_id[over] = draws.uniform("overstay_id", ONCE, m.uid[over]) < b["irregular_id_share"]
    record_people(model, "overstays", over)
    return_home(model, due[~stay], forced=False)
