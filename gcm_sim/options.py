"""The options open to an origin's households this month, as arrays (one entry per option).

Built each month by the model from the effective corridor rules, the institutions'
current state (smuggler prices, interception, retry and death rates households have
heard of, employers' hiring, recruiters' fees) and the policy. Pure: no random
numbers, no state changes.

An irregular route's believed success is its eventual success with retries
(:func:`gcm_sim.mechanisms.beliefs.eventual_pass`: per-attempt interception heard of and
the share of those caught who try again), not a fixed number of tries; each expected
retry costs the up-front part of the leg's price again, the share not paid on passage
(1 - ``smuggler_credit_share``: :func:`gcm_sim.mechanisms.journeys.pay_and_go`;
``retry_cost_usd``, weighed in the utility, not financed up front) and the months of waiting between attempts (1 / ``retry_rate``).
Households without information believe what the uninformed do (decisions.py): the
route as it was before the policy (``success_prior``: the world's base interception and
``prior_retry_share``), earnings abroad off by ``earnings_belief_bias``, the chance of
a legal status at ``prior_status_belief`` (``wage_prior_usd``) and a death risk of
``prior_death_belief_per_leg``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from .mechanisms.beliefs import eventual_pass
from .categories import FAMILY, HUMANITARIAN, INTERNAL, LABOUR, REGIONAL, SMUGGLED, VISITOR

ASC_KEY = {INTERNAL: "asc_internal", LABOUR: "asc_labour", FAMILY: "asc_family",
           HUMANITARIAN: "asc_humanitarian", VISITOR: "asc_visitor", REGIONAL: "asc_regional",
           SMUGGLED: "asc_smuggled"}


def channel_constant(b, channel: int, region: str) -> float:
    """A channel's alternative-specific constant for an origin of ``region``: the region's own
    constant ``asc_<channel>_<region>`` where behaviour.yaml has one (the origin fixed effects of
    discrete-choice migration models: what the utility's terms miss about a region's
    origins), else the channel's constant (``asc_smuggled`` etc.)."""
    key = ASC_KEY[channel]
    return float(b.get(f"{key}_{region}", b[key]))


