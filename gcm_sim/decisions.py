"""The household choice kernel: pure functions on arrays, no model, no random generator.

A household that considers a move compares staying (utility 0) with every feasible
option of its origin: an internal move, each regular pathway, each irregular route.
Option utilities follow the random-utility models of migration (Sjaastad 1962;
Grogger & Hanson 2011; Beine, Docquier & Ozden 2011 for diaspora networks):

    U = asc + b_gain * log(expected foreign earnings / earnings at home)
          + b_ties * log(1 + ties) + log(P(success believed))
          - b_death * P(death believed) - b_cost * upfront cost / annual income
          - b_delay * months of waiting + b_insecurity * insecurity (international moves)

and the household draws one option from a nested logit over feasible options
(stay | every way of moving). Upfront costs must be financed from assets plus credit
(:func:`credit_usd`): lenders at home and relatives abroad advance months of the income
a household earns above subsistence (more months the more ties it has), against its
assets as collateral, and recruiters (labour pathways) and smugglers (pay on arrival)
advance part of their fee. Options it cannot finance are not in its choice set, so
liquidity binds the poorest: the rising branch of the migration hump (Clemens 2014,
2020; Angelucci 2015 and Bazzi 2017 find liquidity constraints holding back migration
from poor households).

Beliefs: on each of four topics households believe a mix of the truth and what the
uninformed believe, weighted by information from ties, ``w = 1 - exp(-info_per_tie * ties)``,
raised by an information campaign on that topic only (``w + reach * (1 - w)``):

- death: the uninformed believe ``prior_death_belief_per_leg`` (5% a leg), far above the
  truth: would-be migrants overestimate route mortality (Shrestha 2020, Nepal; Bah &
  Batista 2018, The Gambia);
- earnings abroad: the uninformed believe them ``earnings_belief_bias`` (+25%) above the
  truth (Shrestha 2020: inexperienced potential migrants from Nepal overestimate earnings
  abroad and information on earnings lowers the expectation);
- legal status: the uninformed believe an irregular arrival gets a status with chance
  ``prior_status_belief`` (Bah & Batista 2018: Gambians overestimate the chance of legal
  residence, and correcting it lowers willingness to migrate);
- interception: the uninformed believe the route is as it was before the policy (the
  world's base interception and ``prior_retry_share``); the informed know the rates heard
  of now (ASSUMPTION: news of a change travels through ties and campaigns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Weights:
    """Utility weights (behavioural parameters from ``behaviour.yaml``)."""

    gain: float
    ties: float
    cost: float
    death: float
    delay: float
    insecurity: float
    info_per_tie: float
    credit_income_months: float
    credit_months_per_tie: float
    collateral_share: float
    urban_premium: float
    nest: float
    earnings_bias: float = 0.0

    @classmethod
    def from_behaviour(cls, b) -> "Weights":
        return cls(gain=b["b_gain"], ties=b["b_ties"], cost=b["b_cost"], death=b["b_death"],
                   delay=b["b_delay"], insecurity=b["b_insecurity"], info_per_tie=b["info_per_tie"],
                   credit_income_months=b["credit_income_months"],
                   credit_months_per_tie=b["credit_months_per_tie"], collateral_share=b["collateral_share"],
                   urban_premium=b["urban_income_premium"], nest=b["nest_dissimilarity"],
                   earnings_bias=b["earnings_belief_bias"])


def believed_death(truth: np.ndarray, prior: np.ndarray, info_weight: np.ndarray) -> np.ndarray:
    """Believed probability of dying: information pulls the prior toward the truth."""
    return info_weight * truth + (1.0 - info_weight) * prior


def credit_usd(income_usd: np.ndarray, assets_usd: np.ndarray, subsistence_usd: np.ndarray,
               log_ties: np.ndarray, credit_share: np.ndarray, credit_base_usd: np.ndarray,
               w: Weights) -> np.ndarray:
    """What a household can borrow for each option [n, K] (DESIGN.md, the liquidity constraint).

    ``income_usd``, ``assets_usd``, ``subsistence_usd`` [n] (monthly income, assets, and the
    monthly subsistence need of the people at home); ``log_ties`` [n, K] log(1 + ties) to each
    option's destination; ``credit_share``, ``credit_base_usd`` [K] the intermediaries' part.

        credit = (credit_income_months + credit_months_per_tie * log(1 + ties)) * surplus
                 + collateral_share * assets + credit_share * credit_base

    with surplus = max(income - subsistence, 0): lenders and relatives advance months of the
    income a household can repay from, so a household at or below subsistence borrows
    nothing on its income (the floor), whatever its ties; ties add months (relatives
    abroad lend and vouch; Munshi 2003 on Mexican networks); assets serve as collateral;
    recruiters lend part of their fee against future wages and smugglers take part of
    theirs on arrival (paid by relatives, DHS 2017). Never negative.
    """
    surplus = np.maximum(np.asarray(income_usd, float) - subsistence_usd, 0.0)
    months = w.credit_income_months + w.credit_months_per_tie * log_ties
    own = w.collateral_share * np.maximum(np.asarray(assets_usd, float), 0.0)
    lent = np.asarray(credit_share * credit_base_usd, float)  # [K], or [n, K] for one option per row
    return months * surplus[:, None] + own[:, None] + (lent[None, :] if lent.ndim == 1 else lent)


TOPICS = ("death", "interception", "earnings", "status")  # policy.INFORMATION_TOPICS, in its order


def topic_weights(info_ties: np.ndarray, boost) -> dict[str, np.ndarray]:
    """Information weight per topic: ties' weight raised by a campaign's reach on that topic.

    ``boost``: a reach per topic (sequence in TOPICS order), or one number for a campaign on
    route risks (death and interception) as before topics existed.
    """
    if np.ndim(boost) == 0:
        boost = (float(boost), float(boost), 0.0, 0.0)
    return {t: np.clip(info_ties + float(r) * (1 - info_ties), 0, 1) for t, r in zip(TOPICS, boost)}


def believed_log_wage(opts, skill: np.ndarray, w_earn: np.ndarray, w_status: np.ndarray,
                      earnings_bias: float) -> np.ndarray:
    """[n, K] log of the earnings households believe each option brings.

    Legal status: options whose earnings depend on getting a status mix the truth and the
    uninformed belief with ``w_status``; earnings abroad are off by ``earnings_bias`` for
    the uninformed, corrected with ``w_earn`` (internal moves: no bias).
    """
    lw = opts.log_wage[:, skill].T.copy()
    cols = opts.status_cols
    if len(cols):
        truth = opts.wage_usd[cols][:, skill].T
        prior = opts.wage_prior_usd[cols][:, skill].T
        ws = w_status[:, cols]
        lw[:, cols] = np.log(np.maximum(np.nan_to_num(ws * truth + (1 - ws) * prior, nan=1.0), 1.0))
    if earnings_bias:
        lw += ((1 - w_earn) * np.log1p(earnings_bias)) * opts.international[None, :]
    return lw


def option_utilities(opts, skill: np.ndarray, home_earnings_usd: np.ndarray, income_usd: np.ndarray,
                     assets_usd: np.ndarray, ties: np.ndarray, regular_tie: np.ndarray,
                     insecurity: float, rural: np.ndarray, shock_loss: np.ndarray,
                     quota_open: np.ndarray, info_boost, w: Weights,
                     subsistence_usd: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Utilities [n, K] and feasibility [n, K] of an origin's options for n households.

    ``opts`` is an :class:`gcm_sim.options.OptionSet`; ``ties`` [n, K] ties to each
    option's destination; ``regular_tie`` [n, K] whether the household has a member
    with regular status there (family reunification); ``quota_open`` [K];
    ``subsistence_usd`` [n] the household's monthly subsistence need (:func:`credit_usd`).
    An internal move earns the urban premium and escapes a climate shock's income loss.
    An option that earns abroad for only part of the planning horizon (``opts.stay_share`` s < 1:
    a visit) gains log(s x W/h + 1 - s) instead of log(W/h): the earnings over the horizon,
    abroad for its share and at home for the rest (Sjaastad 1962 [SJAASTAD-1962]: the return to
    a move is the earnings gained over the time spent away).
    """
    n = len(skill)
    info = topic_weights(1.0 - np.exp(-w.info_per_tie * ties), info_boost)
    gain = (believed_log_wage(opts, skill, info["earnings"], info["status"], w.earnings_bias)
            - np.log(np.maximum(home_earnings_usd, 1.0))[:, None])  # [n, K]
    short = opts.stay_share < 1.0  # a visit: abroad for part of the horizon, at home for the rest
    if short.any():
        s = opts.stay_share[short][None, :]
        gain[:, short] = np.log(s * np.exp(gain[:, short]) + (1.0 - s))
    internal_gain = np.log(w.urban_premium) - np.log(np.maximum(1.0 - shock_loss, 0.05))
    gain = np.where(opts.international[None, :] == 0, internal_gain[:, None], gain)
    death = believed_death(opts.death_truth[None, :], opts.death_prior[None, :], info["death"])
    irregular = opts.route >= 0
    success = np.broadcast_to(opts.success[None, :], (n, len(opts.success)))
    upfront = np.broadcast_to(opts.cost_usd[None, :], (n, len(opts.success)))
    if irregular.any():  # what the informed hear now, what the uninformed believe from before the policy
        success, upfront = success.copy(), upfront.copy()
        wi = info["interception"][:, irregular]
        success[:, irregular] = wi * opts.success[irregular] + (1 - wi) * opts.success_prior[irregular]
        upfront[:, irregular] += wi * opts.retry_cost_usd[irregular] + (1 - wi) * opts.retry_cost_prior_usd[irregular]
    annual = 12.0 * np.maximum(income_usd, 1.0)
    cost = upfront / annual[:, None]
    log_ties = np.log1p(ties)
    u = (opts.asc[None, :] + w.gain * gain + w.ties * log_ties
         + np.log(np.maximum(success, 1e-9)) - w.death * death - w.cost * cost
         - w.delay * opts.delay_months[None, :] + w.insecurity * insecurity * opts.international[None, :])
    subsistence = np.broadcast_to(np.asarray(subsistence_usd, float), (n,))
    credit = credit_usd(income_usd, assets_usd, subsistence, log_ties, opts.credit_share, opts.credit_base_usd, w)
    feasible = opts.cost_usd[None, :] <= np.maximum(assets_usd, 0.0)[:, None] + credit
    feasible &= quota_open[None, :]
    feasible &= opts.skill_mask[:, skill].T
    feasible &= ~opts.needs_regular_tie[None, :] | regular_tie
    feasible &= ~opts.needs_rural[None, :] | rural[:, None]
    feasible &= (opts.min_insecurity[None, :] <= insecurity)
    assert u.shape == (n, len(opts.asc))
    return u, feasible


