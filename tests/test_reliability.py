"""Reliability and security (issue 17): the real CLI on bad input, output folders checked
before work, the memory estimate, no orphaned workers after SIGKILL/SIGTERM, no
leftover temporary files, no code run from config.

The process tests wait for the state they act on (workers started, the run begun)
rather than sleeping a fixed time, and allow generous timeouts, so they hold on a
machine whose cores are busy.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gcm_sim.edges import cli, outputs
from gcm_sim.studies import resources
from gcm_sim.policy import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TINY = ["run.households=1000", "run.months=3", "run.replicates=2"]


def gcm(args, cwd, timeout=180):
    return subprocess.run([sys.executable, "-m", "gcm_sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


# --- the real command line: a smaller set of bad inputs -------------------------------------

REAL_CLI = [
    (["run", "run.households=nan"], "run.households"),
    (["run", "behaviour.contract_months=0"], "behaviour.contract_months"),
    (["compare", "visa_liberalisation", "run.months=inf"], "run.months"),
    (["sweep", "-m", "run.seed=1,1"], "run.seed"),
    (["sweep", "-m", "run.seed=1,2", "hydra.launcher.n_jobs=abc"], "hydra.launcher.n_jobs"),
    (["sweep", "-m", "run.seed=1,2", "+hydra.callbacks.x._target_=shutil.copyfile",
      "+hydra.callbacks.x.src=README.md", "+hydra.callbacks.x.dst=copied.md"], "hydra.callbacks.x._target_"),
    (["run", "meta.description=${oc.env:HOME}"], "meta.description"),
]


@pytest.mark.parametrize("args,key", REAL_CLI, ids=[" ".join(a) for a, _ in REAL_CLI])
def test_real_cli_bad_input(tmp_path, args, key):
    (tmp_path / "README.md").write_text("x")
    r = gcm(args, tmp_path)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert "sweep of" not in r.stdout
    assert sorted(os.listdir(tmp_path)) == ["README.md"]  # nothing written, no copied.md


# --- output folders, before work ---------------------------------------------------------------


def test_run_dir_under_a_file_is_refused_before_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    assert cli.main(["run", *TINY, f"hydra.run.dir={tmp_path / 'afile' / 'out'}"]) == 2
    err = capsys.readouterr().err
    assert "hydra.run.dir" in err and "is an existing file" in err and len(err.strip().splitlines()) == 1


def test_unwritable_run_dir_is_refused_before_work(tmp_path, monkeypatch, capsys):
    """The kernel's process table refuses new files even for root (a chmod would not stop root)."""
    monkeypatch.chdir(tmp_path)
    target = Path("/proc/self/task") / "gcm-sim-out"
    assert cli.main(["run", *TINY, f"hydra.run.dir={target}"]) == 2
    err = capsys.readouterr().err
    assert "cannot write there" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_read_only_folder_is_refused(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", refuse)
    with pytest.raises(ConfigError, match="cannot write there .*Permission denied"):
        outputs.check_run_dir(tmp_path / "out")


def test_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    import gcm_sim.edges.report as report

    def full(result, run_dir):
        outputs.atomic_write(Path(run_dir) / "summary.csv", lambda f: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, "No space left on device")))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(report, "write_run_dir", full)
    assert cli.main(["run", *TINY, f"hydra.run.dir={tmp_path / 'out'}"]) == cli.EXIT_WRITE
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "month/s" not in line]
    assert err == [f"gcm-sim: error: cannot write {tmp_path / 'out' / 'summary.csv'}: No space left on device; "
                   "files already written are complete, the rest were not written"]
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_study_and_sweep_folders_are_not_mixed(tmp_path, monkeypatch, capsys):
    from gcm_sim.studies import sweep

    monkeypatch.chdir(tmp_path)
    study_dir, sweep_dir = tmp_path / "study", tmp_path / "sweep"
    study_dir.mkdir()
    (study_dir / outputs.STUDY_MARKER).write_text("{}")
    sweep_dir.mkdir()
    (sweep_dir / outputs.SWEEP_MARKER).write_text("{}")
    with pytest.raises(ConfigError, match="holds a study's results"):
        sweep.prepare(["run.seed=1,2", *TINY, f"hydra.sweep.dir={study_dir}"])
    st = tmp_path / "st.yaml"
    st.write_text("design: lhs\nsamples: 2\nreplicates: 1\nlevers: {policy.enforcement.anti_smuggling: [0, 1]}\n"
                  "overrides: [run.households=1000, run.months=3]\n")
    assert cli.main(["explore", f"study={st}", f"hydra.run.dir={sweep_dir}"]) == 2
    assert "holds a sweep's results" in capsys.readouterr().err
    assert sorted(os.listdir(sweep_dir)) == [outputs.SWEEP_MARKER]


