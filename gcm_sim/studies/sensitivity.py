"""Which behavioural parameter an answer hangs on, and which published figures pin it down.

Used by the briefing book (``gcm-sim brief``) for the dialogue's institutional questions,
which no simulation answers directly: what a model can offer there is which uncertainty
matters and which data would reduce it (issue 15). A one-at-a-time global screen over the
calibrated parameters (:data:`gcm_sim.studies.calibration.DEFAULT_PARAMETERS`, the ones no
source pins down):

- :func:`effect_swing`: each parameter is set to the lower and the upper quartile of its
  calibration range (on its own scale: log-uniform ranges on the log scale), everything else
  at behaviour.yaml, and each arm is compared with baseline on the same seeds; the swing of
  an indicator's effect (diff %, high minus low) says how much the answer depends on that
  parameter (a Morris-type elementary effect over half the range; Saltelli et al. 2008,
  *Global Sensitivity Analysis: The Primer*, ch. 3).
- :func:`target_response`: the same two settings of each parameter move the calibration
  targets' statistics (log ratio, baseline only): the targets that move most are the
  published figures that constrain the parameter best, hence the data that would most
  reduce the answer's uncertainty.

Runs are keyed by their resolved config and cached in a folder, so an interrupted book
resumes. Both settings of a parameter run as one batch, baseline and arms sharing each
replicate's spin-up (:func:`gcm_sim.studies.experiment.run_jobs`), and the calibration
targets are read from the same baseline runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gcm_sim.policy import config_key

from . import experiment
from .calibration import DEFAULT_PARAMETERS, Parameter, load_targets, run_data, statistics, with_behaviour

LEVELS = {"low": 0.25, "high": 0.75}  # quartiles of each parameter's range, on its own scale
SIZE = {"households": 20_000, "months": 36, "replicates": 3}  # the screen's run size (run.* smaller wins)


def parameters() -> list[Parameter]:
    return [Parameter(*p) for p in DEFAULT_PARAMETERS]


def _sized(cfg):
    """The screen's config: at most :data:`SIZE`, at the point values of the parameters it does not
    vary (run.parameters=point: a one-at-a-time screen around behaviour.yaml, also when the book
    draws from the posterior, which would refuse a parameter set by hand)."""
    size = {k: min(getattr(cfg.run, k), v) for k, v in SIZE.items()}
    return cfg.replace(run=dataclasses.replace(cfg.run, **size, parameters="point"))


def _targets_cfg(cfg):
    """The name the targets' statistics of ``cfg`` are cached under (its indicators: ``cfg``'s own)."""
    return cfg.replace(scenario=dataclasses.replace(cfg.scenario, name="targets"))


def _run_cached(folder: Path, world, indicators: Sequence = (), targets: Sequence = ()) -> list[pd.DataFrame]:
    """The indicators of each config in ``indicators`` (experiment's long table) and the calibration
    targets' statistics of each in ``targets`` (rows: replicates), read from ``folder`` where cached;
    the rest are run together (:func:`gcm_sim.studies.experiment.run_jobs`: configs that share a
    spin-up run it once per replicate) and cached, each as soon as the batch is done."""
    from gcm_sim.edges.outputs import atomic_write

    names = [t.name for t in load_targets()]
    wanted = [(c, "indicators", folder / f"{config_key(c)}.csv") for c in indicators]
    wanted += [(c, "targets", folder / f"{config_key(_targets_cfg(c))}.csv") for c in targets]
    todo = list({config_key(c): c for c, _, path in wanted if not path.is_file()}.values())
    if todo:
        jobs = [(c, r) for c in todo for r in range(c.run.replicates)]
        parts = experiment.run_jobs(jobs, max(c.run.workers for c in todo), world, lambda n: None,
                                    collect=run_data)
        by_cfg: dict[str, list] = {}
        for c, r, data in parts:
            by_cfg.setdefault(config_key(c), []).append((c, r, data))
        folder.mkdir(parents=True, exist_ok=True)
        for c, kind, path in wanted:
            if path.is_file() or config_key(c) not in by_cfg:
                continue
            runs = by_cfg[config_key(c)]
            out = (experiment._collect([(c, r, None, d.indicators) for c, r, d in runs])[1] if kind == "indicators"
                   else pd.DataFrame([statistics(d, names) for *_, d in runs], columns=names))
            atomic_write(path, lambda f, out=out: out.to_csv(f, index=False))
    return [pd.read_csv(path) for _, _, path in wanted]


def _setting(base, arms: dict, world, p: Parameter, u: float) -> dict:
    """Baseline and each arm with parameter ``p`` at unit point ``u`` of its range, at the screen's size."""
    configs = {"baseline": _sized(with_behaviour(base, world, {p.name: p.from_unit(u)}))}
    for name, c in arms.items():
        configs[name] = _sized(with_behaviour(c, world, {p.name: p.from_unit(u)}))
    return configs


def effect_swing(base, arms: dict, indicators: Sequence[str], world, cache: Path,
                 say: Callable[[str], None] = lambda m: None) -> pd.DataFrame:
    """parameter, level, value, arm, indicator, diff_pct (arm vs baseline, same seeds), per setting.

    Both settings of a parameter run as one batch (sharing spin-ups), with the baseline's
    target statistics for :func:`target_response` (cached alongside)."""
    rows = []
    params = parameters()
    for i, p in enumerate(params, 1):
        say(f"sensitivity: {p.name} at the lower and upper quartile of its range, {i}/{len(params)}")
        settings = {level: _setting(base, arms, world, p, u) for level, u in LEVELS.items()}
        flat = [(level, name, c) for level, configs in settings.items() for name, c in configs.items()]
        tables = _run_cached(cache, world, indicators=[c for *_, c in flat],
                             targets=[s["baseline"] for s in settings.values()])
        for level in settings:
            ind = pd.concat([t.assign(scenario=name) for (lv, name, _), t in zip(flat, tables) if lv == level],
                            ignore_index=True)
            s = experiment.summarise(ind, baseline="baseline")
            s = s[(s["scenario"] != "baseline") & s["indicator"].isin(indicators)]
            rows += [{"parameter": p.name, "level": level, "value": p.from_unit(LEVELS[level]), "arm": r.scenario,
                      "indicator": r.indicator, "diff_pct": r.diff_pct} for r in s.itertuples()]
    return pd.DataFrame(rows)


def swing_table(effects: pd.DataFrame) -> pd.DataFrame:
    """Per arm, indicator and parameter: the effect at the low and high setting and the swing."""
    if effects.empty:
        return pd.DataFrame(columns=["arm", "indicator", "parameter", "low", "high", "swing"])
    w = effects.pivot_table(index=["arm", "indicator", "parameter"], columns="level", values="diff_pct",
                            dropna=False).reindex(columns=list(LEVELS)).reset_index()
    w.columns.name = None
    w["swing"] = (w["high"] - w["low"]).abs()  # NaN where an effect is not estimable at a setting
    return w.sort_values(["arm", "indicator", "swing"], ascending=[True, True, False]).reset_index(drop=True)


def target_response(base, world, cache: Path, say: Callable[[str], None] = lambda m: None) -> pd.DataFrame:
    """parameter, target, description, log_ratio (statistic at the high setting / at the low one)."""
    targets = load_targets()
    rows = []
    for p in parameters():
        say(f"sensitivity: targets at {p.name}'s quartiles")
        configs = [_setting(base, {}, world, p, u)["baseline"] for u in LEVELS.values()]
        stats = dict(zip(LEVELS, (t.mean() for t in _run_cached(cache, world, targets=configs))))
        for t in targets:
            lo, hi = float(stats["low"].get(t.name, np.nan)), float(stats["high"].get(t.name, np.nan))
            ratio = math.log(hi / lo) if lo > 0 and hi > 0 else float("nan")
            rows.append({"parameter": p.name, "target": t.name, "description": t.description,
                         "source": t.source, "log_ratio": ratio})
    return pd.DataFrame(rows)


def reading(swings: pd.DataFrame, responses: pd.DataFrame, labels: Callable[[str], str] = str,
            top_targets: int = 3) -> list[str]:
    """Plain sentences: the parameter each answer depends on most, and the data that pin it down."""
    out = []
    for (arm, ind), g in swings.groupby(["arm", "indicator"], sort=False):
        g = g.dropna(subset=["swing"])
        if g.empty:
            continue
        top = g.iloc[0]
        if top["swing"] == 0:  # the largest swing is none: say so, not "the largest of N"
            effect = ("no effect on it at any setting (the arm does not act on it)"
                      if top["low"] == 0 and top["high"] == 0 else f"the effect is {top['low']:+.1f}% at every setting")
            out.append(f"{arm}, {labels(ind)}: {effect}; none of the {len(g)} parameters moves this answer.")
            continue
        r = responses[responses["parameter"] == top["parameter"]].dropna(subset=["log_ratio"])
        r = r.reindex(r["log_ratio"].abs().sort_values(ascending=False).index).head(top_targets)
        data = "; ".join(f"{x.description} ({100 * (math.exp(x.log_ratio) - 1):+.0f}%)" for x in r.itertuples())
        out.append(f"{arm}, {labels(ind)}: the effect is {top['low']:+.1f}% with `{top['parameter']}` at the lower "
                   f"quartile of its range and {top['high']:+.1f}% at the upper (swing {top['swing']:.1f} points, "
                   f"the largest of {len(g)} parameters). The published figures that move most with it, so the data "
                   f"that would most narrow this answer: {data or 'none of the targets respond'}.")
    return out
