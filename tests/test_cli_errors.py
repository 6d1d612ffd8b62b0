"""Bad input on the command line: exit code 2, one line naming key and value, no traceback,
no output written, before any work starts (DESIGN.md, Validation)."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib import resources

import pytest


def gcm(args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "gcm_sim.edges.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def corrupt_world(folder):
    """A copy of the embedded world with one bad cell: countries.csv row 2, column population."""
    shutil.copytree(str(resources.files("gcm_sim") / "data"), folder)
    path = folder / "countries.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["population"] = "lots_of_people"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return folder


BAD = [  # (overrides, strings the message must contain)
    (["run.months=12", "policy.timing.start_month=20"], ["policy.timing.start_month", "20", "1 to 12"]),
    (["policy.pathways.quota_multipliers=[{origin:MEX,destination:USA,labour:-1}]"],
     ["policy.pathways.quota_multipliers[0].labour", "-1"]),
    (["policy.regularisation.share=2"], ["policy.regularisation.share", "2"]),
    (["policy.regularisation.mode=sometimes"], ["policy.regularisation.mode", "sometimes", "standing"]),
    (["policy.visa.default.refusal_rate=1.5"], ["policy.visa.default.refusal_rate", "1.5"]),
    (["policy.remittances.cost_pct=-3"], ["policy.remittances.cost_pct", "-3"]),
    (["+policy.visa.default.feee_usd=3"], ["feee_usd", "3"]),
    (["scenario=nowhere"], ["scenario", "nowhere", "baseline", "visa_liberalisation"]),
    (["run.households=-5"], ["run.households", "-5"]),
    (["policy.remittances.corridors=[{origin:XYZ,destination:USA,cost_pct:3}]"], ["origin", "XYZ"]),
    (["policy.visa.corridors=[{origin:[atlantis],destination:USA,fee_usd:10}]"], ["origin", "atlantis"]),
    (["run.engine=warp"], ["run.engine", "warp", "fast", "reference"]),
    (["policy.enforcement.interception_multiplier=lots"], ["interception_multiplier", "lots", "number"]),
    (["+foo=1"], ["foo", "1"]),
    (["climate.shocks=[{origin:[MLI,NER],start_month:0,income_loss_pct:40}]"], ["start_month", "0"]),
    (["behaviour.unknown_param=1"], ["behaviour.unknown_param", "1"]),
    (["policy.pathways.labour_agreements=[{origin:SEN,destination:DEU,annual_quota:-100}]"],
     ["annual_quota", "-100"]),
    (["run.nosuchkey=3"], ["run.nosuchkey", "3"]),
    (["run.months=[1,2"], ["run.months", "[1,2"]),
    (["run.replicates=1.5"], ["run.replicates", "1.5"]),
]


def assert_clean_failure(proc, must_contain, cwd, run_dir):
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err + proc.stdout, err
    assert err.startswith("gcm-sim: error:"), err
    assert len(err.strip().splitlines()) == 1, err
    for s in must_contain:
        assert s in err, (s, err)
    assert not run_dir.exists(), "nothing may be written for a bad config"
    assert not (cwd / "outputs").exists()


@pytest.mark.parametrize("overrides, must_contain", BAD, ids=[" ".join(b[0])[:40] for b in BAD])
def test_run_rejects_bad_input(overrides, must_contain, tmp_path):
    run_dir = tmp_path / "out"
    proc = gcm(["run", *overrides, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert_clean_failure(proc, must_contain, tmp_path, run_dir)


def test_compare_rejects_unknown_scenario(tmp_path):
    run_dir = tmp_path / "out"
    proc = gcm(["compare", "atlantis_open_borders", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert_clean_failure(proc, ["scenario", "atlantis_open_borders", "visa_liberalisation"], tmp_path, run_dir)


def test_compare_needs_a_scenario(tmp_path):
    run_dir = tmp_path / "out"
    proc = gcm(["compare", "run.replicates=2", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert_clean_failure(proc, ["scenario", "visa_liberalisation"], tmp_path, run_dir)


def test_compare_rejects_bad_override(tmp_path):
    run_dir = tmp_path / "out"
    proc = gcm(["compare", "remittance_sdg", "policy.remittances.cost_pct=300", f"hydra.run.dir={run_dir}"],
               cwd=tmp_path)
    assert_clean_failure(proc, ["policy.remittances.cost_pct", "300"], tmp_path, run_dir)


def test_malformed_world_names_file_row_column(tmp_path):
    world = corrupt_world(tmp_path / "badworld")
    work = tmp_path / "work"
    work.mkdir()
    run_dir = work / "out"
    proc = gcm(["run", f"world={world}", f"hydra.run.dir={run_dir}"], cwd=work)
    assert_clean_failure(proc, ["countries.csv", "population", "lots_of_people"], work, run_dir)
    assert "row 2" in proc.stderr, proc.stderr


def test_world_folder_that_does_not_exist(tmp_path):
    run_dir = tmp_path / "out"
    proc = gcm(["run", f"world={tmp_path / 'nowhere'}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert_clean_failure(proc, ["nowhere"], tmp_path, run_dir)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_interrupt_exits_130_without_traceback(tmp_path):
    run_dir = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "gcm_sim.edges.cli", "run", "run.months=1200", "run.replicates=50",
                             f"hydra.run.dir={run_dir}"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # printed after validation, just before the run starts
    assert "results will go to" in line, line
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err and "interrupted" in err
    assert not (run_dir / "summary.csv").exists()


def test_help_exits_zero(tmp_path):
    proc = gcm(["--help"], cwd=tmp_path)
    assert proc.returncode == 0 and "compare" in proc.stdout
