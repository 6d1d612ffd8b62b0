"""Behavioural parameters as data: a config with parameters set, and the posterior runs draw from.

- :func:`with_behaviour`: a config with behaviour parameters set, validated like a
  ``behaviour.NAME=V`` override.
- :class:`Posterior`: weighted parameter sets (``posterior.csv``: one column per parameter
  and ``weight``, written by ``gcm-sim calibrate method=abc``: :mod:`.posterior`), loaded
  and checked against the world's parameters (:func:`load_posterior`, :func:`world_posterior`),
  and :meth:`Posterior.draw`, the parameter set of draw d: a weighted draw keyed to
  (run.seed, d), the same for every arm of a comparison, so arms stay paired.

No model runs here, so the experiment layer can use it without importing the calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gcm_sim.policy import ConfigError

POSTERIOR_FILE = "posterior.csv"
WEIGHT = "weight"
DRAW_STREAM = 0x9E3779B9  # SeedSequence key of the posterior draws (apart from the model's streams)


def with_behaviour(cfg, world, values: dict[str, float]):
    """``cfg`` with behaviour parameters set (validated like a behaviour.NAME=V override)."""
    from gcm_sim.policy import build_config, to_dict

    raw = to_dict(cfg)
    raw["behaviour"] = {**dict(raw.get("behaviour") or {}), **{k: float(v) for k, v in values.items()}}
    return build_config(raw, world.iso3, world.tags, world.behaviour)


# --- the posterior as data ------------------------------------------------------------------


@dataclass(frozen=True)
class Posterior:
    """Weighted parameter sets (one row each); ``weights`` sum to 1."""

    values: pd.DataFrame
    weights: np.ndarray
    source: str = ""

    @property
    def names(self) -> list[str]:
        return list(self.values.columns)

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size of the weights: how many equally weighted sets it is worth."""
        return effective_sample_size(self.weights)

    def draw(self, seed: int, replicate: int) -> dict[str, float]:
        """Replicate ``replicate``'s parameter set: a weighted draw keyed to (seed, replicate)."""
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), DRAW_STREAM, int(replicate)])))
        i = int(rng.choice(len(self.weights), p=self.weights))
        return {k: float(v) for k, v in self.values.iloc[i].items()}

    def summary(self, levels: tuple[float, float] = (0.05, 0.95)) -> pd.DataFrame:
        """Weighted median and central interval of each parameter."""
        rows = []
        for name in self.names:
            x = self.values[name].to_numpy(float)
            q = weighted_quantiles(x, self.weights, (levels[0], 0.5, levels[1]))
            rows.append({"parameter": name, "median": q[1], "low": q[0], "high": q[2]})
        return pd.DataFrame(rows)


def effective_sample_size(weights) -> float:
    """Kish's effective sample size of importance weights, (sum w)^2 / sum w^2: how many equally
    weighted particles they are worth (pyabc's own diagnostic; its log prints it per generation)."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / (w ** 2).sum()) if len(w) and (w ** 2).sum() > 0 else float("nan")


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of ``x`` under weights ``w`` (interpolated on the weighted empirical CDF)."""
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(qs, cdf, x)


def load_posterior(path: str | Path, behaviour: dict[str, float]) -> Posterior:
    """A posterior table: parameter columns (behaviour parameters of the world, finite, in
    their allowed ranges) and a ``weight`` column (>= 0, not all 0). Errors name the file."""
    from gcm_sim.policy import check_behaviour

    p = Path(path)
    key = "run.parameters"
    if not p.is_file():
        raise ConfigError(key, str(path), "point, posterior (the shipped gcm_sim/data/posterior.csv) or the path "
                                          "of a posterior.csv written by gcm-sim calibrate method=abc")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ConfigError(key, str(path), f"a readable CSV file ({e})") from None
    if WEIGHT not in df.columns or len(df.columns) < 2 or df.empty:
        raise ConfigError(key, str(path), "a CSV with one column per behaviour parameter and a weight column, "
                                          "at least one row")
    names = [c for c in df.columns if c != WEIGHT]
    unknown = [c for c in names if c not in behaviour]
    if unknown:
        raise ConfigError(key, str(path), f"column {unknown[0]} is not a behaviour parameter of this world")
    w = pd.to_numeric(df[WEIGHT], errors="coerce").to_numpy(float)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(key, str(path), "weights must be finite numbers >= 0, not all 0")
    values = df[names].apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(values.to_numpy(float)).all():
        raise ConfigError(key, str(path), "every parameter value must be a finite number")
    for i, row in values.iterrows():
        problem = check_behaviour({**behaviour, **row.to_dict()})
        if problem:
            raise ConfigError(key, str(path), f"row {i + 2}: {problem}")
    return Posterior(values.reset_index(drop=True), w / w.sum(), str(path))


_LOADED: dict[tuple[str, float], Posterior] = {}


def world_posterior(world) -> Posterior:
    """The world's posterior: ``posterior.csv`` in its folder (the embedded world's is
    gcm_sim/data/posterior.csv), loaded once per process and file version."""
    from importlib import resources

    folder = resources.files("gcm_sim") / "data" if world.source == "embedded" else Path(world.source)
    path = Path(str(folder)) / POSTERIOR_FILE
    if not path.is_file():
        raise ConfigError("run.parameters", "posterior",
                          f"the world has no {POSTERIOR_FILE} ({path}); make one with gcm-sim calibrate method=abc "
                          "(write=true ships it with the embedded world) or use run.parameters=point")
    key = (str(path), path.stat().st_mtime)
    if key not in _LOADED:
        _LOADED[key] = load_posterior(path, dict(world.behaviour))
    return _LOADED[key]


def check_not_overridden(cfg, world, post: Posterior) -> None:
    """A behaviour.NAME override of a parameter the posterior draws would be lost: refuse it."""
    for name in post.names:
        if float(cfg.behaviour[name]) != float(world.behaviour[name]):
            raise ConfigError(f"behaviour.{name}", cfg.behaviour[name],
                              "this parameter is drawn from the posterior with run.parameters=posterior; "
                              "set it with run.parameters=point, or leave it to the posterior")
