"""Regular placement: internal moves, quotas, visas, recruiters (fees, deception).

Set-up (:func:`setup_quotas`) turns the corridor rules' annual places into monthly
budgets of real people (model.quota_keys, quota_annual, quota_budget, quota_cap,
quota_demand, expected_demand); :func:`propensity_table` says which household member
leaves by channel, with gender-responsive policy lifting women's propensities toward
men's on the regular channels (GCM objective 1).

Monthly (:func:`step`) reads the movers chosen this month, corridor rules
(refusal, visa fees, travel costs, multi-entry), quota budgets, recruiters, wages;
writes households (assets, debt, members, rural, base income on internal moves),
migrants (new records in state ``pending`` until the visa wait is over), quota
budgets and the measures visa_applications, visas_granted, visas_refused,
recruitment_fees_usd, trafficking_victims, departures_internal.

Quotas are first come, first served in a random order (stream ``queue``), the
applicant who crosses the budget admitted with the chance of the room left
(``ration``). A quota's applicants queue together across every shard that holds its origin's
households (:func:`ration_queues`, an exchange where an origin is split over shards). A refused applicant loses the visa fee. Recruiters charge the licensed
or an unlicensed fee and unlicensed ones deceive a share into exploitation (ILO 2016;
Martin 2016). The draws decide which records are exploited; ``trafficking_victims`` counts
the expected number (each labour placement's weight x the share placed by unlicensed
sub-agents x their deception rate), as deaths are counted by implicit capture, so that a
few records of thousands of people do not decide the measure (docs/decisions.md).
Streams: ``queue``, ``ration``, ``member``, ``child_sex``, ``visa``, ``recognition``,
``recruiter``, ``deception``, all keyed to the household.
"""

from __future__ import annotations

import numpy as np

from ..agents.households import member_draw, member_sex_age
from ..categories import (ADULT, FAMILY, FEMALE, HUMANITARIAN, INTERNAL, LABOUR, MALE, MEMBER_AGE, MEMBER_SEX,
                          PENDING, SMUGGLED, VISITOR, YOUTH)
from ..exchange import add_parts, merged, shared
from ..population import origin_counts
from .recording import record_people

CHANNEL_NAMES = ("labour", "family", "humanitarian", "visitor", "regional", "smuggled", "overstay")
GENDER_CHANNELS = ("labour", "visitor", "regional")  # regular ways of leaving that gender policy opens


def ration(weight: np.ndarray, budget: float, u: np.ndarray) -> np.ndarray:
    """First come, first served within a budget of real people.

    Applicants (in queue order) whose cumulative weight fits are admitted; the one that
    crosses the budget is admitted when its own uniform ``u`` is below (room left / its
    weight), so admissions equal the budget in expectation whatever the household weights.
    """
    cum = np.cumsum(weight)
    ok = cum <= budget
    k = int(ok.sum())
    if k < len(weight) and budget > 0:
        room = budget - (cum[k - 1] if k else 0.0)
        ok[k] = u[k] < room / weight[k]
    return ok


def propensity_table(world, cfg) -> np.ndarray:
    """Member propensities by channel [7, 5]; gender-responsive policy lifts women's toward men's."""
    table = np.array([world.member_propensity[name] for name in CHANNEL_NAMES], dtype=float)
    g = cfg.policy.inclusion.gender_responsive
    if g > 0:
        sex, age = np.asarray(MEMBER_SEX), np.asarray(MEMBER_AGE)
        for ch in GENDER_CHANNELS:
            row = table[CHANNEL_NAMES.index(ch)]
            for a in (YOUTH, ADULT):
                f = np.flatnonzero((sex == FEMALE) & (age == a))
                m = np.flatnonzero((sex == MALE) & (age == a))
                row[f] += g * np.maximum(row[m] - row[f], 0.0)
    return table


def _quota_table(model) -> tuple[dict, np.ndarray]:
    """Quota keys and annual places (real people) of the corridor rules in force."""
    r, n = model.rules, len(model.world.codes)
    keys, annual = {}, []
    for o in (model.world.index[c] for c in model.world.with_role("origin")):  # every shard alike
        for d in range(n):
            if o == d:
                continue
            for kind, q in (("labour", r.labour_quota_year[o, d]), ("skills", r.skills_quota_year[o, d]),
                            ("family", r.family_quota_year[o, d] if r.exists[o, d] else 0.0),
                            ("humanitarian", r.humanitarian_quota_year[o, d])):
                if q > 0:
                    keys[(kind, o, d)] = len(annual)
                    annual.append(q)
            for level in range(3):
                q = r.labour_skill_quota_year[level, o, d]
                if q > 0:
                    keys[("labour_skill", o, d, level)] = len(annual)
                    annual.append(q)
    return keys, np.asarray(annual, dtype=float)


