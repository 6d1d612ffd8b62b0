"""Coverage of nominal 95% intervals of a mean: t-interval, percentile bootstrap, log scale (delta method).

The table in docs/running.md ("Interval of a mean") comes from this script:
    python experiments/statistics/interval_coverage.py
(about a minute; 2,000 simulated samples per cell, each bootstrap with 2,000 resamples).
"""
import numpy as np
from scipy import stats
g = np.random.default_rng(1)
cases = [("normal, cv 0.1", lambda n: g.normal(100, 10, n), 100.0),
         ("Poisson, mean 2", lambda n: g.poisson(2, n).astype(float), 2.0),
         ("lognormal, sigma 1", lambda n: g.lognormal(0, 1, n), np.exp(0.5)),
         ("Poisson, mean 0.3", lambda n: g.poisson(0.3, n).astype(float), 0.3)]
S = 2000
for name, draw, mu in cases:
    for n in (5, 10, 32):
        cb = ct = cl = 0
        for _ in range(S):
            x = draw(n); m = x.mean(); se = stats.sem(x) if x.std() > 0 else 0.0
            tq = stats.t.ppf(.975, n - 1)
            ct += m - tq * se <= mu <= m + tq * se
            if m > 0:
                k = tq * se / m; cl += m * np.exp(-k) <= mu <= m * np.exp(k)
            if x.std() > 0:
                r = stats.bootstrap((x,), np.mean, vectorized=True, method="percentile", n_resamples=2000,
                                    rng=np.random.default_rng(0)).confidence_interval
                cb += r.low <= mu <= r.high
            else:
                cb += x[0] == mu
        print(f"| {name} | {n} | {ct/S:.2f} | {cb/S:.2f} | {cl/S:.2f} |", flush=True)
