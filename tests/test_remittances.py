"""Remittances v2 (issue 12, item 4): what a user relies on when reading remittance results.

Money is conserved on both channels; cheaper formal transfers move money into formal
channels and raise what families receive; refugees remit less than labour migrants;
the formal share's cost elasticity is what the formula says. Kernels are tested on
synthetic migrants (no model); one small model run checks the lever end to end.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcm_sim.categories import ASYLUM_PENDING, FAMILY, HUMANITARIAN, IRREGULAR, LABOUR, REGULAR, SMUGGLED
from gcm_sim.mechanisms.remittances import (RemittanceTerms, formal_share, informal_cost_pct, remit_shares,
                                            transfers)
from gcm_sim.world import load_world


@pytest.fixture(scope="module")
def b():
    return dict(load_world().behaviour)


def _send(b, cost_pct: float, n: int = 200, seed: int = 0):
    """n synthetic workers on one corridor at a given formal cost; a third without an ID."""
    rng = np.random.default_rng(seed)
    terms = RemittanceTerms.of(np.array([cost_pct]), b)
    wage = rng.uniform(200, 3000, n)
    share = rng.uniform(0.05, 0.5, n)
    has_id = np.arange(n) % 3 != 0
    return transfers(wage, share, has_id, np.zeros(n, np.intp), terms, b), has_id


@pytest.mark.parametrize("cost", [0.0, 2.0, 4.7, 7.9, 15.0])
def test_money_is_conserved_on_each_channel(b, cost):
    t, has_id = _send(b, cost)
    formal_received = t.formal - t.fees
    informal_received = t.informal - t.informal_fees - t.informal_losses
    np.testing.assert_allclose(t.received, formal_received + informal_received)
    # sent (formal) = received + fees; informal amount = received + informal fees + losses
    np.testing.assert_allclose(t.formal, formal_received + t.fees)
    np.testing.assert_allclose(t.informal, informal_received + t.informal_fees + t.informal_losses)
    np.testing.assert_allclose(t.sent, t.received + t.fees + t.informal_fees + t.informal_losses)
    assert (t.formal[~has_id] == 0).all(), "no ID, no formal channel"
    used = t.informal > 0
    assert used[~has_id].all()
    assert (t.informal_fees[used] > 0).all() and (t.informal_losses[used] > 0).all(), "informal is not free"
    assert (t.received > 0).all() and (t.received <= t.sent).all() and (t.received[~has_id] < t.sent[~has_id]).all()


def test_cheaper_formal_transfers_raise_the_formal_share_and_what_families_receive(b):
    dear, _ = _send(b, 7.0)
    cheap, _ = _send(b, 3.0)
    share = lambda t: t.formal.sum() / t.sent.sum()  # noqa: E731
    assert share(cheap) > share(dear) + 0.1
    assert cheap.received.sum() > dear.received.sum()
    assert cheap.sent.sum() > dear.sent.sum(), "the amount sent responds to the total cost of sending"
    assert cheap.fees.sum() / cheap.formal.sum() == pytest.approx(0.03)  # SDG 10.c.1 stays the formal price


def test_the_formal_share_responds_to_the_formal_cost_relative_to_the_informal_one(b):
    cost = np.array([4.0])
    base = formal_share(cost, informal_cost_pct(b), b)[0]
    dearer_informal = dict(b, informal_fee_pct=b["informal_fee_pct"] * 2)
    assert formal_share(cost, informal_cost_pct(dearer_informal), dearer_informal)[0] > base
    # the logit depends on the price ratio only: scaling both prices leaves the share alone
    assert formal_share(2 * cost, 2 * informal_cost_pct(b), b)[0] == pytest.approx(base)


def test_refugees_remit_less_than_labour_migrants_and_gulf_contract_workers_most(b):
    channel = np.array([LABOUR, LABOUR, FAMILY, HUMANITARIAN, SMUGGLED, SMUGGLED, SMUGGLED])
    status = np.array([REGULAR, REGULAR, REGULAR, REGULAR, ASYLUM_PENDING, REGULAR, IRREGULAR])
    contract = np.array([False, True, False, False, False, False, False])
    s = remit_shares(channel, status, contract, np.zeros(7), b)
    labour, gulf, family, resettled, claimant, recognised, irregular = s
    assert gulf > labour > family > resettled
    assert resettled == claimant == recognised == b["remit_share_refugee"]
    assert irregular == labour, "migrants without status who are not refugees remit as workers"
    # remitting decays with years abroad
    later = remit_shares(channel, status, contract, np.full(7, 120), b)
    np.testing.assert_allclose(later, s * np.exp(-10 * b["remit_decay_per_year"]))
    assert (later < s).all()


def test_elasticity_of_the_formal_share_is_minus_slope_times_the_informal_share(b):
    """d ln(formal share) / d ln(formal cost) = -formal_logit_slope x (1 - formal share)."""
    informal = informal_cost_pct(b)
    for cost in (2.0, 4.7, 6.5):
        h = 1e-5
        lo, mid, hi = formal_share(np.array([cost * (1 - h), cost, cost * (1 + h)]), informal, b)
        numeric = (np.log(hi) - np.log(lo)) / (np.log(1 + h) - np.log(1 - h))
        assert numeric == pytest.approx(-b["formal_logit_slope"] * (1 - mid), rel=1e-4)


def test_elasticity_of_formal_remittances_to_cost_on_synthetic_migrants(b):
    """The validation check's statistic on the kernel alone: formal remittances of a fixed population
    of ID holders at cost x 0.95 and x 1.05 on a corridor at today's typical price (4.7%, US->Mexico)."""
    from gcm_sim.studies.validation import REMIT_STEP, arc_elasticity

    n = 100
    wage, share, ids = np.full(n, 1000.0), np.full(n, 0.3), np.ones(n, bool)
    formal = []
    for f in (1 - REMIT_STEP, 1 + REMIT_STEP):
        terms = RemittanceTerms.of(np.array([4.7 * f]), b)
        formal.append(transfers(wage, share, ids, np.zeros(n, np.intp), terms, b).formal.sum())
    e = arc_elasticity(*formal)
    phi = formal_share(np.array([4.7]), informal_cost_pct(b), b)[0]
    # the share's response plus the small response of the amount to the effective cost
    assert e == pytest.approx(-b["formal_logit_slope"] * (1 - phi), abs=0.1)
    assert -2.5 <= e <= -1.0, "inside the published range (Ahmed, Mughal & Martinez-Zarzoso 2021)"


