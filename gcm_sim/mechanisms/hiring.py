"""Hiring: employers separate and hire migrants abroad, by destination and sector.

Reads migrants abroad (status, recognised skill, months abroad, location) and the
employers (:class:`gcm_sim.agents.employers.Employer`: job-finding and separation
rates, employer sanctions, the wage of each sector); writes migrants (employed,
wage_usd). Regular migrants work in the sector of their recognised skill; people
without status, visitors and asylum seekers after ``asylum_work_wait_months`` work
informally at the informal wage penalty (world data, SOURCES.md). Stream ``job``.
"""

from __future__ import annotations

from ..agents.employers import job_seekers


def step(model, month: int) -> None:
    m = model.migrants
    groups = job_seekers(m, model.b["asylum_work_wait_months"])
    u_job = model.draws.uniform("job", month, m.view("uid"))  # once for all rows: cheaper than per employer
    for e in model.employers:
        e.hire(m, groups.get((e.destination, e.skill), ()), u_job)
