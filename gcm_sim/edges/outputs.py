"""Run directories and atomic writes: where results go, and how they get there whole.

Every output file is written to a temporary name beside its target and moved into
place with ``os.replace`` (atomic on POSIX and Windows), so an interrupted command
never leaves a half-written file where a finished one is expected. This module is a
leaf: the studies and the edges import it; it imports nothing of gcm-sim but the
error type.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from gcm_sim.policy import ConfigError

RUN_DIR_KEY = "hydra.run.dir"


def atomic_write(path: Path, write: Callable, binary: bool = False) -> None:
    """Write via a temp file in the same folder, then ``os.replace`` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # open(..., "x") rather than mkstemp: the file gets the user's umask, not mode 0600
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "xb" if binary else "x", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
        os.replace(tmp, path)
    except OSError as e:  # a full disk names the file it was writing (the CLI prints one line)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if e.filename is None:
            e.filename = str(path)
        raise
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def resolve_run_dir(value: str | None) -> Path:
    """The run directory: as given (``${now:...}`` resolved like Hydra does), or outputs/DATE/TIME."""
    if value is None:
        now = _dt.datetime.now()
        base = Path("outputs") / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
        path, i = base, 1
        while path.exists():  # two runs in the same second must not share a folder
            path, i = base.with_name(f"{base.name}-{i}"), i + 1
        return path
    if "${" in value:
        other = [m for m in re.findall(r"\$\{\s*([^}:]*)", value) if m.strip() != "now"]
        if other:  # ${oc.env:...} and friends would read the environment or run code
            raise ConfigError(RUN_DIR_KEY, value, "the only interpolation allowed here is ${now:FORMAT} "
                                                  "(as in Hydra's default outputs/${now:%Y-%m-%d})")
        import hydra.core.utils  # noqa: F401 - registers the ${now:...} resolver
        from omegaconf import OmegaConf

        try:
            value = str(OmegaConf.create({"d": value}).d)
        except Exception as e:  # noqa: BLE001 - any resolver failure is a bad value
            raise ConfigError(RUN_DIR_KEY, value, f"could not resolve ({str(e).splitlines()[0]})") from None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(RUN_DIR_KEY, value, "a folder path (this is an existing file)")
    return path


# --- before any work: can the results be written there? -----------------------------------

STUDY_MARKER = "study.json"      # written by gcm-sim explore (gcm_sim.studies.explore.run_study)
SWEEP_MARKER = "multirun.yaml"   # written by Hydra's multirun into a sweep folder
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def folder_kind(path: Path) -> str | None:
    """``"study"``, ``"sweep"`` or None: what an existing folder holds (for refusing to mix them)."""
    if (path / STUDY_MARKER).is_file():
        return "study"
    if (path / SWEEP_MARKER).is_file() or (path / "0" / "job.json").is_file():
        return "sweep"
    return None


def check_run_dir(path: Path, key: str = RUN_DIR_KEY, kind: str | None = None) -> Path:
    """Refuse, before any work, a run directory the results could not be written to.

    Checks that no existing part of ``path`` is a file, that the folder (or its nearest
    existing parent, which is where it would be created) accepts a new file, and, with
    ``kind`` ("study" or "sweep"), that the folder does not hold the other kind's results
    (both write results.parquet). Nothing is left behind: the probe file is removed and
    no folder is created. Stale temporary files of interrupted writes (``.NAME.PID.X.tmp``
    whose process is gone) are removed from an existing run directory.
    """
    path = Path(path)
    probe_dir = path
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    for p in [path, *path.parents]:
        if p.exists() and not p.is_dir():
            raise ConfigError(key, str(path), f"a folder path ({p} is an existing file)")
    if kind is not None and path.is_dir():
        other = folder_kind(path)
        if other is not None and other != kind:
            raise ConfigError(key, str(path), f"this folder holds a {other}'s results; a {kind} would replace "
                                              f"its results.parquet: choose another folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".gcm-sim-write-check.", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(key, str(path), f"cannot write there ({probe_dir}: {e.strerror or e}); "
                                          "choose a writable folder") from None
    if path.is_dir():
        remove_stale_tmp(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Delete atomic_write's temporary files left by processes that no longer run."""
    removed = []
    for p in Path(folder).rglob(".*.tmp"):
        m = _TMP.match(p.name)
        if m and int(m.group("pid")) != os.getpid() and not _alive(int(m.group("pid"))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def write_error(e: OSError) -> str | None:
    """One line for an OSError met while writing results (full disk, read-only, quota), else None."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG):
        where = f" {e.filename}" if e.filename else ""
        return (f"cannot write{where}: {e.strerror or e}; files already written are complete, "
                "the rest were not written")
    return None