@dataclass
class OptionSet:
    origin: int
    dest: np.ndarray            # int: destination country (the origin itself for internal moves)
    channel: np.ndarray         # int: entry channel code
    route: np.ndarray           # int: index into world.routes, -1 for regular/internal
    quota: np.ndarray           # int: index into the model's quota budgets, -1 if unlimited
    skills_route: np.ndarray    # bool: a skills-partnership place (training + recognised skills)
    asc: np.ndarray
    cost_usd: np.ndarray        # upfront: fees, travel, expected recruitment fee
    recruitment_fee_usd: np.ndarray  # corridor fee before caps (labour only)
    wage_usd: np.ndarray        # [K, 3] expected monthly earnings abroad by skill (net of remittance cost)
    success: np.ndarray         # believed probability the move goes through (visa, interception)
    refusal: np.ndarray         # visa refusal probability (regular channels that need a visa)
    death_truth: np.ndarray     # probability of dying on the way, as households hear of it
    death_prior: np.ndarray     # what households without information believe
    delay_months: np.ndarray
    credit_share: np.ndarray    # share of credit_base_usd lent by intermediaries
    credit_base_usd: np.ndarray
    international: np.ndarray   # 1.0 for international moves
    needs_regular_tie: np.ndarray
    needs_rural: np.ndarray
    min_insecurity: np.ndarray
    skill_mask: np.ndarray      # [K, 3] bool: skills eligible
    base_success: np.ndarray    # success before rationing (regular options)
    route_legs: np.ndarray      # [K, 6] leg indices of irregular options, -1 padded
    routes: object = None       # decisions.RouteNests: smuggling routes nested under their destination
    key: np.ndarray = None      # uint64: the option's identity (channel, destination, route, kind), the
                                # same in every arm of a comparison; keys the households' choice draws
    wage_prior_usd: np.ndarray = None  # [K, 3] expected earnings with the uninformed belief about legal status
    success_prior: np.ndarray = None   # success the uninformed believe in (irregular: the route before the policy)
    stay_share: np.ndarray = None      # share of the planning horizon spent earning abroad (1: the whole horizon)
    retry_cost_usd: np.ndarray = None  # expected fees of retries (irregular), weighed, not financed up front
    retry_cost_prior_usd: np.ndarray = None  # ... as the uninformed believe them (the route before the policy)
    log_wage: np.ndarray = field(init=False)  # [K, 3] log of wage_usd (at least USD 1): wages do not change
    log_wage_prior: np.ndarray = field(init=False)
    status_cols: np.ndarray = field(init=False)  # options whose earnings depend on the belief about status

    def __post_init__(self) -> None:
        self.log_wage = np.log(np.maximum(np.nan_to_num(self.wage_usd, nan=1.0), 1.0))
        if self.wage_prior_usd is None:
            self.wage_prior_usd = self.wage_usd.copy()
        self.log_wage_prior = np.log(np.maximum(np.nan_to_num(self.wage_prior_usd, nan=1.0), 1.0))
        self.status_cols = np.flatnonzero(np.any(np.abs(self.log_wage_prior - self.log_wage) > 1e-12, axis=1))
        if self.success_prior is None:
            self.success_prior = self.success.copy()
        if self.retry_cost_usd is None:
            self.retry_cost_usd = np.zeros(len(self.dest))
        if self.retry_cost_prior_usd is None:
            self.retry_cost_prior_usd = np.zeros(len(self.dest))

    def __len__(self) -> int:
        return len(self.dest)

    def refresh(self, ctx: "Context", b) -> None:
        """Update what changes monthly: smuggling prices, route beliefs, quota chances."""
        irregular = self.route >= 0
        if irregular.any():
            legs = self.route_legs[irregular]
            real = legs >= 0
            li = np.maximum(legs, 0)
            price = np.where(real, ctx.leg_price_usd[li], 0.0)
            fees = price.sum(axis=1)
            p_leg, attempts = eventual_pass(ctx.leg_interception[li], ctx.leg_retry[li])
            self.cost_usd[irregular] = fees
            self.credit_base_usd[irregular] = fees
            per_retry = price * (1.0 - b["smuggler_credit_share"])  # the rest is paid on passage, once
            self.retry_cost_usd[irregular] = (per_retry * np.where(real, attempts - 1.0, 0.0)).sum(axis=1)
            _, attempts_before = eventual_pass(ctx.base_interception[li], np.full(li.shape, b["prior_retry_share"]))
            self.retry_cost_prior_usd[irregular] = (per_retry * np.where(real, attempts_before - 1.0, 0.0)).sum(axis=1)
            self.success[irregular] = np.where(real, p_leg, 1.0).prod(axis=1)
            self.delay_months[irregular] = (np.where(real, attempts - 1.0, 0.0).sum(axis=1)
                                            / max(b["retry_rate"], 1e-3))
            self.death_truth[irregular] = 1 - np.where(real, 1 - ctx.leg_death[li], 1.0).prod(axis=1)
        rationed = self.quota >= 0
        if rationed.any():
            self.success[rationed] = self.base_success[rationed] * ctx.quota_chance[self.quota[rationed]]


