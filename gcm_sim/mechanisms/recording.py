"""Recording: the contract's measures for migrant rows, and the month-end stocks.

Reads migrants (origin, destination, channel, sex, age, weight, state, status,
location, trafficked), households (members, weight, shocked, shock_direct) and model.dead_by_key
(the dead whose records :mod:`.compaction` dropped) and writes only the recorder (DESIGN.md
"Outputs") and, in the last month before the reported ones, ``model.victims_at_start`` (the
people in exploitation then, by key and weight). No random numbers.

``trafficking_victims_at_start`` is recorded in month 1 only: the people in exploitation by a
deceiving recruiter when the reported months begin, deceived during the spin-up
(``run.spinup_months``) and so not in ``trafficking_victims``. They can be identified in the
reported months, so ``trafficking_detected_share`` divides by both.
"""

from __future__ import annotations

import numpy as np

from ..agents.border import stock_masks
from ..categories import ABROAD, ADULT, CHILD, PENDING, STATES, YOUTH

AT_LOCATION = ("stranded_in_transit", "detained", "detained_children")  # counted where people are held


def people_keys(model, idx, destination=None) -> np.ndarray:
    """The recorder's packed split keys of migrant rows ``idx`` (destination overridable)."""
    m = model.migrants
    return model.recorder.split_keys(m.origin[idx], m.destination[idx] if destination is None else destination,
                                     m.channel[idx], m.sex[idx], m.age[idx])


def record_people(model, measure: str, idx: np.ndarray, destination=None, value=None) -> None:
    """Record a measure for migrant rows ``idx`` with their full split (people, or ``value``)."""
    if not len(idx):
        return
    value = model.migrants.weight[idx] if value is None else value
    model.recorder.add_keyed(measure, people_keys(model, idx, destination), value)


def step(model, month: int) -> None:
    """Month-end stocks by legal status and place; people at home; shocked households."""
    m, hh, rec = model.migrants, model.households, model.recorder
    if model.calendar_month(month) < 1:  # run.spinup_months: nothing before month 1 is reported
        rec.discard_month()
        model.month_totals = {}
        if model.calendar_month(month) == 0:  # the people in exploitation as month 1 begins, by key
            idx = np.flatnonzero(m.view("trafficked") & (m.view("state") == ABROAD))
            model.victims_at_start = (people_keys(model, idx), m.weight[idx].copy())
        return
    if model.calendar_month(month) == 1:
        rec.add_keyed("trafficking_victims_at_start", *model.victims_at_start)
    rows = slice(0, m.n)
    by_destination = people_keys(model, rows)  # packed once for the stocks abroad
    weight = m.weight[rows]
    for name, mask in stock_masks(m).items():
        if name in AT_LOCATION:
            idx = np.flatnonzero(mask)
            rec.add_keyed(name, people_keys(model, idx, destination=m.location[idx]), weight[idx])
        else:
            rec.add_keyed(name, by_destination[mask], weight[mask])
    dead_before = np.flatnonzero(model.dead_by_key)  # records dropped by compaction, still dead
    rec.add_keyed("people_dead", dead_before, model.dead_by_key[dead_before])
    # household-level measures are summed by origin first (one row per country, not per household)
    n = len(model.world.codes)
    countries = np.arange(n)
    # people at home by age group (members by MEMBERS; people about to leave by their own age),
    # so a rate per adult (e.g. Feng et al.'s denominator, people 15-65) can be read off
    pending = np.flatnonzero(m.view("state") == PENDING)
    for age, cols in ((YOUTH, slice(0, 2)), (ADULT, slice(2, 4)), (CHILD, slice(4, 5))):
        people = hh.members[:, cols].sum(axis=1, dtype=np.int16).astype(np.float64)
        if age == ADULT:  # the part of rejoined returnees that did not come back (Households.absent)
            people -= hh.absent
        at_home = hh.sum_by_country(people * hh.weight)
        mine = pending[m.age[pending] == age]
        at_home += np.bincount(m.origin[mine], weights=m.weight[mine], minlength=n)
        rec.add("people_at_home", at_home, origin=countries, age=age)
    shocked = hh.shocked[hh.shock_direct[hh.shocked]]  # directly exposed (not the local economy's)
    rec.add("climate_affected_households",
            np.bincount(hh.country[shocked], weights=hh.weight[shocked], minlength=n), origin=countries)
    rec.close_month(model.calendar_month(month))
    model.month_totals = rec.month_totals()  # this month's totals, read by the DataCollector


def people_by_state(model) -> dict[str, float]:
    """Real people in each state, people at home included (conservation: the total never changes)."""
    m, hh = model.migrants, model.households
    state = m.view("state")
    out = {s: float(m.weight[: m.n][state == i].sum(dtype=np.float64)) for i, s in enumerate(STATES)}
    out["dead"] += float(model.dead_by_key.sum())  # records dropped by compaction
    out["home"] = float(hh.real_people().sum()) + out.pop("pending")
    out.pop("rejoined")  # their people are members at home again
    return out
