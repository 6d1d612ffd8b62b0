"""Run directories and atomic writes: where results go, and how they get there whole.

Every output file is written to a temporary name beside its target and moved into
place with ``os.replace`` (atomic on POSIX and Windows), so an interrupted command
never leaves a half-written file where a finished one is expected. This module is a
leaf: the studies and the edges import it; it imports nothing of gcm-sim but the
error type.
"""

from __future__ import annotations

import datetime as _dt
import os
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
