"""Reports a minister can read: HTML and PDF from the report's Markdown, the spreadsheet,
and the two generated sections every report carries (what the model can and cannot say,
the methods annex).

Why one source: report.md is the report; report.html is the same Markdown rendered
(Python-Markdown, tables extension) with every figure embedded as a data URI, so the
file stands alone (mail it, open it offline); report.pdf is that HTML printed by
Chromium (Playwright driving Debian's ``/usr/bin/chromium``, or the browser named by
``GCM_SIM_CHROMIUM``), so the three never say different things. When no browser is
available the PDF is skipped with a message; the HTML and Markdown are still written.

The "can and cannot say" section is generated, not written: it reads the calibration
targets that pass and fail (``experiments/calibration/calibration_last.csv``), the
validation checks (``docs/validation.md``, written by ``gcm-sim validate``) and the
behavioural parameters marked ASSUMPTION in the world's ``behaviour.yaml``, so it
changes when they do.
"""

from __future__ import annotations

import base64
import html
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from gcm_sim.edges.outputs import atomic_write

REPO = Path(__file__).resolve().parents[2]  # a source checkout: docs/ and experiments/ beside gcm_sim/
CALIBRATION_CSV = REPO / "experiments" / "calibration" / "calibration_last.csv"
VALIDATION_MD = REPO / "docs" / "validation.md"
CHROMIUM_ENV = "GCM_SIM_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# GCM objectives the model does not represent (GCM.md, docs/scorecard.md)
OUTSIDE_MODEL = {14: "consular protection", 16: "inclusion and social cohesion",
                 17: "discrimination and public discourse", 22: "portability of social security"}
# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
SOFTWARE = ("gcm-sim", "mesa", "numpy", "pandas", "scipy", "hydra-core", "matplotlib", "pyarrow")


# --- what this model can and cannot say --------------------------------------------------


def calibration_status(path: Path = CALIBRATION_CSV) -> dict | None:
    """``{"total", "inside", "failing": [(target, description)]}`` from the last calibration, or None."""
    if not Path(path).is_file():
        return None
    t = pd.read_csv(path)
    inside = t["inside"].astype(str).str.lower() == "true"
    failing = [(r.target, r.description) for r, ok in zip(t.itertuples(index=False), inside) if not ok]
    return {"total": len(t), "inside": int(inside.sum()), "failing": failing}


def validation_status(path: Path = VALIDATION_MD) -> list[tuple[str, bool]] | None:
    """``[(check, passed)]`` from the validation report's table, or None."""
    if not Path(path).is_file():
        return None
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*([^|]+?)\s*\|.*\*\*(PASS|FAIL)\*\*\s*\|\s*$", line)
        if m:
            out.append((m.group(1), m.group(2) == "PASS"))
    return out


def assumptions(world_dir: str | None = None) -> tuple[list[str], list[str]]:
    """``(assumed, calibrated)``: behavioural parameters whose source is an ASSUMPTION, and
    those fitted by the calibration, from the world's ``behaviour.yaml``."""
    path = Path(world_dir) / "behaviour.yaml" if world_dir else Path(__file__).resolve().parents[1] / "data" / "behaviour.yaml"
    if not path.is_file():
        return [], []
    params = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("parameters", {})
    assumed = [k for k, v in params.items() if isinstance(v, dict) and str(v.get("source", "")).startswith("ASSUMPTION")]
    calibrated = [k for k, v in params.items() if isinstance(v, dict) and str(v.get("source", "")).startswith("CALIBRATED")]
    return assumed, calibrated


