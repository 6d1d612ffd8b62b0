"""Diaspora ties follow the diaspora: the cumulative causation of migration.

Reads migrants (state, origin, destination, weight) and households (people at home);
writes model.community (diaspora per 100 people at home, by origin and destination),
which every household's ties add to its own members abroad (mechanisms/choice.py).

Each move abroad adds to the network that makes the next one cheaper, better informed
and more rewarding (Massey 1990, Population Index 56(1): "the dynamic interplay between
network growth and individual migration" gives migration its internal momentum; Munshi
2003, QJE 118(2): a larger network of Mexican migrants in the US raises their
employment and wages). Ties are the diaspora per 100 people at home, first from the
world's stocks (corridors.csv); each month they are recomputed from the stock abroad
in the run, relative to the run's own stock at month 1 (so sampling noise in the
starting records does not move them):

    community = community_0 x (stock / stock_0) x (home_0 / home)

an elasticity of ties to the diaspora of 1 by their definition; how strongly ties move
migration is ``b_ties`` (utility per log(1 + ties), 0.6: Beine, Docquier & Ozden 2011
find network elasticities of 0.4-0.7) and ``credit_months_per_tie`` (decisions.py). A
corridor without a starting record counts its run's stock directly (100 x stock / home).
No random numbers. Where origins are split over shards the stock and the people at home are
exchanged (:func:`gcm_sim.exchange.shared`).
"""

from __future__ import annotations

import numpy as np

from ..categories import ABROAD
from ..exchange import add_parts, shared


def stock_abroad(model) -> np.ndarray:
    """Real people abroad [origin, destination] in the run now."""
    m, n = model.migrants, len(model.world.codes)
    here = np.flatnonzero(m.view("state") == ABROAD)
    cell = m.origin[here].astype(np.int64) * n + m.destination[here]
    return np.bincount(cell, weights=m.weight[here], minlength=n * n).reshape(n, n)


def people_at_home(model) -> np.ndarray:
    hh = model.households
    return hh.sum_by_country(hh.people() * hh.weight)


def stock_and_home(model):
    """A generator: the stock abroad [origin, destination] and the people at home [origin] of
    the whole run (summed over the shards where origins are split over them: exchange.shared)."""
    n = len(model.world.codes)
    part = np.concatenate([stock_abroad(model).ravel(), people_at_home(model)])
    both = yield from shared(model, "networks", part, add_parts)
    return both[: n * n].reshape(n, n), both[n * n:]


def setup(model):
    """The starting ties and the run's own starting stock and population at home (a generator)."""
    model.community_0 = model.community.copy()
    model.stock_0, model.home_0 = yield from stock_and_home(model)


def step(model, month: int):
    stock, home = yield from stock_and_home(model)
    seeded = model.stock_0 > 0
    ratio = np.where(seeded, stock / np.where(seeded, model.stock_0, 1.0), 1.0)
    shrink = np.where(home > 0, model.home_0 / np.maximum(home, 1e-9), 1.0)[:, None]
    fresh = 100.0 * stock / np.maximum(home, 1e-9)[:, None]
    model.community = np.where(seeded, model.community_0 * ratio * shrink, model.community_0 + fresh)