def _quota_cap(model, keys: dict, annual: np.ndarray) -> np.ndarray:
    # unused places carry over up to half a year's quota, or two households' weight when a
    # simulated household stands for more people than that (so rationing stays unbiased)
    origins, _, weights = origin_counts(model.world, model.cfg)
    weight_of = dict(zip(origins, weights.astype(np.float32)))  # as households hold them
    w_origin = np.array([weight_of[k[1]] for k in keys])
    return np.maximum(annual / 2, 2 * w_origin) if keys else np.zeros(0)


def setup_quotas(model) -> None:
    """Quota budgets in real people, topped up monthly (stochastic use keeps the annual mean)."""
    keys, annual = _quota_table(model)
    model.quota_keys = keys
    model.quota_annual = annual
    model.quota_cap = _quota_cap(model, keys, annual)
    model.quota_budget = model.quota_annual / 12.0
    model.quota_demand = model.quota_annual / 12.0  # smoothed monthly applicants, real people
    model.expected_demand = np.zeros_like(model.quota_annual)


def update_quotas(model) -> None:
    """Quotas after a policy change (mechanisms/timing.py): a corridor that keeps a quota keeps
    its unused places (up to the new cap) and its applicants; a new quota starts as at set-up;
    a quota cut to 0 is gone (its option leaves the choice set)."""
    keys, annual = _quota_table(model)
    cap = _quota_cap(model, keys, annual)
    budget, demand, expected = annual / 12.0, annual / 12.0, np.zeros_like(annual)
    for key, i in keys.items():
        j = model.quota_keys.get(key)
        if j is not None:
            budget[i] = min(model.quota_budget[j], cap[i])
            demand[i] = model.quota_demand[j]
            expected[i] = model.expected_demand[j]
    model.quota_keys, model.quota_annual, model.quota_cap = keys, annual, cap
    model.quota_budget, model.quota_demand, model.expected_demand = budget, demand, expected


def step(model, movers, month: int):
    """A generator: the quotas' queues are exchanged where origins are split over shards."""
    hh, draws = model.households, model.draws
    queued, parts = [], []
    for o, opts, idx, col in movers:
        ch = opts.channel[col]
        move_internal(model, idx[ch == INTERNAL])
        reg = (ch != INTERNAL) & (ch != SMUGGLED)
        idx, col = idx[reg], col[reg]
        if not len(idx):
            continue
        # quotas: first come, first served in a random order keyed to the household
        u = draws.uniform("queue", month, hh.uid[idx])
        order = np.argsort(u, kind="stable")
        idx, col, u = idx[order], col[order], u[order]
        queued.append((o, opts, idx, col))
        q = opts.quota[col]
        parts.append({"key": q[q >= 0], "uid": hh.uid[idx[q >= 0]], "weight": hh.weight[idx[q >= 0]],
                      "queue": u[q >= 0]})
    applicants = {k: np.concatenate([p[k] for p in parts]) if parts else np.empty(0, t)
                  for k, t in (("key", np.int64), ("uid", np.int64), ("weight", np.float32), ("queue", float))}
    part = {"demand": model.expected_demand, "budget": model.quota_budget, **applicants,
            "ration": draws.uniform("ration", month, applicants["uid"])}
    answer = yield from shared(model, "quota_queues", part, ration_queues)
    # applicants per place, smoothed: what households expect their chances to be. The
    # expected demand (choice probabilities x weights) is used rather than the realised
    # choices, so the belief does not depend on how many households are simulated.
    keep = model.b["belief_memory"]
    demand = np.maximum(answer["demand"], model.quota_annual / 12)
    model.quota_demand = keep * model.quota_demand + (1 - keep) * demand
    model.expected_demand = np.zeros_like(model.quota_annual)
    model.quota_budget = answer["budget"]
    for o, opts, idx, col in queued:
        ok = (opts.quota[col] < 0) | np.isin(hh.uid[idx], answer["admitted"])
        place(model, o, opts, idx[ok], col[ok], month)


def ration_queues(parts: list[dict]) -> dict:
    """Every quota's applicants of all shards in one queue (by their ``queue`` draw, then uid:
    the order one process sorts them by), rationed within the quota's budget (:func:`ration`).
    Returns the expected demand summed over the shards, the budgets left and the uids admitted."""
    a = merged(parts, ("key", "uid", "weight", "queue", "ration"), by=("queue", "uid"))
    budget = parts[0]["budget"].copy()
    ok = np.zeros(len(a["uid"]), bool)
    for key in np.unique(a["key"]):
        sel = np.flatnonzero(a["key"] == key)
        ok[sel] = ration(a["weight"][sel], budget[key], a["ration"][sel])
        budget[key] -= a["weight"][sel][ok[sel]].sum()
    return {"demand": add_parts([p["demand"] for p in parts]), "budget": budget, "admitted": np.sort(a["uid"][ok])}


