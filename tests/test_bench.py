"""The benchmark's arithmetic and its command-line errors (timings themselves are not tested)."""

import subprocess
import sys

from gcm_sim.studies.bench import Measurement, floor_kernel, summarise


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
    out = subprocess.run([sys.executable, "-m", "gcm_sim.edges.cli", "bench", "sizes=ten"], capture_output=True, text=True)
    assert out.returncode == 2 and "sizes" in out.stderr and "Traceback" not in out.stderr


def test_variance_reduction_of_one_cell():
    import numpy as np

    from gcm_sim.studies.bench import variance_reduction

    base = np.array([100.0, 110.0, 90.0, 105.0, 95.0])
    paired = np.array([-10.0, -11.0, -9.0, -10.5, -9.5])   # same seeds: the effect moves with baseline
    unpaired = np.array([-5.0, -20.0, 0.0, -15.0, -10.0])  # independent seeds: noise of both arms
    cell = variance_reduction(paired, unpaired, base, np.random.default_rng(0))
    assert cell["effect_pct"] == -10.0 and cell["counted"]
    assert cell["factor"] == np.var(unpaired, ddof=1) / np.var(paired, ddof=1) == 62.5 / 0.625
    assert cell["factor_ci_low"] < cell["factor"] < cell["factor_ci_high"]
    again = variance_reduction(paired, unpaired, base, np.random.default_rng(0))
    assert again == cell, "seeded: the interval is reproducible"
    tiny = variance_reduction(paired / 100, unpaired, base, np.random.default_rng(0))
    assert not tiny["counted"], "an effect under 1% of baseline is not counted"


def test_bench_crn_writes_its_tables(tmp_path):
    import math

    import pandas as pd

    from gcm_sim.studies.bench import CRN_COLUMNS, CRN_INDICATORS, CRN_SCENARIOS
    from gcm_sim.edges.cli import main

    run_dir = tmp_path / "crn"
    # 12 months: climate_shock starts in month 12 (a shock after the horizon is refused)
    assert main(["bench", "crn", "households=1000", "months=12", "replicates=3", "workers=1",
                 f"hydra.run.dir={run_dir}"]) == 0
    table = pd.read_csv(run_dir / "crn.csv")
    assert list(table.columns) == CRN_COLUMNS
    assert len(table) == len(CRN_SCENARIOS) * len(CRN_INDICATORS)
    assert set(table.scenario) == set(CRN_SCENARIOS) and set(table.indicator) == set(CRN_INDICATORS)
    moved = table[table.var_paired > 0]
    assert len(moved) > 0
    assert all(math.isfinite(f) and f > 0 for f in moved.factor)
    text = (run_dir / "crn.md").read_text()
    assert "| scenario | indicator |" in text and "median variance reduction factor" in text
    assert not list(run_dir.glob("*.tmp")), "written atomically"


def test_bench_crn_rejects_bad_options_with_exit_2():
    out = subprocess.run([sys.executable, "-m", "gcm_sim.edges.cli", "bench", "crn", "replicates=1"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "replicates" in out.stderr and "Traceback" not in out.stderr
