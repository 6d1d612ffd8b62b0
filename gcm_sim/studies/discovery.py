"""Scenario discovery: which lever and parameter ranges lead to an outcome the analyst names.

Why: a study answers "how much does each input matter" (sensitivity); a policy
analyst also asks "under which conditions do irregular departures exceed X?". PRIM
(the Patient Rule Induction Method, Friedman & Fisher 1999; Bryant & Lempert 2010)
finds boxes in input space where that outcome is concentrated. We use the maintained
implementation in the EMA Workbench (``ema_workbench.analysis.prim``), not our own.

Each row of the analysis is one run and replicate of a study (``results.parquet``):
inputs are the sampled columns, the case of interest is ``value > threshold`` (or
``<`` with ``direction: below``) for the named indicator. For each box we pick, on
PRIM's peeling trajectory, the densest box that still covers at least
``min_coverage`` of the cases of interest, and describe it in plain language with
its coverage (share of all cases inside the box), density (share of runs in the box
that are cases) and mass (share of all runs in the box).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gcm_sim.policy import ConfigError
from gcm_sim.edges.outputs import atomic_write
from gcm_sim.edges.report import _fmt

ID_COLUMNS = ("run", "replicate", "seed", "indicator", "value", "run.seed", "run.replicates")
SPEC_KEYS = ("outcome", "threshold", "direction", "inputs", "min_coverage", "max_boxes", "peel_alpha", "mass_min")


def check_spec(spec: dict, prefix: str = "discover") -> None:
    """Validate a discovery request (from a study's ``discover:`` block or the command line)."""
    if not isinstance(spec, dict):
        raise ConfigError(prefix, spec, f"a mapping with outcome and threshold (allowed keys: {', '.join(SPEC_KEYS)})")
    for k in spec:
        if k not in SPEC_KEYS:
            raise ConfigError(f"{prefix}.{k}", spec[k], f"unknown key; allowed: {', '.join(SPEC_KEYS)}")
    if not isinstance(spec.get("outcome"), str):
        raise ConfigError(f"{prefix}.outcome", spec.get("outcome"), "an indicator name such as irregular_departures")
    t = spec.get("threshold")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t):
        raise ConfigError(f"{prefix}.threshold", t, "a finite number")
    if spec.get("direction", "above") not in ("above", "below"):
        raise ConfigError(f"{prefix}.direction", spec.get("direction"), "above or below")
    for k, lo, hi in (("min_coverage", 0, 1), ("peel_alpha", 0, 0.5), ("mass_min", 0, 1)):
        v = spec.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v <= hi):
            raise ConfigError(f"{prefix}.{k}", v, f"a number in ({lo}, {hi}]")
    mb = spec.get("max_boxes")
    if mb is not None and (isinstance(mb, bool) or not isinstance(mb, int) or mb < 1):
        raise ConfigError(f"{prefix}.max_boxes", mb, "an integer >= 1")


def discover(results: pd.DataFrame, outcome: str, threshold: float, direction: str = "above",
             inputs: list[str] | None = None, min_coverage: float = 0.5, max_boxes: int = 2,
             peel_alpha: float = 0.05, mass_min: float = 0.05, out_dir: str | os.PathLike | None = None) -> dict:
    """Run PRIM; returns {'boxes': DataFrame, 'summary': markdown}; writes both when ``out_dir`` is given."""
    check_spec({"outcome": outcome, "threshold": threshold, "direction": direction, "min_coverage": min_coverage,
                "max_boxes": max_boxes, "peel_alpha": peel_alpha, "mass_min": mass_min})
    present = sorted(set(results["indicator"])) if "indicator" in results else []
    if outcome not in present:
        raise ConfigError("outcome", outcome, f"an indicator in the results: {', '.join(present)}")
    sub = results[results["indicator"] == outcome].reset_index(drop=True)
    candidates = [c for c in sub.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(sub[c])]
    inputs = list(inputs) if inputs else candidates
    for c in inputs:
        if c not in candidates:
            raise ConfigError("inputs", c, f"a sampled column of the results: {', '.join(candidates) or 'none'}")
    varying = [c for c in inputs if sub[c].nunique() > 1]
    x = sub[varying].astype(float)
    v = sub["value"].to_numpy(dtype=float)
    y = (v > threshold) if direction == "above" else (v < threshold)
    n, k = len(y), int(y.sum())
    what = f"`{outcome}` {'above' if direction == 'above' else 'below'} {_fmt(threshold)}"
    head = [f"# Scenario discovery: {what}", "",
            f"Of {n} runs (every sample point and replicate), {k} ({100 * k / max(n, 1):.0f}%) have {what}. "
            f"Inputs searched: {', '.join(f'`{c}`' for c in varying) or 'none'}.", ""]
    rows, text = [], []
    if not varying or k == 0 or k == n:
        text.append("No box to find: " + ("no input varies." if not varying else
                                         "no run has this outcome." if k == 0 else "every run has this outcome."))
    else:
        rows, text = _prim(x, y, what, min_coverage, max_boxes, peel_alpha, mass_min)
    boxes = pd.DataFrame(rows, columns=["box", "parameter", "min", "max", "restricted", "coverage", "density",
                                        "mass", "qp_value"])
    summary = "\n".join(head + text + [
        "", "Coverage: share of all runs with the outcome that fall inside the box. Density: share of runs "
        "inside the box that have the outcome. Mass: share of all runs inside the box. Boxes come from PRIM "
        "(EMA Workbench); a box is a description of where the outcome concentrates in this study's sample, "
        "not a causal claim, and holds only within the sampled ranges.", ""])
    if out_dir is not None:
        d = Path(out_dir)
        stem = f"discovery_{outcome}_{direction}"
        atomic_write(d / f"{stem}.csv", lambda f: boxes.to_csv(f, index=False))
        atomic_write(d / f"{stem}.md", lambda f: f.write(summary))
    return {"boxes": boxes, "summary": summary, "cases": k, "n": n}


