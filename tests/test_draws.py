"""Entity-keyed random numbers (gcm_sim.draws) and what they buy the model: the same luck
for the same household in every arm, results that do not depend on the order households
are stored in, and a policy on one corridor that leaves other origins' draws alone."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gcm_sim.draws import CHUNK, Draws
from gcm_sim.model import MigrationModel

from .helpers import config, world


@pytest.fixture(scope="module")
def draws():
    return Draws(np.random.SeedSequence(2024))


def test_uniforms_are_uniform_and_inside_the_open_interval(draws):
    u = draws.uniform("consider", 3, np.arange(200_000))
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # neighbouring entities and neighbouring months are not correlated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01
    assert abs(np.corrcoef(u, draws.uniform("consider", 4, np.arange(200_000)))[0, 1]) < 0.01


def test_a_draw_depends_only_on_its_key_not_on_the_other_entities(draws):
    ids = np.arange(5_000) * 7 + 11
    u = draws.uniform("visa", 9, ids)
    perm = np.random.default_rng(0).permutation(len(ids))
    np.testing.assert_array_equal(draws.uniform("visa", 9, ids[perm]), u[perm])
    np.testing.assert_array_equal(draws.uniform("visa", 9, ids[100:200]), u[100:200])
    big = np.arange(3 * CHUNK + 5)  # the chunked path gives the same numbers as one pass
    np.testing.assert_array_equal(draws.uniform("visa", 9, big)[-10:], draws.uniform("visa", 9, big[-10:]))


def test_streams_months_and_seeds_give_different_numbers(draws):
    ids = np.arange(10_000)
    a = draws.uniform("visa", 1, ids)
    for other in (draws.uniform("member", 1, ids), draws.uniform("visa", 2, ids),
                  Draws(np.random.SeedSequence(2025)).uniform("visa", 1, ids),
                  Draws(np.random.SeedSequence(2024).spawn(2)[1]).uniform("visa", 1, ids)):
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.05


def test_same_seed_same_numbers_from_an_int_or_a_seed_sequence():
    ids = np.arange(100)
    a = Draws.of(7, np.random.default_rng(0)).uniform("x", 1, ids)
    b = Draws.of(np.random.SeedSequence(7), np.random.default_rng(99)).uniform("x", 1, ids)
    np.testing.assert_array_equal(a, b)


def test_gumbel_draws_have_the_standard_gumbel_law(draws):
    g = draws.gumbel("option", 5, np.arange(4_000), np.arange(25)).ravel()
    assert g.shape == (100_000,)
    assert stats.kstest(g, "gumbel_r").pvalue > 1e-3


def _run(cfg, months=12, shuffle=False, seed=5):
    m = MigrationModel(cfg, rng=seed, world=world())
    if shuffle:
        _shuffle_within_blocks(m, np.random.default_rng(1))
    for _ in range(months):
        m.step()
    return m


def _shuffle_within_blocks(model, rng):
    """Store the households in another order (inside their country blocks), as a different
    split of the population would; migrants follow their households."""
    hh = model.households
    perm = np.concatenate([lo + rng.permutation(hi - lo) for _, lo, hi in hh.blocks()])
    for name, value in list(vars(hh).items()):
        if isinstance(value, np.ndarray) and value.shape[:1] == (hh.n,) and name not in ("country",):
            setattr(hh, name, np.asfortranarray(value[perm]) if value.ndim == 2 else value[perm])
    where = np.empty(hh.n, np.int64)
    where[perm] = np.arange(hh.n)
    m = model.migrants
    m.household[: m.n] = where[m.household[: m.n]]
    hh.shocked = np.sort(where[hh.shocked])


def test_results_do_not_depend_on_the_order_households_are_stored_in():
    cfg = config(run__households=3000, run__months=12)
    a, b = _run(cfg).indicators(), _run(cfg, shuffle=True).indicators()
    for name, value in a.items():
        assert b[name] == pytest.approx(value, rel=1e-6, abs=1e-6), name


def test_a_policy_on_one_corridor_leaves_other_origins_untouched():
    """Cheaper remittances from Saudi Arabia to the Philippines change nothing for Mexico."""
    base = config(run__households=3000, run__months=12)
    cheap = config(run__households=3000, run__months=12,
                   policy__remittances__corridors=[{"origin": ["PHL"], "destination": ["SAU"], "cost_pct": 1.0}])
    ts_a, ts_b = _run(base).timeseries(), _run(cheap).timeseries()
    keys = ["month", "origin", "destination", "channel", "sex", "age_group", "measure"]
    for origin, same in (("MEX", True), ("PHL", False)):
        a = ts_a[ts_a["origin"] == origin].set_index(keys)["value"].sort_index()
        b = ts_b[ts_b["origin"] == origin].set_index(keys)["value"].sort_index()
        identical = a.index.equals(b.index) and np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9)
        assert identical == same, origin
