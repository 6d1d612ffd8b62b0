"""Consideration and choice: who considers a move this month, and what they choose.

Reads households (country, uid, skill, income, assets, members, ties abroad, rural,
shock_loss), the options of each origin (built once from the corridor rules,
refreshed monthly from smuggler prices, route beliefs and quota chances), quota
budgets and model.info_boost; writes model.expected_demand (applicants expected per
quota) and returns the movers grouped by origin: ``[(origin, options, rows, column)]``.

Each household considers with the monthly hazard ``consider_rate`` raised by
insecurity (``insecurity_consider_boost``) and, while a climate shock cuts its income,
in proportion to the share of income lost: x (1 + ``shock_consider_per_loss`` x loss)
(:func:`shock_hazard`), so a 2% loss raises it a fifth as much as a 10% loss; the loss
also lowers home earnings in the utilities (a larger gain from leaving). For
``reattempt_window_months`` after a member's forced return it is at least
``reattempt_consider_rate`` (NRC 2013: returned migrants often try again within weeks;
:func:`retry_hazard`). One considering then draws from the nested logit of
:mod:`gcm_sim.decisions` (McFadden 1978; Train 2009, ch. 4). Draws are keyed to
the household and month (``consider``, ``move``) and to the household, month and
option (``option``: Gumbel-max within the moving nest, and within a destination's nest
of smuggling routes: the destination is chosen by the log-sum of its routes, then the
route, ``route_nest_scale``), so a household's choice
changes only where the policy changes what it faces, and a new option takes its
choosers only from the options they leave (docs/decisions.md).
"""

from __future__ import annotations

import numpy as np

from ..categories import LABOUR, REGIONAL, VISITOR
from ..decisions import choose_keyed, credit_usd, nest_probabilities, option_utilities, shares_from, women_access
from ..options import Context, build


def options(model) -> dict[int, object]:
    """This month's options per origin: built once, refreshed monthly (prices, beliefs, quotas)."""
    ctx = context(model)
    if model._options is None:
        model._options = {o: build(o, model.world, model.rules, model.quota_keys, ctx, model.b, True)
                          for o in model.recruiters}
    else:
        for opts in model._options.values():
            opts.refresh(ctx, model.b)
    return model._options


def context(model) -> Context:
    months = model.cfg.policy.pathways.family_reunification.processing_months
    return Context(wage=model.wage, informal_penalty=model.informal_penalty,
                   p_employed_regular=model.p_employed_regular, p_employed_informal=model.p_employed_informal,
                   p_protection=model.p_claim * model.recognition, asylum_system=model.asylum_system,
                   leg_price_usd=model.leg_price, leg_interception=model.belief_interception,
                   leg_death=model.belief_death, leg_retry=model.belief_retry,
                   base_interception=model.base_interception,
                   recruiter_fee=lambda o, fee, wage: model.recruiters[o].expected_fee(fee, wage),
                   skill_recognition=model.b["skill_recognition"],
                   family_processing_months=model.b["family_processing_months"] if months is None else months,
                   quota_chance=np.minimum(1.0, (model.quota_annual / 12) / np.maximum(model.quota_demand, 1e-9)))


def hazard(model, country: int) -> float:
    """Monthly consideration hazard of a country's households without a shock."""
    b = model.b
    return min(1.0, b["consider_rate"] * (1 + b["insecurity_consider_boost"] * model.insecurity[country]))


def shock_hazard(base, loss, per_loss: float):
    """The hazard of households that lose a share ``loss`` (0-1) of their income to a shock:
    ``base x (1 + per_loss x loss)``, at most 1. Grows with the size of the loss (a flat
    multiplier made a 2% loss act like a 10% one: issue 13)."""
    return np.minimum(1.0, base * (1.0 + per_loss * np.asarray(loss, float)))


def reattempts(model, month: int, movers: list) -> list:
    """Households whose member was caught on a route and returned by force try the route again.

    Each month of ``reattempt_window_months`` after the return, with chance
    ``reattempt_consider_rate`` (stream ``reattempt``, keyed to the household), a household
    sets off again on the route its member was caught on, if it can finance the first
    fees (assets plus what ties and smugglers lend, as in the choice: decisions.py) and
    has an adult or child at home to send. Returned migrants often try again within weeks
    (NRC 2013 [NRC-2013]: two in five Mexican men apprehended 1999-2009 were apprehended
    again, three quarters of them within 90 days); their taste for the route persists,
    which a fresh logit draw each month would not give. Returns ``[(origin, options, rows,
    column)]`` like :func:`choose`, without households already moving this month.
    """
    hh = model.households
    cand = np.flatnonzero((hh.retry_left > 0) & (hh.retry_route >= 0))
    if not len(cand):
        return []
    busy = np.concatenate([idx for _, _, idx, _ in movers]) if movers else np.empty(0, np.int64)
    cand = cand[~np.isin(cand, busy)]
    cand = cand[model.draws.uniform("reattempt", month, hh.uid[cand]) < model.b["reattempt_consider_rate"]]
    out = []
    opts_by_origin = model._options if model._options is not None else options(model)  # refreshed this month
    for o in np.unique(hh.country[cand]):
        opts = opts_by_origin.get(int(o))
        if opts is None:
            continue
        rows = cand[hh.country[cand] == o]
        col_of = {int(r): c for c, r in enumerate(opts.route) if r >= 0}
        cols = np.array([col_of.get(int(r), -1) for r in hh.retry_route[rows]], dtype=np.int64)
        ok = cols >= 0
        rows, cols = rows[ok], cols[ok]
        if not len(rows):
            continue
        d = opts.dest[cols].astype(np.int64)
        ties = hh.abroad_at(rows, d) + model.community[o, d]
        subsistence = hh.subsistence_usd(model.subsistence_person_month, rows)
        credit = credit_usd(hh.income_usd[rows], hh.assets_usd[rows], subsistence, np.log1p(ties)[:, None],
                            opts.credit_share[cols][:, None], opts.credit_base_usd[cols][:, None],
                            model.weights)[:, 0]  # as in the choice (decisions.credit_usd)
        can = opts.cost_usd[cols] <= np.maximum(hh.assets_usd[rows], 0) + credit
        if can.any():
            out.append((int(o), opts, rows[can], cols[can]))
    return out