def limitations_markdown(cfg, small_sample_origins: list[str] = ()) -> str:
    """The report's "What this model can and cannot say" section, from the current status files."""
    out = ["## What this model can and cannot say\n",
           "This section is generated from the model's current calibration and validation status; "
           "read every number above in its light.\n"]
    cal = calibration_status()
    if cal is None:
        out.append("- **Calibration:** no calibration record found (experiments/calibration/calibration_last.csv): "
                   "treat levels as illustrative.")
    else:
        names = ", ".join(f"`{t}`" for t, _ in cal["failing"])
        out.append(f"- **Calibration:** {cal['inside']} of {cal['total']} published targets are reproduced within "
                   f"their bands (docs/calibration.md). Outside their bands: {names or 'none'}. Levels (how many "
                   "people, how much money) are therefore less reliable than differences between scenarios run "
                   "on the same seeds.")
    val = validation_status()
    if val is None:
        out.append("- **Validation:** no validation record found (docs/validation.md).")
    else:
        passed = [c for c, ok in val if ok]
        failed = [c for c, ok in val if not ok]
        out.append(f"- **Validation:** {len(passed)} of {len(val)} out-of-sample checks pass"
                   + (f" ({'; '.join(passed)})" if passed else "")
                   + (f"; failing: {'; '.join(failed)}" if failed else "")
                   + ". A failing check is a pattern the model does not reproduce: results that rest on it "
                     "(for instance how strongly formal remittances respond to their cost) may be off in size.")
    assumed, calibrated = assumptions(cfg.world)
    if assumed:
        out.append(f"- **Assumptions:** {len(assumed)} behavioural parameters have no published source and are "
                   f"set to plausible values ({', '.join(f'`{a}`' for a in assumed[:12])}"
                   + (", ..." if len(assumed) > 12 else "") + f"); {len(calibrated)} are fitted by the calibration. "
                   "Mechanisms resting on them (who considers moving, how channels substitute for each other, "
                   "responses to risk of death) are assumptions, not findings.")
    out.append(uncertainty_line(cfg))
    out.append(f"- **Scale:** {cfg.run.households:,} simulated households stand for the origins' real population; "
               "small origins have few simulated households, so their results are noisy"
               + (f" (flagged here: {', '.join(small_sample_origins)})" if small_sample_origins else "")
               + ". Results marked small sample come from fewer than 5 replicates, or show no clear change "
                 "where the run could not have detected one smaller than half the baseline level (mdc above 50%).")
    out.append("- **Outside the model:** GCM objectives "
               + "; ".join(f"{k} ({v})" for k, v in OUTSIDE_MODEL.items())
               + " are not represented (docs/scorecard.md); the report says nothing about them.")
    return "\n".join(out) + "\n\n"


THIN_POSTERIOR = 10.0  # an effective sample size below this: the posterior rests on a few parameter sets


def posterior_size_sentence(cfg) -> str:
    """' The posterior holds 40 weighted parameter sets, worth 2.1 equally weighted ones ...': how much
    parameter uncertainty the posterior the run drew from can carry (Kish's effective sample size)."""
    from gcm_sim.studies.parameters import world_posterior
    from gcm_sim.world import load_world

    post = world_posterior(load_world(cfg.world))
    n, ess = len(post.weights), post.effective_size
    text = (f" The posterior holds {n} weighted parameter sets, worth {ess:.1f} equally weighted ones (Kish's "
            "effective sample size)")
    if ess < THIN_POSTERIOR:
        return text + (": it rests on a few of them, so the spread over the posterior understates the "
                       "parameters' uncertainty (docs/calibration.md).")
    return text + "."


def uncertainty_line(cfg) -> str:
    """Which uncertainty the intervals carry: the seeds' only (run.parameters=point), or the
    seeds' and the behavioural parameters' (run.parameters=posterior)."""
    if cfg.run.parameters == "posterior":
        return (f"- **Uncertainty shown:** intervals cover the model's randomness over replicates and the "
                f"behavioural parameters' uncertainty: the replicates ran {cfg.run.draws} draws from the world's "
                "posterior (`posterior.csv`), and the tables give the seeds' part and the spread over the posterior "
                "apart. With few draws the interval is wide, because it rests on the draws' means (draws - 1 "
                "degrees of freedom)." + posterior_size_sentence(cfg) + " Uncertainty in the world data itself is "
                "not shown.")
    return ("- **Uncertainty shown:** intervals cover the model's randomness over replicates only, not "
            "uncertainty in its behavioural parameters or its data: the parameters are the point values of "
            "`behaviour.yaml` (run.parameters=point). `run.parameters=posterior run.draws=N` adds the "
            "parameters' uncertainty, drawn from the world's posterior (docs/running.md).")


# --- methods annex ------------------------------------------------------------------------


