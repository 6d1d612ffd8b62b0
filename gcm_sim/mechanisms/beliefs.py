"""Beliefs: what households hear about the routes, and what information campaigns tell them.

:func:`step` reads this month's per-leg attempts, expected interceptions and claims at the
border, expected deaths and the retries made (real people, from :mod:`.journeys`, kept per
origin and summed over all origins, those of other shards included: :mod:`gcm_sim.exchange`;
sent with the asylum queues by :func:`counts_exchange`, which keeps this shard's own part in
model.leg_counts_sent) and writes model.belief_interception and belief_death
(exponentially smoothed with ``belief_memory``), model.belief_retry (the share of people
caught on a leg who are not stopped by it, as heard: smoothed retries and asylum claims at
the border, over smoothed interceptions, each with a prior of ``retry_belief_weight`` people
a month at ``prior_retry_share``;
``prior_retry_share`` until a leg has seen interceptions), smugglers' prices (they follow
the interception effort they see: :class:`gcm_sim.agents.recruiters.Smuggler`, Gathmann
2008), model.reentry_ratio (the believed cost of coming back without papers against the
world's base conditions, read by :mod:`.returns`) and model.leg_history (the month's
per-leg counts, read by calibration). No random numbers.

Eventual success on a leg (:func:`eventual_pass`): with per-attempt interception q and a
share r of those caught trying again, a traveller gets through with probability
(1 - q) / (1 - q r) after 1 / (1 - q r) attempts on average (a geometric series; Massey
& Singer 1995 [MASSEY-SINGER-1995] estimate apprehension probabilities on the same
assumption of repeated tries). Households price the attempts (each one pays the smuggler
again) and the months between them (:mod:`gcm_sim.options`).

Information (:func:`info_boost`): each origin gets the reach of an information campaign on
each topic it informs about (``policy.information.topics``: death, interception, earnings,
legal status). In the choice kernel a topic's reach pulls that belief, and only that one,
from the uninformed prior toward the truth, as ties do (:mod:`gcm_sim.decisions`).
"""

from __future__ import annotations

import numpy as np

from ..exchange import Exchange, add_parts
from ..policy import INFORMATION_TOPICS


def info_boost(world, cfg) -> np.ndarray:
    """[n_countries, len(INFORMATION_TOPICS)]: the reach of information campaigns per origin and
    topic (0 where none runs or the campaign does not inform about the topic)."""
    out = np.zeros((len(world.codes), len(INFORMATION_TOPICS)))
    inf = cfg.policy.information
    if inf.campaign > 0:
        rows = [world.index[c] for c in world.select(inf.origin)]
        cols = [INFORMATION_TOPICS.index(t) for t in inf.topics]
        out[np.ix_(rows, cols)] = inf.campaign
    return out


def eventual_pass(q: np.ndarray, retry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P(eventually through), expected attempts) per leg for per-attempt interception ``q``
    and a share ``retry`` of those caught trying again."""
    q, retry = np.asarray(q, float), np.asarray(retry, float)
    again = 1.0 - q * np.clip(retry, 0.0, 0.999)
    return (1.0 - q) / again, 1.0 / again


def route_entry_cost(route_legs: np.ndarray, route_length: np.ndarray, price: np.ndarray, q: np.ndarray,
                     retry: np.ndarray, on_passage_share: float) -> np.ndarray:
    """Believed cost of one successful entry per route: fees / P(success), where each leg costs
    its up-front part on every expected attempt and its ``on_passage_share`` once
    (:func:`.journeys.pay_and_go`)."""
    p_leg, a_leg = eventual_pass(q, retry)
    real = np.arange(route_legs.shape[1])[None, :] < route_length[:, None]
    legs = route_legs.astype(np.int64)
    per_leg = price[legs] * (on_passage_share + (1.0 - on_passage_share) * a_leg[legs])
    fees = np.where(real, per_leg, 0.0).sum(axis=1)
    success = np.where(real, p_leg[legs], 1.0).prod(axis=1)
    return fees / np.maximum(success, 1e-6)


def reentry_ratio(model) -> np.ndarray:
    """[n_countries, n_countries]: the cheapest believed cost of coming back from an origin to a
    destination without papers, now, over the same at the world's base fees and interception
    (and the retry share heard now); 1 where no irregular route exists."""
    n = len(model.world.codes)
    out = np.ones((n, n))
    if not len(model.route_origin):
        return out
    share = model.b["smuggler_credit_share"]
    now = route_entry_cost(model.route_legs, model.route_length, model.leg_price, model.belief_interception,
                           model.belief_retry, share)
    base = route_entry_cost(model.route_legs, model.route_length, model.base_leg_fee, model.base_interception,
                            model.belief_retry, share)
    best_now = np.full((n, n), np.inf)
    best_base = np.full((n, n), np.inf)
    np.minimum.at(best_now, (model.route_origin, model.route_dest), now)
    np.minimum.at(best_base, (model.route_origin, model.route_dest), base)
    ok = np.isfinite(best_now) & np.isfinite(best_base) & (best_base > 0)
    out[ok] = best_now[ok] / best_base[ok]
    return out


LEG_COUNTERS = ("leg_attempts", "leg_interceptions", "leg_deaths", "leg_retries", "leg_claims")


def leg_counts(model) -> np.ndarray:
    """[5, n_countries, n_legs]: this month's per-origin counters of :data:`LEG_COUNTERS` (journeys)."""
    return np.stack([getattr(model, name) for name in LEG_COUNTERS])


