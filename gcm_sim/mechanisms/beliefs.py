"""Beliefs: what households hear about the routes, and what information campaigns tell them.

:func:`step` reads this month's per-leg attempts, interceptions and deaths (real
people, from :mod:`.journeys`) and writes model.belief_interception and
belief_death (exponentially smoothed with ``belief_memory``), smugglers' prices
(their risk premium follows the interception rate they see) and model.leg_history
(the month's per-leg counts, read by calibration). :func:`info_boost` gives each
origin the reach of an information campaign; in the choice kernel it raises the
weight households give to the true risks over their prior (Bah & Batista 2018;
Shrestha 2020: would-be migrants overestimate route mortality). No random numbers.
"""

from __future__ import annotations

import numpy as np


def info_boost(world, cfg) -> np.ndarray:
    """Per origin country: the reach of information campaigns (0 where none runs)."""
    out = np.zeros(len(world.codes))
    inf = cfg.policy.information
    if inf.campaign > 0:
        out[[world.index[c] for c in world.select(inf.origin)]] = inf.campaign
    return out


def step(model, month: int) -> None:
    keep = model.b["belief_memory"]
    model.leg_history.append((month, model.leg_attempts.copy(), model.leg_interceptions.copy(),
                              model.leg_deaths.copy()))
    seen = model.leg_attempts > 0
    rate_int = np.where(seen, model.leg_interceptions / np.maximum(model.leg_attempts, 1e-9), 0)
    rate_death = np.where(seen, model.leg_deaths / np.maximum(model.leg_attempts, 1e-9), 0)
    model.belief_interception = np.where(seen, keep * model.belief_interception + (1 - keep) * rate_int,
                                         model.belief_interception)
    model.belief_death = np.where(seen, keep * model.belief_death + (1 - keep) * rate_death, model.belief_death)
    model.leg_attempts[:] = 0
    model.leg_interceptions[:] = 0
    model.leg_deaths[:] = 0
    for s in model.smugglers:
        s.set_price(float(model.belief_interception[s.leg]))
    model.leg_price = np.array([s.price_usd for s in model.smugglers])