def retry_hazard(model, h, retry_left):
    """The consideration hazard of households still in the window after a forced return."""
    return np.where(retry_left > 0, np.maximum(h, model.b["reattempt_consider_rate"]), h)


def considering(model, month: int) -> np.ndarray:
    """Rows of the households that consider a move this month, in row order.

    One keyed uniform per household (stream ``consider``) against its hazard.
    """
    hh = model.households
    u = model.draws.uniform("consider", month, hh.uid)
    out = []
    per_loss = model.b["shock_consider_per_loss"]
    # the largest hazard this month bounds who can consider (a cheap first cut)
    top = 1.0 + per_loss * float(hh.shock_loss[hh.shocked].max()) if len(hh.shocked) else 1.0
    retry = model.b["reattempt_consider_rate"] if (hh.retry_left > 0).any() else 0.0
    for c, lo, hi in hh.blocks():
        calm = hazard(model, c)
        rows = lo + np.flatnonzero(u[lo:hi] < max(min(1.0, calm * top), retry))
        h = retry_hazard(model, shock_hazard(calm, hh.shock_loss[rows], per_loss), hh.retry_left[rows])
        out.append(rows[u[rows] < h])
    return np.concatenate(out) if out else np.empty(0, np.int64)


def probabilities(model, o: int, opts, sel: np.ndarray, earnings: np.ndarray | None = None):
    """Nested-logit utilities and probabilities of households ``sel`` of origin ``o``:
    (utilities [n, K], P(move) [n], P(option | move) [n, K], feasibility [n, K])."""
    hh = model.households
    if earnings is None:
        earnings = hh.earnings_per_adult_of(sel)
    dest = opts.dest.astype(np.int64)
    ties = hh.abroad_in(sel, dest) + model.community[o, dest][None, :]
    subsistence = hh.subsistence_usd(model.subsistence_person_month, sel)
    regular_tie = hh.abroad_in(sel, dest, regular=True) > 0
    # a rationed pathway stays in the choice set when this month's places are used up: its
    # believed chance (places / applicants, in ``opts.success``) carries the scarcity, and
    # applicants beyond the places are turned away (placement.ration). Closing it while the
    # budget is empty made its availability depend on how many real people one simulated
    # household stands for (docs/decisions.md, "Quotas stay open")
    quota_open = np.ones(len(opts.quota), bool)
    u, feasible = option_utilities(
        opts, hh.skill[sel], earnings,
        hh.income_usd[sel], hh.assets_usd[sel], ties, regular_tie, float(model.insecurity[o]),
        hh.rural[sel], hh.shock_loss[sel], quota_open, model.info_boost[o], model.weights, subsistence)
    lift = women_lift(model)
    if lift > 0:
        u = u + women_access(hh.members[sel], gender_opened(opts), lift)
    return (u, *nest_probabilities(u, feasible, model.weights.nest, opts.routes), feasible)


def women_lift(model) -> float:
    """Utility gained by a household of women on the channels gender-responsive policy opens."""
    return model.cfg.policy.inclusion.gender_responsive * model.b["women_barrier_utility"]


def gender_opened(opts) -> np.ndarray:
    """[K] bool: the regular labour, visitor and regional options (placement.GENDER_CHANNELS)."""
    return np.isin(opts.channel, (LABOUR, VISITOR, REGIONAL))


def add_expected_demand(model, opts, p_move: np.ndarray, within: np.ndarray, weight: np.ndarray) -> None:
    """Expected applicants per quota: choice probabilities x household weights."""
    rationed = opts.quota >= 0
    if rationed.any():
        shares = shares_from(p_move, within)[:, 1:]
        np.add.at(model.expected_demand, opts.quota[rationed], weight @ shares[:, rationed])


def choose(model, month: int, rows: np.ndarray) -> list:
    """The choice of households ``rows``, grouped by origin: [(origin, options, rows, column)]."""
    hh, out = model.households, []
    if not len(rows):
        return out
    opts_by_origin = options(model)
    country = hh.country[rows]
    earnings_all = hh.earnings_per_adult_of(rows)
    for o, opts in opts_by_origin.items():
        mine = country == o
        sel = rows[mine]
        if not len(sel) or not len(opts):
            continue
        u, p_move, within, feasible = probabilities(model, o, opts, sel, earnings_all[mine])
        add_expected_demand(model, opts, p_move, within, hh.weight[sel])
        uid = hh.uid[sel]
        col = choose_keyed(u, feasible, model.weights.nest, p_move,
                           model.draws.uniform("move", month, uid),
                           model.draws.gumbel("option", month, uid, opts.key), opts.routes,
                           model.draws.gumbel("option", month, uid, opts.routes.key))
        go = col >= 0
        if go.any():
            out.append((o, opts, sel[go], col[go]))
    return out


def step(model, month: int) -> list:
    """Households that consider a move choose among their feasible options."""
    if model.cfg.run.engine == "reference":
        movers = model.households.decide(model, month)
    else:
        movers = choose(model, month, considering(model, month))
    movers = movers + reattempts(model, month, movers)
    left = model.households.retry_left
    left[left > 0] -= 1  # the window after a forced return runs out
    return movers
