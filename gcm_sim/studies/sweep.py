"""``gcm-sim sweep``: a Hydra multirun over config values, gathered into one results.parquet.

Why Hydra's own multirun: academics already know ``-m key=a,b`` and Hydra's
launchers (joblib for local cores, submitit for SLURM clusters), so a sweep is a
real ``@hydra.main`` application launched with ``--multirun``, not a loop of ours.
Around it this module adds what Hydra leaves to the app:

1. Before anything is launched, the sweep is expanded with Hydra's BasicSweeper
   rules and *every* combination is composed and validated exactly like ``gcm-sim
   run`` (:func:`gcm_sim.config.load_config`); a bad value anywhere exits 2 with one
   message and no job starts.
2. Each job validates its own config again, runs its replicates, and writes its run
   directory (``report.write_run_dir``: atomic files) plus ``result.parquet`` last;
   a failing job writes ``error.txt`` instead and the sweep goes on.
3. A job whose ``result.parquet`` exists for the same overrides is skipped, so
   rerunning the same command (same ``hydra.sweep.dir``) resumes.
4. When the launcher returns, :func:`gather` writes ``results.parquet`` in the sweep
   dir: one row per job, replicate and indicator, with a column per override.

Defaults: ``hydra/launcher=joblib`` (all local cores) and ``hydra.sweep.dir =
outputs/sweeps/<hash of the arguments>``, so the same command finds its own folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path

import pandas as pd

from gcm_sim.policy import ConfigError
from gcm_sim.edges.outputs import atomic_write

SWEEP_DIR_KEY = "hydra.sweep.dir"
LAUNCHER_GROUP = "hydra/launcher"
DEFAULT_LAUNCHER = "joblib"
RESULT = "result.parquet"
ERROR = "error.txt"
JOB_JSON = "job.json"
PARENT_ENV = "GCM_SIM_SWEEP_PID"  # the process that launched the sweep (jobs in other processes watch it)


# --- before launching ---------------------------------------------------------------------


def prepare(args: list[str], world=None) -> dict:
    """Split Hydra settings from config overrides, expand and validate every combination.

    Returns {'sweep_dir': Path, 'hydra_args': [...] (what Hydra gets), 'jobs': [[override, ...], ...]}.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException, OverrideParseException

    from gcm_sim.config import load_config

    hydra_args, config_args, sweep_dir = [], [], None
    for a in args:
        key = a.split("=", 1)[0].lstrip("+~")
        if key == SWEEP_DIR_KEY:
            sweep_dir = a.split("=", 1)[1]
        elif key.startswith("hydra.") or key.startswith("hydra/"):
            hydra_args.append(a)
        else:
            config_args.append(a)
    try:
        parsed = OverridesParser.create().parse_overrides(config_args)
    except OverrideParseException as e:
        raise ConfigError("overrides", " ".join(config_args), f"not valid Hydra syntax ({str(e).splitlines()[-1]})") \
            from None
    try:
        (jobs,) = BasicSweeper.split_arguments(parsed, None)
    except HydraException as e:
        raise ConfigError("overrides", " ".join(config_args), f"{e}; use a,b,c or range(start,stop,step)") from None
    for ov in parsed:
        if ov.is_sweep_override():
            values = list(ov.sweep_string_iterator())
            if len(values) != len(set(values)):
                raise ConfigError(ov.key_or_group, (ov.input_line or "").partition("=")[2],
                                  "a sweep lists each value once (duplicates would share a job's seeds)")
    if world is None:
        from gcm_sim.world import load_world

        world = None if any(o.split("=", 1)[0] == "world" for o in config_args) else load_world()
    cfgs = [load_config("baseline", job, world=world) for job in jobs]  # every combination, like `gcm-sim run`
    if not any(a.split("=", 1)[0] == LAUNCHER_GROUP for a in hydra_args):
        hydra_args.insert(0, f"{LAUNCHER_GROUP}={DEFAULT_LAUNCHER}")
    check_hydra_args(hydra_args)  # before "sweep of N jobs" is printed, and before Hydra runs anything
    if sweep_dir is None:
        digest = hashlib.sha256(json.dumps(sorted(config_args)).encode()).hexdigest()[:10]
        sweep_dir = str(Path("outputs") / "sweeps" / digest)
    if "${" in sweep_dir:
        from gcm_sim.edges.outputs import resolve_run_dir

        sweep_dir = str(resolve_run_dir(sweep_dir))
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    from gcm_sim.edges.outputs import check_run_dir

    check_run_dir(sweep_dir, key=SWEEP_DIR_KEY, kind="sweep")  # writable, and not a study's folder
    _check_memory(cfgs, hydra_args)
    hydra_config_args = [_for_hydra(o) for o in config_args]
    return {"sweep_dir": sweep_dir, "jobs": jobs,
            "hydra_args": [*hydra_config_args, *hydra_args, f"{SWEEP_DIR_KEY}={sweep_dir}"]}


