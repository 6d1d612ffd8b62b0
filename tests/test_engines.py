"""The fast (vectorised) and reference (one Mesa agent per household) engines agree.

Both run the same rules on the same world; they draw random numbers in a different
order, so they agree in distribution, not number for number. Test: for every
indicator, Welch's t-test of the two engines' means over 8 independent seeds each,
at a family-wise level of 1% over the indicators (Bonferroni). With 8 seeds a
standard error is itself uncertain, so the t distribution (about 14 degrees of
freedom), not the normal, sets the threshold (about 4.3 standard errors per
indicator). A rule implemented differently in one engine shifts an indicator by
many standard errors at this size and still fails.
"""

import numpy as np
from scipy import stats

from gcm_sim.measures import INDICATORS

from .helpers import MOBILE, config, run_model

FAMILY_LEVEL = 0.01
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
        if np.allclose(a, a[0]) and np.allclose(b, b[0]):  # constant in both: must be equal
            if not np.isclose(a[0], b[0], rtol=1e-9, atol=1e-12):
                bad.append(f"{name}: fast {a[0]:.4g} vs reference {b[0]:.4g} (no variation)")
            continue
        p = stats.ttest_ind(a, b, equal_var=False).pvalue
        if p < FAMILY_LEVEL / len(INDICATORS):
            se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
            bad.append(f"{name}: fast {a.mean():.4g} vs reference {b.mean():.4g} (se {se:.3g}, p={p:.2g})")
    assert not bad, "; ".join(bad)


def test_reference_engine_is_one_mesa_agent_per_household():
    from gcm_sim.agents.reference import HouseholdAgent

    m = run_model(config(run__households=300, run__engine="reference"), 1, 2)
    agents = m.agents_by_type[HouseholdAgent]
    assert len(agents) == m.households.n
