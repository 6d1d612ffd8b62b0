"""Returns: migrants who go home, by decision or by force.

:func:`step` reads migrants abroad (status, savings, employment, months abroad,
multi-entry, debt, trafficked), home incomes and the reintegration lever; it sends
home the migrants whose return hazard fires (stream ``return``, keyed to the
migrant). :func:`return_home` is the way home for every mechanism: it writes
migrants (state ``returned``), households (savings, cash and reintegration support
into assets; ties abroad) and returns_forced / returns_voluntary.

Return hazards (target savers, Dustmann & Gorlach 2016, J. Econ. Lit. 54(1)) rise
once savings reach ``return_savings_target_months`` of home income, with
unemployment, and for circular migrants with multi-entry status; they fall with
time abroad (``settlement_months``) where migrants can settle. In the Gulf states,
where the kafala system allows no settlement, contracts end (``contract_months``)
and workers go home. Reintegration support raises the hazard in proportion to its
value against home income (``reintegration_weight``: ASSUMPTION, data/behaviour.yaml),
for the people assisted voluntary return programmes serve: migrants without a regular
status (irregular, asylum seekers, temporary protection holders; IOM's AVRR
eligibility). Regular workers are not offered it, so it no longer sends home the
earners who remit most (issue 13). Evaluations find the grant a secondary reason to
go home (Koser & Kuschminder 2015, IOM; Schmitt, Bitterwolf & Baraulina 2019, BAMF
Forschungsbericht 34 on StarthilfePlus), so the weight stays small (docs/levers.md).

Coming back later: migrants without status weigh the believed cost of coming back
without papers (smuggling fees x expected attempts, per successful entry, on the cheapest
route: :func:`.beliefs.reentry_ratio`, against the world's base conditions) with elasticity
``return_reentry_elasticity``: their return hazard is ``return_irregular_factor`` x
ratio^-elasticity, so enforcement that makes re-entry dearer keeps them abroad longer
(Massey, Durand & Pren 2015 [MDP-2015]: undocumented Mexicans' return migration fell as US
border enforcement grew, documented migrants' did not). A forced return leaves the
household with a raised propensity to try again (``households.retry_left``:
:mod:`.choice`; NRC 2013 [NRC-2013]).
"""

from __future__ import annotations

import numpy as np

from ..categories import ABROAD, ASYLUM_PENDING, IRREGULAR, PROTECTED, REGULAR, RETURNED, VISITING
from .recording import record_people


def return_home(model, idx: np.ndarray, forced: bool) -> None:
    """Returns to the origin: savings and reintegration support go to the household."""
    m = model.migrants
    if not len(idx):
        return
    was_abroad = m.state[idx] == ABROAD
    record_people(model, "returns_forced" if forced else "returns_voluntary", idx)
    if forced:  # the household may try again (choice.retry_hazard)
        hh = m.household[idx]
        model.households.retry_left[hh] = np.maximum(model.households.retry_left[hh],
                                                     np.int16(round(model.b["reattempt_window_months"])))
        on_road = ~was_abroad & (m.route[idx] >= 0)  # caught on a leg: a departure again is its retry
        if on_road.any():
            from .journeys import leg_of
            model.households.retry_leg[hh[on_road]] = leg_of(model, idx[on_road])
            model.households.retry_route[hh[on_road]] = m.route[idx[on_road]]
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


def step(model, month: int) -> None:
    # float32 and lookups by month abroad: this runs over every migrant abroad every month
    m, b = model.migrants, model.b
    abroad = np.flatnonzero(m.view("state") == ABROAD)
    if not len(abroad):
        return
    f32 = np.float32
    status = m.status[abroad]
    home_income = np.maximum(model.households.income_usd[m.household[abroad]], f32(1.0))
    hazard = np.full(len(abroad), f32(b["return_base"]))
    hazard[m.savings_usd[abroad] >= f32(b["return_savings_target_months"]) * home_income] += f32(b["return_target_boost"])
    hazard[~m.employed[abroad]] += f32(b["return_unemployed_boost"])
    hazard[m.multi_entry[abroad] & (status == REGULAR)] += f32(b["return_circular_boost"])
    reint = model.cfg.policy.enforcement.returns.reintegration_usd
    if reint:  # assisted voluntary return: migrants without a regular status (IOM AVRR eligibility)
        eligible = status != REGULAR
        hazard[eligible] += f32(b["reintegration_weight"] * reint / 12) / home_income[eligible]
    months = np.maximum(m.months_abroad[abroad], 0)
    decay = np.exp(-np.arange(months.max() + 1) / b["settlement_months"]).astype(f32)  # by months abroad
    settles = ~model.no_settlement[m.location[abroad]]
    hazard = np.where(settles, hazard * decay[months], hazard + f32(1.0 / b["contract_months"]))
    irr = status == IRREGULAR
    ratio = model.reentry_ratio[m.origin[abroad[irr]], m.location[abroad[irr]]]
    hazard[irr] *= (b["return_irregular_factor"] * np.maximum(ratio, 1e-3) ** -b["return_reentry_elasticity"]
                    ).astype(f32)
    # asylum seekers and temporary protection holders: their own, lower rate (return_protected_rate,
    # Syrians' returns from Turkey; mechanisms/asylum.py, data/behaviour.yaml) plus reintegration support
    protection = (status == ASYLUM_PENDING) | (status == PROTECTED)
    hazard[protection] = f32(b["return_protected_rate"]) + (
        f32(b["reintegration_weight"] * reint / 12) / home_income[protection] if reint else f32(0))
    hazard[(status == VISITING) | (m.debt_usd[abroad] > 0) & m.trafficked[abroad]] = 0
    go = abroad[model.draws.uniform("return", month, m.uid[abroad]) < hazard]
    return_home(model, go, forced=False)


