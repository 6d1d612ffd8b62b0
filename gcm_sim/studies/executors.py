"""Run many independent tasks (one per study run) serially, on local processes or on Dask.

Why this module exists: a study is thousands of short, independent runs, and the
analyst must not lose finished work to a crash, a killed worker or Ctrl-C. The
runner therefore keeps the study's state on disk, not in memory:

- every finished task is written by the parent process, atomically (temp file then
  rename), as one small Parquet file ``runs/<task id>.parquet`` under the run
  directory, as soon as its result arrives;
- a task that raises is recorded as ``runs/<task id>.failed.json`` (error and
  traceback) and the study goes on;
- a rerun skips every task that has a ``.parquet`` file (failed ones are retried);
- :func:`gather` stacks the per-task files into one table.

The executors are the maintained engines, not a home-made scheduler: the standard
library's ``ProcessPoolExecutor`` (forked where safe, else spawned:
:func:`gcm_sim.studies.experiment.process_context`) for local cores and
``dask.distributed`` (an existing scheduler at ``address``, or a ``LocalCluster``)
beyond one machine. A local worker process that dies (killed, out of memory) breaks
the process pool; the runner starts a new pool for the unfinished tasks, at most
``MAX_POOL_RESTARTS`` times. Dask reschedules a dead worker's tasks itself.

A task is ``(task_id, payload)``; the payload is plain picklable data handed to a
module-level function ``fn(payload) -> pandas.DataFrame`` that must be importable on
the workers.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gcm_sim.edges.outputs import atomic_write
from gcm_sim.studies.cluster import dask_client

EXECUTORS = ("serial", "processes", "dask")
RUNS_DIR = "runs"
MAX_POOL_RESTARTS = 3

Task = tuple[str, dict]


@dataclass
class Outcome:
    """What happened to a study's tasks in this invocation (and before it)."""

    total: int
    skipped: int = 0  # finished in an earlier invocation
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # task id -> error message
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.failed and self.skipped + len(self.done) == self.total


def finished_ids(run_dir: Path) -> set[str]:
    """Task ids that already have a result file."""
    d = Path(run_dir) / RUNS_DIR
    return {p.name[: -len(".parquet")] for p in d.glob("*.parquet")} if d.is_dir() else set()


