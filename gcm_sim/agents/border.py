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

from ..draws import ONCE
from ..exchange import merged
from ..categories import (ABROAD, ASYLUM_PENDING, CHILD, DEAD, DETAINED, IRREGULAR, PROTECTED, REGULAR,
                          RETURNED, TRANSIT, VISITING)


def effective_interception(p: np.ndarray | float, effort: float) -> np.ndarray | float:
    """Interception probability under enforcement effort ``effort`` (DESIGN.md)."""
    return 1.0 - (1.0 - np.asarray(p)) ** effort


class BorderAuthority(mesa.Agent):
    def __init__(self, model, country: int, row, b):
        super().__init__(model)
        self.country = country
        self.asylum_capacity = float(row["asylum_decisions_month"])
        self.detention_months = max(1, int(round(row["detention_months"])))
        self.row = row
        self.set_policy(model.cfg.policy.enforcement, b)
        self.backlog = 0.0

    def set_policy(self, enf, b) -> None:
        """Rates the enforcement levers in force set (mechanisms/timing.py can switch them)."""
        alt = enf.detention.alternatives_share
        self.alternatives_share = float(self.row["alternatives_share"] if alt is None else alt)
        self.children_alternatives_share = enf.detention.children_alternatives
        self.removal_hazard = float(effective_interception(self.row["removal_rate_pct_year"] / 1200.0,
                                                           enf.interception_multiplier))
        # training border officials raises the monthly chance a victim is identified (GCM 10)
        self.trafficking_detection = min(1.0, b["trafficking_detection_rate"]
                                         + enf.trafficking_training * b["training_detection_gain"])

    @property
    def has_asylum_system(self) -> bool:
        return self.asylum_capacity > 0

    # --- interception --------------------------------------------------------------
    def hold(self, m, idx: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intercepted people: detain or place under alternatives; returns (detained, alternatives).

        ``u`` holds one uniform per person (keyed to the migrant). Children are placed
        under alternatives first: ``detention.children_alternatives`` of them with the same draw.
        """
        detain = u >= self.alternatives_share
        detain &= ~((m.age[idx] == CHILD) & (u < self.children_alternatives_share))
        det, alt = idx[detain], idx[~detain]
        m.state[det] = DETAINED
        m.months_left[idx] = self.detention_months
        m.location[idx] = self.country
        m.moving[idx] = False
        m.state[alt] = TRANSIT  # waiting in the community for a return decision
        return det, alt

    # --- asylum --------------------------------------------------------------------
    def queue_head(self, m, month: int) -> dict:
        """The front of this authority's asylum queue on this shard: what it sends the others.

        Pending claims are taken oldest first; claims of the same month in an order keyed to the
        claimant (stream ``asylum_queue``, then the claimant's uid). The head holds the claims up
        to and including the first that fills the monthly capacity, in that order: every claim
        the merged queue of all shards decides this month is in some shard's head
        (:func:`decide_queue`). Returns claim month, queue key, uid, weight and the
        ``asylum_capacity`` draw of each claim in the head, the capacity and the backlog.
        """
        draws = self.model.draws
        pending = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == ASYLUM_PENDING)
                                 & (m.view("location") == self.country))
        head = {"capacity": self.asylum_capacity, "backlog": float(m.weight[pending].sum())}
        if self.asylum_capacity > 0 and len(pending):
            u = draws.uniform("asylum_queue", month, m.uid[pending])
            order = np.lexsort((m.uid[pending], u, m.claim_month[pending]))
            pending, u = pending[order], u[order]
            cum = np.cumsum(m.weight[pending])
            pending, u = (x[: int(np.searchsorted(cum, self.asylum_capacity, side="right")) + 1] for x in (pending, u))
        else:
            pending, u = pending[:0], np.empty(0)
        self._head = pending
        head.update(claim_month=m.claim_month[pending], key=u, uid=m.uid[pending], weight=m.weight[pending],
                    u_capacity=draws.uniform("asylum_capacity", month, m.uid[pending]))
        return head

    def decide_asylum(self, m, recognition: np.ndarray, decided_uid: np.ndarray,
                      backlog: float) -> tuple[np.ndarray, np.ndarray]:
        """Decide this shard's claims among ``decided_uid`` (:func:`decide_queue` of the heads of
        every shard); returns (recognised, rejected), in queue order. Stream ``asylum_decision``."""
        decided = self._head[np.isin(m.uid[self._head], decided_uid)]
        ok = self.model.draws.uniform("asylum_decision", ONCE, m.uid[decided]) < recognition[m.origin[decided]]
        self.backlog = backlog
        return decided[ok], decided[~ok]

    # --- returns and removals -----------------------------------------------------
    def removals(self, m, month: int) -> np.ndarray:
        """Irregular residents apprehended inland this month (before readmission); stream ``removal``."""
        idx = np.flatnonzero((m.view("state") == ABROAD) & (m.view("status") == IRREGULAR)
                             & (m.view("location") == self.country))
        return idx[self.model.draws.uniform("removal", month, m.uid[idx]) < self.removal_hazard]

    def detect_trafficking(self, m, month: int) -> np.ndarray:
        """Victims identified this month (stream ``trafficking_detection``); they leave exploitation."""
        idx = np.flatnonzero(m.view("trafficked") & (m.view("state") == ABROAD)
                             & (m.view("location") == self.country))
        found = idx[self.model.draws.uniform("trafficking_detection", month, m.uid[idx]) < self.trafficking_detection]
        m.trafficked[found] = False
        return found


def decide_queue(heads: list[dict]) -> tuple[np.ndarray, float]:
    """The claims one authority decides this month, from the queue heads of every shard
    (:meth:`BorderAuthority.queue_head`): the uids decided and the backlog left.

    The heads are merged in queue order (claim month, queue key, uid) and decided oldest first
    up to capacity; the claim that crosses the capacity is decided with the chance of the room
    left (its ``asylum_capacity`` draw), which keeps the expected throughput at capacity.
    """
    queue = merged(heads, ("claim_month", "key", "uid", "weight", "u_capacity"), by=("claim_month", "key", "uid"))
    capacity, backlog = heads[0]["capacity"], sum(h["backlog"] for h in heads)
    weight, uid, u_capacity = queue["weight"], queue["uid"], queue["u_capacity"]
    cum = np.cumsum(weight)
    n_full = int(np.searchsorted(cum, capacity, side="right"))
    if n_full < len(weight):
        prev = cum[n_full - 1] if n_full else 0.0
        if u_capacity[n_full] < (capacity - prev) / weight[n_full]:
            n_full += 1
    return uid[:n_full], backlog - float(weight[:n_full].sum())


def stock_masks(m):
    """Boolean masks of the month-end stocks, by legal status (DESIGN.md).

    Temporary protection holders have a legal stay: they count in ``stock_regular`` (as
    recognised refugees do) and, on their own, in ``stock_temporary_protection``.
    """
    state, status = m.view("state"), m.view("status")
    abroad = state == ABROAD
    return {
        "stock_regular": abroad & ((status == REGULAR) | (status == VISITING) | (status == PROTECTED)),
        "stock_irregular": abroad & (status == IRREGULAR),
        "stock_asylum_pending": abroad & (status == ASYLUM_PENDING),
        "stranded_in_transit": (state == TRANSIT) & ~m.view("moving"),
        "detained": state == DETAINED,
        "detained_children": (state == DETAINED) & (m.view("age") == CHILD),
        "stock_visitors": abroad & (status == VISITING),
        "stock_temporary_protection": abroad & (status == PROTECTED),
        "people_returned": state == RETURNED,
        "people_dead": state == DEAD,
    }
