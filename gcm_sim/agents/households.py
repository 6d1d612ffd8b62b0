"""Origin households as a struct of arrays (the fast engine's population).

Each simulated household stands for ``weight`` real households of its country.
Households are allocated to origins by a sample design (:func:`allocate`): half for
equal precision of every origin's flows, half for the world totals, from the origins'
departure rates in the world's ``sampling.csv`` (square-root allocation without one);
weights restore real totals. Results are always reported in real people.

Income is earned at home by the adults present (wage by skill from the world data,
lognormal spread), so it falls when an adult leaves and recovers when one comes back;
a share is saved as assets, which finance moves (the liquidity
constraint of DESIGN.md). Climate shocks cut income and assets of exposed rural
households; development programmes raise income and skills.
"""

from __future__ import annotations

import numpy as np

from ..categories import CHILD, MEMBER_AGE, MEMBER_SEX, MEMBERS


MIN_HOUSEHOLDS = 20   # per origin, whatever the design
ORIGIN_SHARE = 0.5    # share of the sample that buys equal precision for every origin (the rest: world totals)


def allocate(real_households: np.ndarray, n: int, movers_per_household_year: np.ndarray | None = None) -> np.ndarray:
    """Simulated households per origin for a sample of ``n`` (docs/running.md, "Sample design").

    With the origins' rates of international departures per household (``sampling.csv``),
    half the sample is allocated so that every origin expects the same number of simulated
    movers (n_c proportional to 1 / rate_c: equal precision for each origin's flows, which
    oversamples the origins whose households rarely leave) and half by Neyman allocation
    for the world totals (n_c proportional to N_c * sqrt(rate_c), the allocation with the
    least variance for a total of Poisson-like counts; Cochran 1977, *Sampling
    Techniques*, 5.5). Without rates, square-root allocation (Kish 1965, 7.3). Every
    origin gets at least ``MIN_HOUSEHOLDS``; weights carry the sample back to real totals.
    """
    N = np.asarray(real_households, dtype=float)
    if movers_per_household_year is None or not np.isfinite(movers_per_household_year).any():
        share = np.sqrt(N) / np.sqrt(N).sum()
    else:
        rate = np.asarray(movers_per_household_year, dtype=float)
        rate = np.where(np.isfinite(rate), rate, np.nanmedian(rate))  # an origin the design does not know
        rate = np.maximum(rate, 1e-4)
        equal = (1 / rate) / (1 / rate).sum()
        neyman = N * np.sqrt(rate) / (N * np.sqrt(rate)).sum()
        share = ORIGIN_SHARE * equal + (1 - ORIGIN_SHARE) * neyman
    return _round_to(share, n, MIN_HOUSEHOLDS)


def _round_to(share: np.ndarray, n: int, least: int) -> np.ndarray:
    """Whole counts with the given shares that add up to ``n`` (largest remainders), each >= ``least``."""
    k = len(share)
    n = max(n, least * k)
    fixed = np.zeros(k, bool)
    while True:  # origins held at the minimum leave the rest of the sample to the others
        free = n - least * fixed.sum()
        target = np.where(fixed, least, share * free / share[~fixed].sum())
        low = ~fixed & (target < least)
        if not low.any():
            break
        fixed |= low
    counts = np.where(fixed, least, np.floor(target)).astype(np.int64)
    rest = n - counts.sum()
    order = np.argsort(-(target - np.floor(target)) * ~fixed, kind="stable")
    counts[order[:rest]] += 1
    return counts


