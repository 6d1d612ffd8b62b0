"""Write a run's results to its run directory: tables, resolved config, report.md, figures.

Why atomic writes: users script against these files and runs get interrupted. Each
file is written to a temporary file in the same folder and moved into place with
``os.replace``, so a reader sees either the old file, the new file, or none, never
half of one. Tables are written before ``report.md`` (the report is written last,
so its presence means the run directory is complete).
"""

from __future__ import annotations

import functools
import io
import os
import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gcm_sim.edges.outputs import atomic_write
from gcm_sim.policy import to_dict

FLOW_MEASURES = ("departures_regular", "departures_irregular", "departures_internal")
STOCK_MEASURES = ("stock_regular", "stock_irregular", "stock_asylum_pending", "stranded_in_transit")


def write_run_dir(result, run_dir: str | os.PathLike, by: str = "origin", origins=None, pdf: bool = True,
                  documents: bool = True, dense: bool = False) -> Path:
    """Write every output of ``result`` (an experiment.RunResult) into ``run_dir``; returns it.

    Tables (timeseries.parquet, indicators.csv, summary.csv, summary_by_origin.csv and, with
    ``by="corridor"``, summary_by_corridor.csv; results.xlsx with one sheet per table), the
    resolved configs, figures, then report.html and report.pdf, and report.md last.
    ``origins`` (ISO3 codes) chooses the origins the report shows (default: the ones the
    scenarios target, and the largest). ``pdf=False`` skips the PDF; ``documents=False`` skips
    results.xlsx, report.html and report.pdf (sweeps write many run directories). Messages about what
    could not be written (no browser for the PDF) are in ``result.notes`` afterwards. ``dense=True``
    writes timeseries.parquet with its zero cells filled in (:func:`gcm_sim.studies.experiment.dense`:
    same columns, more rows).
    """
    from gcm_sim.edges import document
    from gcm_sim.studies.experiment import by_corridor, by_origin, dense as fill_zero_cells

    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    ts_out = fill_zero_cells(result.timeseries) if dense else result.timeseries
    atomic_write(d / "timeseries.parquet", lambda f: ts_out.to_parquet(f, engine="pyarrow", index=False),
                 binary=True)
    atomic_write(d / "indicators.csv", lambda f: result.indicators.to_csv(f, index=False))
    atomic_write(d / "summary.csv", lambda f: result.summary.to_csv(f, index=False))
    atomic_write(d / "config.yaml", lambda f: f.write(_yaml(to_dict(result.config))))
    tables = {"summary": result.summary}
    draws = result.config.run.draws if result.config.run.parameters == "posterior" else None
    origin_table = by_origin(result.timeseries, draws=draws)
    corridor_table = by_corridor(result.timeseries, draws=draws) if by == "corridor" else None
    if len(result.configs) > 1:  # a comparison: every arm's resolved config too
        for name, cfg in result.configs.items():
            atomic_write(d / "configs" / f"{name}.yaml", lambda f, c=cfg: f.write(_yaml(to_dict(c))))
    atomic_write(d / "summary_by_origin.csv", lambda f: origin_table.to_csv(f, index=False))
    tables["by_origin"] = origin_table
    if corridor_table is not None:
        atomic_write(d / "summary_by_corridor.csv", lambda f: corridor_table.to_csv(f, index=False))
        tables["by_corridor"] = corridor_table
    tables["indicators"] = result.indicators
    if documents:
        document.write_xlsx(d / "results.xlsx", tables)
    world = _world_of(result.config)
    shown = report_origins(result, world, origins)
    titles = scenario_titles(result)
    figures = write_figures(result.timeseries, d / "figures", titles=titles)
    figures += write_difference(result.timeseries, d / "figures", titles=titles)
    figures += write_difference(result.timeseries, d / "figures", origins=shown[:3], titles=titles)
    figures += write_forest(result.summary, d / "figures", titles=titles)
    md = report_markdown(result, figures, d, world=world, origins=shown, origin_table=origin_table,
                         corridor_table=corridor_table, dense=dense)
    notes = document.write_html_pdf(md, d, "report", report_title(result), pdf=pdf) if documents else []
    result.notes.extend(notes)
    if notes:
        md += "\n" + "\n".join(f"*{n}*" for n in notes) + "\n"
    atomic_write(d / "report.md", lambda f: f.write(md))
    return d


def _world_of(cfg):
    from gcm_sim.world import load_world

    return load_world(cfg.world) if cfg.world else load_world()


# --- figures ------------------------------------------------------------------------


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Lay out a matplotlib figure, write it as PNG atomically (:func:`atomic_write`) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi), binary=True)
    plt.close(fig)
    return path


def _yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --- terminal and markdown tables -------------------------------------------------------


