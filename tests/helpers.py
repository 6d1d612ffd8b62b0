"""Shared helpers for the tests: configs from dotted keys, paired runs, local servers."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess

import numpy as np

from gcm_sim.measures import total
from gcm_sim.model import MigrationModel
from gcm_sim.policy import build_config, to_dict
from gcm_sim.world import load_world


@functools.lru_cache(maxsize=1)
def world():
    return load_world()


# A high-mobility variant of the default world for lever tests: ten times the monthly
# consideration rate and more attractive moves, so that flows (and hence the number of
# migrant records) are large enough for small paired samples to show a lever's effect.
MOBILE = {"consider_rate": 0.1,
          **{k: v + 1.0 for k, v in load_world().behaviour.items() if k.startswith("asc_")}}


def config(behaviour=None, **dotted):
    """The default config with dotted keys set (``policy__visa__default__fee_usd=60``).

    The spin-up is one month unless set (``run__spinup_months``): short enough for the many
    paired runs of the lever tests, long enough that every policy takes effect as it does for
    users, switched on at month 1 after a baseline spin-up (mechanisms/timing.py)."""
    w = world()
    raw = to_dict(build_config({}, w.iso3, w.tags, w.behaviour))
    raw["run"]["spinup_months"] = 1
    raw["behaviour"] = dict(behaviour or {})
    for key, value in dotted.items():
        node = raw
        *path, leaf = key.split("__")
        for part in path:
            node = node[part]
        node[leaf] = value
    return build_config(raw, w.iso3, w.tags, w.behaviour)


def run_model(cfg, seed: int, months: int):
    m = MigrationModel(cfg, rng=seed, world=world())
    for _ in range(months):
        m.step()
    return m


_CACHE: dict = {}


def _result(cfg, seed, months):
    key = (repr(to_dict(cfg)), seed, months)
    if key not in _CACHE:
        m = run_model(cfg, seed, months)
        _CACHE[key] = (m.indicators(), m.timeseries())
    return _CACHE[key]


def flow(measure: str, origin=None, destination=None, channel=None):
    """A metric: a measure summed over the run, optionally for some origins/destinations/channels."""
    return lambda indicators, ts: total(ts, measure, origin, destination, channel)


def paired(base, policy, metric, seeds=range(4), months: int = 24):
    """Per-seed differences policy - base of an indicator name or metric (common random numbers)."""
    def value(cfg, s):
        ind, ts = _result(cfg, s, months)
        return ind[metric] if isinstance(metric, str) else metric(ind, ts)
    return np.array([value(policy, s) - value(base, s) for s in seeds])


def assert_direction(diffs: np.ndarray, direction: str, label: str = "") -> None:
    """The mean paired difference has the expected sign and is at least 2 standard errors from 0."""
    mean = diffs.mean()
    se = diffs.std(ddof=1) / np.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
    if direction == "up":
        assert mean > 2 * se and mean > 0, f"{label}: expected up, mean diff {mean:.4g} (se {se:.3g}) {diffs}"
    else:
        assert mean < -2 * se and mean < 0, f"{label}: expected down, mean diff {mean:.4g} (se {se:.3g}) {diffs}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM a server the test started (by PID), SIGKILL it if it does not exit in time."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