def _prim(x: pd.DataFrame, y: np.ndarray, what: str, min_coverage: float, max_boxes: int,
          peel_alpha: float, mass_min: float):
    logging.getLogger("EMA").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the workbench's own deprecation notices (pandas, optional extras)
        from ema_workbench.analysis import prim

        p = prim.Prim(x.reset_index(drop=True), y.astype(int), peel_alpha=peel_alpha, mass_min=mass_min)
    init = p.box_init
    rows, text = [], []
    for b in range(1, max_boxes + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box = p.find_box()
        if box is None:
            break
        traj = box.peeling_trajectory
        ok = traj.index[traj["coverage"] >= min_coverage]
        if len(ok) == 0:
            break
        i = int(traj.loc[ok, "density"].idxmax())
        box.select(i)
        stats, lims = box.inspect(i, style="data")[0]
        cov, dens, mass = (float(stats[c]) for c in ("coverage", "density", "mass"))
        lim = box.box_lims[i]
        clauses = []
        for c in x.columns:
            lo, hi = float(lim[c].iloc[0]), float(lim[c].iloc[1])
            lo0, hi0 = float(init[c].iloc[0]), float(init[c].iloc[1])
            restricted = c in lims.index
            qp = float(np.nanmax(lims.loc[c].to_numpy(dtype=float)[2:])) if restricted else np.nan
            rows.append([b, c, lo, hi, restricted, cov, dens, mass, qp])
            if restricted:
                if lo > lo0 and hi < hi0:
                    clauses.append(f"`{c}` is between {_fmt(lo)} and {_fmt(hi)}")
                elif lo > lo0:
                    clauses.append(f"`{c}` is at least {_fmt(lo)} (sampled from {_fmt(lo0)})")
                else:
                    clauses.append(f"`{c}` is at most {_fmt(hi)} (sampled up to {_fmt(hi0)})")
        if not clauses:
            break
        text += [f"## Box {b}", "",
                 f"When {' and '.join(clauses)}, {dens * 100:.0f}% of runs have {what} "
                 f"(against {100 * y.mean():.0f}% overall). This box holds {cov * 100:.0f}% of all runs with the "
                 f"outcome and {mass * 100:.0f}% of all runs." + (" It describes the cases left outside the earlier "
                                                                   "boxes." if b > 1 else ""),
                 ""]
    if not text:
        text = [f"PRIM found no box covering at least {min_coverage:.0%} of the cases: the outcome is not "
                "concentrated in a simple range of the inputs.", ""]
    return rows, text


def discover_file(results_path: str | os.PathLike, spec: dict, out_dir: str | os.PathLike | None = None) -> dict:
    """Discovery on a ``results.parquet`` (of a study or a sweep); outputs go next to it by default."""
    path = Path(results_path)
    if not path.is_file():
        raise ConfigError("results", str(results_path), "a results.parquet written by explore or sweep")
    check_spec(spec, prefix="discover")
    results = pd.read_parquet(path)
    return discover(results, out_dir=out_dir or path.parent, **spec)