def _fmt(x) -> str:
    """Numbers for people: thousands separators, 3 significant digits for small values."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    return f"{x:.3g}"


def _table_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    has_diff = "diff" in summary.columns
    has_mdc = has_diff and "mdc_pct" in summary.columns  # summaries written before mdc existed have none
    split = has_diff and "diff_ci_low_stochastic" in summary.columns  # run.parameters=posterior
    head = (["indicator", "scenario", "mean", "95% CI"] + (["diff vs baseline", "95% CI", "diff %"] if has_diff else [])
            + (["mdc %"] if has_mdc else [])
            + (["95% CI, seeds only", "sd over posterior"] if split else []))
    rows = []
    for r in summary.sort_values(["indicator"], kind="stable").itertuples(index=False):
        row = [r.indicator, r.scenario, _fmt(r.mean), f"{_fmt(r.ci_low)} .. {_fmt(r.ci_high)}"]
        if has_diff:
            row += [_fmt(r.diff), f"{_fmt(r.diff_ci_low)} .. {_fmt(r.diff_ci_high)}",
                    "-" if not math.isfinite(r.diff_pct) else f"{r.diff_pct:+.1f}%"]
        if has_mdc:
            row.append("-" if not math.isfinite(r.mdc_pct) else f"{r.mdc_pct:.1f}%")
        if split:
            row += [f"{_fmt(r.diff_ci_low_stochastic)} .. {_fmt(r.diff_ci_high_stochastic)}",
                    _fmt(r.diff_sd_parameter)]
        rows.append(row)
    return head, rows


def format_summary(summary: pd.DataFrame) -> str:
    """A compact plain-text table of the summary, for the terminal."""
    head, rows = _table_rows(summary)
    if not rows:
        return "(no indicators)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    left = {0, 1}
    line = lambda cells: "  ".join(c.ljust(w) if i in left else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def markdown_table(summary: pd.DataFrame) -> str:
    head, rows = _table_rows(summary)
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def report_markdown(result, figures: list[Path], run_dir: Path, world=None, origins=None, origin_table=None,
                    corridor_table=None, dense: bool = False) -> str:
    """report.md: title, headline findings (world and by origin), the scenarios and what they change,
    results by origin (and corridor), the GCM scorecard, the full table, expectations, figures,
    what the model can and cannot say, and the methods annex."""
    from gcm_sim.edges import document

    cfg = result.config
    buf = io.StringIO()
    names = list(result.configs) or [cfg.scenario.name]
    comparison = len(names) > 1
    buf.write(f"# {report_title(result)}\n\n")
    buf.write(f"gcm-sim {cfg.run.replicates} replicates x {cfg.run.months} months, {cfg.run.households:,} simulated "
              f"households, seed {cfg.run.seed}, engine {cfg.run.engine}, world "
              f"{cfg.world or 'embedded'}. Intervals are 95% over replicates: of a mean on the log scale "
              "(it cannot go below zero)"
              + ("; of a difference, a paired t-interval (same seeds), never below -baseline; mdc is the "
                 "minimum detectable change (2.8 standard errors of the difference: 80% power, 5% two-sided)"
                 if comparison else "") + ". "
              + (f"Behavioural parameters: {cfg.run.draws} draws from the world's posterior (run.parameters="
                 "posterior), the replicates spread over them; intervals count both the parameters' and the "
                 "seeds' uncertainty, and the table shows the seeds' part and the spread over the posterior "
                 "apart; a headline effect whose sign depends on the parameters says so. " if cfg.run.parameters == "posterior" else
                 "Behavioural parameters: the point values of behaviour.yaml (run.parameters=point); the "
                 "intervals are the seeds' uncertainty only, not the parameters'. ")
              + "See docs/running.md; limits of the model: the section "
              "\"What this model can and cannot say\" below.\n\n")
    origins = list(origins or [])
    if origin_table is None and comparison:
        from gcm_sim.studies.experiment import by_origin

        origin_table = by_origin(result.timeseries)
    buf.write(scenario_paragraphs(result, origin_sentences(result, origin_table, origins)))
    buf.write("## Scenarios\n\n")
    for name in names:
        c = result.configs.get(name, cfg)
        meta = c.scenario
        buf.write(f"### {_scenario_title(name, result)} (`{name}`)\n\n")
        if meta.description:
            buf.write(f"{meta.description}\n\n")
        if meta.question:
            buf.write(f"**Question.** {meta.question}\n\n")
        if meta.gcm_objectives:
            buf.write(f"**GCM objectives:** {', '.join(str(o) for o in meta.gcm_objectives)}\n\n")
        if world is not None and name != "baseline" and "baseline" in result.configs:
            from gcm_sim.studies.scenarios import changes, new_corridors, new_corridors_text

            diff = changes(c, result.configs["baseline"])
            if diff:
                buf.write("**What it changes against baseline:** "
                          + "; ".join(f"`{k}` {_short(v0)} -> {_short(v1)}" for k, v0, v1 in diff) + ".\n\n")
            note = new_corridors_text(new_corridors(c, world))
            if note:
                buf.write(f"<p class=\"note\"><b>Note:</b> {html_escape(note[0].upper() + note[1:])}</p>\n\n")
        elif world is not None and not comparison:
            from gcm_sim.studies.scenarios import new_corridors, new_corridors_text

            note = new_corridors_text(new_corridors(c, world))
            if note:
                buf.write(f"<p class=\"note\"><b>Note:</b> {html_escape(note[0].upper() + note[1:])}</p>\n\n")
    if comparison and origin_table is not None and not origin_table.empty:
        buf.write(origin_markdown(result, origin_table, origins))
    if corridor_table is not None and not corridor_table.empty:
        buf.write(corridor_markdown(result, corridor_table, origins))
    buf.write(scorecard_markdown(result))
    if figures:
        buf.write("## Figures\n\n")
        for f in figures:
            caption = FIGURE_CAPTIONS.get(f.stem.split("__")[0], f.stem.replace("_", " "))
            if "__" in f.stem:
                caption += f" ({f.stem.split('__', 1)[1].replace('_', ', ')})"
            buf.write(f"![{caption}]({f.relative_to(run_dir).as_posix()})\n\n*{caption}.*\n\n")
    buf.write("## Results: every indicator\n\n" + markdown_table(result.summary) + "\n\n")
    checks = expectation_checks(result)
    if checks:
        buf.write("## Expected direction vs result\n\n| scenario | indicator | expected | diff 95% CI | verdict |\n"
                  "|---|---|---|---|---|\n")
        for c in checks:
            buf.write(f"| {_scenario_title(c['scenario'], result)} | {c['indicator']} | {c['expected']} | {c['interval']} | {c['verdict']} |\n")
        buf.write("\n")
    small = []
    if origin_table is not None and not origin_table.empty and origins:
        arms = origin_table[(origin_table["scenario"] != "baseline") & origin_table["origin"].isin(origins)
                            & origin_table["indicator"].isin(["irregular_departures", "regular_departures"])]
        small = sorted(set(arms.loc[arms["small_sample"].astype(bool), "origin"]))
    buf.write(document.limitations_markdown(cfg, small))
    buf.write(document.methods_markdown(result))
    buf.write("Files: `report.html` and `report.pdf` (this report), `results.xlsx` (every table, one sheet each), "
              "`timeseries.parquet` (monthly measures, long format; "
              + ("zero cells filled in (output.dense=true)" if dense
                 else "zero cells left out unless output.dense=true; see `gcm_sim.studies.experiment.dense`")
              + "), `indicators.csv` (per replicate), `summary.csv`, "
              "`summary_by_origin.csv`" + (", `summary_by_corridor.csv`" if corridor_table is not None else "")
              + ", `config.yaml` (the resolved config)" + (", `configs/NAME.yaml` (each arm)" if comparison else "")
              + ".\n")
    return buf.getvalue()


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def _short(v) -> str:
    from gcm_sim.studies.scenarios import plain

    text = plain(v).replace("|", "/")
    return f"`{text}`" if len(text) <= 120 else f"`{text[:117]}...`"


FIGURE_CAPTIONS = {
    "departures": "International departures per month by entry channel (internal moves in a separate figure); "
                  "mean over replicates, band: 2.5-97.5 percentile of replicates",
    "internal": "Internal moves (to a city inside the origin) per month; mean over replicates and band",
    "stocks": "People abroad or in transit at month end, by legal status",
    "difference": "Each scenario minus baseline, month by month (same seeds): mean paired difference and its "
                  "95% interval; above zero the scenario has more",
    "forest": "Change against baseline over the horizon with its 95% interval (grey: not distinguishable from zero)",
}
ORIGIN_TABLE_INDICATORS = ("irregular_departures", "regular_departures", "overstays", "deaths", "returns",
                           "remittances_received_usd")


def report_origins(result, world, chosen=None, most: int = 8) -> list[str]:
    """The origins a report shows: ``chosen`` when given; else the origins the scenarios' levers
    target (any ``origin``/``countries`` selector a scenario sets differently from baseline),
    then the largest origins of baseline irregular departures (share >= 5%), at most ``most``."""
    if chosen:
        return list(dict.fromkeys(chosen))
    out: list[str] = []
    if world is not None and "baseline" in result.configs:
        from gcm_sim.studies.scenarios import changes

        base = result.configs["baseline"]
        for name, c in result.configs.items():
            if name == "baseline":
                continue
            for key, _, value in changes(c, base):
                for sel in _origin_selectors(value):
                    origins = set(world.with_role("origin"))
                    out += sorted(world.select(sel) & origins)
    out = list(dict.fromkeys(out))
    if len(out) < most and len(result.configs) > 1:
        from gcm_sim.studies.experiment import by_origin

        t = by_origin(result.timeseries)
        if not t.empty:
            big = (t[(t["scenario"] == "baseline") & (t["indicator"] == "irregular_departures")]
                   .sort_values("baseline_share_pct", ascending=False))
            out += [o for o in big.loc[big["baseline_share_pct"] >= 5, "origin"] if o not in out]
    return out[:max(most, len(chosen or []))]


def _origin_selectors(value):
    """Every ``origin`` / ``countries`` selector inside a changed setting's value."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("origin", "countries") and v:
                yield tuple(v) if isinstance(v, (list, tuple)) else (v,)
            else:
                yield from _origin_selectors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, (dict, list, tuple)):
                yield from _origin_selectors(v)


