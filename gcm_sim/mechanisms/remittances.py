"""Remittances: employed migrants send money home, formally or informally, and save the rest.

Reads employed migrants abroad (wage, trafficked, has_id, debt) and the corridor's
formal transfer cost; writes households.remittances_usd (saved at home next month),
migrants (savings, debt, months abroad) and remittances_sent_usd,
remittance_fees_usd, remittances_informal_usd, remittances_received_usd. No
random numbers. Money is conserved: sent = received + fees.

Migrants send ``remit_share`` of the wage, more when transfers are cheaper
(``remit_cost_semi_elasticity``; Kpodar & Imam 2024); the formal share falls with
the cost along a logistic curve (``formal_logit_slope``, ``formal_midpoint_pct``;
cost elasticity of formal remittances near -1.6: Ahmed, Mughal & Martinez-Zarzoso
2021). A formal transfer needs an identity document; local ID lifts the share of
migrants without status who hold one (GCM objective 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..categories import ABROAD
from .recording import people_keys


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
        amount = b["remit_share"] * np.exp(-b["remit_cost_semi_elasticity"] * cost / 100.0)
        formal = 1.0 / (1.0 + np.exp(b["formal_logit_slope"] * (cost - b["formal_midpoint_pct"])))
        return cls(cost, amount, formal)


def step(model, month: int) -> None:
    m, b = model.migrants, model.b
    abroad = np.flatnonzero(m.view("state") == ABROAD)
    m.months_abroad[abroad] += 1
    work = abroad[m.employed[abroad]]
    corridor = m.origin[work].astype(np.intp) * len(model.world.codes) + m.destination[work]
    terms = model.remittance_terms
    wage = m.wage_usd[work] * np.where(m.trafficked[work], 1 - b["exploitation_wage_loss"], 1.0)
    cost = terms.cost_pct[corridor]
    amount = wage * terms.amount_share[corridor]
    formal = amount * (m.has_id[work] * terms.formal_share_with_id[corridor])
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