def women_access(members: np.ndarray, opened: np.ndarray, lift: float) -> np.ndarray:
    """Utility added to the regular channels that gender-responsive policy opens [n, K].

    ``members`` [n, 5] household members at home (columns as categories.MEMBER_SEX /
    MEMBER_AGE: female youth, male youth, female adult, male adult, children); ``opened``
    [K] bool, the options whose barriers fall (labour, visitor, regional channels);
    ``lift`` = gender_responsive x women_barrier_utility. The barrier binds in
    proportion to the share of the household's adults who are women: a household of
    women gains the whole lift, one of men nothing (bans and age limits on women's
    labour emigration, closed domestic-work sectors: Napier-Moore 2017, ILO; docs/levers.md).
    """
    adults = members[:, :4].sum(axis=1)
    women = (members[:, 0] + members[:, 2]) / np.maximum(adults, 1)
    return lift * women[:, None] * opened[None, :]


@dataclass(frozen=True)
class RouteNests:
    """Route variants nested under their destination (behaviour v2).

    ``group`` [K]: the nest of each option (-1: not a smuggling route; routes to the same
    destination share a nest); ``key`` [G]: a stable key per nest (keys its draw);
    ``scale`` in (0, 1]: the nest's dissimilarity relative to the moving nest's. Within a
    nest the routes are close substitutes, so a household chooses a destination by the
    log-sum of its routes and then the route: a route that is worse on every count adds
    almost nothing to the value of going (``scale`` -> 0: nothing; 1: every route counts
    as an option of its own, engine v1). McFadden (1978) three-level nested logit.
    """

    group: np.ndarray
    key: np.ndarray
    scale: float

    @property
    def size(self) -> int:
        return len(self.key)


