"""Remittances received by origin against the World Bank's figures on the modelled corridors
(issue 12).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ...measures import total
from gcm_sim.edges.report import save_figure
from gcm_sim.policy import ConfigError

from .common import CheckResult, REMIT_FACTOR, REMIT_YEAR_MONTHS, _figdir, _runs, interval


def remittance_targets() -> pd.DataFrame:
    """gcm_sim/data/remittances_received.csv with ``target_usd``: the World Bank figure times the share of
    the origin's emigrants the world's corridors cover (what the world can be expected to deliver)."""
    df = pd.read_csv(resources.files("gcm_sim") / "data" / "remittances_received.csv", keep_default_na=False)
    df["scored"] = df["scored"].astype(str).str.lower() == "true"
    df["target_usd"] = df["usd_bn"].astype(float) * 1e9 * df["covered_share"].astype(float)
    return df


def within_factor(ratio: float, factor: float = REMIT_FACTOR) -> bool:
    """simulated / published within [1 / factor, factor]."""
    return bool(np.isfinite(ratio) and ratio > 0 and 1.0 / factor <= ratio <= factor)


def off_by(ratio: float) -> float:
    """How far a ratio is from 1 as a factor (2 for both 2 and 0.5)."""
    return float(max(ratio, 1.0 / ratio)) if ratio > 0 else float("inf")


def check_remittances_by_origin(cfg, world, out: Path, say) -> CheckResult:
    months = cfg.run.months
    if months < REMIT_YEAR_MONTHS:
        raise ConfigError("run.months", months, f">= {REMIT_YEAR_MONTHS} for remittances_by_origin (a year of "
                                                "remittances)")
    year = list(range(months - REMIT_YEAR_MONTHS + 1, months + 1))  # the last 12 months: one year, no scaling
    targets = remittance_targets()
    targets = targets[targets["origin"].isin(world.iso3)]
    say(f"remittances by origin: baseline, last {REMIT_YEAR_MONTHS} of {months} months")
    rows = []
    for r, (ts, _) in enumerate(_runs(cfg, world)):
        for t in targets.itertuples(index=False):
            formal_sent = total(ts, "remittances_sent_usd", origin=t.origin, months=year)
            formal = formal_sent - total(ts, "remittance_fees_usd", origin=t.origin, months=year)
            sent = formal_sent + total(ts, "remittances_informal_usd", origin=t.origin, months=year)
            rows.append({"origin": t.origin, "replicate": r, "formal_received_usd": formal,
                         "received_usd": total(ts, "remittances_received_usd", origin=t.origin, months=year),
                         "sent_usd": sent})
    sim = pd.DataFrame(rows)
    agg = sim.groupby("origin", sort=False)[["formal_received_usd", "received_usd", "sent_usd"]].mean()
    d = targets.set_index("origin").join(agg)
    d["ratio"] = d["formal_received_usd"] / d["target_usd"]
    # per emigrant the world holds, USD a month: what the benchmark asks of each counted emigrant
    # against what the model's send (both channels) -- the gap no remit share can close
    covered = d["covered_stock"].astype(float)
    d["published_usd_per_emigrant_month"] = d["target_usd"] / covered / 12
    d["sent_usd_per_emigrant_month"] = d["sent_usd"] / covered / 12
    d["ratio_all_channels"] = d["received_usd"] / d["target_usd"]
    d["within"] = [within_factor(x) for x in d["ratio"]]
    scored = d[d["scored"]]
    failed = scored.index[~scored["within"]].tolist()
    passed = not failed
    worst = max(off_by(x) for x in scored["ratio"]) if len(scored) else float("nan")
    per_rep = []  # the worst origin's factor in each replicate, for the interval
    for r, g in sim.groupby("replicate"):
        g = g.set_index("origin").join(d[["target_usd", "scored"]])
        per_rep.append(max(off_by(x) for x in (g["formal_received_usd"] / g["target_usd"])[g["scored"]]))
    _, lo, hi = interval(per_rep)
    passed = bool(passed and np.isfinite(hi) and hi <= REMIT_FACTOR)  # the interval must support it too
    fig = _plot_remittances(d, sim, out)
    lines = "; ".join(
        f"{o} {x['ratio']:.2f} (covered {100 * x['covered_share']:.0f}% of emigrants"
        f"{'' if x['scored'] else ', not scored'}{'' if x['within'] or not x['scored'] else ', FAIL'})"
        for o, x in d.iterrows())
    d["year"] = d["year"].astype(str)
    details = d.reset_index()[["origin", "usd_bn", "year", "covered_share", "target_usd", "formal_received_usd",
                               "received_usd", "ratio", "ratio_all_channels", "published_usd_per_emigrant_month",
                               "sent_usd_per_emigrant_month", "scored", "within"]]
    return CheckResult(
        "remittances_by_origin", "Remittances received by origin",
        "personal remittances received by each origin (2024; Nepal 2023), times the share of its emigrants "
        "living on the corridors the world models",
        "World Bank WDI BX.TRF.PWKR.CD.DT [WDI-REM]; Nepal: World Bank/KNOMAD estimate [NPL-REM-ALT]; "
        "emigrant stocks UN DESA 2020 [DESA-EMIG, DESA]",
        f"every scored origin's simulated / published ratio within a factor of {REMIT_FACTOR} "
        f"([{1 / REMIT_FACTOR:.3g}, {REMIT_FACTOR}]) and the 95% interval of the worst factor below {REMIT_FACTOR}; "
        "simulated value = the largest factor off over scored origins",
        worst, lo, hi, passed, fig,
        f"Simulated: formal remittances received (remittances_sent_usd - remittance_fees_usd), the counterpart of "
        f"the recorded flows the World Bank reports (informal transfers are largely unrecorded; Freund & "
        f"Spatafora 2008 [FREUND-SPATAFORA-2008]), summed over the last {REMIT_YEAR_MONTHS} of {months} months "
        f"(one year), mean over replicates. Published: the World Bank figure x covered share (the world's "
        f"corridor stocks / the origin's UN DESA emigrant total), which assumes that emigrants elsewhere remit "
        f"as much per head. Ratio simulated / published per origin: {lines}. "
        f"{'Failed: ' + ', '.join(failed) + '.' if failed else 'All scored origins within the factor.'} "
        "SYR (latest figure 2010, before the war) and AFG (a flat placeholder) are shown, not scored. The "
        "column ratio_all_channels adds informal transfers (remittances_received_usd) for comparison; it is "
        "not scored. Per emigrant on the modelled corridors (UN DESA's covered stock), USD a month: "
        "published_usd_per_emigrant_month is what the benchmark asks of each, sent_usd_per_emigrant_month "
        "what the model's migrants send by both channels (a benchmark far above what migrants earn says "
        "that the recorded flow includes senders the stock does not count). The interval is over "
        "per-replicate worst factors.", details)


def _plot_remittances(d: pd.DataFrame, sim: pd.DataFrame, out: Path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(d))
    ax.axhspan(1 / REMIT_FACTOR, REMIT_FACTOR, color="tab:green", alpha=0.12, label=f"within x{REMIT_FACTOR}")
    ax.axhline(1.0, color="tab:green", ls="--", lw=0.8)
    for i, (o, row) in enumerate(d.iterrows()):
        reps = sim[sim["origin"] == o]["formal_received_usd"] / row["target_usd"]
        ax.plot(np.full(len(reps), i), reps, ".", color="grey", alpha=0.6)
    colour = ["tab:blue" if s else "lightgrey" for s in d["scored"]]
    ax.scatter(x, d["ratio"], color=colour, zorder=3, label="formal received / published (mean)")
    ax.scatter(x, d["ratio_all_channels"], marker="x", color="tab:orange", zorder=3,
               label="with informal transfers (not scored)")
    ax.set_yscale("log")
    ax.set_xticks(x, d.index, rotation=90, fontsize=8)
    ax.set_ylabel("simulated / World Bank x covered share")
    ax.legend(fontsize=7)
    path = save_figure(fig, _figdir(out) / "remittances_by_origin.png")
    return f"figures/{path.name}"
