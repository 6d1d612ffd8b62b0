"""Every scenario of the library on 2 and 4 shards against one process (docs/scale.md).

    python experiments/scale/equal_all_scenarios.py [households] [months] [block_households]

Prints, per scenario and shard count, how many timeseries rows and indicators differ from one
process at the same size and seed, and the largest relative difference. With whole origins on
each shard (the default ``run.block_households``, larger than any origin at this size) a sharded
run is bit-identical ("0 rows"); with a block size that splits origins over shards (e.g. 400),
an origin's sums add partial sums and every figure must agree to float-summation tolerance
(``RTOL``). About two minutes at the defaults (20,000 households, 12 months of spin-up and 12
reported) on 2 cores.
"""

from __future__ import annotations

import sys

import numpy as np

from gcm_sim.config import list_scenarios, load_config
from gcm_sim.studies.experiment import run_replicate
from gcm_sim.studies.shards import run_sharded
from gcm_sim.world import load_world

KEY = ["month", "origin", "destination", "channel", "sex", "age_group", "measure"]
RTOL = 1e-12  # float64 sums in another order differ by a few units in the 16th digit


def relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0.0, np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


def main() -> int:
    households = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    months = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    block = [f"run.block_households={sys.argv[3]}"] if len(sys.argv) > 3 else []
    world = load_world()
    size = [f"run.households={households}", f"run.spinup_months={months}", f"run.months={months}",
            "run.replicates=1", *block]
    exact, bad = not block, 0
    for name in list_scenarios():
        ts, ind = run_replicate(load_config(name, size), 0, world)
        ref = ts.set_index(KEY)["value"].sort_index()
        for shards in (2, 4):
            done = run_sharded(load_config(name, [*size, f"run.shards={shards}"]), 0, world)
            got = done.timeseries().set_index(KEY)["value"].sort_index()
            if not got.index.equals(ref.index):
                print(f"{name:32s} {shards} shards: the timeseries hold different rows", flush=True)
                bad += 1
                continue
            rows = relative(got.values, ref.values)
            other = done.indicators()
            inds = relative([other[k] for k in ind], list(ind.values()))
            worst = max(rows.max(initial=0.0), inds.max(initial=0.0))
            n_rows, n_ind = int((rows > 0).sum()), int((inds > 0).sum())
            bad += (n_rows + n_ind) if exact else int(worst > RTOL)
            print(f"{name:32s} {shards} shards: {n_rows} timeseries rows and {n_ind} indicators differ, "
                  f"largest relative difference {worst:.1e}", flush=True)
    if exact:
        print("all identical" if not bad else f"{bad} differences")
    else:
        print(f"all within {RTOL:g}" if not bad else f"{bad} runs outside {RTOL:g}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