def software_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed" if name != "gcm-sim" else _package_version()
    commit = _git_commit()
    if commit:
        out["gcm-sim commit"] = commit
    return out


def _package_version() -> str:
    from gcm_sim import __version__

    return f"{__version__} (source tree)"


def _git_commit() -> str | None:
    head = REPO / ".git"
    try:
        if head.is_file():  # a worktree: "gitdir: PATH"
            head = Path(head.read_text().split(":", 1)[1].strip())
        ref = (head / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            name = ref[5:]
            p = head / name
            if not p.is_file():
                common = head / "commondir"
                base = (head / common.read_text().strip()).resolve() if common.is_file() else head
                p = base / name
                if not p.is_file():
                    packed = base / "packed-refs"
                    for line in packed.read_text().splitlines() if packed.is_file() else []:
                        if line.endswith(" " + name):
                            return line.split()[0][:10]
                    return None
            return p.read_text().strip()[:10]
        return ref[:10]
    except OSError:
        return None


def methods_markdown(result) -> str:
    """The methods annex: ODD summary, run settings, seeds, software versions."""
    import numpy as np

    cfg = result.config
    r = cfg.run
    children = np.random.SeedSequence(r.seed).spawn(r.replicates)
    seeds = ", ".join(f"{i}: spawn_key {c.spawn_key}" for i, c in enumerate(children[:6])) + (
        ", ..." if r.replicates > 6 else "")
    sw = software_versions()
    arms = list(result.configs) or [cfg.scenario.name]
    lines = [
        "## Methods annex\n",
        "**Model (ODD summary; docs/model.md).** *Purpose:* the effect of migration policies on flows, "
        "deaths, remittances, recruitment costs and returns, in the terms of the Global Compact for Migration. "
        "*Entities:* origin households (arrays, each standing for many real households), migrants, recruiters, "
        "smugglers, border authorities and employers, on a graph of countries and route legs from the world "
        "data. *Process:* one step is one month: climate shocks, income and saving, the household's choice "
        "among staying, moving internally, regular pathways and irregular routes (nested logit under a "
        "liquidity constraint), placement, passage and legs (interception, death, stranding), border and "
        "asylum processing, hiring, remittances, returns and beliefs. *Initialisation:* the observed stocks "
        "of migrants abroad. *Stochasticity:* every draw is keyed to (mechanism, month, entity), and arms "
        "of a comparison share seeds (common random numbers), so differences come from the policy.\n",
        "**Run settings.**\n",
        "| setting | value |", "|---|---|",
        f"| arms | {', '.join(arms)} |",
        f"| months | {r.months} |", f"| simulated households | {r.households:,} |",
        f"| replicates | {r.replicates} |", f"| engine | {r.engine} |", f"| workers | {r.workers} |",
        f"| behavioural parameters | {r.parameters}" + (f" ({r.draws} posterior draws)" if r.parameters == "posterior"
                                                      else " (behaviour.yaml)") + " |",
        f"| spin-up | {r.spinup_months} months under baseline, not reported |",
        f"| world | {cfg.world or 'embedded (gcm_sim/data)'} |",
        f"| root seed | {r.seed} |",
        f"| replicate seeds | numpy.random.SeedSequence({r.seed}).spawn({r.replicates}): {seeds} |",
        "",
        "Every arm's resolved configuration is in `configs/NAME.yaml` (the baseline's in `config.yaml`); "
        "rerunning them with the same seed gives identical results.\n",
        "**Statistics.** Intervals of a mean: 95%, on the logit scale for shares and percentages (never "
        "outside 0 to 1, or 0 to 100), on the log scale for other quantities that cannot be negative; of a "
        "difference: paired t-interval over replicates, never taking the arm below zero (or above its bound); "
        "mdc: 2.8 standard errors of the paired difference (80% power, 5% two-sided). "
        + (f"Behavioural parameters: replicate r ran posterior draw r % {r.draws} (run.parameters=posterior); "
           "intervals rest on the draws' means, and the seeds' part and the standard deviation over the "
           "posterior are shown apart. " if r.parameters == "posterior" else
           "Behavioural parameters: the point values of behaviour.yaml (run.parameters=point). ")
        + "docs/running.md.\n",
        "**Software.**\n", "| package | version |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sw.items()],
        f"| platform | {html.escape(platform.platform())} |",
        "",
    ]
    return "\n".join(lines) + "\n"


# --- HTML and PDF --------------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; line-height: 1.45; color: #1a1a1a;
       max-width: 60em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 20pt; color: #0b3c5d; border-bottom: 2px solid #0072B2; padding-bottom: .2em; }
h2 { font-size: 14pt; color: #0b3c5d; margin-top: 1.6em; break-after: avoid; }
h3 { font-size: 12pt; break-after: avoid; }
table { border-collapse: collapse; margin: .8em 0; font-size: 8.5pt; break-inside: auto; }
th, td { border: 1px solid #bbb; padding: 2px 6px; vertical-align: top; }
th { background: #e8f0f7; }
tr { break-inside: avoid; }
img { max-width: 100%; height: auto; break-inside: avoid; }
code { font-size: 90%; background: #f3f3f3; padding: 0 2px; }
p.note { background: #fff4d6; border-left: 4px solid #E69F00; padding: .4em .8em; }
@page { size: A4; margin: 16mm 14mm; }
@media print { body { margin: 0; max-width: none; } }
"""


def markdown_to_html(md_text: str, base_dir: Path, title: str) -> str:
    """A standalone HTML page from report Markdown, images embedded as data URIs."""
    import markdown

    body = markdown.markdown(md_text, extensions=["tables"], output_format="html")

    def embed(m):
        src = m.group(2)
        p = Path(base_dir) / src
        if src.startswith("data:") or not p.is_file():
            return m.group(0)
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        return f'{m.group(1)}data:image/png;base64,{data}"'

    body = re.sub(r'(<img[^>]*?src=")([^"]+)"', embed, body)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def chromium_path() -> str | None:
    p = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    return p if Path(p).is_file() else None


def html_to_pdf(html_path: Path, pdf_path: Path) -> str | None:
    """Print ``html_path`` to ``pdf_path`` with Chromium (atomically). Returns None, or why
    no PDF was written (no browser, Playwright missing)."""
    exe = chromium_path()
    if exe is None:
        return f"no Chromium at {os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM} (set {CHROMIUM_ENV})"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    tmp = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
                page.pdf(path=str(tmp), format="A4", print_background=True,
                         margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"})
            finally:
                browser.close()
        os.replace(tmp, pdf_path)
    except Exception as e:  # noqa: BLE001 - a failed print must not lose the run's other outputs
        tmp.unlink(missing_ok=True)
        return f"Chromium could not print the PDF ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    return None


def write_html_pdf(md_text: str, run_dir: Path, stem: str, title: str, pdf: bool = True) -> list[str]:
    """Write ``stem.html`` (and ``stem.pdf``) in ``run_dir``; returns messages (why no PDF)."""
    page = markdown_to_html(md_text, run_dir, title)
    atomic_write(run_dir / f"{stem}.html", lambda f: f.write(page))
    if not pdf:
        return []
    why = html_to_pdf(run_dir / f"{stem}.html", run_dir / f"{stem}.pdf")
    return [f"{stem}.pdf not written: {why}"] if why else []


# --- spreadsheet ---------------------------------------------------------------------------


def write_xlsx(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """One sheet per table (openpyxl), written atomically; sheet names at most 31 characters."""
    def write(f):
        with pd.ExcelWriter(f, engine="openpyxl") as xw:
            for name, table in tables.items():
                table.to_excel(xw, sheet_name=name[:31], index=False)
                ws = xw.sheets[name[:31]]
                ws.freeze_panes = "A2"
                for col in ws.columns:
                    width = max(len(str(c.value)) if c.value is not None else 0 for c in col[:200])
                    ws.column_dimensions[col[0].column_letter].width = min(max(8, width + 2), 60)

    atomic_write(path, write, binary=True)


def read_xlsx(path: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of a results.xlsx (for tests and users)."""
    return pd.read_excel(path, sheet_name=None, engine="openpyxl")


if __name__ == "__main__":  # pragma: no cover - python -m gcm_sim.edges.document FILE.html FILE.pdf
    sys.exit(1 if html_to_pdf(Path(sys.argv[1]), Path(sys.argv[2])) else 0)