class Households:
    """Struct-of-arrays origin households (fast engine)."""

    def __init__(self, *, country, weight, rural, skill, members, base_income_usd, assets_usd,
                 exposed, n_countries: int, n_destinations: int | None = None, uid=None, destinations=None):
        n = len(country)
        self.n = n
        # the household's identity: keys its random draws (gcm_sim.draws), whatever row it sits in
        self.uid = np.arange(n, dtype=np.int64) if uid is None else np.asarray(uid, dtype=np.int64)
        self.records = np.zeros(n, np.int32)             # migrant records made so far (their uid's low bits)
        self.country = country.astype(np.int16)          # index into world.codes
        self.weight = weight.astype(np.float32, copy=False)  # real households represented
        self.rural = rural.astype(np.bool_)
        self.skill = skill.astype(np.int8)               # 0 low, 1 mid, 2 high
        # [n, 5] people at home by MEMBERS; column-major, so sums over members add five
        # contiguous columns (18x faster than reducing 5-byte rows at 1M households)
        self.members = np.asfortranarray(members, dtype=np.int8)  # (no copy when given so)
        self.base_income_usd = base_income_usd.astype(np.float32, copy=False)  # monthly, before shocks
        # what each adult at home earns: the household's base income follows its earners
        self.earnings_per_adult_usd = (self.base_income_usd / np.maximum(self._adults(slice(None)), 1)).astype(np.float32)
        self.income_usd = self.base_income_usd.copy()
        self.assets_usd = assets_usd.astype(np.float32, copy=False)
        self.debt_usd = np.zeros(n, np.float32)
        self.exposed = exposed.astype(np.bool_)          # climate-exposed (rural, farm income)
        self.shock_loss = np.zeros(n, np.float32)        # current income loss share
        self.shock_until = np.zeros(n, np.int32)
        self.shocked = np.empty(0, np.int64)             # rows hit by a shock that is not over
        self.shock_direct = np.zeros(n, np.bool_)        # ... directly exposed (not only through the local economy)
        self.assisted = np.zeros(n, np.bool_)
        self.programme = np.zeros(n, np.bool_)           # in an origin employment programme
        self.trained = np.zeros(n, np.bool_)             # skills from vocational training / partnership
        # own members abroad, and those of them with regular status, by destination: one column per
        # country a member can be in (``destinations``; dest_slot maps a country to its column, -1: none)
        destinations = np.arange(n_destinations or n_countries) if destinations is None else np.asarray(destinations)
        self.dest_slot = np.full(n_countries, -1, np.int64)
        self.dest_slot[destinations] = np.arange(len(destinations))
        self.abroad = np.zeros((n, len(destinations)), np.int8)
        self.abroad_regular = np.zeros((n, len(destinations)), np.int8)
        self.remittances_usd = np.zeros(n, np.float32)   # received this month
        # members who rejoined from a record that carried less than a whole member's weight (a
        # traveller's dead share split off on a leg, journeys.attempt_legs): the part of them that
        # did not come back, so people at home = (members - absent) x weight exactly
        self.absent = np.zeros(n, np.float32)
        self.retry_left = np.zeros(n, np.int16)          # months of raised propensity to try again after a
                                                         # member's forced return (mechanisms/returns.return_home)
        self.retry_leg = np.full(n, -1, np.int16)        # the leg a returned member was caught on (-1: none)
        self.retry_route = np.full(n, -1, np.int16)      # ... and the route (mechanisms/choice.reattempts)
        # households are stored in contiguous blocks by country (built so, never reordered)
        if np.any(np.diff(self.country) < 0):
            raise ValueError("households must be ordered by country")
        self.block_country, self.block_start = np.unique(self.country, return_index=True)
        self.block_end = np.append(self.block_start[1:], n)
        self.n_countries = n_countries

    # --- reading ---
    def people(self) -> np.ndarray:
        return self.members.sum(axis=1, dtype=np.int16)

    def real_people(self) -> np.ndarray:
        """Real people at home per row: (members - absent) x weight, in float64."""
        return (self.people() - self.absent.astype(np.float64)) * self.weight
    def blocks(self):
        """``(country, first row, end row)`` of each country's contiguous block of households."""
        return zip(self.block_country.tolist(), self.block_start.tolist(), self.block_end.tolist())

    def sum_by_country(self, values: np.ndarray) -> np.ndarray:
        """``values`` [n] summed per country [n_countries] (a segmented sum over the blocks)."""
        out = np.zeros(self.n_countries)
        out[self.block_country] = np.add.reduceat(values, self.block_start, dtype=np.float64)
        return out

    def _adults(self, idx) -> np.ndarray:
        return self.members[idx, :4].sum(axis=1, dtype=np.int16)

    def _follow_earners(self, idx: np.ndarray) -> None:
        """Base income of households ``idx`` after adults left or came back."""
        idx = np.unique(idx)
        self.base_income_usd[idx] = self.earnings_per_adult_usd[idx] * np.maximum(self._adults(idx), 1)

    def earnings_per_adult_of(self, idx: np.ndarray) -> np.ndarray:
        """What one adult earns at home: what a migrant gives up."""
        return self.income_usd[idx] / np.maximum(self.members[idx, :4].sum(axis=1, dtype=np.int16), 1)

    def subsistence_usd(self, person_month: np.ndarray, rows=slice(None)) -> np.ndarray:
        """Monthly subsistence need of the people at home of households ``rows`` (all by default):
        ``person_month`` [n_countries] (the poverty line in market dollars) x members at home.
        Saving starts above it (:meth:`earn_and_save`) and credit is lent above it
        (:func:`gcm_sim.decisions.credit_usd`)."""
        return person_month[self.country[rows]] * self.members[rows].sum(axis=1, dtype=np.int16)

    # --- mechanisms ---
    def earn_and_save(self, growth_factor: np.ndarray, saving_rate: float, programme_income: np.ndarray,
                      target_months: float = np.inf, drawdown_rate: float = 0.0,
                      subsistence_usd: np.ndarray | float = 0.0) -> None:
        """Monthly income with trend, shock losses and programme jobs; save a share as assets.

        Households save ``saving_rate`` of what income and remittances received leave above the
        subsistence need of the people at home (``subsistence_usd`` [n], monthly; 0: of all of it),
        so a household at or below subsistence saves nothing; debt is repaid from savings first.
        Buffer stock: assets above ``target_months`` of income are drawn down at
        ``drawdown_rate`` a month (consumption of the excess), so assets settle near
        target + saving / drawdown months of income instead of growing without bound.
        """
        # float32 in place, one country block at a time: this runs for every household
        # every month, so it is kept to a few passes over the arrays (docs/performance.md)
        income = self.income_usd
        for c, lo, hi in self.blocks():
            np.multiply(self.base_income_usd[lo:hi], np.float32(growth_factor[c]), out=income[lo:hi])
        income[self.shocked] *= 1 - self.shock_loss[self.shocked]
        enrolled = np.flatnonzero(self.programme)
        income[enrolled] += programme_income[enrolled].astype(np.float32)
        saved = income + self.remittances_usd
        saved -= np.asarray(subsistence_usd, np.float32)
        np.maximum(saved, 0, out=saved)
        saved *= np.float32(saving_rate)
        repay = np.minimum(self.debt_usd, saved)
        self.debt_usd -= repay
        saved -= repay
        if drawdown_rate > 0:
            excess = self.assets_usd - np.float32(target_months) * income
            np.maximum(excess, 0, out=excess)
            excess *= np.float32(drawdown_rate)
            saved -= excess
        self.assets_usd += saved
        self.remittances_usd[:] = 0

    def train(self, trainee: np.ndarray, income_gain: float) -> None:
        """Vocational training: low-skill trainees gain mid skills and earn more at home."""
        self.skill[trainee] = 1
        self.trained[trainee] = True
        self.earnings_per_adult_usd[trainee] *= 1 + income_gain
        self.base_income_usd[trainee] *= 1 + income_gain

    def receive(self, household: np.ndarray, usd: np.ndarray) -> None:
        """Remittances (net of fees) arriving this month."""
        np.add.at(self.remittances_usd, household, usd.astype(np.float32))

    def receive_assets(self, household: np.ndarray, usd: np.ndarray) -> None:
        """Lump sums (returnees' savings, reintegration support) added to assets."""
        np.add.at(self.assets_usd, household, np.asarray(usd, dtype=np.float32))

    def pay(self, idx: np.ndarray, usd: np.ndarray) -> None:
        """Upfront costs: paid from assets, the rest borrowed (ties, recruiters)."""
        usd = np.asarray(usd, dtype=np.float32)
        from_assets = np.minimum(np.maximum(self.assets_usd[idx], 0), usd)
        np.add.at(self.assets_usd, idx, -from_assets)
        np.add.at(self.debt_usd, idx, usd - from_assets)

    def strike(self, idx: np.ndarray, month: int, duration: int, income_loss: float, asset_loss: float,
               assisted: np.ndarray, assistance_effect: float, direct: bool = True) -> None:
        """A climate shock hits households ``idx``; early assistance softens it for ``assisted``.
        ``direct=False``: hit only through the local economy (mechanisms/shocks.py)."""
        soften = np.where(assisted, 1 - assistance_effect, 1.0).astype(np.float32)
        self.shock_direct[idx] |= direct
        self.shock_loss[idx] = np.maximum(self.shock_loss[idx], income_loss * soften)
        self.assets_usd[idx] *= (1 - asset_loss * soften)
        self.shock_until[idx] = np.maximum(self.shock_until[idx], month + duration)
        self.assisted[idx] |= assisted
        self.shocked = np.union1d(self.shocked, idx)

    def recover(self, month: int) -> None:
        """Shocks that have run their course end (only the shocked rows are visited)."""
        over = self.shock_until[self.shocked] <= month
        done = self.shocked[over]
        self.shock_loss[done] = 0
        self.shock_until[done] = 0
        self.assisted[done] = False
        self.shock_direct[done] = False
        self.shocked = self.shocked[~over]

    def new_migrant_ids(self, idx: np.ndarray) -> np.ndarray:
        """Identities of new migrant records of households ``idx`` (a household may repeat):
        ``uid << 16 | k`` for the household's k-th record, so a migrant's draws follow
        from who it is, not from the order records were created in."""
        idx = np.asarray(idx, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        first = np.r_[0, np.flatnonzero(np.diff(sorted_idx)) + 1]
        rank = np.empty(len(idx), np.int64)
        rank[order] = np.arange(len(idx)) - np.repeat(first, np.diff(np.r_[first, len(idx)]))
        k = self.records[idx] + rank
        np.add.at(self.records, idx, 1)
        return (self.uid[idx].astype(np.uint64) << np.uint64(16)) | k.astype(np.uint64)

    def leave(self, idx: np.ndarray, member: np.ndarray) -> None:
        """Members of households ``idx`` leave home (international move); income follows its earners."""
        np.add.at(self.members, (idx, member), -1)
        self._follow_earners(idx)

    def rejoin(self, idx: np.ndarray, member: np.ndarray, share: np.ndarray | float = 1.0) -> None:
        """Returnees are members of households ``idx`` again (columns ``member``) and earn at home.

        ``share``: the returnee's record weight / the household's (below 1 when a dead share was
        split off on the way); the rest is kept in ``absent`` so that no one is counted twice.
        """
        np.add.at(self.members, (idx, member), 1)
        np.add.at(self.absent, idx, (1.0 - np.broadcast_to(np.asarray(share, np.float32), idx.shape)))
        self._follow_earners(idx)

    def _slots(self, dest) -> np.ndarray:
        slots = self.dest_slot[np.asarray(dest, dtype=np.int64)]
        if (slots < 0).any():
            bad = np.asarray(dest)[slots < 0][0]
            raise ValueError(f"country {bad} is not among the households' destinations (gcm_sim.population)")
        return slots

    def add_abroad(self, idx: np.ndarray, dest: np.ndarray, regular: np.ndarray, delta: int) -> None:
        """Members arriving abroad (+1) or coming back (-1): the household's own ties."""
        slots = self._slots(dest)
        np.add.at(self.abroad, (idx, slots), delta)
        np.add.at(self.abroad_regular, (idx[regular], slots[regular]), delta)

    def add_regular_tie(self, idx: np.ndarray, dest: np.ndarray, delta: int) -> None:
        """A member abroad gains (+1) or loses (-1) regular status."""
        np.add.at(self.abroad_regular, (idx, self._slots(dest)), delta)

    def abroad_in(self, rows: np.ndarray, dest: np.ndarray, regular: bool = False) -> np.ndarray:
        """Own members abroad (``regular``: with regular status) of households ``rows`` in each
        country of ``dest`` [len(rows), len(dest)]; 0 where no member can be (the origin itself)."""
        table = self.abroad_regular if regular else self.abroad
        slots = self.dest_slot[np.asarray(dest, dtype=np.int64)]
        out = np.zeros((len(rows), len(slots)), np.int8)
        some = slots >= 0
        out[:, some] = table[rows][:, slots[some]]
        return out

    def abroad_at(self, rows: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Own members abroad of each household ``rows[i]`` in country ``dest[i]`` (0 where none can be)."""
        slots = self.dest_slot[np.asarray(dest, dtype=np.int64)]
        return np.where(slots >= 0, self.abroad[rows, np.maximum(slots, 0)], 0).astype(np.int8)


def member_draw(members: np.ndarray, propensity: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which member leaves: probability proportional to count x propensity (-1 if nobody can).

    ``members`` [n, 5] counts at home; ``propensity`` [n, 5] or [5]; ``u`` [n] uniforms.
    A household keeps at least one adult at home: the last adult never leaves.
    """
    adults = members[:, :4].sum(axis=1)
    avail = members.astype(np.float64).copy()
    avail[adults <= 1, :4] = 0
    w = avail * propensity
    tot = w.sum(axis=1)
    cum = np.cumsum(w, axis=1)
    pick = (cum < (u * tot)[:, None]).sum(axis=1)
    return np.where(tot > 0, np.minimum(pick, len(MEMBERS) - 1), -1)


def member_sex_age(member: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sex = np.asarray(MEMBER_SEX, np.int8)[member]
    age = np.asarray(MEMBER_AGE, np.int8)[member]
    child = age == CHILD
    sex = np.where(child, (u < 0.5).astype(np.int8), sex)  # 0 female, 1 male
    return sex.astype(np.int8), age.astype(np.int8)