def place(model, o: int, opts, idx: np.ndarray, col: np.ndarray, month: int) -> None:
    """Applicants ``idx`` of origin ``o`` who passed the quotas: visas, recruiters, departure."""
    hh, m, draws = model.households, model.migrants, model.draws
    if not len(idx):
        return
    uid = hh.uid[idx]
    member = member_draw(hh.members[idx], model.propensity_table[opts.channel[col]],
                         draws.uniform("member", month, uid))
    has = member >= 0
    idx, col, member, uid = idx[has], col[has], member[has], uid[has]
    if not len(idx):
        return
    ch, dest = opts.channel[col], opts.dest[col].astype(np.int64)
    w = hh.weight[idx]
    visa = (opts.refusal[col] > 0) | np.isin(ch, (LABOUR, FAMILY, HUMANITARIAN)) | \
           ((ch == VISITOR) & model.rules.visa_required[o, dest])
    granted = draws.uniform("visa", month, uid) >= opts.refusal[col]
    for name, sel in (("visa_applications", visa), ("visas_granted", visa & granted),
                      ("visas_refused", visa & ~granted)):
        model.recorder.add(name, w[sel], origin=o, destination=dest[sel], channel=ch[sel])
    # refused applicants lose the visa fee and stay
    fee = np.where(visa, model.rules.visa_fee_usd[o, dest], 0.0)
    hh.pay(idx[~granted], fee[~granted])
    idx, col, member, ch, dest, w, uid = (x[granted] for x in (idx, col, member, ch, dest, w, uid))
    if not len(idx):
        return
    travel = model.rules.travel_cost_usd[o, dest]
    labour = ch == LABOUR
    skills_route = opts.skills_route[col]
    skill = np.where(skills_route, 1, hh.skill[idx])
    recognised = (skills_route | hh.trained[idx]
                  | (draws.uniform("recognition", month, uid) < model.b["skill_recognition"]))
    sector = np.where(recognised, skill, 0)
    wage = model.wage[dest, sector]
    rec_fee = np.zeros(len(idx))
    trafficked = np.zeros(len(idx), bool)
    lab = np.flatnonzero(labour & ~skills_route)
    if len(lab):
        paid, trafficked[lab] = model.recruiters[o].place(
            opts.recruitment_fee_usd[col[lab]], model.wage[dest[lab], 0],
            draws.uniform("recruiter", month, uid[lab]), draws.uniform("deception", month, uid[lab]))
        rec_fee[lab] = paid
        rec = model.recorder
        rec.add_running("recruitment_months_num", o, float((w[lab] * paid / wage[lab]).sum()))
        rec.add_running("recruitment_months_den", o, float(w[lab].sum(dtype=np.float64)))
        rec.add_running("trafficked_drawn", o, float(w[lab][trafficked[lab]].sum(dtype=np.float64)))
    hh.pay(idx, fee[granted] + travel + rec_fee)
    hh.leave(idx, member)
    sex, age = member_sex_age(member, draws.uniform("child_sex", month, uid))
    rows = m.add(len(idx), uid=hh.new_migrant_ids(idx), household=idx, origin=o, destination=dest,
                 channel=ch, sex=sex, age=age, skill=skill, weight=w, state=PENDING, location=o,
                 months_left=opts.delay_months[col], employed=labour, wage_usd=np.where(labour, wage, 0.0),
                 debt_usd=0.0, multi_entry=model.rules.multi_entry[o, dest] | model.rules.regional[o, dest],
                 trafficked=trafficked, skill_recognised=recognised)
    model.recorder.add("recruitment_fees_usd", w * rec_fee, origin=o, destination=dest, channel=ch,
                       sex=sex, age=age)
    if len(lab):  # expected victims (weight x share deceived), as deaths are counted: docs/decisions.md
        record_people(model, "trafficking_victims", rows[lab], value=w[lab] * model.recruiters[o].victim_share())


def move_internal(model, idx: np.ndarray) -> None:
    """A rural household moves to a city: urban earnings; it leaves a climate shock behind."""
    hh = model.households
    if not len(idx):
        return
    hh.pay(idx, np.full(len(idx), model.b["internal_move_cost_usd"]))
    hh.rural[idx] = False
    hh.exposed[idx] = False
    hh.earnings_per_adult_usd[idx] *= model.b["urban_income_premium"]
    hh.base_income_usd[idx] *= model.b["urban_income_premium"]
    hh.shock_loss[idx] = 0
    model.recorder.add("departures_internal", hh.weight[idx] * hh.members[idx].sum(axis=1),
                       origin=hh.country[idx], destination=hh.country[idx], channel=INTERNAL)
