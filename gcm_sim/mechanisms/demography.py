"""Demography: returnees rejoin their households, and people abroad grow older.

Reads migrant records that came home last month (state ``returned``: sex, age group,
household) and, every twelfth month, the age groups of people abroad or on the road;
writes households (members at home, base income through
:meth:`~gcm_sim.agents.households.Households.rejoin`: income follows its earners) and
migrants (state ``rejoined``, age). Stream ``ageing``, keyed to the migrant.

A returnee spends the month of return in state ``returned`` (the ``people_returned``
stock) and is a member of the household again from the next month: counted at home,
earning at home, and free to leave again like any member (their savings reached the
household on return: :func:`.returns.return_home`). A record that lost a dead share on an
irregular leg (journeys: implicit capture) carries less than a whole member's weight; the
missing part is kept as the household's ``absent`` so people stay conserved. Repeat and circular moves are
common among returnees (Constant & Zimmermann 2011, Population Research and Policy
Review 30(4), on guest workers in Germany); the model gets them from the same choice as
everyone else. No re-entry bar is modelled yet.

People abroad age out of their age group at the rate a uniform spread of ages over the
group gives: a child (0-17) becomes a youth (18-29) with probability 1/18 a year and a
youth an adult with probability 1/12 (ASSUMPTION: uniform ages within a group). Members
at home keep a stationary age composition: births and deaths are not modelled
(ASSUMPTION, docs/model.md "Demography": the population at home changes only by
migration; the world's population trend is not applied).
"""

from __future__ import annotations

import numpy as np

from ..categories import ABROAD, ADULT, CHILD, DETAINED, MEMBER_OF, REJOINED, RETURNED, TRANSIT, YOUTH

YEARS_IN_GROUP = {CHILD: 18, YOUTH: 12}  # ages 0-17 and 18-29 (AGE_GROUPS)
_MEMBER = np.full((2, 4), -1, np.int64)  # [sex, age group] -> member column
for (_sex, _age), _col in MEMBER_OF.items():
    _MEMBER[_sex, _age] = _col


def step(model, month: int) -> None:
    rejoin(model)
    if month > 0 and month % 12 == 0:
        age_abroad(model, month)


def rejoin(model) -> None:
    """Last month's returnees are members of their households again."""
    m = model.migrants
    back = np.flatnonzero(m.view("state") == RETURNED)
    if not len(back):
        return
    hh = model.households
    h = m.household[back]
    share = np.minimum(m.weight[back] / hh.weight[h], np.float32(1.0))  # a dead share may have split off
    hh.rejoin(h, _MEMBER[m.sex[back], m.age[back]], share)
    m.state[back] = REJOINED


def age_abroad(model, month: int) -> None:
    """A year older: some children abroad or on the road become youths, some youths adults."""
    m = model.migrants
    state = m.view("state")
    away = np.flatnonzero((state == ABROAD) | (state == TRANSIT) | (state == DETAINED))
    age = m.age[away]
    p = np.zeros(len(away), np.float32)
    for group, years in YEARS_IN_GROUP.items():
        p[age == group] = 1.0 / years
    older = away[model.draws.uniform("ageing", month, m.uid[away]) < p]
    m.age[older] = np.where(m.age[older] == CHILD, YOUTH, ADULT)