def _origin_effect(row) -> dict:
    import pandas as pd

    r = pd.Series({"diff": row["diff"], "diff_ci_low": row["diff_ci_low"], "diff_ci_high": row["diff_ci_high"],
                   "mdc": row["mdc"], "mean": row["mean"]})
    return effect(r, row["indicator"])


def origin_sentences(result, table, origins) -> dict[str, list[str]]:
    """Per scenario, one plain sentence per shown origin: its irregular and regular departures."""
    out: dict[str, list[str]] = {}
    if table is None or table.empty or not origins:
        return out
    names = _country_names()
    for name in result.configs:
        if name == "baseline":
            continue
        lines = []
        for o in origins:
            rows = table[(table["scenario"] == name) & (table["origin"] == o)].set_index("indicator")
            parts = []
            for ind in ("irregular_departures", "regular_departures"):
                if ind not in rows.index:
                    continue
                e = _origin_effect(rows.loc[ind].to_dict() | {"indicator": ind})
                parts.append(f"{_label(ind)} {effect_text(e)}")
            if not parts:
                continue
            flag = bool(rows.loc[[i for i in ("irregular_departures", "regular_departures") if i in rows.index],
                                 "small_sample"].astype(bool).any())
            lines.append(f"In {names.get(o, o)} ({o}): " + "; ".join(parts)
                         + (" (small sample: read with care)." if flag else "."))
        out[name] = lines
    return out


@functools.lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    try:
        from gcm_sim.world import load_world

        w = load_world()
        return {c: str(w.countries.at[c, "name"]) for c in w.codes}
    except Exception:  # noqa: BLE001
        return {}


