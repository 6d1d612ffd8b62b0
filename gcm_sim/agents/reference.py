"""The reference engine: one ``mesa.Agent`` per household, running the same rules.

For cross-checking the fast engine and for teaching. Each :class:`HouseholdAgent`
earns, saves, considers a move and chooses in its own ``step``-style methods,
called through Mesa's ``AgentSet.shuffle_do`` in random order every month, with
scalar Python arithmetic and the same choice kernel (``decisions.py``) applied to
a single row. Households' state lives in the same arrays as the fast engine's (an
agent reads and writes its own row), so the migrants, institutions and measures
are shared code and the two engines differ only in how household behaviour is
executed. ``tests/test_engines.py`` checks that they agree statistically.
"""

from __future__ import annotations

import math

import mesa
from mesa.agent import AgentSet
import numpy as np

from ..decisions import choose_keyed, nest_probabilities, option_utilities, women_access
from ..mechanisms.choice import (add_expected_demand, gender_opened, hazard, retry_hazard, shock_hazard,
                                 women_lift)
from .households import Households


class HouseholdAgent(mesa.Agent):
    """One origin household (a row of the household store)."""

    def __init__(self, model, store: Households, row: int):
        super().__init__(model)
        self.store = store
        self.row = row
        self.story: list[str] = []  # what happened, month by month, for the dashboard

    # state, read from and written to this household's row
    @property
    def country(self) -> int:
        return int(self.store.country[self.row])

    @property
    def assets_usd(self) -> float:
        return float(self.store.assets_usd[self.row])

    def earn_and_save(self, growth_factor: np.ndarray, saving_rate: float, programme_income: np.ndarray,
                      target_months: float = math.inf, drawdown_rate: float = 0.0,
                      subsistence_usd: np.ndarray | float = 0.0) -> None:
        """Monthly income (trend, shock, programme job); save a share of what lies above
        subsistence, repay debt first; draw down assets above the buffer target (as
        ``Households.earn_and_save``)."""
        s, i = self.store, self.row
        income = (s.base_income_usd[i] * growth_factor[s.country[i]] * (1.0 - s.shock_loss[i])
                  + (programme_income[i] if s.programme[i] else 0.0))
        s.income_usd[i] = income
        need = float(subsistence_usd[i] if np.ndim(subsistence_usd) else subsistence_usd)
        saved = saving_rate * max(float(income + s.remittances_usd[i]) - need, 0.0)
        repay = min(float(s.debt_usd[i]), saved)
        s.debt_usd[i] -= repay
        excess = max(float(s.assets_usd[i]) - target_months * income, 0.0)
        s.assets_usd[i] += saved - repay - drawdown_rate * excess
        s.remittances_usd[i] = 0.0

    def decide(self, options: dict, quota_budget: np.ndarray, b: dict, insecurity: np.ndarray,
               community: np.ndarray, weights, month: int) -> None:
        """Consider a move with the monthly hazard; if so, choose among feasible options.

        Sets ``self.choice`` to the chosen option's column in ``options[country]``, or -1.
        Its draws come from the same keyed streams as the fast engine's (``consider``,
        ``move``, ``option``), so the two engines see the same luck household by household.
        """
        self.choice = -1
        s, i, draws = self.store, self.row, self.model.draws
        c = int(s.country[i])
        uid = s.uid[i : i + 1]
        # the same monthly hazard as the fast engine: raised with the share of income a shock
        # takes, and for a while after a member's forced return
        h = float(retry_hazard(self.model, shock_hazard(hazard(self.model, c), s.shock_loss[i],
                                                        b["shock_consider_per_loss"]), s.retry_left[i]))
        if draws.uniform("consider", month, uid)[0] >= h:
            return
        opts = options.get(c)
        if opts is None or not len(opts):
            return
        dest = opts.dest.astype(np.int64)
        row = np.array([i])
        ties = s.abroad_in(row, dest) + community[c, dest][None, :]
        regular_tie = s.abroad_in(row, dest, regular=True) > 0
        quota_open = np.ones(len(opts.quota), bool)  # as the fast engine (mechanisms/choice.probabilities)
        adults = int(s.members[i, :4].sum())
        earnings = float(s.income_usd[i]) / max(adults, 1)
        u, feasible = option_utilities(
            opts, np.array([s.skill[i]]), np.array([earnings]), np.array([s.income_usd[i]]),
            np.array([s.assets_usd[i]]), ties, regular_tie, float(insecurity[c]), np.array([s.rural[i]]),
            np.array([s.shock_loss[i]]), quota_open, self.model.info_boost[c], weights,
            np.array([self.model.subsistence_person_month[c] * int(s.members[i].sum())]))
        lift = women_lift(self.model)
        if lift > 0:  # as the fast engine (mechanisms/choice.probabilities)
            u = u + women_access(s.members[i : i + 1], gender_opened(opts), lift)
        p_move, within = nest_probabilities(u, feasible, weights.nest, opts.routes)
        add_expected_demand(self.model, opts, p_move, within, np.array([s.weight[i]], dtype=float))
        col = int(choose_keyed(u, feasible, weights.nest, p_move, draws.uniform("move", month, uid),
                               draws.gumbel("option", month, uid, opts.key), opts.routes,
                               draws.gumbel("option", month, uid, opts.routes.key))[0])
        if col >= 0 and self.model.month >= 1:  # the story starts at month 1, after the spin-up
            names = self.model.world.codes
            self.story.append(f"month {self.model.month}: chose {_channel(opts.channel[col])} "
                              f"to {names[opts.dest[col]]} (assets USD {math.floor(s.assets_usd[i])})")
        self.choice = col


def _channel(code: int) -> str:
    from ..categories import CHANNELS

    return CHANNELS[int(code)]


class ReferenceHouseholds(Households):
    """The household store plus one Mesa agent per household (reference engine)."""

    def __init__(self, model, base: Households):
        self.__dict__.update(base.__dict__)
        self.model = model
        self.by_row = [HouseholdAgent(model, self, i) for i in range(base.n)]
        self.agents = AgentSet(self.by_row, random=model.random)

    def earn_and_save(self, growth_factor, saving_rate, programme_income, target_months=math.inf,
                      drawdown_rate=0.0, subsistence_usd=0.0) -> None:
        self.agents.shuffle_do("earn_and_save", growth_factor, saving_rate, programme_income, target_months,
                               drawdown_rate, subsistence_usd)

    def decide(self, model, month: int) -> list:
        """Every household agent decides in random order; movers grouped by origin."""
        options = model.options()
        self.agents.shuffle_do("decide", options, model.quota_budget, model.b, model.insecurity,
                               model.community, model.weights, month)
        movers = {}
        for a in self.agents:
            if a.choice >= 0:
                movers.setdefault(a.country, []).append((a.row, a.choice))
        out = []
        for o, rows in movers.items():
            idx, col = (np.array(x, dtype=np.int64) for x in zip(*rows))
            out.append((o, options[o], idx, col))
        return out
