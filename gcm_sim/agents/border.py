"""Border authorities, one ``mesa.Agent`` per transit or destination country.

They intercept on irregular legs (effort ``m`` turns a leg's interception
probability p into 1 - (1 - p)^m, DESIGN.md), detain or use alternatives to
detention, return people when the origin readmits them, decide asylum claims
with a finite monthly capacity (so backlogs build), remove irregular residents,
and detect trafficking victims (GCM objectives 8, 10-13, 21).
"""

from __future__ import annotations

import mesa
import numpy as np

from .. import gcm_levers

from ..categories import (ABROAD, ASYLUM_PENDING, CHILD, DEAD, DETAINED, IRREGULAR, REGULAR, RETURNED,
                          TRANSIT, VISITING)


def effective_interception(p: np.ndarray | float, effort: float) -> np.ndarray | float:
    """Interception probability under enforcement effort ``effort`` (DESIGN.md)."""
    return 1.0 - (1.0 - np.asarray(p)) ** effort


class BorderAuthority(mesa.Agent):
    def __init__(self, model, country: int, row, b):
        super().__init__(model)
        enf = model.cfg.policy.enforcement
        self.country = country
        self.asylum_capacity = float(row["asylum_decisions_month"])
        self.detention_months = max(1, int(round(row["detention_months"])))
        alt = enf.detention.alternatives_share
        self.alternatives_share = float(row["alternatives_share"] if alt is None else alt)
        self.removal_hazard = float(effective_interception(row["removal_rate_pct_year"] / 1200.0,
                                                           enf.interception_multiplier))
        self.trafficking_detection = b["trafficking_detection_rate"]
        self.backlog = 0.0

    @property
    def has_asylum_system(self) -> bool:
        return self.asylum_capacity > 0

    # --- interception --------------------------------------------------------------
    def hold(self, m, idx: np.ndarray, rng: np.random.Generator, month: int) -> tuple[np.ndarray, np.ndarray]:
        """Intercepted people: detain or place under alternatives; returns (detained, alternatives)."""
        u = rng.random(len(idx))
        detain = u >= self.alternatives_share
        detain &= ~gcm_levers.child_alternative(m.age[idx], u, self.model.cfg)  # children first
        det, alt = idx[detain], idx[~detain]
        m.state[det] = DETAINED
        m.months_left[idx] = self.detention_months
        m.location[idx] = self.country
        m.moving[idx] = False
        m.state[alt] = TRANSIT  # waiting in the community for a return decision
        return det, alt

    # --- asylum --------------------------------------------------------------------
    def decide_asylum(self, m, recognition: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Decide the oldest pending claims up to capacity; returns (recognised, rejected)."""
        pending = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == ASYLUM_PENDING)
                                 & (m.view("location") == self.country))
        w = m.weight[pending]
        self.backlog = float(w.sum())
        if not len(pending) or self.asylum_capacity <= 0:
            return pending[:0], pending[:0]
        order = np.lexsort((rng.random(len(pending)), m.claim_month[pending]))
        pending = pending[order]
        cum = np.cumsum(m.weight[pending])
        # stochastic rounding of the last claim keeps the expected throughput at capacity
        n_full = int(np.searchsorted(cum, self.asylum_capacity, side="right"))
        if n_full < len(pending):
            prev = cum[n_full - 1] if n_full else 0.0
            if rng.random() < (self.asylum_capacity - prev) / m.weight[pending[n_full]]:
                n_full += 1
        decided = pending[:n_full]
        ok = rng.random(len(decided)) < recognition[m.origin[decided]]
        self.backlog -= float(m.weight[decided].sum())
        return decided[ok], decided[~ok]

    # --- returns and removals -----------------------------------------------------
    def removals(self, m, rng: np.random.Generator) -> np.ndarray:
        """Irregular residents apprehended inland this month (before readmission)."""
        idx = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == IRREGULAR)
                             & (m.view("location") == self.country))
        return idx[rng.random(len(idx)) < self.removal_hazard]

    def detect_trafficking(self, m, rng: np.random.Generator) -> np.ndarray:
        idx = np.flatnonzero(m.view("trafficked") & (m.view("state") == ABROAD)
                             & (m.view("location") == self.country))
        found = idx[rng.random(len(idx)) < self.trafficking_detection]
        m.trafficked[found] = False
        return found


def stock_masks(m):
    """Boolean masks of the month-end stocks, by legal status (DESIGN.md)."""
    state, status = m.view("state"), m.view("status")
    abroad = state == ABROAD
    return {
        "stock_regular": abroad & ((status == REGULAR) | (status == VISITING)),
        "stock_irregular": abroad & (status == IRREGULAR),
        "stock_asylum_pending": abroad & (status == ASYLUM_PENDING),
        "stranded_in_transit": (state == TRANSIT) & ~m.view("moving"),
        "detained": state == DETAINED,
        "detained_children": (state == DETAINED) & (m.view("age") == CHILD),
        "stock_visitors": abroad & (status == VISITING),
        "people_returned": state == RETURNED,
        "people_dead": state == DEAD,
    }
