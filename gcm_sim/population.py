"""Building the starting populations from the world data.

Households are drawn per origin (allocated by the sample design of
:func:`gcm_sim.agents.households.allocate`; weights restore real totals); the observed diaspora stocks of ``corridors.csv`` become migrant records
abroad at month 1, tied to random households of their origin, so remittances,
returns and the irregular stock start at their real levels (DESIGN.md); the optional
``transit.csv`` puts the baseline's stationary stock of people on irregular routes on
the road at month 1 (:func:`seed_transit`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .agents.households import Households, allocate, member_sex_age
from .agents.migrants import Migrants
from .draws import stream_code
from .categories import (ABROAD, FAMILY, IRREGULAR, LABOUR, MEMBERS, OVERSTAY, PROTECTED, REGIONAL, REGULAR,
                         SMUGGLED, TRANSIT)

# Typical composition of the people abroad before member propensities apply
# (female_youth, male_youth, female_adult, male_adult, child). ASSUMPTION.
STOCK_COMPOSITION = np.array([0.2, 0.2, 0.25, 0.25, 0.1])


def origin_counts(world, cfg) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(origin country indices, simulated households per origin, real households each stands
    for) under the run's sample design (:func:`gcm_sim.agents.households.allocate`)."""
    origins = [world.index[c] for c in world.with_role("origin")]
    real = real_households(world)
    if cfg.run.scale > 0:  # run.scale: the same share of every origin's real households
        counts = scaled_counts(real, cfg.run.scale)
    else:
        rates = np.array([world.sampling.get(c, np.nan) for c in world.with_role("origin")]) if world.sampling else None
        counts = allocate(real, cfg.run.households, rates)
    return origins, counts, real / counts


def real_households(world) -> np.ndarray:
    """Real households of each origin (population / household size), in world order."""
    tab = world.countries.loc[list(world.with_role("origin"))]
    return tab["population"].to_numpy(float) / tab["household_size"].to_numpy(float)


def scaled_counts(real: np.ndarray, scale: float) -> np.ndarray:
    """Simulated households per origin at ``scale`` simulated per real household (at least one)."""
    return np.maximum(np.rint(np.asarray(real) * scale), 1).astype(np.int64)


class Unit(NamedTuple):
    """One block of an origin's households: the part a shard holds (:func:`origin_units`)."""

    origin: int     # country index
    block: int      # 0, 1, ... within the origin
    blocks: int     # the origin's number of blocks
    n: int          # simulated households in the block
    first_uid: int  # uid of its first household (uids run on through the origin's blocks)
    origin_n: int   # simulated households of the whole origin
    weight: float   # real households each of the origin's simulated ones stands for


def origin_units(world, cfg) -> list[Unit]:
    """Every origin's households in blocks of at most ``run.block_households`` (as equal as
    possible), in world order. A block is drawn from its own stream, so which shard holds it
    does not change it; an origin of one block is drawn as a whole (streams keyed to the
    origin alone), so runs whose origins all fit one block are unchanged by blocking."""
    origins, counts, weights = origin_counts(world, cfg)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    out = []
    for o, n, f, w in zip(origins, counts.tolist(), first.tolist(), weights):
        sizes = block_sizes(n, cfg.run.block_households)
        k = len(sizes)
        starts = np.r_[0, np.cumsum(sizes)[:-1]].tolist()
        out += [Unit(o, b, k, size, f + s, n, w) for b, (size, s) in enumerate(zip(sizes, starts))]
    return out


