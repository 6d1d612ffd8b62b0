"""Per-month measures (the timeseries contract) and run-level indicators.

Mechanisms report events to a :class:`Recorder` as arrays (one value per migrant
record or household, in real people or USD); at month end the recorder sums them
by ``(measure, origin, destination, channel, sex, age_group)``. Nothing here
changes the model's state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .categories import AGE_GROUPS, ALL_AGES, ALL_CHANNELS, ALL_SEXES, CHANNELS, SEXES

FLOWS = (
    "departures_regular", "departures_irregular", "departures_internal", "arrivals_regular",
    "arrivals_irregular", "interceptions", "returns_forced", "returns_voluntary", "deaths", "overstays",
    "asylum_claims", "asylum_recognised", "asylum_rejected", "remittances_sent_usd", "remittance_fees_usd",
    "remittances_informal_usd", "recruitment_fees_usd", "smuggling_fees_usd", "visa_applications",
    "visas_granted", "trafficking_victims", "trafficking_detected", "climate_affected_households",
    # extensions (DESIGN.md: extend, don't rename)
    "leg_attempts", "remittances_received_usd", "visas_refused",
    "temporary_protection_grants", "asylum_abandoned", "onward_departures", "regularisations",
    "remittance_informal_fees_usd", "remittance_informal_losses_usd",
    "trafficking_victims_at_start",  # month 1 only: victims in exploitation when the reported months begin
)
STOCKS = (
    "stock_regular", "stock_irregular", "stock_asylum_pending", "stranded_in_transit", "detained",
    "detained_children",
    # extensions
    "stock_visitors", "people_at_home", "people_returned", "people_dead", "stock_temporary_protection",
)
MEASURES = FLOWS + STOCKS
MEASURE_ID = {m: i for i, m in enumerate(MEASURES)}

INDICATORS = {
    "irregular_departures": "smuggled departures over the horizon, people (overstays counted separately)",
    "regular_departures": "departures through regular channels over the horizon, people",
    "irregular_share": "irregular / (irregular + regular) departures",
    "deaths": "dead or missing on route legs, people",
    "deaths_per_1000_crossings": "deaths per 1,000 attempted irregular leg crossings (SDG 10.7.3)",
    "remittance_cost_pct": "formal remittance fees / formal amount sent, % (SDG 10.c.1)",
    "recruitment_cost_months": "worker-paid recruitment fee / monthly foreign wage (SDG 10.7.1)",
    "returns": "forced plus voluntary returns, people",
    "stock_irregular_end": "people abroad without legal status in the last month",
    "remittances_received_usd": "formal (net of fees) plus informal remittances received, USD",
    "interceptions": "interceptions on irregular legs, people",
    "smuggling_fee_per_crossing_usd": "smuggling fees paid per attempted leg crossing, USD",
    "interception_rate": "interceptions per attempted irregular leg crossing",
    "arrivals_irregular": "irregular arrivals in destinations, people",
    "overstays": "visitors who overstayed, people",
    "returns_forced": "forced returns, people",
    "returns_voluntary": "voluntary returns, people",
    "departures_internal": "people moving inside their origin country",
    "climate_affected_households": "household-months affected by a climate shock",
    "trafficking_victims": "people deceived into exploitation by unlicensed recruiters",
    "asylum_claims": "asylum claims, people",
    "stock_regular_end": "people abroad with regular status (incl. recognised refugees) in the last month",
    "stranded_in_transit_end": "people waiting in transit countries in the last month",
    "detained_children_end": "children in detention in the last month",
    "remittances_sent_usd": "formal remittances sent, USD",
    # GCM scorecard extensions (issue 3; docs/scorecard.md)
    "trafficking_detected": "trafficking victims identified by border authorities, people (GCM 10)",
    "trafficking_detected_share": "victims identified / victims at risk of identification over the horizon: those "
                                  "in exploitation at the start plus those drawn as deceived since (GCM 10)",
    "smuggling_revenue_usd": "smuggling fees paid over the horizon, USD (GCM 9)",
    "detention_person_months": "person-months in detention (sum of month-end stocks; GCM 13)",
    "detained_children_person_months": "child-months in detention (GCM 13)",
    "formal_remittance_share": "formal / (formal + informal) remittances sent (GCM 4, 20)",
    "departures_female": "women and girls leaving internationally, people (GCM 1)",
    "female_share_departures": "women and girls / all international departures (GCM 1)",
    "female_share_regular_departures": "women and girls / all regular departures (GCM 1, 5)",
    "departures_youth": "18-29 year-olds leaving internationally, people (GCM 1, 2)",
    "youth_share_departures": "18-29 year-olds / all international departures (GCM 1, 2)",
    "departures_children": "children (0-17) leaving internationally, people (GCM 1, 7)",
    "regularisations": "people without status given residence and work permits (policy.regularisation; GCM 7)",
}


RUNNING_SUMS = ("recruitment_months_num", "recruitment_months_den", "trafficked_drawn")
PREAGGREGATE_EVENTS = 4096  # batches larger than this are summed by key when recorded


class Recorder:
    """Collects events each month and keeps the monthly sums."""

    def __init__(self, codes: list[str]):
        self.codes = list(codes) + ["all"]
        self.all_country = len(codes)
        self.stride = len(self.codes) ** 2 * len(CHANNELS) * len(SEXES) * len(AGE_GROUPS)  # keys per measure
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._months: list[tuple[int, np.ndarray, np.ndarray]] = []
        # running sums over the reported months, per origin (so shards add up exactly), of
        # RUNNING_SUMS: weight * fee / wage and weight over labour placements (the recruitment
        # cost in months of wages), and the people drawn as deceived at placement
        # (trafficking_victims is their expectation, with less noise; with the drawn victims at
        # the start it is the denominator of the share detected, whose numerator is drawn too,
        # so the share cannot exceed 1 in any replicate)
        self.running = np.zeros((len(RUNNING_SUMS), len(self.codes)))

    def add_running(self, name: str, origin: int, value: float) -> None:
        """Add to one of :data:`RUNNING_SUMS` for an origin."""
        self.running[RUNNING_SUMS.index(name), origin] += value

    @property
    def recruitment_months_num(self) -> float:
        return float(self.running[0].sum())

    @property
    def recruitment_months_den(self) -> float:
        return float(self.running[1].sum())

    @property
    def trafficked_drawn(self) -> float:
        return float(self.running[2].sum())

    def split_keys(self, origin=None, destination=None, channel=ALL_CHANNELS, sex=ALL_SEXES,
                   age=ALL_AGES) -> np.ndarray:
        """Pack ``(origin, destination, channel, sex, age_group)`` into one int64 per event.

        A measure's key is ``MEASURE_ID * self.stride + split_keys(...)``; callers that
        record several measures for the same rows pack once (see :meth:`add_keyed`).
        ``None`` for origin/destination means ``all``.
        """
        nc = len(self.codes)
        o = self.all_country if origin is None else origin
        d = self.all_country if destination is None else destination
        key = np.asarray(o, dtype=np.int64) * nc + np.asarray(d, dtype=np.int64)
        key = key * len(CHANNELS) + np.asarray(channel, dtype=np.int64)
        key = key * len(SEXES) + np.asarray(sex, dtype=np.int64)
        return key * len(AGE_GROUPS) + np.asarray(age, dtype=np.int64)

    def add(self, measure: str, value, origin=None, destination=None, channel=ALL_CHANNELS,
            sex=ALL_SEXES, age=ALL_AGES) -> None:
        """Record values (arrays broadcast together); ``None`` for origin/destination means ``all``."""
        self.add_keyed(measure, self.split_keys(origin, destination, channel, sex, age), value)

    def add_keyed(self, measure: str, split_keys, value) -> None:
        """Record values against keys already packed by :meth:`split_keys`.

        Large batches (a stock over every migrant record, remittances of every worker)
        are summed by key at once, into the few thousand keys one measure can have, so
        the month's events stay small whatever the population (docs/performance.md).
        """
        value = np.asarray(value, dtype=np.float64)
        split = np.asarray(split_keys, dtype=np.int64)
        if value.size == 0 or (split.size == 0 and value.ndim == 0):  # nothing to record
            return
        n = max(value.shape[0] if value.ndim else 1, split.shape[0] if split.ndim else 1)  # either may be scalar
        split = np.broadcast_to(split, (n,))
        value = np.broadcast_to(value, (n,))
        # summed by key, in event order, for every batch: a key's monthly sum then adds the same
        # partial sums in the same order whichever other origins are in the run (a shard of a
        # sharded run holds some origins only; gcm_sim.studies.shards)
        if n > PREAGGREGATE_EVENTS:
            dense = np.bincount(split, weights=value, minlength=self.stride)
            split = np.flatnonzero(dense)
            value = dense[split]
        elif n > 1:
            split, inverse = np.unique(split, return_inverse=True)
            value = np.bincount(inverse, weights=value, minlength=len(split))
        self._pending.append((MEASURE_ID[measure] * self.stride + split, value))

    def discard_month(self) -> None:
        """Drop this month's events unrecorded (the spin-up months before month 1), and the
        running sums (recruitment cost, victims drawn), so no indicator counts a spin-up month."""
        self._pending.clear()
        self.running[:] = 0.0

    def close_month(self, month: int) -> None:
        """Sum this month's events by key; every measure gets at least a zero row."""
        zero_keys = _zero_keys(len(self.codes))
        keys = np.concatenate([zero_keys] + [k for k, _ in self._pending])
        values = np.concatenate([np.zeros(len(MEASURES))] + [v for _, v in self._pending])
        self._pending.clear()
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights=values, minlength=len(uniq))
        keep = self.kept_rows(uniq, sums)
        self._months.append((month, uniq[keep], sums[keep]))

    def kept_rows(self, keys: np.ndarray, sums: np.ndarray) -> np.ndarray:
        """Which of a month's summed keys are kept: every non-zero sum, and a zero 'all' row
        only for measures with nothing else this month."""
        nonzero = sums != 0
        present = np.unique(keys[nonzero] // self.stride)
        zero_rows = _zero_keys(len(self.codes))[~np.isin(np.arange(len(MEASURES)), present)]
        return nonzero | np.isin(keys, zero_rows)

    def totals(self) -> dict[str, float]:
        """Each measure summed over all months (for stocks: over all month ends)."""
        out = dict.fromkeys(MEASURES, 0.0)
        for _, keys, sums in self._months:
            mids = self._decode(keys)[0]
            for i, s in zip(*_group_sum(mids, sums)):
                out[MEASURES[i]] += s
        return out

    def split_total(self, measures, sex: int | None = None, age: int | None = None) -> float:
        """``measures`` summed over all months for one sex and/or age group (rows with that split)."""
        ids = [MEASURE_ID[x] for x in measures]
        total = 0.0
        for _, keys, sums in self._months:
            m, _, _, _, s, a = self._decode(keys)
            sel = np.isin(m, ids)
            if sex is not None:
                sel &= s == sex
            if age is not None:
                sel &= a == age
            total += float(sums[sel].sum())
        return total

    def last(self, measure: str) -> float:
        """A measure's total in the last recorded month."""
        if not self._months:
            return 0.0
        _, keys, sums = self._months[-1]
        mids = self._decode(keys)[0]
        return float(sums[mids == MEASURE_ID[measure]].sum())

    def month_totals(self, month_index: int = -1) -> dict[str, float]:
        """Every measure's total in one recorded month (default: the last)."""
        out = dict.fromkeys(MEASURES, 0.0)
        if not self._months:
            return out
        _, keys, sums = self._months[month_index]
        for i, s in zip(*_group_sum(self._decode(keys)[0], sums)):
            out[MEASURES[i]] = float(s)
        return out

    def _decode(self, keys: np.ndarray):
        nc = len(self.codes)
        a = keys % len(AGE_GROUPS); keys = keys // len(AGE_GROUPS)
        s = keys % len(SEXES); keys = keys // len(SEXES)
        ch = keys % len(CHANNELS); keys = keys // len(CHANNELS)
        d = keys % nc; keys = keys // nc
        o = keys % nc
        m = keys // nc
        return m, o, d, ch, s, a

    def frame(self, scenario: str, replicate: int, seed: int) -> pd.DataFrame:
        """The long timeseries in the DESIGN.md schema."""
        if not self._months:
            return pd.DataFrame(columns=["scenario", "replicate", "seed", "month", "origin", "destination",
                                         "channel", "sex", "age_group", "measure", "value"])
        months = np.concatenate([np.full(len(k), mo) for mo, k, _ in self._months])
        keys = np.concatenate([k for _, k, _ in self._months])
        values = np.concatenate([v for _, _, v in self._months])
        m, o, d, ch, s, a = self._decode(keys)
        cat = pd.Categorical.from_codes
        return pd.DataFrame({
            "scenario": scenario,
            "replicate": np.full(len(keys), replicate, dtype=np.int32),
            "seed": np.full(len(keys), seed, dtype=np.int64),
            "month": months.astype(np.int32),
            "origin": cat(o, categories=self.codes),
            "destination": cat(d, categories=self.codes),
            "channel": cat(ch, categories=list(CHANNELS)),
            "sex": cat(s, categories=list(SEXES)),
            "age_group": cat(a, categories=list(AGE_GROUPS)),
            "measure": cat(m, categories=list(MEASURES)),
            "value": values,
        })


def _zero_keys(nc: int) -> np.ndarray:
    ids = np.arange(len(MEASURES), dtype=np.int64)
    return ((((ids * nc + nc - 1) * nc + nc - 1) * len(CHANNELS) + ALL_CHANNELS) * len(SEXES) + ALL_SEXES) \
        * len(AGE_GROUPS) + ALL_AGES


def _group_sum(ids: np.ndarray, values: np.ndarray):
    u, inv = np.unique(ids, return_inverse=True)
    return u, np.bincount(inv, weights=values)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def _scorecard(rec: Recorder, t: dict) -> dict[str, float]:
    """GCM scorecard indicators (docs/scorecard.md): protection, detention, remittances, sex and age."""
    from .categories import CHILD, FEMALE, YOUTH

    intl = ("departures_regular", "departures_irregular")
    female = rec.split_total(intl, sex=FEMALE)
    youth = rec.split_total(intl, age=YOUTH)
    all_dep = t["departures_regular"] + t["departures_irregular"]
    return {
        "trafficking_detected": t["trafficking_detected"],
        "trafficking_detected_share": _ratio(t["trafficking_detected"],
                                             t["trafficking_victims_at_start"] + rec.trafficked_drawn),
        "smuggling_revenue_usd": t["smuggling_fees_usd"],
        "detention_person_months": t["detained"],
        "detained_children_person_months": t["detained_children"],
        "formal_remittance_share": _ratio(t["remittances_sent_usd"],
                                          t["remittances_sent_usd"] + t["remittances_informal_usd"]),
        "departures_female": female,
        "female_share_departures": _ratio(female, all_dep),
        "female_share_regular_departures": _ratio(rec.split_total(("departures_regular",), sex=FEMALE),
                                                  t["departures_regular"]),
        "departures_youth": youth,
        "youth_share_departures": _ratio(youth, all_dep),
        "departures_children": rec.split_total(intl, age=CHILD),
    }


def total(ts: pd.DataFrame, measures, origin=None, destination=None, channel=None, months=None,
          age_group=None) -> float:
    """Sum of one or more measures in a timeseries table, optionally for some origins,
    destinations, channels, age groups (a code or a list of codes) and months."""
    s = ts["measure"].isin([measures] if isinstance(measures, str) else list(measures))
    for col, v in (("origin", origin), ("destination", destination), ("channel", channel),
                   ("age_group", age_group)):
        if v is not None:
            s &= ts[col].astype(str).isin([v] if isinstance(v, str) else list(v))
    if months is not None:
        s &= ts["month"].isin(list(months))
    return float(ts.loc[s, "value"].sum())


def indicators(rec: Recorder) -> dict[str, float]:
    """Run-level indicators (DESIGN.md names plus documented extensions)."""
    t = rec.totals()
    irr, reg = t["departures_irregular"], t["departures_regular"]
    attempts = t["leg_attempts"]
    out = {
        "irregular_departures": irr,
        "regular_departures": reg,
        "irregular_share": irr / (irr + reg) if irr + reg > 0 else 0.0,
        "deaths": t["deaths"],
        "deaths_per_1000_crossings": 1000.0 * t["deaths"] / attempts if attempts > 0 else 0.0,
        "remittance_cost_pct": 100.0 * t["remittance_fees_usd"] / t["remittances_sent_usd"]
        if t["remittances_sent_usd"] > 0 else 0.0,
        "recruitment_cost_months": rec.recruitment_months_num / rec.recruitment_months_den
        if rec.recruitment_months_den > 0 else 0.0,
        "returns": t["returns_forced"] + t["returns_voluntary"],
        "stock_irregular_end": rec.last("stock_irregular"),
        "remittances_received_usd": t["remittances_received_usd"],
        "interceptions": t["interceptions"],
        "smuggling_fee_per_crossing_usd": t["smuggling_fees_usd"] / attempts if attempts > 0 else 0.0,
        "interception_rate": t["interceptions"] / attempts if attempts > 0 else 0.0,
        "arrivals_irregular": t["arrivals_irregular"],
        "overstays": t["overstays"],
        "returns_forced": t["returns_forced"],
        "returns_voluntary": t["returns_voluntary"],
        "departures_internal": t["departures_internal"],
        "climate_affected_households": t["climate_affected_households"],
        "trafficking_victims": t["trafficking_victims"],
        "asylum_claims": t["asylum_claims"],
        "stock_regular_end": rec.last("stock_regular"),
        "stranded_in_transit_end": rec.last("stranded_in_transit"),
        "detained_children_end": rec.last("detained_children"),
        "remittances_sent_usd": t["remittances_sent_usd"],
        "regularisations": t["regularisations"],
        **_scorecard(rec, t),
    }
    assert set(out) == set(INDICATORS)
    return out