@dataclass
class Context:
    """What the options depend on besides the world: the model's current state, as arrays."""

    wage: np.ndarray                 # [n_countries, 3] monthly wage by skill
    informal_penalty: np.ndarray     # [n_countries] 0-1
    p_employed_regular: float        # steady-state employment share, regular migrants
    p_employed_informal: np.ndarray  # [n_countries]
    p_protection: np.ndarray         # [n_origins... indexed by country] P(claim) x P(recognised)
    asylum_system: np.ndarray        # [n_countries] bool
    leg_price_usd: np.ndarray        # [n_legs]
    leg_interception: np.ndarray     # [n_legs] believed per-attempt interception probability
    leg_death: np.ndarray            # [n_legs] true per-attempt death probability (incl. rescue)
    leg_retry: np.ndarray            # [n_legs] share of those caught who try again, as heard (beliefs.py)
    base_interception: np.ndarray    # [n_legs] the world's interception before any policy (uninformed belief)
    recruiter_fee: callable          # (origin, fee_usd[K], wage_usd[K]) -> expected worker fee [K]
    skill_recognition: float
    family_processing_months: float
    quota_chance: np.ndarray         # [n_quotas] believed chance of getting a place (supply / demand)


def build(origin: int, world, rules, quotas: dict, ctx: Context, b, rural_any: bool) -> OptionSet:
    """All options of one origin (households' own eligibility is checked in decisions)."""
    rows: list[dict] = []
    wage_reg = _recognised_wage(ctx.wage, ctx.skill_recognition)
    remit = b["remit_share"]
    if rural_any:
        rows.append(dict(dest=origin, channel=INTERNAL, cost=b["internal_move_cost_usd"],
                         wage=np.full(3, np.nan), success=1.0, needs_rural=True, international=0.0))
    for d in range(len(world.codes)):
        if d == origin:
            continue
        net = 1.0 - remit * rules.remittance_cost_pct[origin, d] / 100.0
        travel = rules.travel_cost_usd[origin, d]
        visa_fee = rules.visa_fee_usd[origin, d] if rules.visa_required[origin, d] else 0.0
        refusal = rules.refusal_rate[origin, d] if rules.visa_required[origin, d] else 0.0
        processing = rules.processing_months[origin, d] if rules.visa_required[origin, d] else 0.0
        regular_wage = wage_reg[d] * ctx.p_employed_regular * net
        informal_wage = (ctx.wage[d, 0] * (1 - ctx.informal_penalty[d]) * ctx.p_employed_informal[d] * net)
        if ("labour", origin, d) in quotas:
            fee = rules.recruitment_fee_usd[origin, d]
            wage_full = wage_reg[d] * net
            worker_fee = ctx.recruiter_fee(origin, np.array([fee]), np.array([ctx.wage[d, 0]]))[0]
            rows.append(dict(dest=d, channel=LABOUR, quota=quotas[("labour", origin, d)],
                             cost=visa_fee + travel + worker_fee, fee=fee, wage=wage_full,
                             success=1.0 - 0.5 * refusal, refusal=0.5 * refusal, delay=processing,
                             credit_share=b["recruiter_credit_share"], credit_base=worker_fee))
        for level in range(3):
            if ("labour_skill", origin, d, level) not in quotas:
                continue
            fee = rules.recruitment_fee_usd[origin, d]
            worker_fee = ctx.recruiter_fee(origin, np.array([fee]), np.array([ctx.wage[d, level]]))[0]
            mask = np.arange(3) == level
            rows.append(dict(dest=d, channel=LABOUR, quota=quotas[("labour_skill", origin, d, level)],
                             cost=visa_fee + travel + worker_fee, fee=fee, wage=ctx.wage[d, level] * net,
                             success=1.0 - 0.5 * refusal, refusal=0.5 * refusal, delay=processing,
                             credit_share=b["recruiter_credit_share"], credit_base=worker_fee,
                             skill_mask=mask))
        if ("skills", origin, d) in quotas:
            rows.append(dict(dest=d, channel=LABOUR, quota=quotas[("skills", origin, d)], skills=True,
                             cost=travel, wage=np.full(3, ctx.wage[d, 1] * net), success=1.0,
                             delay=processing + b["skills_training_months"],
                             skill_mask=np.array([True, True, False])))
        if ("family", origin, d) in quotas:
            rows.append(dict(dest=d, channel=FAMILY, quota=quotas[("family", origin, d)],
                             cost=rules.visa_fee_usd[origin, d] + travel, wage=regular_wage,
                             success=1.0 - b["family_refusal_rate"], refusal=b["family_refusal_rate"],
                             delay=ctx.family_processing_months, needs_regular_tie=True))
        if ("humanitarian", origin, d) in quotas:
            rows.append(dict(dest=d, channel=HUMANITARIAN, quota=quotas[("humanitarian", origin, d)],
                             cost=0.0, wage=regular_wage, success=1.0, delay=processing,
                             min_insecurity=b["humanitarian_min_insecurity"]))
        if rules.regional[origin, d] and "destination" in world.countries.iloc[d]["roles"]:
            rows.append(dict(dest=d, channel=REGIONAL, cost=0.5 * travel, wage=regular_wage, success=1.0))
        elif rules.exists[origin, d]:
            rows.append(dict(dest=d, channel=VISITOR, cost=visa_fee + travel, wage=np.full(3, informal_wage),
                             success=1.0 - refusal, refusal=refusal, delay=processing,
                             stay_share=visit_stay_share(b)))
    prior_leg = b["prior_death_belief_per_leg"]
    for r, route in enumerate(world.routes):
        if world.index[route.origin] != origin:
            continue
        legs = np.asarray(route.legs)
        d = world.index[route.destination]
        net = 1.0 - remit * rules.remittance_cost_pct[origin, d] / 100.0
        p_prot = ctx.p_protection[origin] if ctx.asylum_system[d] else 0.0
        informal = ctx.wage[d, 0] * (1 - ctx.informal_penalty[d]) * ctx.p_employed_informal[d]
        expected = (p_prot * wage_reg[d] * ctx.p_employed_regular + (1 - p_prot) * informal) * net
        p_believed = b["prior_status_belief"] if ctx.asylum_system[d] else 0.0
        expected_prior = (p_believed * wage_reg[d] * ctx.p_employed_regular + (1 - p_believed) * informal) * net
        fees = float(ctx.leg_price_usd[legs].sum())
        p_before, _ = eventual_pass(ctx.base_interception[legs], np.full(len(legs), b["prior_retry_share"]))
        path = ">".join([str(world.legs.at[int(legs[0]), "from"])] + [str(world.legs.at[int(x), "to"]) for x in legs])
        rows.append(dict(dest=d, channel=SMUGGLED, route=r, path=path, cost=fees, legs=legs,
                         credit_share=b["smuggler_credit_share"], credit_base=fees,
                         wage=expected, wage_prior=expected_prior, success_prior=float(np.prod(p_before)),
                         success=float(np.prod(eventual_pass(ctx.leg_interception[legs], ctx.leg_retry[legs])[0])),
                         death=1.0 - float(np.prod(1 - ctx.leg_death[legs])),
                         prior=1.0 - (1.0 - prior_leg) ** len(legs)))
    opts = _pack(origin, rows, b, str(world.countries["region"].iloc[origin]))
    opts.refresh(ctx, b)
    return opts


