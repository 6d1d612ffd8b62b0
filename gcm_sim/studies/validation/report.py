"""validation.md: the checks' table, one section per check with its figure and details."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .common import CheckResult


def _fmt(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:,.4g}"


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return ""
    cell = lambda v: _fmt(float(v)) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)  # noqa: E731
    rows = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    rows += ["| " + " | ".join(cell(v) for v in rec) + " |" for rec in df.itertuples(index=False)]
    return "\n".join(rows)


def markdown(results: Sequence[CheckResult], meta: dict) -> str:
    lines = ["# Validation of gcm-sim", "",
             f"Produced by `{meta['command']}` on {meta['date']} (run directory `{meta['run_dir']}`): "
             f"{meta['households']:,} households, {meta['replicates']} replicates per arm on the seeds of "
             f"run.seed={meta['seed']} (common random numbers across arms), {meta['months']} months unless a "
             "check says otherwise. Behavioural parameters: the current `gcm_sim/data/behaviour.yaml`"
             f"{' with overrides ' + meta['overrides'] if meta['overrides'] else ''}.", "",
             "None of these quantities is a calibration target; tolerances were fixed before running and a "
             "failed check stays failed.", "",
             "| check | published | simulated [95% CI] | tolerance | result |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.title} | {r.published} | {_fmt(r.simulated)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}] "
                     f"| {r.tolerance} | **{'PASS' if r.passed else 'FAIL'}** |")
    for r in results:
        lines += ["", f"## {r.title}: {'PASS' if r.passed else 'FAIL'}", "",
                  f"![{r.name}]({r.figure})", "",
                  f"- published: {r.published} ({r.source})",
                  f"- simulated: {_fmt(r.simulated)}, 95% CI [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                  f"- tolerance: {r.tolerance}",
                  f"- how: {r.reading}", "",
                  "Per replicate / grid point:", "",
                  _md_table(r.details), ""]
    return "\n".join(lines)
