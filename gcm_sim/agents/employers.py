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

from ..categories import ABROAD, ASYLUM_PENDING, IRREGULAR, REGULAR, VISITING


class Employer(mesa.Agent):
    def __init__(self, model, destination: int, skill: int, wage_usd: float, informal_penalty: float,
                 informal_rate: float, b):
        super().__init__(model)
        self.destination = destination
        self.skill = skill
        self.wage_usd = wage_usd
        sanctions = model.cfg.policy.enforcement.employer_sanctions
        self.informal_wage_usd = wage_usd * (1 - informal_penalty)
        self.regular_rate = b["job_find_regular"]
        self.informal_rate = informal_rate * (1 - b["sanction_hiring_effect"] * sanctions)
        self.separation_regular = b["job_loss"]
        self.separation_informal = b["job_loss"] * (1 + b["sanction_separation_effect"] * sanctions)
        self.asylum_wait_months = b["asylum_work_wait_months"]
        self.workers = 0.0

    def hire(self, m, rng: np.random.Generator) -> None:
        """Separations, then hiring among this employer's job seekers."""
        state, status = m.view("state"), m.view("status")
        here = (state == ABROAD) & (m.view("location") == self.destination)
        sector = np.where(m.view("skill_recognised"), m.view("skill"), 0)
        regular = here & ((status == REGULAR)) & (sector == self.skill)
        informal = here & (self.skill == 0) & (
            (status == IRREGULAR) | (status == VISITING)
            | ((status == ASYLUM_PENDING) & (m.view("months_abroad") >= self.asylum_wait_months)))
        employed = m.view("employed")
        for mask, sep, rate, wage in ((regular, self.separation_regular, self.regular_rate, self.wage_usd),
                                      (informal, self.separation_informal, self.informal_rate,
                                       self.informal_wage_usd)):
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            u = rng.random(len(idx))
            work = employed[idx]
            lose = work & (u < sep)
            gain = ~work & (u < rate)
            employed[idx[lose]] = False
            hired = idx[gain]
            employed[hired] = True
            m.wage_usd[hired] = wage
            # a status change (e.g. recognition) moves a worker to the formal wage on rehiring;
            # existing workers keep the wage of their channel
            m.wage_usd[idx[work & ~lose]] = wage
        self.workers = float((m.view("weight")[(regular | informal) & employed]).sum())