def origin_markdown(result, table, origins) -> str:
    """report.md section: per shown origin and scenario, each indicator's baseline level and change."""
    if not origins:
        return ""
    names = _country_names()
    buf = io.StringIO()
    buf.write("## Results by origin\n\n"
              "Totals over the horizon for the people of each origin (departures from it, deaths and returns of "
              "its nationals, remittances its households receive). Change against baseline with its 95% "
              "interval; `~0` means the interval includes zero; mdc in % of the baseline level. "
              "**small sample**: fewer than 5 replicates, or no clear change where the run could not have seen one "
              "smaller than half the baseline level (mdc above 50%). Every origin is in `summary_by_origin.csv`.\n\n")
    arms = [n for n in result.configs if n != "baseline"]
    buf.write("| origin | indicator | baseline | " + " | ".join(_scenario_title(a, result) for a in arms) + " |\n|---|---|---:|" + "---:|" * len(arms) + "\n")
    for o in origins:
        sub = table[table["origin"] == o]
        if sub.empty:
            buf.write(f"| {names.get(o, o)} ({o}) | (no departures, deaths, returns or remittances) | - |"
                      + " - |" * len(arms) + "\n")
            continue
        for ind in ORIGIN_TABLE_INDICATORS:
            b = sub[(sub["scenario"] == "baseline") & (sub["indicator"] == ind)]
            if b.empty:
                continue
            cells = []
            for a in arms:
                r = sub[(sub["scenario"] == a) & (sub["indicator"] == ind)]
                cells.append(_origin_cell(r.iloc[0]) if not r.empty else "-")
            buf.write(f"| {names.get(o, o)} ({o}) | {_label(ind)} | {_fmt(float(b['mean'].iloc[0]))} | "
                      + " | ".join(cells) + " |\n")
    return buf.getvalue() + "\n"


def _origin_cell(row) -> str:
    e = _origin_effect(row.to_dict())
    if not e["finite"]:
        return "n/a"
    if e["lo"] == e["hi"] == 0:
        return "0"
    ci = f"{_num_signed(e['lo'])} to {_num_signed(e['hi'])}"
    mdc = f"; mdc {row['mdc_pct']:.0f}%" if math.isfinite(row["mdc_pct"]) else ""
    text = f"{_num_signed(e['d'])}{e['unit']} [{ci}]{mdc}" if e["clear"] else f"~0 [{ci}]{mdc}"
    return text + ("; **small sample**" if bool(row["small_sample"]) else "")


def corridor_markdown(result, table, origins) -> str:
    """report.md section (report.by=corridor): departures by corridor for the shown origins."""
    sub = table[table["indicator"].isin(["irregular_departures", "regular_departures"])]
    if origins:
        sub = sub[sub["origin"].isin(origins)]
    arms = [n for n in result.configs if n != "baseline"]
    base = sub[sub["scenario"] == "baseline"]
    base = base[base["mean"] > 0]
    keep = set(zip(base["origin"], base["destination"]))
    for a in arms:
        x = sub[(sub["scenario"] == a) & (sub["mean"] > 0)]
        keep |= set(zip(x["origin"], x["destination"]))
    buf = io.StringIO()
    buf.write("## Results by corridor\n\n(origin -> destination; departures over the horizon; all corridors in "
              "`summary_by_corridor.csv`)\n\n")
    if not keep:
        return buf.getvalue() + ("No departures from " + (", ".join(origins) if origins else "any origin")
                                 + " in any arm at this run size.\n\n")
    buf.write("| corridor | indicator | baseline | " + " | ".join(_scenario_title(a, result) for a in arms) + " |\n|---|---|---:|" + "---:|" * len(arms) + "\n")
    for o, d in sorted(keep)[:60]:
        for ind in ("irregular_departures", "regular_departures"):
            b = sub[(sub["scenario"] == "baseline") & (sub["origin"] == o) & (sub["destination"] == d)
                    & (sub["indicator"] == ind)]
            if b.empty:
                continue
            cells = []
            for a in arms:
                r = sub[(sub["scenario"] == a) & (sub["origin"] == o) & (sub["destination"] == d)
                        & (sub["indicator"] == ind)]
                cells.append(_origin_cell(r.iloc[0]) if not r.empty else "-")
            buf.write(f"| {o} -> {d} | {_label(ind)} | {_fmt(float(b['mean'].iloc[0]))} | " + " | ".join(cells) + " |\n")
    if len(keep) > 60:
        buf.write(f"\n({len(keep) - 60} more corridors in summary_by_corridor.csv)\n")
    return buf.getvalue() + "\n"


def expectation_checks(result) -> list[dict]:
    """Each scenario's ``expect`` entries against the paired difference to baseline.

    Verdict: 'as expected' when the interval excludes 0 on the expected side (or, for
    'flat', includes 0), 'opposite' when it excludes 0 on the other side, 'unclear'
    otherwise; 'any' entries are reported without a verdict.
    """
    s = result.summary
    if "diff" not in s.columns:
        return []
    out = []
    for name, cfg in result.configs.items():
        for ind, expected in cfg.expect.items():
            row = s[(s["scenario"] == name) & (s["indicator"] == ind)]
            if row.empty:
                out.append({"scenario": name, "indicator": ind, "expected": expected,
                            "interval": "-", "verdict": "indicator not produced"})
                continue
            lo, hi = float(row["diff_ci_low"].iloc[0]), float(row["diff_ci_high"].iloc[0])
            interval = f"{_fmt(lo)} .. {_fmt(hi)}"
            if expected == "any":
                verdict = "(no expectation)"
            elif not (math.isfinite(lo) and math.isfinite(hi)):
                verdict = "unclear (too few replicates)"
            elif expected == "flat":
                verdict = "as expected" if lo <= 0 <= hi else "not flat"
            else:
                up = lo > 0
                down = hi < 0
                verdict = ("as expected" if (up and expected == "up") or (down and expected == "down")
                           else "opposite" if up or down else "unclear")
            out.append({"scenario": name, "indicator": ind, "expected": expected,
                        "interval": interval, "verdict": verdict})
    return out


# --- figures ------------------------------------------------------------------------------