def collapse(utilities: np.ndarray, feasible: np.ndarray, nest: float, routes: RouteNests):
    """Each route nest as one alternative worth its inclusive value.

    Returns (utilities [n, K0 + G], feasible [n, K0 + G], P(route | nest) [n, K]) where
    the first K0 columns are the options outside route nests, in their order.
    """
    lam = routes.scale * nest
    plain = routes.group < 0
    n = len(utilities)
    v_routes = np.where(feasible & ~plain, utilities / lam, -np.inf)
    inner = np.zeros_like(utilities, dtype=float)
    value = np.full((n, routes.size), -np.inf)
    for g in range(routes.size):
        m = routes.group == g
        vg = v_routes[:, m]
        top = vg.max(axis=1, keepdims=True)
        ok = np.isfinite(top[:, 0])
        e = np.exp(vg - np.where(np.isfinite(top), top, 0.0))
        tot = e.sum(axis=1)
        value[ok, g] = lam * (np.log(tot[ok]) + top[ok, 0])
        inner[:, m] = e / np.maximum(tot, 1e-300)[:, None]
    u_red = np.concatenate([utilities[:, plain], np.where(np.isfinite(value), value, 0.0)], axis=1)
    f_red = np.concatenate([feasible[:, plain], np.isfinite(value)], axis=1)
    return u_red, f_red, inner


