"""Life abroad: visits that end or turn into overstays, asylum decisions, removals,
trafficking detection, remittances and return decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import gcm_levers
from .categories import ABROAD, ASYLUM_PENDING, IRREGULAR, OVERSTAY, REGULAR, VISITING
from .journeys import people_keys, record_people, return_home


def visits(model) -> None:
    """Visitors whose stay ends go home or overstay; a multi-entry visa makes coming back
    cheap, so fewer overstay (bona fide / multi-entry visas, GCM objective 5)."""
    m, rng, b = model.migrants, model.rng, model.b
    idx = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == VISITING))
    m.months_left[idx] -= 1
    due = idx[m.months_left[idx] <= 0]
    p = b["overstay_prob"] * np.where(m.multi_entry[due], b["overstay_multi_entry_factor"], 1.0)
    stay = rng.random(len(due)) < p
    over = due[stay]
    m.status[over] = IRREGULAR
    m.channel[over] = OVERSTAY
    m.has_id[over] = rng.random(len(over)) < b["irregular_id_share"]
    record_people(model, "overstays", over)
    return_home(model, due[~stay], forced=False)


def border_process(model, month: int) -> None:
    """Each border authority decides asylum claims, removes and detects trafficking."""
    m, rng = model.migrants, model.rng
    for a in model.borders.values():
        recognised, rejected = a.decide_asylum(m, model.recognition, rng)
        m.status[recognised] = REGULAR
        model.households.add_regular_tie(m.household[recognised], m.destination[recognised], 1)
        record_people(model, "asylum_recognised", recognised)
        record_people(model, "asylum_rejected", rejected)
        rejected = gcm_levers.temporary_stay(model, rejected)  # vulnerable: temporary stay
        back = rejected[rng.random(len(rejected)) < model.readmission[m.origin[rejected]]]
        m.status[rejected] = IRREGULAR
        return_home(model, back, forced=True)
        removed = a.removals(m, rng)
        removed = removed[rng.random(len(removed)) < model.readmission[m.origin[removed]]]
        return_home(model, removed, forced=True)
        record_people(model, "trafficking_detected", a.detect_trafficking(m, rng))


@dataclass(frozen=True)
class RemittanceTerms:
    """Per-corridor terms of sending money home, flat over ``origin * n + destination``.

    They depend only on the corridor's cost, fixed for a run, so they are computed once.
    """

    cost_pct: np.ndarray               # formal transfer cost, % of the amount
    amount_share: np.ndarray           # share of the wage sent
    formal_share_with_id: np.ndarray   # share sent formally by a migrant who has an ID

    @classmethod
    def of(cls, remittance_cost_pct: np.ndarray, b) -> RemittanceTerms:
        cost = np.asarray(remittance_cost_pct, dtype=float).ravel()
        # cheaper transfers: migrants send more (Kpodar & Imam 2024) and more of it formally
        amount = b["remit_share"] * np.exp(-b["remit_cost_semi_elasticity"] * cost / 100.0)
        formal = 1.0 / (1.0 + np.exp(b["formal_logit_slope"] * (cost - b["formal_midpoint_pct"])))
        return cls(cost, amount, formal)


def remit_and_return(model) -> None:
    """Employed migrants remit formally (at the corridor's cost, with an ID) or informally;
    save the rest; then decide whether to go home.

    The formal share falls with the corridor's cost along a logistic curve whose slope
    gives a cost elasticity of formal remittances near -1.6 (Ahmed, Mughal &
    Martinez-Zarzoso 2021). Money is conserved: sent = received + fees.

    Return hazards (target savers, Dustmann & Gorlach 2016) fall with time abroad where
    migrants can settle; in the Gulf states, where the kafala system allows no
    settlement, contracts end and workers go home.
    """
    m, rng, b = model.migrants, model.rng, model.b
    abroad = np.flatnonzero(m.view("state") == ABROAD)
    m.months_abroad[abroad] += 1
    work = abroad[m.employed[abroad]]
    corridor = m.origin[work].astype(np.intp) * len(model.world.codes) + m.destination[work]
    terms = model.remittance_terms
    wage = m.wage_usd[work] * np.where(m.trafficked[work], 1 - b["exploitation_wage_loss"], 1.0)
    cost = terms.cost_pct[corridor]
    amount = wage * terms.amount_share[corridor]
    formal_share = m.has_id[work] * terms.formal_share_with_id[corridor]
    formal = amount * formal_share
    informal = amount - formal
    fees = formal * cost / 100.0
    received = formal - fees + informal
    w = m.weight[work]
    keys = people_keys(model, work)
    for measure, usd in (("remittances_sent_usd", formal), ("remittance_fees_usd", fees),
                         ("remittances_informal_usd", informal), ("remittances_received_usd", received)):
        model.recorder.add_keyed(measure, keys, w * usd)
    model.households.receive(m.household[work], received)
    saved = np.maximum(wage * (1 - b["living_cost_share"]) - amount, 0.0)
    repay = np.minimum(m.debt_usd[work], saved)
    m.debt_usd[work] -= repay
    m.savings_usd[work] += (saved - repay).astype(np.float32)

    # return decisions (target savers, unemployment, circularity, reintegration support);
    # float32 and lookups by month abroad: this runs over every migrant abroad every month
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
    if reint:
        hazard += f32(b["reintegration_weight"] * reint / 12) / home_income
    months = np.maximum(m.months_abroad[abroad], 0)
    decay = np.exp(-np.arange(months.max() + 1) / b["settlement_months"]).astype(f32)  # by months abroad
    settles = ~model.no_settlement[m.location[abroad]]
    hazard = np.where(settles, hazard * decay[months], hazard + f32(1.0 / b["contract_months"]))
    hazard[status == IRREGULAR] *= f32(b["return_irregular_factor"])
    hazard[(status == ASYLUM_PENDING) | (status == VISITING) | (m.debt_usd[abroad] > 0) & m.trafficked[abroad]] = 0
    go = abroad[rng.random(len(abroad), dtype=f32) < hazard]
    return_home(model, go, forced=False)