def _monthly(ts: pd.DataFrame, measures, by: str) -> dict:
    """Monthly totals of ``measures`` by (scenario, ``by``): mean over replicates and a band.

    Rows whose value is 0 may be left out of the timeseries (the contract), so every
    (scenario, key, replicate) gets every month, filled with 0, before averaging.
    Returns {scenario: {key: (months, mean, lo, hi)}}; the band is the 2.5-97.5
    percentile range over replicates.
    """
    sub = ts[ts["measure"].isin(measures)]
    if by == "channel":
        sub = sub[sub["channel"].astype(str) != "all"]  # 'all' rows here are zero placeholders
    if sub.empty:
        return {}
    months = list(range(1, int(ts["month"].max()) + 1))
    reps = sorted(ts["replicate"].unique())
    g = sub.groupby(["scenario", by, "replicate", "month"], observed=True)["value"].sum()
    wide = g.unstack("month", fill_value=0.0).reindex(columns=months, fill_value=0.0)
    pairs = list(dict.fromkeys((s, k) for s, k, _ in wide.index))
    full = pd.MultiIndex.from_tuples([(s, k, r) for s, k in pairs for r in reps], names=wide.index.names)
    wide = wide.reindex(full, fill_value=0.0)
    out: dict = {}
    for (scen, key), block in wide.groupby(level=[0, 1], sort=False, observed=True):
        x = block.to_numpy(dtype=float)
        out.setdefault(scen, {})[str(key)] = (months, x.mean(axis=0), np.percentile(x, 2.5, axis=0),
                                              np.percentile(x, 97.5, axis=0))
    return out


def _style():
    """matplotlib on the Agg backend with the colour-blind-safe Okabe-Ito cycle (edges.document.PALETTE)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from cycler import cycler

    from gcm_sim.edges.document import PALETTE

    plt.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))
    return plt


INTERNATIONAL = ("departures_regular", "departures_irregular")


def _grid(plt, panels: int, width: float, height: float, cols: int = 3, **kw):
    """A figure of ``panels`` axes, at most ``cols`` a row (so a page-wide figure keeps readable
    text); the unused axes of the last row are hidden. Returns (fig, flat list of axes)."""
    cols = max(1, min(cols, panels))
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kw)
    flat = list(axes.ravel())
    for ax in flat[panels:]:
        ax.set_visible(False)
    return fig, flat[:panels]


MEASURE_LABELS = {"departures_irregular": "irregular departures (smuggled)", "departures_regular": "regular departures",
                  "departures_internal": "internal moves", "overstays": "overstays", "deaths": "deaths on routes",
                  "stock_irregular": "people abroad irregularly", "stock_regular": "people abroad regularly",
                  "stock_asylum_pending": "waiting for an asylum decision", "stranded_in_transit": "stranded in transit"}


def measure_label(measure: str) -> str:
    return MEASURE_LABELS.get(measure, measure.replace("_", " "))


def scenario_titles(result) -> dict[str, str]:
    """Every arm's readable title (:func:`scenario_title`), for figures and tables."""
    return {n: _scenario_title(n, result) for n in (result.configs or {result.config.scenario.name: None})}


def write_figures(ts: pd.DataFrame, folder: Path, titles: dict[str, str] | None = None) -> list[Path]:
    """Monthly international departures by channel (internal moves in their own figure, so the
    international channels do not lie flat beneath them) and stocks by legal status: mean over
    replicates, 95% band. ``titles`` names the arms (default: their names)."""
    if ts is None or ts.empty or "measure" not in ts.columns:
        return []
    plt = _style()
    written = []
    specs = [("departures", INTERNATIONAL, "channel", "international departures per month, by entry channel"),
             ("internal", ("departures_internal",), "channel", "internal moves per month"),
             ("stocks", STOCK_MEASURES, "measure", "people abroad or in transit at month end")]
    for stem, measures, by, ylabel in specs:
        data = _monthly(ts, measures, by)
        if not data:
            continue
        fig, axes = _grid(plt, len(data), 5.2, 3.6, sharey=True)
        for ax, (scen, lines) in zip(axes, data.items()):
            for label, (x, mean, lo, hi) in lines.items():
                line, = ax.plot(x, mean, label=measure_label(label) if by == "measure" else label)
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
            ax.set_title((titles or {}).get(scen, scen))
            ax.set_xlabel("month")
            ax.grid(alpha=0.3)
        for ax in axes[::3]:
            ax.set_ylabel(ylabel)
        axes[-1].legend(fontsize="small", loc="best")
        fig.suptitle("mean over replicates; band: 2.5-97.5 percentile of replicates", fontsize="small")
        written.append(save_figure(fig, folder / f"{stem}.png"))
    return written


DIFFERENCE_MEASURES = ("departures_irregular", "departures_regular", "overstays", "deaths", "stock_irregular")


def monthly_difference(ts: pd.DataFrame, measure: str, origin: str | None = None, baseline: str = "baseline"):
    """Per scenario: month, mean paired difference to baseline (same replicate) and its 95% t-interval,
    not below minus the baseline's monthly mean (a count cannot go below zero).

    Zero cells are filled (every replicate gets every month). Returns {scenario: (months, d, lo, hi)}.
    """
    from gcm_sim.studies.experiment import t_interval

    sub = ts[ts["measure"] == measure]
    if origin is not None:
        sub = sub[sub["origin"].astype(str) == origin]
    months = list(range(1, int(ts["month"].max()) + 1))
    reps = sorted(ts["replicate"].unique())
    g = sub.groupby(["scenario", "replicate", "month"], observed=True)["value"].sum()
    scen = [s for s in pd.unique(ts["scenario"].astype(str)) if s != baseline]

    def wide(sc):
        try:
            x = g.xs(sc, level="scenario")
        except KeyError:
            x = pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=["replicate", "month"]))
        idx = pd.MultiIndex.from_product([reps, months], names=["replicate", "month"])
        return x.reindex(idx, fill_value=0.0).unstack("month").to_numpy(float)

    base = wide(baseline)
    floor = -base.mean(axis=0)  # every measure here is a count: an arm cannot fall below zero
    out = {}
    for sc in scen:
        diff = wide(sc) - base
        cols = [t_interval(diff[:, j]) for j in range(diff.shape[1])]
        d, lo, hi = (np.array(v) for v in zip(*cols))
        out[sc] = (months, *(np.where(np.isfinite(v), np.maximum(v, floor), v) for v in (d, lo, hi)))
    return out