def nest_probabilities(utilities: np.ndarray, feasible: np.ndarray, nest: float,
                       routes: RouteNests | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nested logit: P(move) [n] and P(option | move) [n, K].

    Staying is one nest, moving (every internal, regular and irregular option) the
    other, with dissimilarity ``nest`` in (0, 1]: below 1, options of moving are
    closer substitutes for one another than for staying, so opening a regular
    pathway draws people mostly from the other ways of leaving (Simon et al. 2018
    find restricted regular channels push people into irregular ones). ``nest = 1``
    is the plain multinomial logit. McFadden (1978); Train (2009), ch. 4. With
    ``routes``, route variants are nested under their destination (:class:`RouteNests`);
    P(option | move) is still returned per option (a route's: its nest's share times its
    share within the nest).
    """
    if routes is not None and routes.size:
        u_red, f_red, inner = collapse(utilities, feasible, nest, routes)
        p_move, within_red = nest_probabilities(u_red, f_red, nest)
        plain = routes.group < 0
        within = np.zeros(utilities.shape)
        within[:, plain] = within_red[:, : plain.sum()]
        route_cols = np.flatnonzero(~plain)
        within[:, route_cols] = within_red[:, plain.sum() + routes.group[route_cols]] * inner[:, route_cols]
        return p_move, within
    v = np.where(feasible, utilities / nest, -np.inf)
    top = v.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(v - top)  # infeasible: exp(-inf) = 0
    total = e.sum(axis=1)
    inclusive = np.where(total > 0, np.log(np.maximum(total, 1e-300)) + top[:, 0], -np.inf)
    p_move = np.where(total > 0, 1.0 / (1.0 + np.exp(-np.clip(nest * inclusive, -700, 700))), 0.0)
    within = e / np.maximum(total, 1e-300)[:, None]
    return p_move, within


def choose_keyed(utilities: np.ndarray, feasible: np.ndarray, nest: float, p_move: np.ndarray,
                 u_move: np.ndarray, gumbel: np.ndarray, routes: RouteNests | None = None,
                 nest_gumbel: np.ndarray | None = None) -> np.ndarray:
    """Draw one option per row from the nested logit, with draws keyed to the household.

    ``u_move`` [n] uniforms decide moving against ``p_move`` (from
    :func:`nest_probabilities`); among the feasible options the one with the largest
    ``utility / nest + gumbel`` is taken (Gumbel-max: exactly the within-nest logit
    shares, Train 2009, 3.5). ``gumbel`` [n, K] holds standard Gumbel draws keyed to
    (household, option), so adding an option moves to it only the households that
    prefer it and leaves every other household's choice as it was.
    With ``routes`` the choice is made in two steps, each by Gumbel-max: among the options
    and the route nests (``nest_gumbel`` [n, G] keyed to the nest), then, in a chosen
    nest, among its routes (their own ``gumbel`` columns).
    Returns the chosen column, or -1 for "stay".
    """
    n, k = feasible.shape
    if k == 0:
        return np.full(n, -1)
    move = (u_move < p_move) & feasible.any(axis=1)
    if routes is None or not routes.size:
        col = np.where(feasible, utilities / nest + gumbel, -np.inf).argmax(axis=1)
        return np.where(move, col, -1)
    plain = np.flatnonzero(routes.group < 0)
    u_red, f_red, _ = collapse(utilities, feasible, nest, routes)
    noise = np.concatenate([gumbel[:, plain], nest_gumbel], axis=1)
    alt = np.where(f_red, u_red / nest + noise, -np.inf).argmax(axis=1)
    col = plain[np.minimum(alt, len(plain) - 1)] if len(plain) else np.zeros(n, np.int64)
    in_nest = alt >= len(plain)
    if in_nest.any():
        g = alt[in_nest] - len(plain)
        rows = np.flatnonzero(in_nest)
        lam = routes.scale * nest
        score = np.where(feasible[rows] & (routes.group[None, :] == g[:, None]),
                         utilities[rows] / lam + gumbel[rows], -np.inf)
        col[rows] = score.argmax(axis=1)
    return np.where(move, col, -1)


def shares_from(p_move: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Choice probabilities [n, 1 + K] (column 0 = stay) from those of :func:`nest_probabilities`."""
    return np.concatenate([(1 - p_move)[:, None], p_move[:, None] * within], axis=1)
