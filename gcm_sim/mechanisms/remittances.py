"""Remittances (v2): employed migrants send money home, formally or informally, and save the rest.

Reads employed migrants abroad (wage, trafficked, has_id, channel, status, destination,
months_abroad, debt), the corridor's formal transfer cost and ``model.no_settlement``
(kafala-style destinations); writes households.remittances_usd (saved at home next
month), migrants (savings, debt, months abroad) and the measures
remittances_sent_usd (formal), remittance_fees_usd (formal fees),
remittances_informal_usd (informal amount sent), remittance_informal_fees_usd,
remittance_informal_losses_usd and remittances_received_usd. No random numbers.

Money is conserved on both channels: formal sent = formal received + formal fees;
informal sent = informal received + informal fees + informal losses.

1. **How much** (:func:`remit_shares`): a share of the wage that depends on who the
   migrant is. Contract workers in kafala-style destinations, who cannot settle or bring
   their families, remit the most (``remit_share_contract``); refugees and asylum seekers
   the least (``remit_share_refugee``); family migrants less than workers
   (``remit_share_family``); everyone else ``remit_share``. The share falls with years
   abroad (``remit_decay_per_year``; the "remittance decay" hypothesis, Lucas & Stark 1985,
   Stark 1978; evidence mixed, so the rate is an ASSUMPTION). See behaviour.yaml.
2. **Which channel** (:class:`RemittanceTerms`): the informal channel (hawala, couriers,
   carried cash) is not free: it charges ``informal_fee_pct`` and loses
   ``informal_loss_pct`` of the amount (Freund & Spatafora 2008: informal flows are large
   and respond to formal costs; hawala prices: El-Qorchi, Maimbo & Wilson 2003; the
   figures are ASSUMPTIONS). A migrant with an identity document sends the share
   1 / (1 + (formal cost / (formal_parity_ratio x informal cost))^formal_logit_slope)
   formally: a binary logit with utility linear in the log price, so the formal share
   responds to the formal cost *relative to* the informal one. Without an ID, formal channels are closed (local ID
   lifts the share of migrants without status who hold one: GCM objective 4).
3. **The amount responds to the total price** of sending: the share of the wage sent is
   multiplied by exp(-remit_cost_semi_elasticity x effective cost / 100), where the
   effective cost is the cost of the migrant's channel mix (formal share x formal cost +
   informal share x informal cost). Cheaper formal transfers raise the formal share and
   the amount sent (Kpodar & Imam 2024). The cost elasticity of formal remittances this
   gives is checked by ``gcm-sim validate`` (published about -1.6: Ahmed, Mughal &
   Martinez-Zarzoso 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..categories import ABROAD, ASYLUM_PENDING, FAMILY, HUMANITARIAN, REGULAR, SMUGGLED
from .recording import people_keys

MEASURES = ("remittances_sent_usd", "remittance_fees_usd", "remittances_informal_usd",
            "remittance_informal_fees_usd", "remittance_informal_losses_usd", "remittances_received_usd")


def informal_cost_pct(b) -> float:
    """What the informal channel costs, % of the amount: its fee plus what is lost on the way."""
    return float(b["informal_fee_pct"] + b["informal_loss_pct"])


def formal_share(formal_cost_pct, informal_pct: float, b) -> np.ndarray:
    """Share sent formally by a migrant who holds an ID: a binary logit whose utility is linear in the
    log price, 1 / (1 + (formal cost / (formal_parity_ratio x informal cost))^formal_logit_slope).

    Half goes formally where the formal cost is ``formal_parity_ratio`` times the informal one; the
    elasticity of the formal share to the formal cost is -formal_logit_slope x (1 - share). A free
    formal channel takes everything; a free informal one everything unless formal is free too.
    """
    cost = np.asarray(formal_cost_pct, dtype=float)
    parity = b["formal_parity_ratio"] * informal_pct
    with np.errstate(divide="ignore"):
        ratio = np.where(cost > 0, cost / parity if parity > 0 else np.inf, 0.0)
    return 1.0 / (1.0 + ratio ** b["formal_logit_slope"])


def amount_factor(effective_cost_pct, b) -> np.ndarray:
    """Multiplier of the share of the wage sent at a given effective cost of sending (% of the amount)."""
    return np.exp(-b["remit_cost_semi_elasticity"] * np.asarray(effective_cost_pct, dtype=float) / 100.0)


def refugees(channel: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Refugees and asylum seekers: resettled (humanitarian channel), waiting for a decision, or
    recognised after arriving irregularly (smuggled with regular status: the asylum stock of the
    diaspora data and claimants recognised in the run)."""
    return (channel == HUMANITARIAN) | (status == ASYLUM_PENDING) | ((channel == SMUGGLED) & (status == REGULAR))