def write_difference(ts: pd.DataFrame, folder: Path, origins=None, titles: dict[str, str] | None = None) -> list[Path]:
    """Each arm minus baseline over time, one panel per measure (international channels, deaths,
    irregular stock), a line per arm with its 95% band: ``difference.png``, or with ``origins``
    one figure per origin, ``difference__ORIGIN.png``."""
    if ts is None or ts.empty or ts["scenario"].nunique() < 2 or "baseline" not in set(pd.unique(ts["scenario"].astype(str))):
        return []
    plt = _style()
    written = []
    for origin in (origins if origins is not None else [None]):
        present = set(pd.unique(ts["measure"].astype(str)))
        measures = [m for m in DIFFERENCE_MEASURES if m in present]
        if origin is not None:
            measures = [m for m in measures if m != "stock_irregular"]
        if not measures:
            continue
        fig, axes = _grid(plt, len(measures), 4.4, 3.3)
        for ax, m in zip(axes, measures):
            for sc, (x, d, lo, hi) in monthly_difference(ts, m, origin).items():
                line, = ax.plot(x, d, label=(titles or {}).get(sc, sc))
                band_lo, band_hi = np.where(np.isfinite(lo), lo, d), np.where(np.isfinite(hi), hi, d)
                ax.fill_between(x, band_lo, band_hi, color=line.get_color(), alpha=0.2, linewidth=0)
            ax.axhline(0, color="k", lw=0.8)
            ax.set_title(measure_label(m)[:1].upper() + measure_label(m)[1:])
            ax.set_xlabel("month")
            ax.grid(alpha=0.3)
        for ax in axes[::3]:
            ax.set_ylabel("scenario minus baseline, people")
        axes[-1].legend(fontsize="small", loc="best")
        where = f"{_country_names().get(origin, origin)} ({origin}): " if origin else "World: "
        fig.suptitle(where + "each scenario minus baseline per month (same seeds); band: 95% interval over replicates")
        written.append(save_figure(fig, folder / (f"difference__{origin}.png" if origin else "difference.png")))
    return written


# --- "this policy vs doing nothing, how sure are we": headlines, forest plot, scorecard ------

# Indicators that are shares (0-1) or percentages: their change is reported in percentage points.
SHARE_INDICATORS = ("irregular_share", "interception_rate", "trafficking_detected_share", "formal_remittance_share",
                    "female_share_departures", "female_share_regular_departures", "youth_share_departures")
POINT_INDICATORS = ("remittance_cost_pct",)
HEADLINE_INDICATORS = ("irregular_departures", "regular_departures", "deaths")
FOREST_INDICATORS = ("irregular_departures", "regular_departures", "deaths_per_1000_crossings",
                     "remittances_received_usd", "recruitment_cost_months", "detention_person_months")

# GCM scorecard (docs/scorecard.md): objective -> indicators that measure progress on it.
SCORECARD = (
    ("1 data by sex and age", ("female_share_departures", "youth_share_departures", "departures_children")),
    ("5 regular pathways", ("irregular_share", "regular_departures")),
    ("6 fair recruitment (SDG 10.7.1)", ("recruitment_cost_months",)),
    ("8 save lives (SDG 10.7.3)", ("deaths_per_1000_crossings", "deaths")),
    ("9 smuggling", ("smuggling_revenue_usd", "smuggling_fee_per_crossing_usd")),
    ("10 trafficking", ("trafficking_victims", "trafficking_detected_share")),
    ("13 detention as last resort", ("detention_person_months", "detained_children_person_months")),
    ("20 remittance cost (SDG 10.c.1)", ("remittance_cost_pct", "formal_remittance_share")),
    ("21 return and reintegration", ("returns_forced", "returns_voluntary")),
)


def _label(indicator: str) -> str:
    return indicator.replace("_usd", " (USD)").replace("_pct", " (%)").replace("_", " ")


ACRONYMS = {"sdg", "sdgs", "eu", "gcm", "un", "unhcr", "iom", "ilo", "us", "usa", "uk", "id", "gcc", "ecowas",
            "asean", "igad", "sadc", "mena", "ssa"}


def scenario_title(name: str, meta=None, codes=()) -> str:
    """How a report names a scenario: its ``meta.title`` when set, else its name in words,
    acronyms and country codes in capitals ("remittance_sdg" -> "Remittance SDG",
    "sen_eu_package" -> "SEN EU package"); baseline is "Baseline (current policies)"."""
    if meta is not None and getattr(meta, "title", ""):
        return meta.title
    if name == "baseline":
        return "Baseline (current policies)"
    codes = {c.lower() for c in codes}
    words = [w for w in name.replace("-", "_").split("_") if w]
    out = [w.upper() if w.lower() in ACRONYMS or w.lower() in codes else w for w in words]
    if out and out[0] == words[0]:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out) or name


def _scenario_title(name: str, result=None) -> str:
    meta = result.configs[name].scenario if result is not None and name in result.configs else None
    return scenario_title(name, meta, _codes())


@functools.lru_cache(maxsize=1)
def _codes() -> tuple[str, ...]:
    try:
        from gcm_sim.world import load_world

        return tuple(load_world().codes)
    except Exception:  # noqa: BLE001 - a title is never worth failing a report for
        return ()


def report_title(result) -> str:
    names = list(result.configs) or [result.config.scenario.name]
    if len(names) == 1:
        return scenario_title(names[0], result.config.scenario, _codes())
    return ", ".join(_scenario_title(n, result) for n in names[1:]) + " against current policies"