def run_tasks(fn: Callable[[dict], pd.DataFrame], tasks: Sequence[Task], run_dir: str | os.PathLike,
              executor: str = "processes", workers: int | None = None, address: str | None = None,
              progress: bool = True, label: str = "runs") -> Outcome:
    """Run every task not finished yet; write each result (or failure) as it arrives."""
    import time

    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    run_dir = Path(run_dir)
    (run_dir / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    done_before = finished_ids(run_dir)
    todo = [(tid, p) for tid, p in tasks if tid not in done_before]
    out = Outcome(total=len(tasks), skipped=len(tasks) - len(todo))
    start = time.perf_counter()
    bar = _Bar(progress, len(tasks), out.skipped, label)
    try:
        if todo:
            sink = _Sink(run_dir, out, bar)
            if executor == "serial" or (executor == "processes" and (workers or 1) <= 1 and len(todo) == 1):
                _serial(fn, todo, sink)
            elif executor == "processes":
                _processes(fn, todo, sink, workers or os.cpu_count() or 1)
            else:
                _dask(fn, todo, sink, workers, address)
    finally:
        bar.close()
        out.seconds = time.perf_counter() - start
    return out


def gather(run_dir: str | os.PathLike, task_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Stack the per-task result files (only ``task_ids`` when given, in that order)."""
    d = Path(run_dir) / RUNS_DIR
    ids = list(task_ids) if task_ids is not None else sorted(finished_ids(Path(run_dir)))
    frames = [pd.read_parquet(d / f"{tid}.parquet") for tid in ids if (d / f"{tid}.parquet").exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def failures(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Recorded failures that have no result since (task_id, error)."""
    d = Path(run_dir) / RUNS_DIR
    rows = []
    for p in sorted(d.glob("*.failed.json")) if d.is_dir() else []:
        tid = p.name[: -len(".failed.json")]
        if not (d / f"{tid}.parquet").exists():
            rows.append({"task_id": tid, "error": json.loads(p.read_text(encoding="utf-8"))["error"]})
    return pd.DataFrame(rows, columns=["task_id", "error"])


# --- where results go ----------------------------------------------------------------------


class _Sink:
    """Writes each result or failure the moment it arrives (parent process only)."""

    def __init__(self, run_dir: Path, out: Outcome, bar: "_Bar"):
        self.dir, self.out, self.bar = run_dir / RUNS_DIR, out, bar

    def ok(self, tid: str, df: pd.DataFrame) -> None:
        atomic_write(self.dir / f"{tid}.parquet", lambda f: df.to_parquet(f, engine="pyarrow", index=False), binary=True)
        stale = self.dir / f"{tid}.failed.json"
        if stale.exists():
            stale.unlink()
        self.out.done.append(tid)
        self.bar.update(failed=len(self.out.failed))

    def fail(self, tid: str, exc: BaseException, tb: str | None = None) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        tb = tb or "".join(traceback.format_exception(exc))
        atomic_write(self.dir / f"{tid}.failed.json",
                lambda f: f.write(json.dumps({"task_id": tid, "error": msg, "traceback": tb}, indent=1)))
        self.out.failed[tid] = msg
        self.bar.update(failed=len(self.out.failed))


class _Bar:
    """tqdm on stderr: runs done (including earlier invocations), failed, time left."""

    def __init__(self, progress: bool, total: int, initial: int, label: str):
        self.bar = None
        if progress:
            from tqdm import tqdm

            tty = sys.stderr.isatty()
            tqdm.monitor_interval = 0  # no monitor thread, so workers can be forked (process_context)
            self.bar = tqdm(total=total, initial=initial, desc=label, unit="run", file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.2 if tty else 10.0, smoothing=0.1)
            self.bar.set_postfix(failed=0)

    def update(self, failed: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(failed=failed, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- executors ------------------------------------------------------------------------------


def _serial(fn, todo, sink: _Sink) -> None:
    for tid, payload in todo:
        try:
            df = fn(payload)
        except Exception as e:  # noqa: BLE001 - any failure of one run is recorded; the study goes on
            sink.fail(tid, e)
            continue
        sink.ok(tid, df)


def _processes(fn, todo, sink: _Sink, workers: int) -> None:
    from gcm_sim.studies.experiment import process_pool, stop_pool

    remaining = dict(todo)
    for attempt in range(MAX_POOL_RESTARTS + 1):
        pool = process_pool(min(workers, len(remaining)))
        pending = {pool.submit(fn, payload): tid for tid, payload in remaining.items()}
        broken = False
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    tid = pending.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        broken = True  # a worker died: its task and the queued ones are rerun
                        continue
                    remaining.pop(tid)
                    if exc is not None:
                        sink.fail(tid, exc, _remote_tb(exc))
                    else:
                        sink.ok(tid, fut.result())
        except BaseException:  # Ctrl-C: stop the workers now; finished results are on disk
            stop_pool(pool, pending)
            raise
        pool.shutdown(wait=not broken, cancel_futures=True)
        if not broken or not remaining:
            return
        if attempt < MAX_POOL_RESTARTS:
            print(f"gcm-sim: a worker process died; restarting the pool for {len(remaining)} unfinished runs",
                  file=sys.stderr, flush=True)
    for tid in remaining:
        sink.fail(tid, RuntimeError(f"worker process died {MAX_POOL_RESTARTS + 1} times"))


def _remote_tb(exc: BaseException) -> str:
    cause = getattr(exc, "__cause__", None)  # ProcessPoolExecutor attaches the worker traceback here
    return "".join(traceback.format_exception(exc)) + (str(cause) if cause is not None else "")


def _dask(fn, todo, sink: _Sink, workers, address) -> None:
    from distributed import as_completed

    client, cluster = dask_client(address, workers, key="executor.address")
    try:
        futures = [client.submit(fn, payload, key=f"gcm-sim-{tid}-{os.getpid()}", pure=False) for tid, payload in todo]
        ids = {f.key: tid for f, (tid, _) in zip(futures, todo)}
        try:
            for fut in as_completed(futures):
                tid = ids[fut.key]
                if fut.status == "finished":
                    sink.ok(tid, fut.result())
                else:
                    exc = fut.exception()
                    sink.fail(tid, exc, "".join(traceback.format_exception(exc)) if exc else None)
                fut.release()
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
