"""The fast (vectorised) and reference (one Mesa agent per household) engines agree.

Both run the same rules on the same world; they draw random numbers in a different
order, so they agree in distribution, not number for number. Test: for every
indicator, the difference of the two engines' means over 8 independent seeds each
lies within 3.5 standard errors of the difference (Welch), a two-sided test at
about the 0.05% level per indicator (so the suite of 25 indicators is not flaky),
which still catches a rule implemented differently in one engine (such a bug
shifts an indicator by many standard errors at this size).
"""

import numpy as np

from gcm_sim.measures import INDICATORS

from .helpers import MOBILE, config, run_model

SEEDS = range(8)


def _runs(engine):
    cfg = config(behaviour=MOBILE, run__households=1500, run__engine=engine,
                 policy__development__vocational_training=0.3)
    return [run_model(cfg, 1000 + s if engine == "fast" else 2000 + s, 18).indicators() for s in SEEDS]


def test_fast_and_reference_engines_agree_on_every_indicator():
    fast, ref = _runs("fast"), _runs("reference")
    bad = []
    for name in INDICATORS:
        a = np.array([r[name] for r in fast])
        b = np.array([r[name] for r in ref])
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        diff = a.mean() - b.mean()
        tol = 3.5 * se + 1e-9 * max(abs(a.mean()), abs(b.mean()), 1.0)
        if abs(diff) > tol:
            bad.append(f"{name}: fast {a.mean():.4g} vs reference {b.mean():.4g} (se {se:.3g})")
    assert not bad, "; ".join(bad)


def test_reference_engine_is_one_mesa_agent_per_household():
    from gcm_sim.agents.reference import HouseholdAgent

    m = run_model(config(run__households=300, run__engine="reference"), 1, 2)
    agents = m.agents_by_type[HouseholdAgent]
    assert len(agents) == m.households.n
