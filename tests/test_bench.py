"""The benchmark's arithmetic and its command-line errors (timings themselves are not tested)."""

import subprocess
import sys

from gcm_sim.bench import Measurement, floor_kernel, summarise


def _m(kind, n, step, note=""):
    return Measurement(kind, n, 10, 0.1, step, 0.0, 100.0, n * 10 / step, note=note)


def test_summary_uses_marginal_cost_between_the_two_largest_sizes():
    rs = [_m("fast", 100_000, 2.0), _m("fast", 1_000_000, 11.0), _m("floor", 100_000, 0.5),
          _m("floor", 1_000_000, 3.5), _m("reference", 100_000, 100.0),
          _m("replicates", 1000, 10.0, "workers=1"), _m("replicates", 1000, 6.0, "workers=2")]
    s = summarise(rs)
    assert s["marginal_household_months_per_s"] == 900_000 * 10 / 9.0
    assert abs(s["ratio_to_floor"] - 3.0) < 1e-9
    assert abs(s["fast_over_reference_100000"] - 50.0) < 1e-9
    assert abs(s["replicate_speedup_2_workers"] - 10 / 6) < 1e-9


def test_floor_kernel_runs():
    assert floor_kernel(1000, 3, seed=1).household_months_per_s > 0


def test_bench_rejects_bad_options_with_exit_2():
    out = subprocess.run([sys.executable, "-m", "gcm_sim.cli", "bench", "sizes=ten"], capture_output=True, text=True)
    assert out.returncode == 2 and "sizes" in out.stderr and "Traceback" not in out.stderr