# What a user may set of Hydra's own config (everything else, such as hydra.callbacks,
# hydra.job_logging or a launcher's _target_, names code to import and run): the launcher,
# the launcher's existing settings, and the sweep folder.
LAUNCHERS = ("joblib", "submitit_local", "submitit_slurm", "slurm")
ALLOWED_HYDRA = f"{LAUNCHER_GROUP}={'|'.join(LAUNCHERS)}, hydra.launcher.SETTING=VALUE, {SWEEP_DIR_KEY}=DIR"


def check_hydra_args(hydra_args: list[str]) -> None:
    """Refuse hydra.* arguments outside the allow-list, then compose them to check values."""
    import re

    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    for a in hydra_args:
        key, eq, value = a.partition("=")
        plain = key.lstrip("+~")
        if not eq:
            raise ConfigError(plain, None, f"write KEY=VALUE; allowed hydra settings: {ALLOWED_HYDRA}")
        if plain != key:
            raise ConfigError(plain, value, f"hydra settings cannot be added (+) or deleted (~); "
                                            f"allowed: {ALLOWED_HYDRA}")
        if plain == LAUNCHER_GROUP:
            if value not in LAUNCHERS:
                raise ConfigError(plain, value, f"unknown launcher; allowed: {', '.join(LAUNCHERS)}")
            continue
        if not plain.startswith("hydra.launcher.") or "_target_" in plain:
            raise ConfigError(plain, value, f"not a hydra setting a sweep accepts (hydra settings can name code to run); "
                                            f"allowed: {ALLOWED_HYDRA}")
        if "${" in value:
            raise ConfigError(plain, value, "a plain value (no ${...} interpolation)")
    launcher = [a.partition("=")[2] for a in hydra_args if a.startswith(LAUNCHER_GROUP + "=")][-1]
    backup = None
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    if GlobalHydra.instance().is_initialized():
        backup = get_gh_backup()
        GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="gcm_sim.conf", version_base=None):
            cfg = compose(config_name="config", overrides=hydra_args, return_hydra_config=True)
            settings = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    except (HydraException, OmegaConfBaseException) as e:
        text = str(e).strip().splitlines()
        m = re.search(r"override ([^=\s']+)=|override '([^']+)'", text[0] if text else "")
        key = (m.group(1) or m.group(2)) if m else "hydra"
        value = next((a.partition("=")[2] for a in hydra_args if a.partition("=")[0] == key), None)
        cause = e.__cause__
        reason = str(cause).strip().splitlines()[0] if cause is not None and str(cause).strip() else text[0]
        fields = _launcher_fields(launcher)
        raise ConfigError(key, value, f"{reason}; the {launcher} launcher's settings: {fields}") from None
    finally:
        GlobalHydra.instance().clear()
        if backup is not None:
            restore_gh_from_backup(backup)
    n_jobs = settings.get("n_jobs")
    if launcher == "joblib" and (not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1):
        value = next((a.partition("=")[2] for a in hydra_args if a.startswith("hydra.launcher.n_jobs=")), n_jobs)
        raise ConfigError("hydra.launcher.n_jobs", value, "a whole number >= 1 (or -1: all cores)")


def _launcher_fields(launcher: str) -> str:
    from hydra import compose, initialize_config_module

    try:
        with initialize_config_module(config_module="gcm_sim.conf", version_base=None):
            cfg = compose(config_name="config", overrides=[f"{LAUNCHER_GROUP}={launcher}"], return_hydra_config=True)
            return ", ".join(k for k in cfg.hydra.launcher if k != "_target_")
    except Exception:  # noqa: BLE001 - only for the message
        return "(see Hydra's launcher documentation)"


def _check_memory(cfgs: list, hydra_args: list[str]) -> None:
    """Refuse a local sweep whose concurrent jobs would not fit in memory (cluster launchers run elsewhere)."""
    import os

    from gcm_sim.studies.resources import check_memory

    launcher = [a.partition("=")[2] for a in hydra_args if a.startswith(LAUNCHER_GROUP + "=")][-1]
    if launcher != "joblib" or not cfgs:
        return
    n_jobs = next((int(a.partition("=")[2]) for a in hydra_args if a.startswith("hydra.launcher.n_jobs=")), -1)
    concurrent = min(len(cfgs), (os.cpu_count() or 1) if n_jobs == -1 else n_jobs)
    biggest = max(cfgs, key=lambda c: c.run.households * min(c.run.workers, c.run.replicates))
    check_memory(biggest.run.households, concurrent * min(biggest.run.workers, biggest.run.replicates))


def _for_hydra(text: str) -> str:
    """``behaviour.NAME=V`` needs ``++`` in Hydra's own composition (behaviour is empty in config.yaml)."""
    return "++" + text if text.startswith(("behaviour.", "expect.")) else text