def effect(row, indicator: str) -> dict:
    """Size, interval and clarity of one paired difference, in the unit a reader expects.

    Shares (0-1) and percentages change in percentage points; everything else in % of
    the baseline mean. ``clear`` is False when the 95% interval includes 0. ``mdc`` is the
    minimum detectable change in the same unit; ``small`` is True when the effect is
    smaller than it (the sample is too small to answer the question reliably).
    """
    d, lo, hi = float(row["diff"]), float(row["diff_ci_low"]), float(row["diff_ci_high"])
    mdc = float(row["mdc"]) if "mdc" in row.index else float("nan")
    base = float(row["mean"]) - d  # baseline mean (the arm's mean minus the mean paired difference)
    if indicator in SHARE_INDICATORS:
        scale, unit = 100.0, " points"
    elif indicator in POINT_INDICATORS:
        scale, unit = 1.0, " points"
    elif base != 0 and math.isfinite(base):
        scale, unit = 100.0 / abs(base), "%"
    else:
        scale, unit = 1.0, ""
    finite = all(math.isfinite(x) for x in (d, lo, hi))
    return {"d": d * scale, "lo": lo * scale, "hi": hi * scale, "unit": unit, "finite": finite,
            "clear": finite and (lo > 0 or hi < 0), "mdc": mdc * scale,
            "small": finite and math.isfinite(mdc) and abs(d) < mdc, **_sign_across_posterior(row, d, scale)}


def _sign_across_posterior(row, d: float, scale: float) -> dict:
    """run.parameters=posterior: whether the effect's sign depends on the behavioural parameters.

    It does (``changes_sign``) when some draws' mean effects lie above zero and some below and
    the spread of the effect over the posterior (its standard deviation net of seed noise) is
    larger than the mean effect: then, on a normal reading, a sixth or more of the posterior
    gives the other sign. Draws that merely scatter around zero by seed noise have no spread left
    after the noise is taken out, so they do not count as a change of sign.
    """
    get = lambda k: float(row[k]) if k in row.index else float("nan")  # noqa: E731
    up, down, sd = get("diff_draws_up"), get("diff_draws_down"), get("diff_sd_parameter")
    if not all(math.isfinite(x) for x in (up, down, sd)):
        return {"changes_sign": False}
    return {"changes_sign": bool(up > 0 and down > 0 and sd > abs(d)), "draws_up": int(up),
            "draws_down": int(down), "sd_parameter": sd * scale}


def sign_text(e: dict) -> str:
    """'its sign depends on the parameters: it rises in 3 of 8 posterior draws and falls in 5 (...)'
    for an effect whose sign changes across the posterior, else ''."""
    if not e.get("changes_sign"):
        return ""
    draws = e["draws_up"] + e["draws_down"]
    sd = f"{e['sd_parameter']:.1f}" if abs(e["sd_parameter"]) < 1000 else f"{e['sd_parameter']:,.0f}"
    return (f"its sign depends on the behavioural parameters: it rises in {e['draws_up']} of {draws} posterior "
            f"draws and falls in {e['draws_down']} (spread over the posterior, sd {sd}{e['unit']}, larger than "
            "the effect)")


def _num_signed(x: float) -> str:
    return f"{x:+.1f}" if abs(x) < 1000 else f"{x:+,.0f}"


def effect_text(e: dict) -> str:
    """'-18% (95% CI -24% to -12%)', or a statement that no effect can be told from zero."""
    if not e["finite"]:
        return "not estimable (too few replicates)"
    if e["lo"] == e["hi"] == 0:
        return "unchanged in every replicate"
    ci = f"95% CI {_num_signed(e['lo'])}{e['unit']} to {_num_signed(e['hi'])}{e['unit']}"
    if not e["clear"]:
        return f"no change distinguishable from zero ({ci})"
    return f"{_num_signed(e['d'])}{e['unit']} ({ci})"


def power_text(e: dict) -> str:
    """'below the minimum detectable change (mdc 4.2%): run more replicates or households' for
    an effect smaller than its mdc, else ''."""
    if not e.get("small"):
        return ""
    mdc = f"{e['mdc']:.1f}" if abs(e["mdc"]) < 1000 else f"{e['mdc']:,.0f}"
    return f"below the minimum detectable change (mdc {mdc}{e['unit']}): run more replicates or households"


def _headline_parts(result) -> dict[str, list[str]]:
    """Per scenario: one clause per key indicator ("irregular departures -18% (95% CI ...) over 3 years")."""
    s, out = result.summary, {}
    if "diff" not in s.columns:
        return out
    years = result.config.run.months / 12
    horizon = (f"over {years:g} year{'s' if years != 1 else ''}" if years >= 1
               else f"over {result.config.run.months} months")
    for name, cfg in result.configs.items():
        if name == "baseline":
            continue
        rows = s[s["scenario"] == name].set_index("indicator")
        keys = list(dict.fromkeys([*cfg.expect, *HEADLINE_INDICATORS]))
        out[name] = []
        for k in keys:
            if k not in rows.index:
                continue
            e = effect(rows.loc[k], k)
            note = "; ".join(x for x in (sign_text(e), power_text(e)) if x)
            out[name].append(f"{_label(k)} {effect_text(e)} {horizon}" + (f"; {note}." if note else "."))
    return out


def headline_sentences(result) -> dict[str, list[str]]:
    """Per scenario: one sentence per key indicator (its expect: entries plus the headline set)."""
    return {name: [f"{_scenario_title(name, result)}: {p}" for p in parts]
            for name, parts in _headline_parts(result).items()}


