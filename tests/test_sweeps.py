"""Sweeps, studies, executors and scenario discovery (issue 7).

Fast by default (small worlds, few runs); the launcher, external-Dask and killed-worker
tests are marked ``slow``. Processes started here (dask scheduler/worker, CLI runs) are
stopped by their PID.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gcm_sim.policy import ConfigError
from gcm_sim.studies import explore

from .helpers import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["run.households=1000", "run.months=3"]
PI = math.pi


# --- plain Python targets (the study machinery accepts target: module:function) -------------


def ishigami(values, rng):
    """Ishigami function, a=7, b=0.1: S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437)."""
    x1, x2, x3 = values["x1"], values["x2"], values["x3"]
    return {"y": math.sin(x1) + 7 * math.sin(x2) ** 2 + 0.1 * x3 ** 4 * math.sin(x1)}


def flaky(values, rng):
    """Fails for x > 0.7 unless the marker file named by FLAKY_OK exists."""
    if values["x"] > 0.7 and not Path(os.environ.get("FLAKY_OK", "/nonexistent")).exists():
        raise RuntimeError("boom")
    return {"y": values["x"] * 2 + rng.random()}


def slow_square(values, rng):
    time.sleep(0.25)
    return {"y": values["x"] ** 2, "noise": rng.random()}


def _cli(*args, cwd, env=None, timeout=600):
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "gcm_sim.edges.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=e, timeout=timeout)


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _model_study(**kw) -> explore.Study:
    data = {"name": "t", "design": "lhs", "samples": 2, "replicates": 1, "seed": 5,
            "levers": {"policy.enforcement.interception_multiplier": [0.5, 3.0], "behaviour.b_death": [4.0, 12.0]},
            "overrides": SMALL}
    data.update(kw)
    return explore.make_study(data)


def test_a_study_can_record_the_calibration_targets_and_loss_of_each_run(tmp_path):
    """outputs: targets (issue 14's screen before a fit): every target's statistic, the loss over the
    fitted ones and the averaged relative difference per system; a higher remit share sends more."""
    from gcm_sim.studies import calibration as cal

    s = explore.make_study({"name": "t", "design": "grid", "samples": 2, "replicates": 1, "seed": 5,
                            "levers": {"behaviour.remit_share": [0.2, 0.4]}, "outputs": "targets",
                            "overrides": ["run.households=1000", "run.months=12"]})
    res = explore.run_study(s, tmp_path / "s", executor="serial", progress=False)["results"]
    wide = res.pivot(index="behaviour.remit_share", columns="indicator", values="value")
    targets = cal.load_targets()
    assert {t.name for t in targets} | {"calibration_loss", "ard_central_america_us"} <= set(res["indicator"])
    low, high = wide.iloc[0], wide.iloc[1]
    assert high["remittances_mex_usd_year"] > 1.2 * low["remittances_mex_usd_year"]
    stats = {t.name: low[t.name] for t in targets}
    assert low["calibration_loss"] == pytest.approx(cal.loss(targets, stats))
    with pytest.raises(ConfigError, match="study.outputs"):
        explore.make_study({"design": "lhs", "samples": 2, "levers": {"behaviour.remit_share": [0.2, 0.4]},
                            "outputs": "everything"})


# --- SALib through the same machinery -------------------------------------------------------


def test_ishigami_sobol_indices_match_known_values(tmp_path):
    s = explore.make_study({"design": "sobol", "samples": 128, "replicates": 1, "seed": 3,
                            "target": "tests.test_sweeps:ishigami",
                            "levers": {"x1": [-PI, PI], "x2": [-PI, PI], "x3": [-PI, PI]}})
    assert len(s.tasks()) == 128 * (3 + 2)
    out = explore.run_study(s, tmp_path / "ishi", executor="serial", progress=False)
    sens = out["sensitivity"].set_index("parameter")
    known = {"x1": (0.3139, 0.5576), "x2": (0.4424, 0.4424), "x3": (0.0, 0.2437)}
    for p, (s1, st) in known.items():
        assert abs(sens.loc[p, "S1"] - s1) < 0.12, (p, sens.loc[p, "S1"])
        assert abs(sens.loc[p, "ST"] - st) < 0.12, (p, sens.loc[p, "ST"])
        assert sens.loc[p, "S1_ci_low"] <= sens.loc[p, "S1"] <= sens.loc[p, "S1_ci_high"]
    assert (tmp_path / "ishi" / "sensitivity.csv").exists()
    assert (tmp_path / "ishi" / "figures").is_dir() is False  # no headline indicator to plot for "y"
    res = pd.read_parquet(tmp_path / "ishi" / "results.parquet")
    assert len(res) == 128 * 5 and {"x1", "x2", "x3"} <= set(res.columns)


def test_failed_runs_are_recorded_and_retried_on_rerun(tmp_path, monkeypatch):
    data = {"design": "grid", "samples": 6, "replicates": 2, "seed": 1, "target": "tests.test_sweeps:flaky",
            "levers": {"x": [0.0, 1.0]}}
    s = explore.make_study(data)
    d = tmp_path / "flaky"
    out = explore.run_study(s, d, executor="serial", progress=False)
    assert len(out["outcome"].failed) == 2 * 2  # x = 0.8 and 1.0, two replicates each
    fails = pd.read_csv(d / "failures.csv")
    assert len(fails) == 4 and fails["error"].str.contains("boom").all()
    assert out["results"]["run"].nunique() == 4
    ok = tmp_path / "ok"
    ok.touch()
    monkeypatch.setenv("FLAKY_OK", str(ok))
    before = {p.name: p.stat().st_mtime_ns for p in (d / "runs").glob("*.parquet")}
    out = explore.run_study(explore.make_study(data), d, executor="serial", progress=False)
    assert out["outcome"].skipped == 8 and len(out["outcome"].done) == 4 and not out["outcome"].failed
    assert all((d / "runs" / n).stat().st_mtime_ns == t for n, t in before.items())  # finished runs untouched
    res = pd.read_parquet(d / "results.parquet")
    assert len(res) == 12 and not res.duplicated(["run", "replicate", "indicator"]).any()
    assert pd.read_csv(d / "failures.csv").empty


def test_study_validates_every_sampled_config_before_work(tmp_path):
    with pytest.raises(explore.ConfigError, match="study.levers.policy.enforcement.nope"):
        _model_study(levers={"policy.enforcement.nope": [0, 1]})
    with pytest.raises(explore.ConfigError, match="behaviour"):
        _model_study(levers={"behaviour.not_a_parameter": [0, 1]})
    with pytest.raises(explore.ConfigError, match="narrow the range"):
        _model_study(levers={"policy.enforcement.anti_smuggling": [0.5, 7.0]})
    study = _write(tmp_path / "bad.yaml", {"design": "sobol", "samples": 4, "levers": {"run.months": [1, 2]},
                                          "overrides": ["policy.visa.default.fee_usd=-3"]})
    r = _cli("explore", f"study={study}", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("error:") == 1 and "policy.visa.default.fee_usd" in r.stderr
    assert not (tmp_path / "outputs").exists()


def test_sampled_values_are_typed_and_columns_present(tmp_path):
    s = _model_study(design="grid", samples=2, levers={"run.months": [2, 3.4],
                                                       "policy.recruitment.employer_pays": [0, 1]},
                     overrides=["run.households=1000"])
    assert [c["run"]["months"] for c in s.configs] == [2, 2, 3, 3]
    assert [c["policy"]["recruitment"]["employer_pays"] for c in s.configs] == [False, True, False, True]


# --- Dask ----------------------------------------------------------------------------------


def test_dask_local_cluster_equals_serial(tmp_path):
    s = _model_study()
    serial = explore.run_study(s, tmp_path / "serial", executor="serial", progress=False)["results"]
    dask = explore.run_study(s, tmp_path / "dask", executor="dask", workers=1, progress=False)["results"]
    assert len(serial) > 0
    pd.testing.assert_frame_equal(serial, dask)


@pytest.mark.slow
def test_external_dask_scheduler_and_worker_equal_serial(tmp_path):
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    dask = [str(Path(sys.executable).with_name("dask"))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sched = subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = None
    try:
        worker = subprocess.Popen([*dask, "worker", addr, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        study = _write(tmp_path / "st.yaml", {"name": "ext", "design": "lhs", "samples": 2, "replicates": 2,
                                              "seed": 5, "overrides": SMALL,
                                              "levers": {"policy.enforcement.interception_multiplier": [0.5, 3]}})
        r = _cli("explore", f"study={study}", f"executor.address={addr}", f"hydra.run.dir={tmp_path / 'ext'}",
                 cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        s = explore.load_study(study)
        serial = explore.run_study(s, tmp_path / "serial", executor="serial", progress=False)["results"]
        pd.testing.assert_frame_equal(serial, pd.read_parquet(tmp_path / "ext" / "results.parquet"))
    finally:
        if worker is not None:
            stop_process(worker)
        stop_process(sched)


# --- a killed worker -------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_worker_then_rerun_gives_complete_dataset(tmp_path):
    psutil = pytest.importorskip("psutil")
    study = _write(tmp_path / "k.yaml", {"name": "k", "design": "lhs", "samples": 30, "replicates": 1, "seed": 2,
                                         "target": "tests.test_sweeps:slow_square", "levers": {"x": [0, 1]}})
    run_dir = tmp_path / "k"
    args = [sys.executable, "-m", "gcm_sim.edges.cli", "explore", f"study={study}", "executor.workers=2",
            "allow_target=true", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(args, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list((run_dir / "runs").glob("*.parquet"))) < 4:
            time.sleep(0.2)
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(c.cmdline())]
        assert workers, "no worker process found"
        killed = workers[0].pid
        os.kill(killed, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "worker process died" in err
    r = _cli("explore", f"study={study}", "executor.workers=2", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = pd.read_parquet(run_dir / "results.parquet")
    assert not res.duplicated(["run", "replicate", "indicator"]).any()
    assert sorted(res["run"].unique()) == list(range(30)) and len(res) == 30 * 2
    assert "30 from an earlier invocation" in (run_dir / "study.md").read_text()


# --- Hydra sweeps ----------------------------------------------------------------------------


def _check_sweep(sweep_dir: Path, replicates: int) -> pd.DataFrame:
    res = pd.read_parquet(sweep_dir / "results.parquet")
    counts = res.groupby("indicator").size()
    assert (counts == 4 * replicates).all(), counts
    assert {"policy.visa.default.fee_usd", "run.seed"} <= set(res.columns)
    assert set(res["policy.visa.default.fee_usd"]) == {60, 200} and set(res["run.seed"]) == {1, 2}
    assert not res.duplicated(["run", "replicate", "indicator"]).any()
    return res


def _sweep_args(sweep: Path, replicates: int, *extra: str) -> list[str]:
    return ["sweep", "-m", "policy.visa.default.fee_usd=60,200", "run.seed=1,2", "run.households=1000",
            "run.months=2", f"run.replicates={replicates}", f"hydra.sweep.dir={sweep}", *extra]


def test_sweep_joblib_four_points(tmp_path):
    sweep = tmp_path / "sw"
    r = _cli(*_sweep_args(sweep, 2, "hydra.launcher.n_jobs=2"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    _check_sweep(sweep, 2)
    for job in range(4):
        assert (sweep / str(job) / "summary.csv").exists() and (sweep / str(job) / "report.md").exists()


@pytest.mark.slow
def test_sweep_rerun_resumes(tmp_path):
    sweep = tmp_path / "sw"
    args = _sweep_args(sweep, 1, "hydra.launcher.n_jobs=1")
    assert _cli(*args, cwd=tmp_path).returncode == 0
    (sweep / "3" / "result.parquet").unlink()  # as if the sweep had been stopped before job 3 finished
    stamp = (sweep / "0" / "result.parquet").stat().st_mtime_ns
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (sweep / "0" / "result.parquet").stat().st_mtime_ns == stamp  # finished jobs are skipped
    assert (sweep / "3" / "result.parquet").exists()
    _check_sweep(sweep, 1)


@pytest.mark.slow
def test_sweep_submitit_local_four_points(tmp_path):
    sweep = tmp_path / "sw"
    r = _cli(*_sweep_args(sweep, 1, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    _check_sweep(sweep, 1)


def test_sweep_bad_value_exits_2_before_any_job(tmp_path):
    sweep = tmp_path / "sw"
    r = _cli("sweep", "-m", "policy.visa.default.fee_usd=60,-5", *SMALL, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("error:") == 1 and "policy.visa.default.fee_usd" in r.stderr and "-5" in r.stderr
    assert not sweep.exists()


# --- scenario discovery and Mesa's batch_run -------------------------------------------------


def test_prim_finds_the_box_that_makes_the_outcome():
    from gcm_sim.studies.discovery import discover

    rng = np.random.default_rng(0)
    n = 400
    a, b = rng.uniform(0, 1, n), rng.uniform(0, 10, n)
    v = (a > 0.6) * (b < 4) * 100 + rng.normal(0, 5, n)
    df = pd.DataFrame({"run": range(n), "replicate": 0, "seed": 0, "indicator": "irregular_departures", "value": v,
                       "policy.x": a, "behaviour.b": b})
    out = discover(df, "irregular_departures", 50)
    box = out["boxes"][out["boxes"]["box"] == 1].set_index("parameter")
    assert box.loc["policy.x", "min"] == pytest.approx(0.6, abs=0.05)
    assert box.loc["behaviour.b", "max"] == pytest.approx(4, abs=0.3)
    assert box["density"].iloc[0] > 0.9 and box["coverage"].iloc[0] > 0.8
    assert "`policy.x` is at least" in out["summary"]


def test_mesa_batch_run_with_keyword_levers():
    import mesa

    from gcm_sim.model import MigrationModel

    rows = mesa.batch_run(MigrationModel, parameters={"households": 1000, "visa_fee_usd": [60, 200]},
                          max_steps=2, number_processes=1, display_progress=False, rng=[1])
    df = pd.DataFrame(rows)
    assert sorted(df["visa_fee_usd"]) == [60, 200]
    assert {"departures_irregular", "stock_irregular", "Step"} <= set(df.columns)
    assert (df["Step"] == 2).all()


def test_slurm_launcher_preset_composes():
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="gcm_sim.conf", version_base=None):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=p"],
                      return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.mem_gb == 4 and cfg.hydra.launcher.partition == "p"
