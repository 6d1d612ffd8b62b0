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
                raise ConfigError(ov.get_key_element(), ov.get_value_element_as_str(),
                                  "a sweep lists each value once (duplicates would share a job's seeds)")
    if world is None:
        from gcm_sim.world import load_world

        world = None if any(o.split("=", 1)[0] == "world" for o in config_args) else load_world()
    for job in jobs:  # every combination, composed and validated like `gcm-sim run`
        load_config("baseline", job, world=world)
    if not any(a.split("=", 1)[0] == LAUNCHER_GROUP for a in hydra_args):
        hydra_args.insert(0, f"{LAUNCHER_GROUP}={DEFAULT_LAUNCHER}")
    if sweep_dir is None:
        digest = hashlib.sha256(json.dumps(sorted(config_args)).encode()).hexdigest()[:10]
        sweep_dir = str(Path("outputs") / "sweeps" / digest)
    if "${" in sweep_dir:
        from gcm_sim.edges.outputs import resolve_run_dir

        sweep_dir = str(resolve_run_dir(sweep_dir))
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise ConfigError(SWEEP_DIR_KEY, str(sweep_dir), "a folder path (this is an existing file)")
    hydra_config_args = [_for_hydra(o) for o in config_args]
    return {"sweep_dir": sweep_dir, "jobs": jobs,
            "hydra_args": [*hydra_config_args, *hydra_args, f"{SWEEP_DIR_KEY}={sweep_dir}"]}


def _for_hydra(text: str) -> str:
    """``behaviour.NAME=V`` needs ``++`` in Hydra's own composition (behaviour is empty in config.yaml)."""
    return "++" + text if text.startswith("behaviour.") else text


def launch(plan: dict, progress: bool = True) -> dict:
    """Run Hydra's multirun with the planned arguments, then gather; returns gather()'s summary."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    sweep_dir = plan["sweep_dir"]
    watcher = _Watcher(sweep_dir, len(plan["jobs"])) if progress else None
    argv = sys.argv
    sys.argv = ["gcm-sim sweep", "--multirun", *plan["hydra_args"]]
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