def counts_exchange(model) -> Exchange:
    """The month's counters of every origin, summed over the shards (:mod:`gcm_sim.exchange`).
    Only the journeys write them (:mod:`.passage`, :mod:`.journeys`), so they are complete
    once the journeys of the month are over: they travel with the asylum queues (one call a
    month fewer in a sharded run), and :func:`step` checks that nothing wrote them since."""
    model.leg_counts_sent = leg_counts(model)
    return Exchange("leg_counts", model.leg_counts_sent, add_parts)


def step(model, month: int, counts: np.ndarray) -> None:
    """Beliefs and prices after the month, from ``counts``: the counters of every origin
    (:func:`counts_exchange`), so a sharded run hears what one process hears."""
    if not np.array_equal(leg_counts(model), model.leg_counts_sent):
        raise RuntimeError("leg counters changed after they were exchanged: a mechanism between the "
                           "asylum step and beliefs.step wrote them (move it before asylum.step)")
    attempts, interceptions, deaths, retries, claims = counts.sum(axis=1)  # over origins, in origin order
    keep = model.b["belief_memory"]
    if model.calendar_month(month) >= 1:  # a record of reported months only (not the spin-up)
        model.leg_history.append((model.calendar_month(month), attempts, interceptions, deaths))
    seen = attempts > 0
    rate_int = np.where(seen, interceptions / np.maximum(attempts, 1e-9), 0)
    rate_death = np.where(seen, deaths / np.maximum(attempts, 1e-9), 0)
    model.belief_interception = np.where(seen, keep * model.belief_interception + (1 - keep) * rate_int,
                                         model.belief_interception)
    model.belief_death = np.where(seen, keep * model.belief_death + (1 - keep) * rate_death, model.belief_death)
    # who is not stopped by an interception: retries and asylum claims at the border (caught, but
    # in: journeys.intercepted) heard of, over interceptions heard of (both smoothed)
    model.heard_retries = keep * model.heard_retries + (1 - keep) * (retries + claims)
    model.heard_caught = keep * model.heard_caught + (1 - keep) * interceptions
    # what is heard is weighed against the prior as if the prior came from ``retry_belief_weight`` people
    # caught a month (a Beta prior): a leg where few are caught keeps near the prior, instead of
    # flipping between 0 and 1 as single migrant records (thousands of people each) come and go
    k = model.b["retry_belief_weight"]
    model.belief_retry = np.clip((model.heard_retries + k * model.b["prior_retry_share"])
                                 / np.maximum(model.heard_caught + k, 1e-9), 0, 0.99)
    for name in LEG_COUNTERS:
        getattr(model, name)[:] = 0
    for s in model.smugglers:
        s.set_price(float(model.belief_interception[s.leg]))
    model.leg_price = np.array([s.price_usd for s in model.smugglers])
    model.reentry_ratio = reentry_ratio(model)
