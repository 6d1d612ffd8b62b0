"""Benchmark (not a test): a comparison's arms sharing one spin-up per replicate, against each
arm running its own.

    python experiments/benchmarks/bench_spinup.py [--households 20000] [--months 36]
        [--spinup 60] [--replicates 2] [--arms visa_liberalisation,regular_pathways,...]
        [--out outputs/bench_spinup]

Both ways run the same (arm, replicate) jobs serially in this one process, one after the
other, so the ratio is measured within one run on the same machine state:
- separate: ``experiment.run_replicate`` per job (what every arm cost before 2026-12-03);
- shared: ``experiment.run_jobs`` with one worker (one spin-up per replicate, each arm
  branched from it: ``MigrationModel.branch``).
It checks that both give the same indicators (to the bit) and writes OUT/bench.json with
the wall times, the ratio and the ratio expected from month counts alone,
(arms x (spin-up + months)) / (spin-up + arms x months).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gcm_sim.config import load_config
from gcm_sim.studies import experiment
from gcm_sim.world import load_world

ARMS = "visa_liberalisation,regular_pathways,information_campaigns,enforcement_surge"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--spinup", type=int, default=60)
    ap.add_argument("--replicates", type=int, default=2)
    ap.add_argument("--arms", default=ARMS)
    ap.add_argument("--out", default="outputs/bench_spinup")
    a = ap.parse_args()
    world = load_world()
    size = [f"run.households={a.households}", f"run.months={a.months}", f"run.spinup_months={a.spinup}",
            f"run.replicates={a.replicates}", "run.workers=1"]
    configs = experiment.arm_configs(load_config("baseline", size), a.arms.split(","), size, world)
    jobs = [(c, r) for c in configs.values() for r in range(a.replicates)]

    warm = ["run.households=1000", "run.months=1", "run.spinup_months=1"]
    experiment.run_replicate(load_config("baseline", warm), 0, world)  # imports and caches before timing
    t0 = time.perf_counter()
    separate = [experiment.run_replicate(c, r, world)[1] for c, r in jobs]
    t1 = time.perf_counter()
    shared = [ind for *_, ind in experiment.run_jobs(jobs, 1, world, lambda n: None, timeseries=False)]
    t2 = time.perf_counter()
    if separate != shared:
        raise SystemExit("bench_spinup: shared and separate spin-ups gave different indicators")
    k = len(configs)
    out = {"households": a.households, "months": a.months, "spinup_months": a.spinup,
           "replicates": a.replicates, "arms": k, "separate_s": round(t1 - t0, 2), "shared_s": round(t2 - t1, 2),
           "ratio": round((t1 - t0) / (t2 - t1), 3),
           "ratio_from_months": round(k * (a.spinup + a.months) / (a.spinup + k * a.months), 3),
           "same_indicators": True}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "bench.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for key, value in out.items():
        print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