def test_a_cheaper_remittance_lever_moves_money_into_formal_channels_in_the_model():
    from gcm_sim import MigrationModel
    from tests.helpers import config

    results = {}
    for cost in (2.0, 8.0):
        m = MigrationModel(config(run__households=3000, policy__remittances__cost_pct=cost), rng=5)
        for _ in range(6):
            m.step()
        ind = m.indicators()
        results[cost] = ind
    cheap, dear = results[2.0], results[8.0]
    assert cheap["formal_remittance_share"] > dear["formal_remittance_share"] + 0.2
    assert cheap["remittances_received_usd"] > dear["remittances_received_usd"]
    assert cheap["remittance_cost_pct"] == pytest.approx(2.0) and dear["remittance_cost_pct"] == pytest.approx(8.0)


# --- the remittances_by_origin validation check: its data and statistics ------------------------------


def test_remittance_targets_cover_every_origin_with_a_share_of_its_emigrants():
    from gcm_sim.studies.validation import remittance_targets

    world = load_world()
    t = remittance_targets().set_index("origin")
    origins = [c for c, roles in zip(world.countries["iso3"], world.countries["roles"]) if "origin" in roles]
    assert sorted(t.index) == sorted(origins)
    np.testing.assert_allclose(t["covered_share"], t["covered_stock"] / t["emigrant_stock"], atol=1e-4)
    assert ((t["covered_share"] > 0) & (t["covered_share"] <= 1)).all()
    # the covered stock is the world's own diaspora on its corridors
    world_stock = world.corridors.groupby("origin")["diaspora_stock"].sum()
    np.testing.assert_allclose(t["covered_stock"], world_stock.reindex(t.index), rtol=1e-6)
    np.testing.assert_allclose(t["target_usd"], t["usd_bn"] * 1e9 * t["covered_share"])
    assert not t.loc["SYR", "scored"] and not t.loc["AFG", "scored"], "stale (2010) and placeholder figures"
    assert t.loc["NPL", "usd_bn"] == pytest.approx(11.0), "Nepal: the alternative estimate, not WDI's suspect one"


def test_within_a_factor_means_both_ways():
    from gcm_sim.studies.validation import REMIT_FACTOR, off_by, within_factor

    assert REMIT_FACTOR == 1.5
    assert within_factor(1.0) and within_factor(1.5) and within_factor(1 / 1.5)
    assert not within_factor(1.51) and not within_factor(0.66) and not within_factor(0.0)
    assert not within_factor(float("nan"))
    assert off_by(2.0) == off_by(0.5) == 2.0