def visit_stay_share(b) -> float:
    """Share of the planning horizon a visitor expects to spend earning abroad: the visit
    (``visit_months``), then the rest of the horizon for the share who overstay (``overstay_prob``).

    The horizon is a labour contract's length (``contract_months``: ASSUMPTION, so a visit and a
    contract are weighed over the same months). Until 2026-12-03 a visit was valued as if it
    earned abroad for good, so a three-month visa weighed like a permanent move (Sjaastad 1962
    [SJAASTAD-1962]; docs/decisions.md).
    """
    horizon = max(float(b["contract_months"]), float(b["visit_months"]))
    months = b["visit_months"] + b["overstay_prob"] * (horizon - b["visit_months"])
    return float(min(months / horizon, 1.0))


def _recognised_wage(wage: np.ndarray, recognition: float) -> np.ndarray:
    """Expected regular wage by skill: unrecognised skills earn the low-skill wage."""
    out = wage.copy()
    out[:, 1:] = recognition * wage[:, 1:] + (1 - recognition) * wage[:, :1]
    return out


def _pack(origin: int, rows: list[dict], b, region: str) -> OptionSet:
    k = len(rows)
    get = lambda key, default: np.array([r.get(key, default) for r in rows], dtype=float)  # noqa: E731
    wage = np.array([np.broadcast_to(r["wage"], (3,)) for r in rows], dtype=float).reshape(k, 3)
    wage_prior = np.array([np.broadcast_to(r.get("wage_prior", r["wage"]), (3,)) for r in rows],
                          dtype=float).reshape(k, 3)
    channel = np.array([r["channel"] for r in rows], dtype=np.int8)
    quota = np.array([r.get("quota", -1) for r in rows], dtype=np.int32)
    route_legs = np.full((k, 6), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        if "legs" in r:
            route_legs[i, : len(r["legs"])] = r["legs"]
    return OptionSet(
        origin=origin,
        dest=np.array([r["dest"] for r in rows], dtype=np.int16),
        channel=channel,
        route=np.array([r.get("route", -1) for r in rows], dtype=np.int32),
        quota=quota,
        skills_route=np.array([r.get("skills", False) for r in rows], dtype=bool),
        asc=np.array([channel_constant(b, c, region) for c in channel], dtype=float),
        cost_usd=get("cost", 0.0),
        recruitment_fee_usd=get("fee", 0.0),
        wage_usd=wage,
        success=get("success", 1.0),
        refusal=get("refusal", 0.0),
        death_truth=get("death", 0.0),
        death_prior=get("prior", 0.0),
        delay_months=get("delay", 0.0),
        credit_share=get("credit_share", 0.0),
        credit_base_usd=get("credit_base", 0.0),
        international=get("international", 1.0),
        stay_share=get("stay_share", 1.0),
        needs_regular_tie=np.array([r.get("needs_regular_tie", False) for r in rows], dtype=bool),
        needs_rural=np.array([r.get("needs_rural", False) for r in rows], dtype=bool),
        min_insecurity=get("min_insecurity", 0.0),
        skill_mask=np.array([np.broadcast_to(r.get("skill_mask", True), (3,)) for r in rows],
                            dtype=bool).reshape(k, 3),
        # a rationed pathway is as good as the chance of getting one of its places (refresh)
        base_success=get("success", 1.0),
        route_legs=route_legs,
        wage_prior_usd=wage_prior,
        success_prior=np.array([r.get("success_prior", r.get("success", 1.0)) for r in rows], dtype=float),
        key=np.array([option_key(r) for r in rows], dtype=np.uint64),
        routes=_route_nests(rows, b),
    )


def _route_nests(rows: list[dict], b) -> "RouteNests":
    """Smuggling routes to the same destination share a nest (decisions.RouteNests)."""
    from .decisions import RouteNests

    dests = sorted({r["dest"] for r in rows if r["channel"] == SMUGGLED})
    index = {d: g for g, d in enumerate(dests)}
    group = np.array([index[r["dest"]] if r["channel"] == SMUGGLED else -1 for r in rows], dtype=np.int64)
    key = np.array([zlib.crc32(f"route-nest:{d}".encode()) for d in dests], dtype=np.uint64)
    return RouteNests(group=group, key=key, scale=float(b.get("route_nest_scale", 1.0)))


def option_key(row: dict) -> int:
    """A stable code for an option: what it is (a route by the countries it passes), not
    where it sits in the list or in the world's route table."""
    mask = "".join("1" if x else "0" for x in np.broadcast_to(row.get("skill_mask", True), (3,)))
    return zlib.crc32(f"{row['channel']}:{row['dest']}:{row.get('path', '')}:{row.get('skills', False)}:{mask}"
                      .encode())
