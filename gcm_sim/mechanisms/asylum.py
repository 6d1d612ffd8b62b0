"""Border and asylum: claims decided or abandoned, removals, trafficking detection (GCM objectives 10-13, 21).

Reads migrants abroad (status, claim month, location, trafficked), recognition and
readmission rates, border authorities (:class:`gcm_sim.agents.border.BorderAuthority`:
monthly decision capacity, so backlogs build; removal hazards under enforcement
effort; detection of trafficking victims) and the temporary-protection lever;
writes migrants (status, trafficked), households' regular ties, returns (through
:func:`.returns.return_home`) and asylum_abandoned, asylum_recognised, asylum_rejected,
trafficking_detected. Recognition rates: UNHCR (SOURCES.md). Rejected claimants are
returned where the origin readmits them, else stay without status; temporary
protection gives a share of the rejected a regular stay instead (GCM 5, 12).

Group (prima facie) temporary protection: where ``corridors.csv`` marks a pair
``group_protection`` (Syrians in Turkey: Law 6458 on Foreigners and International
Protection, art. 91, and the Temporary Protection Regulation of 22 October 2014,
provisional art. 1; SOURCES.md [TUR-TPR-2014]), people who seek protection are
registered on arrival (:func:`.journeys.enter`) and never enter the queue; the
diaspora stock's asylum share starts in that status (:func:`gcm_sim.population.seed_stocks`).
They count in ``stock_regular`` and in ``stock_temporary_protection``.

Pending claims are abandoned at ``asylum_abandon_rate`` a month (ASSUMPTION,
data/behaviour.yaml): the claimant stays without status (and may then be removed,
return or move on). Asylum seekers and temporary protection holders go home at
``return_protected_rate`` a month (:mod:`.returns`; Syrians' returns from Turkey, about
0.1-0.2% of the stock a month: Turkish Ministry of Interior and UNHCR figures,
[TUR-RETURNS]), lower than other migrants' return hazards.
Streams, keyed to the migrant: ``abandon``, ``temporary_stay``, ``return_rejected``,
``return_removed`` (and the authorities' own: ``asylum_queue``, ``asylum_capacity``,
``asylum_decision``, ``removal``, ``trafficking_detection``).
"""

from __future__ import annotations

import numpy as np

from ..agents.border import decide_queue
from ..draws import ONCE
from ..exchange import Exchange, together
from ..categories import ABROAD, ASYLUM_PENDING, IRREGULAR, REGULAR
from .recording import record_people
from .returns import return_home


def step(model, month: int, carried: Exchange):
    """A generator: the heads of every destination's queue are exchanged (:mod:`gcm_sim.exchange`)
    before claims are decided, so a sharded run decides the claims one process decides.
    ``carried``: an exchange whose parts are complete by now, sent with the queues (one call
    a month fewer in a sharded run); returns its answer."""
    m, draws = model.migrants, model.draws
    abandon(model, month)
    heads = {c: a.queue_head(m, month) for c, a in model.borders.items()}
    decided, answer = yield together(Exchange("asylum_queues", heads, decide_queues), carried)
    for c, a in model.borders.items():
        recognised, rejected = a.decide_asylum(m, model.recognition, *decided[c])
        m.status[recognised] = REGULAR
        model.households.add_regular_tie(m.household[recognised], m.destination[recognised], 1)
        record_people(model, "asylum_recognised", recognised)
        record_people(model, "asylum_rejected", rejected)
        rejected = temporary_stay(model, rejected, month)  # vulnerable: temporary stay
        back = rejected[draws.uniform("return_rejected", month, m.uid[rejected]) < model.readmission[m.origin[rejected]]]
        m.status[rejected] = IRREGULAR
        return_home(model, back, forced=True)
        removed = a.removals(m, month)
        removed = removed[draws.uniform("return_removed", month, m.uid[removed]) < model.readmission[m.origin[removed]]]
        return_home(model, removed, forced=True)
        record_people(model, "trafficking_detected", a.detect_trafficking(m, month))
    return answer


def decide_queues(parts: list[dict]) -> dict:
    """Each authority's decided claims and backlog from the queue heads of every shard."""
    return {c: decide_queue([p[c] for p in parts]) for c in parts[0]}


def abandon(model, month: int) -> np.ndarray:
    """Pending claims abandoned this month (hazard ``asylum_abandon_rate``): the claimant stays
    without status. Returns the rows."""
    m = model.migrants
    pending = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == ASYLUM_PENDING))
    gone = pending[model.draws.uniform("abandon", month, m.uid[pending]) < model.b["asylum_abandon_rate"]]
    m.status[gone] = IRREGULAR
    record_people(model, "asylum_abandoned", gone)
    return gone


def temporary_stay(model, rejected: np.ndarray, month: int) -> np.ndarray:
    """Rejected asylum seekers given temporary stay (regular status); returns the rest."""
    x = model.cfg.policy.pathways.temporary_protection
    if x <= 0 or not len(rejected):
        return rejected
    m = model.migrants
    stay = model.draws.uniform("temporary_stay", ONCE, m.uid[rejected]) < x
    granted = rejected[stay]
    m.status[granted] = REGULAR
    model.households.add_regular_tie(m.household[granted], m.destination[granted], 1)
    return rejected[~stay]