def remit_shares(channel: np.ndarray, status: np.ndarray, contract: np.ndarray, months_abroad: np.ndarray,
                 b) -> np.ndarray:
    """Share of the wage a migrant remits before the cost response, by kind of migrant and tenure.

    contract: the migrant lives in a kafala-style destination (no settlement, ``model.no_settlement``).
    Refugee status wins over the destination, then the destination over the channel.
    """
    share = np.where(channel == FAMILY, b["remit_share_family"], b["remit_share"])
    share = np.where(contract, b["remit_share_contract"], share)
    share = np.where(refugees(channel, status), b["remit_share_refugee"], share)
    years = np.maximum(np.asarray(months_abroad, dtype=float), 0.0) / 12.0
    return share * np.exp(-b["remit_decay_per_year"] * years)


@dataclass(frozen=True)
class RemittanceTerms:
    """Per-corridor terms of sending money home, flat over ``origin * n + destination``.

    They depend only on the corridor's formal cost and the behaviour, fixed for a run, so
    they are computed once.
    """

    cost_pct: np.ndarray               # formal transfer cost, % of the amount
    informal_cost_pct: float           # informal fee + losses, % of the amount (every corridor)
    formal_share_with_id: np.ndarray   # share sent formally by a migrant who has an ID
    amount_with_id: np.ndarray         # amount multiplier at the effective cost of an ID holder's mix
    amount_without_id: float           # amount multiplier at the informal cost (no formal channel)

    @classmethod
    def of(cls, remittance_cost_pct: np.ndarray, b) -> RemittanceTerms:
        cost = np.asarray(remittance_cost_pct, dtype=float).ravel()
        informal = informal_cost_pct(b)
        formal = formal_share(cost, informal, b)
        effective = formal * cost + (1.0 - formal) * informal
        return cls(cost, informal, formal, amount_factor(effective, b), float(amount_factor(informal, b)))


@dataclass(frozen=True)
class Transfers:
    """One month's transfers of a set of migrants, USD per person (weights not applied)."""

    formal: np.ndarray          # formal amount sent
    fees: np.ndarray            # formal fees
    informal: np.ndarray        # informal amount sent
    informal_fees: np.ndarray   # informal fees (hawala commission, courier)
    informal_losses: np.ndarray  # informal amount lost on the way
    received: np.ndarray        # what the household gets: formal - fees + informal - informal costs

    @property
    def sent(self) -> np.ndarray:
        return self.formal + self.informal


def transfers(wage, share, has_id, corridor, terms: RemittanceTerms, b) -> Transfers:
    """Pure: what each migrant sends, through which channel, and what arrives (no model needed)."""
    has_id = np.asarray(has_id, dtype=bool)
    factor = np.where(has_id, terms.amount_with_id[corridor], terms.amount_without_id)
    amount = np.asarray(wage, dtype=float) * share * factor
    formal = amount * np.where(has_id, terms.formal_share_with_id[corridor], 0.0)
    informal = amount - formal
    fees = formal * terms.cost_pct[corridor] / 100.0
    informal_fees = informal * b["informal_fee_pct"] / 100.0
    informal_losses = informal * b["informal_loss_pct"] / 100.0
    received = (formal - fees) + (informal - informal_fees - informal_losses)
    return Transfers(formal, fees, informal, informal_fees, informal_losses, received)


def step(model, month: int) -> None:
    m, b = model.migrants, model.b
    abroad = np.flatnonzero(m.view("state") == ABROAD)
    m.months_abroad[abroad] += 1
    work = abroad[m.employed[abroad]]
    dest = m.destination[work]
    corridor = m.origin[work].astype(np.intp) * len(model.world.codes) + dest
    wage = m.wage_usd[work] * np.where(m.trafficked[work], 1 - b["exploitation_wage_loss"], 1.0)
    share = remit_shares(m.channel[work], m.status[work], model.no_settlement[dest], m.months_abroad[work], b)
    t = transfers(wage, share, m.has_id[work], corridor, model.remittance_terms, b)
    w = m.weight[work]
    keys = people_keys(model, work)
    for measure, usd in zip(MEASURES, (t.formal, t.fees, t.informal, t.informal_fees, t.informal_losses,
                                       t.received)):
        model.recorder.add_keyed(measure, keys, w * usd)
    model.households.receive(m.household[work], t.received)
    saved = np.maximum(wage * (1 - b["living_cost_share"]) - t.sent, 0.0)
    repay = np.minimum(m.debt_usd[work], saved)
    m.debt_usd[work] -= repay
    m.savings_usd[work] += (saved - repay).astype(np.float32)