def test_stale_tmp_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / "figures").mkdir()
    stale = tmp_path / "figures" / f".stocks.png.{dead}.0123abcd.tmp"
    mine = tmp_path / f".summary.csv.{os.getpid()}.0123abcd.tmp"
    stale.write_text("x")
    mine.write_text("x")
    outputs.check_run_dir(tmp_path)
    assert not stale.exists() and mine.exists()


# --- memory -----------------------------------------------------------------------------------


def test_memory_estimate_refuses_what_does_not_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(resources, "available_bytes", lambda: 2 * 2**30)
    assert cli.main(["run", "run.households=50000000", "run.replicates=1"]) == 2
    err = capsys.readouterr().err
    assert "run.households=50000000" in err and "available" in err and os.listdir(tmp_path) == []
    resources.check_memory(1_000_000, 2, available=2 * 2**30)  # 2 x (540 MB + 250 MB) fits in 2 GB
    with pytest.raises(ConfigError, match="needs about"):
        resources.check_memory(3_000_000, 2, available=2 * 2**30)
    assert resources.available_bytes() is None or resources.available_bytes() > 0


# --- no orphans, no leftovers ---------------------------------------------------------------------


def _children_when(proc, n, timeout=120):
    """The process's descendants once at least ``n`` exist (the workers have started)."""
    psutil = pytest.importorskip("psutil")
    parent = psutil.Process(proc.pid)
    deadline = time.time() + timeout
    while time.time() < deadline:
        kids = [k for k in parent.children(recursive=True) if k.is_running()]
        if len(kids) >= n:
            time.sleep(1.0)  # let them get into their work
            return parent.children(recursive=True)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"fewer than {n} workers started: {proc.communicate()[1][-2000:]}")


def _gone_within(kids, seconds):
    import psutil

    deadline = time.time() + seconds
    while time.time() < deadline:
        alive = [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.1)
    for k in alive:
        k.kill()
    return [k.pid for k in alive]


LONG = ["run.households=2000", "run.months=1200"]


def _explore_proc(tmp_path):
    st = tmp_path / "st.yaml"
    st.write_text("name: orphans\ndesign: lhs\nsamples: 6\nreplicates: 1\nseed: 1\n"
                  "levers: {policy.enforcement.interception_multiplier: [0.5, 3]}\n"
                  f"overrides: [{', '.join(LONG)}]\n")
    return subprocess.Popen([sys.executable, "-m", "gcm_sim", "explore", f"study={st}", "executor.workers=2",
                             f"hydra.run.dir={tmp_path / 'out'}"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _sweep_proc(tmp_path):
    return subprocess.Popen([sys.executable, "-m", "gcm_sim", "sweep", "-m", "run.seed=1,2", *LONG,
                             "run.replicates=1", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'sw'}"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("make", [_explore_proc, _sweep_proc], ids=["explore", "sweep"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_worker_outlives_its_parent(tmp_path, make, sig):
    proc = make(tmp_path)
    try:
        kids = _children_when(proc, 2)
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
        alive = _gone_within(kids, 10)
        assert not alive, f"workers {alive} outlived their parent by more than 10 s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_exits_143_and_leaves_no_tmp(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "gcm_sim", "run", "run.months=1200", "run.replicates=50",
                             "run.households=2000", f"hydra.run.dir={tmp_path / 'out'}"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "results will go to" in proc.stdout.readline()
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_TERMINATED, (proc.returncode, err)
    assert "Traceback" not in err and "terminated" in err
    assert not list(tmp_path.rglob("*.tmp"))


def test_lifeline_ends_an_orphan(tmp_path):
    """A grandchild that called die_with_parent exits within seconds of its parent's SIGKILL."""
    psutil = pytest.importorskip("psutil")
    code = ("import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'from gcm_sim.studies.lifeline import die_with_parent;"
            " die_with_parent(kernel=False); import time; print(1, flush=True); time.sleep(600)'],"
            " stdout=subprocess.PIPE)\n"
            "p.stdout.readline(); print(p.pid, flush=True); time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    parent.kill()
    parent.wait()
    assert not _gone_within([child], 10)


# --- MigrationModel's own arguments ----------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"cfg": "notacfg"}, {"rng": -1}, {"rng": "abc"}], ids=["cfg", "rng-1", "rng-abc"])
def test_migration_model_names_a_bad_argument(kwargs):
    from gcm_sim.model import MigrationModel

    cfg = kwargs.pop("cfg", None)
    with pytest.raises(ConfigError) as e:
        MigrationModel(cfg, households=200, **kwargs)
    assert e.value.key in ("cfg", "rng")
