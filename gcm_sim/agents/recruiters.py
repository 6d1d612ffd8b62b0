"""Recruiters (regular labour placements) and smugglers (irregular passage).

Both are intermediaries that sell access to a destination. Recruiters are
``mesa.Agent`` objects, one per origin, holding the licensed and unlicensed
market shares; smugglers are one ``mesa.Agent`` per irregular route leg.
"""

from __future__ import annotations

import mesa
import numpy as np


class Recruiter(mesa.Agent):
    """The recruitment industry of one origin country (GCM objective 6; SDG 10.7.1).

    Licensed agencies charge the corridor's worker-paid fee, within a fee cap when one
    is set, and nothing when employers pay. Unlicensed sub-agents charge a markup, obey
    no cap and deceive a share of their clients into exploitation (trafficking, GCM
    objective 10); licensing enforcement shrinks their market share. ILO (2016) and
    Martin (2016) find most of the cost of Gulf migration is a traded visa fee paid
    to such intermediaries.
    """

    def __init__(self, model, origin: int, unlicensed_share: float, b):
        super().__init__(model)
        self.origin = origin
        self.world_unlicensed_share = unlicensed_share
        self.markup = b["unlicensed_fee_markup"]
        self.set_policy(model.cfg.policy.recruitment, model.cfg.policy.enforcement, b)
        self.revenue_usd = 0.0
        self.placed = 0.0

    def set_policy(self, rec, enf, b) -> None:
        """Licensing enforcement shrinks the unlicensed share; trained officials (labour attaches,
        pre-departure and exit checks: ``trafficking_training``) cut the deception of the rest by
        ``training_deception_cut`` (ASSUMPTION, data/behaviour.yaml; docs/levers.md)."""
        self.unlicensed_share = self.world_unlicensed_share * (1.0 - rec.licensing_enforcement)
        self.deception_prob = b["deception_prob"] * (1.0 - b["training_deception_cut"] * enf.trafficking_training)

    def worker_fees(self, fee_usd: np.ndarray, wage_usd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Worker-paid fee at a licensed agency and at an unlicensed sub-agent."""
        rec = self.model.cfg.policy.recruitment
        licensed = np.asarray(fee_usd, dtype=np.float64).copy()
        if rec.fee_cap_months is not None:
            licensed = np.minimum(licensed, rec.fee_cap_months * wage_usd)
        if rec.employer_pays:
            licensed = np.zeros_like(licensed)
        unlicensed = np.asarray(fee_usd, dtype=np.float64) * self.markup
        return licensed, unlicensed

    def expected_fee(self, fee_usd: np.ndarray, wage_usd: np.ndarray) -> np.ndarray:
        lic, unl = self.worker_fees(fee_usd, wage_usd)
        return (1 - self.unlicensed_share) * lic + self.unlicensed_share * unl

    def victim_share(self) -> float:
        """Expected share of placed workers deceived into exploitation: at an unlicensed
        sub-agent and deceived there (what :meth:`place` draws, in expectation)."""
        return self.unlicensed_share * self.deception_prob

    def place(self, fee_usd: np.ndarray, wage_usd: np.ndarray, u_channel: np.ndarray,
              u_deceive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Assign each placed worker an agency; returns (fee paid, trafficked)."""
        lic, unl = self.worker_fees(fee_usd, wage_usd)
        unlicensed = u_channel < self.unlicensed_share
        paid = np.where(unlicensed, unl, lic)
        trafficked = unlicensed & (u_deceive < self.deception_prob)
        self.revenue_usd += float(paid.sum())
        self.placed += len(paid)
        return paid, trafficked


class Smuggler(mesa.Agent):
    """Smugglers selling passage on one irregular leg (GCM objective 9).

    The price follows the interception effort smugglers face, with elasticity
    ``smuggling_price_risk_elasticity`` = 0.14: Gathmann (2008, J. Public Econ. 92(10-11)
    [GATHMANN-2008]) finds that enforcement on the US-Mexico border more than tripled while
    coyote prices rose by only 17% (ln 1.17 / ln 3). The effort is read from the
    interception rate they see, q, against the leg's base rate q0 (DESIGN.md: effort m turns
    q0 into 1 - (1 - q0)^m, so m = ln(1 - q) / ln(1 - q0)); price = base fee x m^elasticity.
    Action against smuggling networks raises their costs and so their price
    (``anti_smuggling_price_effect``: ASSUMPTION).
    """

    def __init__(self, model, leg: int, base_fee_usd: float, base_interception: float, b):
        super().__init__(model)
        self.leg = leg
        self.base_fee_usd = base_fee_usd
        self.base_interception = float(base_interception)
        self.elasticity = b["smuggling_price_risk_elasticity"]
        self.set_policy(model.cfg.policy.enforcement, b)
        self.price_usd = base_fee_usd
        self.revenue_usd = 0.0
        self.clients = 0.0

    def set_policy(self, enf, b) -> None:
        self.anti_cost = 1.0 + b["anti_smuggling_price_effect"] * enf.anti_smuggling

    def effort_seen(self, believed_interception: float) -> float:
        """The enforcement effort m implied by the interception rate seen (1 on a leg without interception)."""
        q0 = self.base_interception
        if q0 <= 0.0 or q0 >= 1.0:
            return 1.0
        q = min(max(believed_interception, 1e-6), 0.999)
        return float(np.clip(np.log1p(-q) / np.log1p(-q0), 0.05, 50.0))

    def set_price(self, believed_interception: float) -> None:
        """Price for this month from the interception effort smugglers have seen (Gathmann 2008)."""
        self.price_usd = (self.base_fee_usd * self.effort_seen(believed_interception) ** self.elasticity
                          * self.anti_cost)

    def sell(self, weight: np.ndarray) -> float:
        """Passage for ``weight`` real clients at this month's price; returns price per person."""
        self.clients += float(weight.sum())
        self.revenue_usd += float((weight * self.price_usd).sum())
        return self.price_usd