def scenario_paragraphs(result, origin_lines: dict[str, list[str]] | None = None) -> str:
    """report.md section: per scenario, what changed, by how much (in the world and in the
    origins it targets), and whether expect: held."""
    parts = _headline_parts(result)
    if not parts:
        return ""
    checks = expectation_checks(result)
    buf = io.StringIO()
    buf.write("## Headline findings: this policy against doing nothing\n\n"
              "Each scenario is run on the same random numbers as the baseline (current policies), so the "
              "differences below are the policy's effect. The intervals are 95% confidence intervals over "
              "replicates; where an interval includes zero, the model cannot tell the effect from chance, and "
              "the report says so instead of giving a direction. Where an effect is smaller than its minimum "
              "detectable change (mdc: the change this many replicates would detect with 80% power in a 5% "
              "two-sided test), the sample is too small for the question and the report says so.\n\n")
    for name, lines in parts.items():
        meta = result.configs[name].scenario
        what = meta.description.split(". ")[0].rstrip(".") + "." if meta.description else ""
        buf.write(f"**{_scenario_title(name, result)}.** {what} In the whole world: "
                  + " ".join(x[0].upper() + x[1:] for x in lines))
        mine = [c for c in checks if c["scenario"] == name and c["expected"] != "any"]
        held = [c for c in mine if c["verdict"] == "as expected"]
        if mine:
            buf.write(f" Expected directions held for {len(held)} of {len(mine)} indicators")
            missed = [f"{_label(c['indicator'])} ({c['expected']}: {c['verdict']})" for c in mine
                      if c["verdict"] != "as expected"]
            buf.write("; not supported: " + "; ".join(missed) + "." if missed else ".")
        buf.write("\n\n")
        for line in (origin_lines or {}).get(name, []):
            buf.write(f"- {line}\n")
        if (origin_lines or {}).get(name):
            buf.write("\n")
    return buf.getvalue()


def scorecard_markdown(result) -> str:
    """report.md section: GCM objective -> indicator -> baseline level and change per scenario."""
    s = result.summary
    if "diff" not in s.columns:
        return ""
    names = [n for n in result.configs if n != "baseline"]
    base = s[s["scenario"] == "baseline"].set_index("indicator")["mean"]
    rows = {n: s[s["scenario"] == n].set_index("indicator") for n in names}

    def cell(n, ind):
        if ind not in rows[n].index:
            return "-"
        e = effect(rows[n].loc[ind], ind)
        if not e["finite"]:
            return "n/a"
        if e["lo"] == e["hi"] == 0:
            return "0"
        ci = f"{_num_signed(e['lo'])} to {_num_signed(e['hi'])}"
        return f"{_num_signed(e['d'])}{e['unit']} [{ci}]" if e["clear"] else f"~0 [{ci}]"

    buf = io.StringIO()
    buf.write("## GCM scorecard\n\nChange against baseline with its 95% interval in brackets; `~0` means the "
              "interval includes zero (no change the model can distinguish). Shares and costs in % change in "
              "percentage points; other indicators in % of the baseline level. Definitions and the objectives "
              "the model cannot speak to: `docs/scorecard.md`.\n\n")
    items = [(obj, ind) for obj, inds in SCORECARD for ind in inds]
    if len(names) <= 4:
        buf.write("| GCM objective | indicator | baseline | " + " | ".join(_scenario_title(n, result) for n in names)
                  + " |\n")
        buf.write("|---|---|---:|" + "---:|" * len(names) + "\n")
        for obj, ind in items:
            buf.write(f"| {obj} | {_label(ind)} | {_fmt(base.get(ind, float('nan')))} | "
                      + " | ".join(cell(n, ind) for n in names) + " |\n")
    else:  # many scenarios: one row per scenario, one column per indicator
        buf.write("| scenario | " + " | ".join(f"{_label(ind)} (obj. {obj.split()[0]})" for obj, ind in items)
                  + " |\n|---|" + "---:|" * len(items) + "\n")
        buf.write("| baseline level | " + " | ".join(_fmt(base.get(ind, float("nan"))) for _, ind in items)
                  + " |\n")
        for n in names:
            buf.write(f"| {_scenario_title(n, result)} | " + " | ".join(cell(n, ind) for _, ind in items) + " |\n")
    return buf.getvalue() + "\n"


def write_forest(summary: pd.DataFrame, folder: Path, indicators=FOREST_INDICATORS, stem: str = "forest",
                 titles: dict[str, str] | None = None) -> list[Path]:
    """Forest plot: each scenario's change vs baseline with its 95% interval, one panel per indicator
    (three a row), the scenarios named by ``titles``."""
    if summary is None or "diff" not in summary.columns:
        return []
    names = [n for n in dict.fromkeys(summary["scenario"]) if n != "baseline"]
    inds = [i for i in indicators if i in set(summary["indicator"])]
    if not names or not inds:
        return []
    from gcm_sim.edges.document import PALETTE

    plt = _style()
    fig, axes = _grid(plt, len(inds), 4.0, 1.5 + 0.4 * len(names), sharey=True)
    y = np.arange(len(names))[::-1]
    for ax, ind in zip(axes, inds):
        sub = summary[summary["indicator"] == ind].set_index("scenario")
        for yi, n in zip(y, names):
            if n not in sub.index:
                continue
            e = effect(sub.loc[n], ind)
            if not e["finite"]:
                continue
            color = PALETTE[0] if e["clear"] else "0.6"
            ax.errorbar(e["d"], yi, xerr=[[e["d"] - e["lo"]], [e["hi"] - e["d"]]], fmt="o", color=color,
                        ms=4, capsize=2)
        ax.axvline(0, color="k", lw=0.8)
        unit = "points" if ind in SHARE_INDICATORS + POINT_INDICATORS else "% of baseline"
        ax.set_title(_label(ind)[:1].upper() + _label(ind)[1:])
        ax.set_xlabel(f"change, {unit}")
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[::3]:
        ax.set_yticks(y)
        ax.set_yticklabels([(titles or {}).get(n, n) for n in names])
    fig.suptitle("Change against baseline over the horizon, 95% interval (grey: not distinguishable from zero)")
    return [save_figure(fig, folder / f"{stem}.png")]