def launch(plan: dict, progress: bool = True) -> dict:
    """Run Hydra's multirun with the planned arguments, then gather; returns gather()'s summary."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    sweep_dir = plan["sweep_dir"]
    watcher = _Watcher(sweep_dir, len(plan["jobs"])) if progress else None
    argv = sys.argv
    sys.argv = ["gcm-sim sweep", "--multirun", *plan["hydra_args"]]
    os.environ[PARENT_ENV] = str(os.getpid())
    try:
        if watcher:
            watcher.start()
        hydra.main(config_path="pkg://gcm_sim.conf", config_name="config", version_base=None)(task)()
    finally:
        sys.argv = argv
        if watcher:
            watcher.stop()
        if GlobalHydra.instance().is_initialized():
            GlobalHydra.instance().clear()
    return gather(sweep_dir, len(plan["jobs"]))


# --- one job (runs inside Hydra's launcher) --------------------------------------------------


def task(_cfg) -> str:
    """The Hydra task function: validate like ``run``, run, write the job dir atomically."""
    from hydra.core.hydra_config import HydraConfig

    logging.getLogger("MESA").setLevel(logging.WARNING)  # Hydra sets the root logger to INFO: no per-step lines
    if str(os.getpid()) != os.environ.get(PARENT_ENV, str(os.getpid())):  # a launcher's worker: no orphans
        from gcm_sim.studies.lifeline import die_with_parent

        die_with_parent(kernel=False)
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    overrides = [o[2:] if o.startswith("++behaviour.") else o for o in hc.overrides.task]
    job = {"num": int(hc.job.num), "overrides": overrides}
    done = out / JOB_JSON
    if (out / RESULT).exists() and done.exists() and json.loads(done.read_text(encoding="utf-8")) == job:
        return "skipped"  # finished by an earlier invocation of the same sweep
    (out / RESULT).unlink(missing_ok=True)  # a stale result of other overrides must not be gathered
    try:
        from gcm_sim.studies import experiment
        from gcm_sim.config import load_config
        from gcm_sim.edges.report import write_run_dir

        cfg = load_config("baseline", overrides)
        result = experiment.run(cfg, progress=False)
        write_run_dir(result, out, documents=False)  # no HTML/PDF/xlsx per job
        rows = result.indicators.copy()
        rows.insert(0, "run", job["num"])
        rows.insert(3, "seed", cfg.run.seed)
        for key, value in _values(overrides).items():
            rows[key] = value
        (out / ERROR).unlink(missing_ok=True)
        atomic_write(done, lambda f: f.write(json.dumps(job)))
        atomic_write(out / RESULT, lambda f: rows.to_parquet(f, engine="pyarrow", index=False), binary=True)
        return "done"
    except Exception:  # noqa: BLE001 - a failed job is recorded; the sweep goes on
        atomic_write(out / ERROR, lambda f: f.write(traceback.format_exc()))
        return "failed"


def _values(overrides: list[str]) -> dict:
    """Each override's value, typed as Hydra parses it (lists and mappings as text)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = {}
    for ov in OverridesParser.create().parse_overrides(overrides):
        v = ov.value()
        out[ov.key_or_group] = v if isinstance(v, (int, float, str, bool)) or v is None else ov.get_value_element_as_str()
    return out


# --- after the launcher returns ---------------------------------------------------------------


def gather(sweep_dir: Path, n_jobs: int) -> dict:
    """Stack every job's result.parquet into results.parquet; list failures in failures.csv."""
    frames, failed, missing = [], [], []
    for num in range(n_jobs):
        d = Path(sweep_dir) / str(num)
        if (d / RESULT).exists():
            frames.append(pd.read_parquet(d / RESULT))
        elif (d / ERROR).exists():
            lines = (d / ERROR).read_text(encoding="utf-8").strip().splitlines()
            failed.append({"run": num, "error": lines[-1] if lines else "error"})
        else:
            missing.append(num)
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not results.empty:
        results = results.sort_values(["run", "replicate", "indicator"], kind="stable").reset_index(drop=True)
    atomic_write(Path(sweep_dir) / "results.parquet", lambda f: results.to_parquet(f, engine="pyarrow", index=False),
            binary=True)
    fails = pd.DataFrame(failed + [{"run": m, "error": "no result (interrupted?)"} for m in missing],
                         columns=["run", "error"])
    atomic_write(Path(sweep_dir) / "failures.csv", lambda f: fails.to_csv(f, index=False))
    return {"results": results, "failed": failed, "missing": missing, "sweep_dir": Path(sweep_dir)}


class _Watcher:
    """A tqdm bar on stderr fed by the job folders (jobs run in other processes or on a cluster)."""

    def __init__(self, sweep_dir: Path, total: int):
        self.dir, self.total = Path(sweep_dir), total
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _count(self) -> tuple[int, int]:
        done = sum((self.dir / str(i) / RESULT).exists() for i in range(self.total))
        failed = sum((self.dir / str(i) / ERROR).exists() for i in range(self.total))
        return done, failed

    def _run(self) -> None:
        from tqdm import tqdm

        bar = tqdm(total=self.total, desc="sweep", unit="job", file=sys.stderr, dynamic_ncols=True,
                   mininterval=0.5 if sys.stderr.isatty() else 10.0)
        try:
            while True:
                done, failed = self._count()
                bar.set_postfix(failed=failed, refresh=False)
                bar.update(done + failed - bar.n)
                if self._stop.wait(1.0):
                    done, failed = self._count()
                    bar.update(done + failed - bar.n)
                    break
        finally:
            bar.close()
