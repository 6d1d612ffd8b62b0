"""Building the starting populations from the world data.

Households are drawn per origin (square-root allocation, weights restore real
totals); the observed diaspora stocks of ``corridors.csv`` become migrant records
abroad at month 1, tied to random households of their origin, so remittances,
returns and the irregular stock start at their real levels (DESIGN.md).
"""

from __future__ import annotations

import numpy as np

from .agents.households import Households, allocate, member_sex_age
from .agents.migrants import Migrants
from .categories import (ABROAD, FAMILY, IRREGULAR, LABOUR, MEMBERS, OVERSTAY, REGIONAL, REGULAR,
                         SMUGGLED)

# Typical composition of the people abroad before member propensities apply
# (female_youth, male_youth, female_adult, male_adult, child). ASSUMPTION.
STOCK_COMPOSITION = np.array([0.2, 0.2, 0.25, 0.25, 0.1])


def make_households(world, cfg, b, rng: np.random.Generator) -> Households:
    codes = world.codes
    origins = [world.index[c] for c in world.with_role("origin")]
    tab = world.countries
    pop = tab["population"].to_numpy(float)[origins]
    hh_size = tab["household_size"].to_numpy(float)[origins]
    counts = allocate(pop, cfg.run.households)
    country = np.repeat(np.asarray(origins, dtype=np.int16), counts)
    n = len(country)
    real_households = pop / hh_size
    weight = np.repeat(real_households / counts, counts)

    size_mean = tab["household_size"].to_numpy(float)[country]
    size = 1 + rng.poisson(np.maximum(size_mean - 1, 0.1))
    size = np.minimum(size, 15)
    adults = 1 + rng.binomial(size - 1, 0.5)
    children = size - adults
    youth = rng.binomial(adults, 0.4)
    f_youth = rng.binomial(youth, 0.5)
    f_adult = rng.binomial(adults - youth, 0.5)
    members = np.stack([f_youth, youth - f_youth, f_adult, adults - youth - f_adult, children], axis=1)

    rural_share = tab["rural_pct"].to_numpy(float)[country] / 100
    rural = rng.random(n) < rural_share
    farm_share = np.minimum(1.0, tab["agri_employment_pct"].to_numpy(float)[country] / 100
                            / np.maximum(rural_share, 1e-6))
    exposed = rural & (rng.random(n) < farm_share)

    # skill by rank of a latent productivity draw within each country
    z = rng.standard_normal(n)
    rank = np.empty(n)
    for c in origins:
        sel = np.flatnonzero(country == c)
        rank[sel] = np.argsort(np.argsort(z[sel])) / max(len(sel) - 1, 1)
    skill = np.where(rank >= 1 - b["skill_share_high"], 2,
                     np.where(rank >= 1 - b["skill_share_high"] - b["skill_share_mid"], 1, 0))
    wage = wage_table(world)[country, skill]
    sigma = b["income_sigma"]
    noise = np.exp(sigma * rng.standard_normal(n) - sigma ** 2 / 2)
    place = np.where(rural, b["rural_income_factor"], 1.0)
    income = np.maximum(adults, 1) * b["employment_per_adult"] * wage * noise * place
    assets = b["initial_assets_months"] * income * np.exp(rng.standard_normal(n) - 0.5)
    return Households(country=country, weight=weight, rural=rural, skill=skill, members=members,
                      base_income_usd=income, assets_usd=assets, exposed=exposed,
                      n_countries=len(codes), n_destinations=len(codes))


def wage_table(world) -> np.ndarray:
    """[n_countries, 3] monthly wages by skill (low, mid, high)."""
    t = world.countries
    return t[["wage_low_usd_month", "wage_mid_usd_month", "wage_high_usd_month"]].to_numpy(float)


def seed_stocks(world, rules, households: Households, migrants: Migrants, propensity: dict, b,
                rng: np.random.Generator) -> None:
    """Migrant records for the observed diaspora stocks, tied to households of their origin."""
    wage = wage_table(world)
    penalty = world.countries["informal_wage_penalty_pct"].to_numpy(float) / 100
    gcc = {world.index[c] for c in world.select("gcc")}
    for _, row in world.corridors.iterrows():
        o, d = world.index[row["origin"]], world.index[row["destination"]]
        hh = np.flatnonzero(households.country == o)
        if row["diaspora_stock"] <= 0 or not len(hh):
            continue
        w = float(households.weight[hh[0]])
        expected = row["diaspora_stock"] / w
        k = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
        if k == 0:
            continue
        who = rng.choice(hh, size=k)
        u = rng.random(k)
        irr = row["irregular_share_pct"] / 100
        asy = row["asylum_share_pct"] / 100
        status = np.where(u < irr + asy, np.where(u < irr, IRREGULAR, REGULAR), REGULAR).astype(np.int8)
        if rules.regional[o, d]:
            regular_channel = np.full(k, REGIONAL)
        elif d in gcc:
            regular_channel = np.full(k, LABOUR)
        else:
            regular_channel = np.where(rng.random(k) < 0.5, LABOUR, FAMILY)
        irregular_channel = np.where((d in gcc) | (rng.random(k) < 0.4), OVERSTAY, SMUGGLED)
        channel = np.where(u < irr, irregular_channel, np.where(u < irr + asy, SMUGGLED, regular_channel))
        member = np.empty(k, dtype=np.int64)
        for ch in np.unique(channel):
            sel = channel == ch
            name = ("labour", "family", "humanitarian", "visitor", "regional", "smuggled", "overstay")[ch]
            p = STOCK_COMPOSITION * np.asarray(propensity[name])
            member[sel] = rng.choice(len(MEMBERS), size=sel.sum(), p=p / p.sum())
        sex, age = member_sex_age(member, rng.random(k))
        skill = households.skill[who]
        recognised = rng.random(k) < b["skill_recognition"]
        sector = np.where(recognised & (status == REGULAR), skill, 0)
        job_wage = wage[d, sector] * np.where(status == IRREGULAR, 1 - penalty[d], 1.0)
        employed = rng.random(k) < b["initial_employed"]
        months_abroad = rng.integers(0, 120, size=k)
        target = b["return_savings_target_months"] * households.income_usd[who]
        migrants.add(k, household=who, origin=o, destination=d, channel=channel, sex=sex, age=age,
                     skill=skill, weight=w, state=ABROAD, status=status, location=d,
                     months_abroad=months_abroad, employed=employed, wage_usd=np.where(employed, job_wage, 0),
                     savings_usd=target * rng.random(k), multi_entry=bool(rules.multi_entry[o, d]),
                     skill_recognised=recognised,
                     has_id=(status != IRREGULAR) | (rng.random(k) < b["irregular_id_share"]))
        households.add_abroad(who, np.full(k, d), status == REGULAR, 1)