def block_sizes(n: int, most: int) -> list[int]:
    """The sizes of the fewest blocks of at most ``most`` that ``n`` households split into, as
    equal as possible (the first ones one larger)."""
    k = max(-(-n // most), 1)
    return [n // k + (b < n % k) for b in range(k)]


def shard_units(world, cfg, held) -> tuple[tuple[tuple[int, int], ...] | None, bool]:
    """The (origin, block) pairs of a shard holding ``held`` (origins, each with all its blocks,
    or (origin, block) pairs), and whether the run may split an origin over shards (some origin
    has several blocks), in which case the shards exchange what sums over an origin's
    households (:func:`gcm_sim.exchange.shared`). ``held`` None (one process): (None, False)."""
    if held is None:
        return None, False
    units = origin_units(world, cfg)
    pairs = set()
    for h in held:
        pairs |= {h} if isinstance(h, tuple) else {(u.origin, u.block) for u in units if u.origin == int(h)}
    return tuple(sorted((int(o), int(b)) for o, b in pairs)), any(u.blocks > 1 for u in units)


def unit_generator(draws, stream: str, unit: Unit, *key: int) -> np.random.Generator:
    """The set-up stream ``stream`` (origin, ``key``...) of a block: with the block appended
    when its origin is split in blocks, the origin's own stream when it is whole."""
    return draws.generator(stream, unit.origin, *key, *((unit.block,) if unit.blocks > 1 else ()))


def make_households(world, cfg, b, draws, only=None) -> Households:
    """Households of every origin (or of the blocks ``only``, (origin, block) pairs: one shard of
    a sharded run), each block drawn from its own stream (:func:`unit_generator`): a block's
    households depend neither on the other blocks nor on the policy, and keep their uids on any
    shard. ``households.units`` lists the blocks held, with their rows."""
    tab = world.countries
    units = [u for u in origin_units(world, cfg) if only is None or (u.origin, u.block) in only]
    wage = wage_table(world)
    # each block's columns in their final types, then one copy into the arrays (the build's
    # peak memory is then about twice those columns, not a float64 copy of each: docs/scale.md)
    parts = [_origin_households(tab.iloc[u.origin], b, u.n, unit_generator(draws, "households", u),
                                wage[u.origin]) for u in units]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    del parts
    uid = np.concatenate([u.first_uid + np.arange(u.n, dtype=np.int64) for u in units])
    sizes = [u.n for u in units]
    country = np.repeat(np.asarray([u.origin for u in units], dtype=np.int16), sizes)
    weight = np.repeat(np.asarray([u.weight for u in units]).astype(np.float32), sizes)
    hh = Households(country=country, weight=weight, rural=cols["rural"], skill=cols["skill"],
                    members=cols["members"], base_income_usd=cols["income"], assets_usd=cols["assets"],
                    exposed=cols["exposed"], n_countries=len(world.codes), uid=uid,
                    destinations=member_destinations(world))
    lo = np.r_[0, np.cumsum(sizes)[:-1]].tolist()
    hh.units = [(u, s, s + u.n) for u, s in zip(units, lo)]
    return hh


def member_destinations(world) -> list[int]:
    """Countries a household's member can live in abroad: the world's destinations (corridors.csv
    and the routes lead only there). Transit countries hold people in transit, not ties."""
    return sorted({world.index[c] for c in world.with_role("destination")}
                  | {world.index[r.destination] for r in world.routes})


def _origin_households(row, b, n: int, rng: np.random.Generator, wage: np.ndarray) -> dict:
    """One origin's households: size and members, rural and farm exposure, skill, income (``wage``:
    the origin's monthly wage by skill) and assets."""
    size = np.minimum(1 + rng.poisson(max(float(row["household_size"]) - 1, 0.1), n), 15)
    adults = 1 + rng.binomial(size - 1, 0.5)
    youth = rng.binomial(adults, 0.4)
    members = np.empty((n, 5), dtype=np.int8, order="F")  # column-major, as Households keeps them
    members[:, 0] = f_youth = rng.binomial(youth, 0.5)
    members[:, 1] = youth - f_youth
    del f_youth
    members[:, 2] = f_adult = rng.binomial(adults - youth, 0.5)
    members[:, 3] = adults - youth - f_adult
    del f_adult, youth
    members[:, 4] = size - adults
    del size
    rural_share = float(row["rural_pct"]) / 100
    rural = rng.random(n) < rural_share
    farm_share = min(1.0, float(row["agri_employment_pct"]) / 100 / max(rural_share, 1e-6))
    exposed = rural & (rng.random(n) < farm_share)
    # skill by rank of a latent productivity draw within the origin
    rank = np.argsort(np.argsort(rng.standard_normal(n))) / max(n - 1, 1)
    skill = np.where(rank >= 1 - b["skill_share_high"], 2,
                     np.where(rank >= 1 - b["skill_share_high"] - b["skill_share_mid"], 1, 0)).astype(np.int8)
    del rank
    sigma = b["income_sigma"]
    noise = np.exp(sigma * rng.standard_normal(n) - sigma ** 2 / 2)
    asset_noise = np.exp(rng.standard_normal(n) - 0.5)
    place = np.where(rural, b["rural_income_factor"], 1.0)
    income = np.maximum(adults, 1) * b["employment_per_adult"] * wage[skill] * noise * place
    assets = b["initial_assets_months"] * income * asset_noise
    return dict(members=members, rural=rural, exposed=exposed, skill=skill, income=income.astype(np.float32),
                assets=assets.astype(np.float32))


def wage_table(world) -> np.ndarray:
    """[n_countries, 3] monthly wages by skill (low, mid, high)."""
    t = world.countries
    return t[["wage_low_usd_month", "wage_mid_usd_month", "wage_high_usd_month"]].to_numpy(float)


def seed_stocks(world, rules, households: Households, migrants: Migrants, propensity: dict, b, draws) -> None:
    """Migrant records for the observed diaspora stocks, tied to households of their origin.

    Each corridor draws from its own stream (``stocks``, origin, destination), and the
    same draws whatever the policy: a lever changes what a record is (its channel), not
    which random numbers later corridors see.
    """
    wage = wage_table(world)
    penalty = world.countries["informal_wage_penalty_pct"].to_numpy(float) / 100
    gcc = {world.index[c] for c in world.select("gcc")}
    for (_, row), (unit, lo, hi) in _per_unit(world.corridors, households, world.index):
        o, d = unit.origin, world.index[row["destination"]]
        hh = np.arange(lo, hi)
        if row["diaspora_stock"] <= 0:
            continue
        rng = unit_generator(draws, "stocks", unit, d)
        w = float(households.weight[hh[0]])
        expected = row["diaspora_stock"] * (unit.n / unit.origin_n) / w  # the block's share of the stock
        k = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
        if k == 0:
            continue
        who = _stock_households(hh, households.skill[hh], float(row.get("stock_tertiary_pct", np.nan)), k, rng)
        u, u_channel, u_irregular, u_member, u_child, u_recognised, u_employed, u_saved, u_id = rng.random((9, k))
        irr = row["irregular_share_pct"] / 100
        asy = row["asylum_share_pct"] / 100
        # the asylum share holds temporary protection where the pair grants it to the group (Turkey's
        # Syrians: Temporary Protection Regulation 2014), else a recognised (regular) status
        protected = PROTECTED if rules.group_protection[o, d] else REGULAR
        status = np.where(u < irr + asy, np.where(u < irr, IRREGULAR, protected), REGULAR).astype(np.int8)
        if rules.regional[o, d]:
            regular_channel = np.full(k, REGIONAL)
        elif d in gcc:
            regular_channel = np.full(k, LABOUR)
        else:
            regular_channel = np.where(u_channel < 0.5, LABOUR, FAMILY)
        irregular_channel = np.where((d in gcc) | (u_irregular < 0.4), OVERSTAY, SMUGGLED)
        channel = np.where(u < irr, irregular_channel, np.where(u < irr + asy, SMUGGLED, regular_channel))
        member = np.empty(k, dtype=np.int64)
        for ch in np.unique(channel):
            sel = channel == ch
            name = ("labour", "family", "humanitarian", "visitor", "regional", "smuggled", "overstay")[ch]
            p = STOCK_COMPOSITION * np.asarray(propensity[name])
            cum = np.cumsum(p / p.sum())
            member[sel] = np.minimum(np.searchsorted(cum, u_member[sel], side="right"), len(MEMBERS) - 1)
        sex, age = member_sex_age(member, u_child)
        skill = households.skill[who]
        recognised = u_recognised < b["skill_recognition"]
        sector = np.where(recognised & (status == REGULAR), skill, 0)
        job_wage = wage[d, sector] * np.where(status == IRREGULAR, 1 - penalty[d], 1.0)
        employed = u_employed < b["initial_employed"]
        months_abroad = rng.integers(0, 120, size=k)
        target = b["return_savings_target_months"] * households.income_usd[who]
        migrants.add(k, uid=households.new_migrant_ids(who), household=who, origin=o, destination=d, channel=channel, sex=sex, age=age,
                     skill=skill, weight=w, state=ABROAD, status=status, location=d,
                     months_abroad=months_abroad, employed=employed, wage_usd=np.where(employed, job_wage, 0),
                     savings_usd=target * u_saved, multi_entry=bool(rules.multi_entry[o, d]),
                     skill_recognised=recognised,
                     has_id=(status != IRREGULAR) | (u_id < b["irregular_id_share"]))
        households.add_abroad(who, np.full(k, d), status == REGULAR, 1)


def _per_unit(table, households: Households, index: dict):
    """(row of ``table``, (unit, first row, end row)) for each row and each block of its
    ``origin`` the households hold: rows in table order, an origin's blocks in order."""
    held: dict[int, list] = {}
    for unit, lo, hi in households.units:
        held.setdefault(unit.origin, []).append((unit, lo, hi))
    for item in table.iterrows():
        for part in held.get(index[item[1]["origin"]], ()):
            if part[2] > part[1]:
                yield item, part


def _stock_households(hh: np.ndarray, skill: np.ndarray, tertiary_pct: float, k: int,
                      rng: np.random.Generator) -> np.ndarray:
    """The households of a corridor's ``k`` stock records, drawn with replacement from ``hh``.

    Without a figure (``tertiary_pct`` NaN) uniformly, so the stock has its origin's skill mix.
    With one, a record is from a high-skill household with chance ``tertiary_pct`` / 100 and
    otherwise from the others: emigrants are selected on education, and by corridor (80% of
    Indian immigrants in the US aged 25+ hold a bachelor's degree or more: MPI 2022; just
    over half of Filipino ones: MPI 2010; the population of India far fewer), so a stock drawn
    from the origin's mix earns and remits as if it were its origin's average (SOURCES.md,
    ``stock_tertiary_pct``).
    """
    high, rest = hh[skill == 2], hh[skill != 2]
    if not np.isfinite(tertiary_pct) or not len(high) or not len(rest):
        return hh[rng.integers(0, len(hh), size=k)]
    pick_high = rng.random(k) < tertiary_pct / 100
    return np.where(pick_high, high[rng.integers(0, len(high), size=k)], rest[rng.integers(0, len(rest), size=k)])


def seed_transit(world, households: Households, migrants: Migrants, propensity: dict, leg_months: np.ndarray,
                 draws) -> None:
    """Migrant records for the people already on irregular routes at month 1 (``transit.csv``).

    A journey takes months and people wait in transit countries for a crossing (Libya,
    Niger, Mexico), so a run that starts with nobody on the road has too few crossings and
    deaths in its first two years. The world's ``transit.csv`` holds the baseline's own
    stationary stock on each route and leg (people per real household of the origin, moving
    or waiting, and the cash they carry), measured by ``gcm-sim bench design`` after ten
    years; it is seeded here like the diaspora stocks: stochastically rounded record counts,
    random households of the origin, each row from its own stream (``transit_stock``,
    origin, route path, leg, moving), whatever the policy. People under way are part of the way
    through their leg (uniform); waiting people are stranded where the leg starts.
    """
    if world.transit is None:
        return
    codes = world.index
    for (_, row), (unit, lo, hi) in _per_unit(world.transit, households, world.index):
        o = unit.origin
        hh = np.arange(lo, hi)
        if row["people_per_household"] <= 0:
            continue
        r = world.route_index[row["route"]]
        route = world.routes[r]
        leg = int(row["leg"])
        # keyed by the route's path, not its position, so a world with one more leg seeds the same people
        rng = unit_generator(draws, "transit_stock", unit, stream_code(row["route"]), leg, int(row["moving"]))
        w = float(households.weight[hh[0]])
        expected = row["people_per_household"] * float(households.weight[hh].sum()) / w
        k = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
        if k == 0:
            continue
        who = hh[rng.integers(0, len(hh), size=k)]
        u_member, u_child, u_left = rng.random((3, k))
        p = STOCK_COMPOSITION * np.asarray(propensity["smuggled"])
        member = np.minimum(np.searchsorted(np.cumsum(p / p.sum()), u_member, side="right"), len(MEMBERS) - 1)
        sex, age = member_sex_age(member, u_child)
        leg_id = route.legs[leg]
        moving = bool(row["moving"])
        migrants.add(k, uid=households.new_migrant_ids(who), household=who, origin=o,
                     destination=codes[route.destination], channel=SMUGGLED, sex=sex, age=age,
                     skill=households.skill[who], weight=w, state=TRANSIT, route=r, leg=leg,
                     location=codes[world.legs.at[leg_id, "from"]], moving=moving,
                     tries=0 if moving else 1,  # people waiting on a leg have tried it (journeys.attempt_legs)
                     months_left=(u_left * leg_months[leg_id]) if moving else 0.0,
                     cash_usd=float(row["cash_usd"]))
