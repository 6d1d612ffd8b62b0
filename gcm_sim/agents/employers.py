"""Employers, one ``mesa.Agent`` per destination and sector (skill level).

Regular migrants are hired into the sector of their recognised skill at the
destination's wage for it; migrants without status are hired informally into
low-skill work at a wage penalty. Employer sanctions cut informal hiring and
raise informal separations (GCM objective 6, 11); skills recognition decides
which sector a regular migrant can work in (objective 18).
"""

from __future__ import annotations

import mesa
import numpy as np

from ..categories import ABROAD, ASYLUM_PENDING, IRREGULAR, PROTECTED, REGULAR, VISITING


class Employer(mesa.Agent):
    def __init__(self, model, destination: int, skill: int, wage_usd: float, informal_penalty: float,
                 informal_rate: float, b):
        super().__init__(model)
        self.destination = destination
        self.skill = skill
        self.wage_usd = wage_usd
        self.informal_wage_usd = wage_usd * (1 - informal_penalty)
        self.regular_rate = b["job_find_regular"]
        self.world_informal_rate = informal_rate
        self.separation_regular = b["job_loss"]
        self.set_policy(model.cfg.policy.enforcement, b)
        self.asylum_wait_months = b["asylum_work_wait_months"]
        self.workers = 0.0

    def set_policy(self, enf, b) -> None:
        """Employer sanctions in force: less informal hiring, more informal separations."""
        sanctions = enf.employer_sanctions
        self.informal_rate = self.world_informal_rate * (1 - b["sanction_hiring_effect"] * sanctions)
        self.separation_informal = b["job_loss"] * (1 + b["sanction_separation_effect"] * sanctions)

    def hire(self, m, seekers, u_job: np.ndarray) -> None:
        """Separations, then hiring among this employer's job seekers.

        ``seekers`` is a pair (regular rows, informal rows) for this destination and sector;
        ``u_job`` holds one uniform per migrant row (stream ``job``, keyed to the migrant),
        which decides either a separation or a hire.
        """
        employed = m.view("employed")
        for idx, sep, rate, wage in zip(seekers or (np.empty(0, np.int64),) * 2,
                                        (self.separation_regular, self.separation_informal),
                                        (self.regular_rate, self.informal_rate),
                                        (self.wage_usd, self.informal_wage_usd)):
            if not len(idx):
                continue
            u = u_job[idx]
            work = employed[idx]
            lose = work & (u < sep)
            gain = ~work & (u < rate)
            employed[idx[lose]] = False
            employed[idx[gain]] = True
            # a status change (e.g. recognition) moves a worker to this sector's wage
            m.wage_usd[idx[(work & ~lose) | gain]] = wage
        rows = np.concatenate(seekers) if seekers else np.empty(0, np.int64)
        self.workers = float(m.weight[rows[employed[rows]]].sum()) if len(rows) else 0.0


def job_seekers(m, asylum_wait_months: float) -> dict:
    """Migrants abroad grouped by (destination, sector): (regular rows, informal rows).

    Regular migrants work in the sector of their recognised skill; people without
    status, temporary protection holders (ASSUMPTION: Turkey's Syrians may apply for work
    permits since 2016, but most work informally; docs/decisions.md) and asylum seekers
    after the waiting period work informally, low-skill.
    """
    state, status = m.view("state"), m.view("status")
    abroad = np.flatnonzero(state == ABROAD)
    st = status[abroad]
    sector = np.where(m.skill_recognised[abroad], m.skill[abroad], 0)
    regular = st == REGULAR
    informal = (st == IRREGULAR) | (st == VISITING) | (st == PROTECTED) | (
        (st == ASYLUM_PENDING) & (m.months_abroad[abroad] >= asylum_wait_months))
    out: dict = {}
    for kind, mask in ((0, regular), (1, informal)):
        rows = abroad[mask]
        keys = m.location[rows].astype(np.int64) * 3 + (sector[mask] if kind == 0 else 0)
        order = np.argsort(keys, kind="stable")
        rows, keys = rows[order], keys[order]
        uniq, start = np.unique(keys, return_index=True)
        for key, part in zip(uniq, np.split(rows, start[1:])):
            pair = out.setdefault((int(key // 3), int(key % 3)), [np.empty(0, np.int64), np.empty(0, np.int64)])
            pair[kind] = part
    return out
