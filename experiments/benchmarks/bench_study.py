"""Benchmark (not a test): a study of N runs on 1 vs 2 local processes and on Dask.

    python experiments/benchmarks/bench_study.py [--runs 200] [--households 20000] [--months 6]
                                                 [--workers 2] [--out outputs/bench_study]

Reports, as a table and JSON (OUT/bench.json):
- wall time for the same LHS study (one run = one model replicate) with executor=processes and
  1 worker, then N workers: the speed-up;
- the same on a Dask LocalCluster of N single-threaded workers: overhead per run =
  (dask wall x workers - 1-process wall) / runs; and, separately, the pure per-run overhead of
  the machinery (a no-op target: scheduling, result transfer, the atomic per-run Parquet file);
- peak resident memory per worker process (sampled with psutil every 0.2 s).
Short horizons keep it to minutes; the model's cost per month is about constant, so the
speed-up and per-run overhead carry over to longer runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from pathlib import Path

import sys

import psutil

from gcm_sim.studies import explore

sys.path.insert(0, str(Path(__file__).resolve().parent))  # workers import this file's noop() as bench_study


def noop(values, rng):
    return {"y": float(values["x"])}


class PeakRSS:
    """Peak RSS of each descendant process of this one (the workers), sampled in a thread."""

    def __init__(self):
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.wait(0.2):
            for c in me.children(recursive=True):
                try:
                    cmd = " ".join(c.cmdline())
                    if "resource_tracker" in cmd or "semaphore_tracker" in cmd:
                        continue
                    self.peak[c.pid] = max(self.peak.get(c.pid, 0), c.memory_info().rss)
                except psutil.Error:
                    pass

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def summary_mb(self) -> float:
        big = [v for v in self.peak.values() if v > 50e6]  # workers, not helper processes
        return max(big) / 1e6 if big else float("nan")


def timed(study, out: Path, executor: str, workers: int) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    with PeakRSS() as mem:
        t = time.perf_counter()
        res = explore.run_study(study, out, executor=executor, workers=workers, progress=True)
        wall = time.perf_counter() - t
    assert res["outcome"].complete, res["outcome"].failed
    return wall, mem.summary_mb()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--households", type=int, default=20000)
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="outputs/bench_study")
    a = ap.parse_args()
    out = Path(a.out)
    study = explore.make_study({"name": "bench", "design": "lhs", "samples": a.runs, "replicates": 1, "seed": 1,
                                "levers": {"policy.enforcement.interception_multiplier": [0.5, 3.0],
                                           "behaviour.b_death": [4.0, 12.0]},
                                "overrides": [f"run.households={a.households}", f"run.months={a.months}"]})
    rows = {}
    rows["processes_1"] = timed(study, out / "p1", "processes", 1)
    rows[f"processes_{a.workers}"] = timed(study, out / "pN", "processes", a.workers)
    rows[f"dask_local_{a.workers}"] = timed(study, out / "dask", "dask", a.workers)
    noop_study = explore.make_study({"name": "noop", "design": "lhs", "samples": a.runs, "replicates": 1,
                                     "seed": 1, "levers": {"x": [0, 1]}, "target": "bench_study:noop"})
    rows[f"dask_noop_{a.workers}"] = timed(noop_study, out / "dask_noop", "dask", a.workers)
    rows[f"processes_noop_{a.workers}"] = timed(noop_study, out / "p_noop", "processes", a.workers)
    t1, tn, td = rows["processes_1"][0], rows[f"processes_{a.workers}"][0], rows[f"dask_local_{a.workers}"][0]
    report = {
        "runs": a.runs, "households": a.households, "months": a.months, "workers": a.workers,
        "cpu_count": os.cpu_count(), "load_avg_at_end": os.getloadavg(),
        "wall_s": {k: round(v[0], 2) for k, v in rows.items()},
        "peak_rss_per_worker_mb": {k: round(v[1], 1) for k, v in rows.items()},
        "seconds_per_run_1_process": round(t1 / a.runs, 3),
        "speedup_processes": round(t1 / tn, 2),
        "speedup_dask": round(t1 / td, 2),
        "dask_overhead_per_run_s": round((td * a.workers - t1) / a.runs, 3),
        "dask_noop_overhead_per_run_s": round(rows[f"dask_noop_{a.workers}"][0] * a.workers / a.runs, 4),
        "processes_noop_overhead_per_run_s": round(rows[f"processes_noop_{a.workers}"][0] * a.workers / a.runs, 4),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
