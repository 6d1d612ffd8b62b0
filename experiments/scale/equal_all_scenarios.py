"""Every scenario of the library on 2 and 4 shards against one process (docs/scale.md).

    python experiments/scale/equal_all_scenarios.py [households] [months]

Prints, per scenario and shard count, how many timeseries rows and indicators differ from one
process at the same size and seed (0 and 0 when the sharded run is bit-identical). About two
minutes at the defaults (20,000 households, 12 months of spin-up and 12 reported) on 2 cores.
"""

from __future__ import annotations

import sys

import numpy as np

from gcm_sim.config import list_scenarios, load_config
from gcm_sim.studies.experiment import run_replicate
from gcm_sim.studies.shards import run_sharded
from gcm_sim.world import load_world

KEY = ["month", "origin", "destination", "channel", "sex", "age_group", "measure"]


def main() -> int:
    households = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    months = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    world = load_world()
    size = [f"run.households={households}", f"run.spinup_months={months}", f"run.months={months}", "run.replicates=1"]
    bad = 0
    for name in list_scenarios():
        ts, ind = run_replicate(load_config(name, size), 0, world)
        ref = ts.set_index(KEY)["value"].sort_index()
        for shards in (2, 4):
            done = run_sharded(load_config(name, [*size, f"run.shards={shards}"]), 0, world)
            got = done.timeseries().set_index(KEY)["value"].sort_index()
            rows = len(ref) if not got.index.equals(ref.index) else int((got.values != ref.values).sum())
            other = done.indicators()
            ind_diff = sum(not (other[k] == v or (np.isnan(v) and np.isnan(other[k]))) for k, v in ind.items())
            bad += rows + ind_diff
            print(f"{name:32s} {shards} shards: {rows} timeseries rows and {ind_diff} indicators differ", flush=True)
    print("all identical" if not bad else f"{bad} differences")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
