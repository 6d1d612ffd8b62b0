"""The briefing book: the Marrakech dialogue's questions answered by simulation (`gcm-sim brief`).

Why this shape: the dialogue asks eleven questions (eight on policy, three institutional;
GCM.md). Each is a YAML file in ``experiments/dialogue/`` that states the question, the
scenarios that bear on it, the indicators that answer it and what the model cannot say
about it. Many questions share scenarios, so the book runs each distinct arm once (on the
same seeds as baseline: common random numbers) and caches it under ``arms/NAME/``; a
question's comparison is assembled from the cached arms and written to
``questions/QUESTION/`` as an ordinary comparison run directory; the book (``book.md``,
``book.html``, ``book.pdf``) comes last. An interrupted book resumes: an arm whose cache
matches its resolved config is not run again.

Default size (:data:`DEFAULT_SIZE`; any ``run.*`` override wins): 50,000 households,
60 months, 6 replicates, 2 workers: 25 arms, 11 questions and the parameter screen in 8-10 min
on 2 cores with the 60-month spin-up (arms in batches of :data:`BATCH_ARMS` sharing each
replicate's spin-up; docs/scenarios.md).
The three institutional questions add a parameter screen (:mod:`gcm_sim.studies.sensitivity`,
``sensitivity=false`` skips it): which parameter their answer hangs on and which published
figures pin it down, cached under ``sensitivity/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gcm_sim import policy
from gcm_sim.edges.outputs import atomic_write
from gcm_sim.policy import Config, ConfigError
from gcm_sim.studies import experiment

DIALOGUE = Path(__file__).resolve().parents[2] / "experiments" / "dialogue"
DEFAULT_SIZE = ("run.households=50000", "run.months=60", "run.replicates=6", "run.workers=2")
QUESTION_KEYS = {"title", "question", "kind", "gcm_objectives", "scenarios", "indicators", "cannot_say"}
KINDS = ("policy", "institutional")


@dataclass
class Plan:
    cfg: Config                                  # baseline, with the book's run settings
    questions: list[dict]                        # parsed question files, in file order
    arms: dict[str, Config]                      # every distinct arm (baseline first)
    world: object = None
    overrides: list[str] = field(default_factory=list)


def load_question(path: Path) -> dict:
    """One dialogue question file (yaml.safe_load); errors name the file and the key."""
    import yaml

    from gcm_sim.measures import INDICATORS

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(str(path), None, f"not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, "a mapping with " + ", ".join(sorted(QUESTION_KEYS)))
    for key in data:
        if key not in QUESTION_KEYS:
            raise ConfigError(f"{path}: {key}", data[key], f"unknown key; allowed: {', '.join(sorted(QUESTION_KEYS))}")
    for key in ("title", "question"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(f"{path}: {key}", data.get(key), "a non-empty text")
    if data.get("kind", "policy") not in KINDS:
        raise ConfigError(f"{path}: kind", data.get("kind"), " or ".join(KINDS))
    scen = data.get("scenarios")
    if not isinstance(scen, list) or not scen or not all(isinstance(s, str) for s in scen):
        raise ConfigError(f"{path}: scenarios", scen, "a list of scenario names or files (relative to this file)")
    inds = data.get("indicators")
    if not isinstance(inds, list) or not inds or not all(isinstance(i, str) for i in inds):
        raise ConfigError(f"{path}: indicators", inds, "a list of indicator names")
    for i in inds:
        if i not in INDICATORS:
            raise ConfigError(f"{path}: indicators", i, f"known indicators: {', '.join(sorted(INDICATORS))}")
    from gcm_sim.config import is_scenario_file

    resolved = [str((Path(path).parent / s).resolve()) if is_scenario_file(s) else s for s in scen]
    return {"id": Path(path).stem, "file": str(path), "kind": data.get("kind", "policy"),
            "gcm_objectives": list(data.get("gcm_objectives") or []), "cannot_say": data.get("cannot_say") or "",
            "title": data["title"].strip(), "question": " ".join(data["question"].split()),
            "scenarios": resolved, "indicators": inds}


def prepare(overrides: Sequence[str] = (), questions: Sequence[str] | None = None, folder=None) -> Plan:
    """Read the question files and compose and validate every arm before any work starts."""
    from gcm_sim.config import load_config
    from gcm_sim.world import load_world

    folder = Path(folder) if folder else DIALOGUE
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError("dialogue", str(folder), "a folder of question files (*.yaml)")
    qs = [load_question(f) for f in files]
    if questions:
        known = [q["id"] for q in qs]
        for q in questions:
            if q not in known:
                raise ConfigError("questions", q, f"known questions: {', '.join(known)}")
        qs = [q for q in qs if q["id"] in questions]
    overrides = [*DEFAULT_SIZE, *overrides]
    common, _ = experiment.split_arm_overrides(overrides, ["baseline"])
    cfg = load_config("baseline", common)
    world = load_world(cfg.world) if cfg.world else load_world()
    specs = list(dict.fromkeys(s for q in qs for s in q["scenarios"]))
    arms = experiment.arm_configs(cfg, specs, overrides, world)
    names = {s: experiment.arm_name(s) for s in specs}
    for q in qs:
        q["arms"] = [names[s] for s in q["scenarios"] if names[s] != "baseline"]
    return Plan(cfg, qs, arms, world, list(overrides))


BATCH_ARMS = 5  # arms run together, sharing each replicate's spin-up; cached after each batch


def _cache_matches(cfg: Config, folder: Path) -> bool:
    done = folder / "done.json"
    return done.is_file() and json.loads(done.read_text(encoding="utf-8")).get("key") == policy.config_key(cfg)


def run_arms(arms: dict[str, Config], run_dir: Path, world, echo: Callable[[str], None]) -> None:
    """Cache each arm under ``run_dir/arms/NAME/`` (:func:`load_arm` reads it back): arms whose cache
    matches their config are kept; the others run in batches of :data:`BATCH_ARMS` (each replicate's
    spin-up once per batch, :func:`gcm_sim.studies.experiment.run_arms`), each batch cached as soon
    as it is done. Nothing is held in memory beyond one batch."""
    import time

    t0 = time.monotonic()
    todo = [n for n, c in arms.items() if not _cache_matches(c, run_dir / "arms" / n)]
    if len(todo) < len(arms):
        echo(f"gcm-sim: brief: {len(arms) - len(todo)} of {len(arms)} arms cached")
    for k in range(0, len(todo), BATCH_ARMS):
        batch = todo[k:k + BATCH_ARMS]
        echo(f"gcm-sim: brief: arms {k + 1}-{k + len(batch)} of {len(todo)} to run ({', '.join(batch)}); "
             f"{time.monotonic() - t0:.0f} s so far")
        ts, ind = experiment.run_arms({n: arms[n] for n in batch}, progress=True, world=world, label="brief")
        for n in batch:
            folder = run_dir / "arms" / n
            folder.mkdir(parents=True, exist_ok=True)
            one_ts = ts[ts["scenario"] == arms[n].scenario.name]
            one_ind = ind[ind["scenario"] == arms[n].scenario.name]
            atomic_write(folder / "timeseries.parquet", lambda f, t=one_ts: t.to_parquet(f, index=False), binary=True)
            atomic_write(folder / "indicators.csv", lambda f, t=one_ind: t.to_csv(f, index=False))
            atomic_write(folder / "done.json",
                         lambda f, n=n: f.write(json.dumps({"key": policy.config_key(arms[n]), "scenario": arms[n].scenario.name})))
        del ts, ind


def load_arm(run_dir: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An arm's cached timeseries and indicators (:func:`run_arms`)."""
    folder = Path(run_dir) / "arms" / name
    return pd.read_parquet(folder / "timeseries.parquet"), pd.read_csv(folder / "indicators.csv")


def run_brief(plan: Plan, run_dir: Path, pdf: bool = True, echo: Callable[[str], None] = lambda m: None,
              sensitivity: bool = True) -> dict:
    """Run (or resume) every arm, write each question's comparison and the book. With
    ``sensitivity`` the institutional questions get a parameter screen
    (:mod:`gcm_sim.studies.sensitivity`): which parameter their answer hangs on and which
    published figures pin it down."""
    import time

    from gcm_sim.edges import document, report

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    run_arms(plan.arms, run_dir, plan.world, echo)  # read back per question: memory for one question's arms
    sections, notes = [], []
    for j, q in enumerate(plan.questions, 1):
        echo(f"gcm-sim: brief: question {j}/{len(plan.questions)} {q['id']}")
        names = ["baseline", *q["arms"]]
        parts = [load_arm(run_dir, n) for n in names]
        ts = pd.concat([p[0] for p in parts], ignore_index=True)
        ind = pd.concat([p[1] for p in parts], ignore_index=True)
        del parts
        draws = plan.cfg.run.draws if plan.cfg.run.parameters == "posterior" else None
        res = experiment.RunResult(ts, ind, experiment.summarise(ind, baseline="baseline", draws=draws),
                                   plan.arms["baseline"], {n: plan.arms[n] for n in names})
        qdir = run_dir / "questions" / q["id"]
        report.write_run_dir(res, qdir, documents=False)
        titles = report.scenario_titles(res)
        figs = report.write_forest(res.summary, run_dir / "figures", indicators=q["indicators"], stem=q["id"],
                                   titles=titles)
        figs += report.write_difference(res.timeseries, run_dir / "figures" / q["id"], titles=titles)
        screen = []
        if sensitivity and q["kind"] == "institutional":
            screen = _screen(plan, q, run_dir, qdir, echo)
        sections.append(question_markdown(q, res, figs, run_dir, plan.world, screen))
    md = book_markdown(plan, sections)
    notes += document.write_html_pdf(md, run_dir, "book", "gcm-sim briefing book: the Marrakech dialogue", pdf=pdf)
    if notes:
        md += "\n" + "\n".join(f"*{n}*" for n in notes) + "\n"
    atomic_write(run_dir / "book.md", lambda f: f.write(md))
    echo(f"gcm-sim: brief: done in {time.monotonic() - t0:.0f} s")
    return {"notes": notes, "pdf": (run_dir / "book.pdf").is_file() and pdf}


# --- the book ---------------------------------------------------------------------------


def _answer_lines(q: dict, res) -> tuple[list[str], list[str]]:
    """Plain sentences per arm on the question's indicators, and the trade-offs: clear changes
    in opposite directions on the question's indicators (or clear costs elsewhere)."""
    from gcm_sim.edges.report import _label, _scenario_title, effect, effect_text, power_text

    s = res.summary
    months = res.config.run.months
    horizon = f"over {months / 12:g} year{'s' if months != 12 else ''}" if months >= 12 else f"over {months} months"
    answers, trade = [], []
    for name in q["arms"]:
        rows = s[s["scenario"] == name].set_index("indicator")
        parts, ups, downs = [], [], []
        for ind in q["indicators"]:
            if ind not in rows.index:
                continue
            e = effect(rows.loc[ind], ind)
            note = power_text(e)
            parts.append(f"{_label(ind)} {effect_text(e)}" + (f" ({note})" if note else ""))
            if e["clear"]:
                (ups if e["d"] > 0 else downs).append(_label(ind))
        answers.append(f"**{_scenario_title(name, res)}** ({horizon}): " + "; ".join(parts) + ".")
        if ups and downs:
            trade.append(f"{_scenario_title(name, res)} raises {', '.join(ups)} while it lowers {', '.join(downs)}.")
        elif ups or downs:
            trade.append(f"{_scenario_title(name, res)}: clear changes only in one direction "
                         f"({'up: ' + ', '.join(ups) if ups else 'down: ' + ', '.join(downs)}); the other indicators "
                         "cannot be told from zero.")
        else:
            trade.append(f"{_scenario_title(name, res)}: no change on these indicators the model can tell from zero "
                         "at this size.")
    return answers, trade


def _uncertainty_lines(res) -> list[str]:
    """Which quantities are least certain: the widest minimum detectable changes in the question's
    arms, and the calibration targets the model misses (the data that would most reduce uncertainty)."""
    from gcm_sim.edges import document
    from gcm_sim.edges.report import _label

    s = res.summary[res.summary["scenario"] != "baseline"]
    s = s[s["mdc_pct"].map(lambda x: isinstance(x, float) and math.isfinite(x))]
    top = s.sort_values("mdc_pct", ascending=False).drop_duplicates("indicator").head(4)
    out = []
    if not top.empty:
        out.append("Least certain at this size (largest minimum detectable change): "
                   + "; ".join(f"{_label(r.indicator)} (mdc {r.mdc_pct:.0f}% of baseline)" for r in top.itertuples())
                   + ". More replicates or households narrow these.")
    cal = document.calibration_status()
    if cal and cal["failing"]:
        out.append("Data that would most reduce uncertainty: the published figures the calibration does not "
                   "reproduce, " + "; ".join(d for _, d in cal["failing"][:6]) + ".")
    return out


def _screen(plan: Plan, q: dict, run_dir: Path, qdir: Path, echo) -> list[str]:
    """The institutional question's parameter screen (cached under ``sensitivity/``): sentences."""
    from gcm_sim.edges.report import _label
    from gcm_sim.studies import sensitivity as sens

    cache = run_dir / "sensitivity"
    arms = {n: plan.arms[n] for n in q["arms"]}
    effects = sens.effect_swing(plan.arms["baseline"], arms, q["indicators"], plan.world, cache, echo)
    swings = sens.swing_table(effects)
    responses = sens.target_response(plan.arms["baseline"], plan.world, cache, echo)
    atomic_write(qdir / "sensitivity.csv", lambda f: swings.to_csv(f, index=False))
    atomic_write(qdir / "target_response.csv", lambda f: responses.to_csv(f, index=False))
    lines = sens.reading(swings, responses, _label)
    return lines or ["At this run size no arm's effect on these indicators could be estimated at either setting "
                     "of any parameter (every swing is undefined; see sensitivity.csv): run the book larger."]


def question_markdown(q: dict, res, figures, run_dir: Path, world, screen: Sequence[str] = ()) -> str:
    from gcm_sim.edges.report import scorecard_markdown

    answers, trade = _answer_lines(q, res)
    out = [f"## {q['title']}\n", f"**Question.** {q['question']}\n",
           f"*GCM objectives {', '.join(map(str, q['gcm_objectives'])) or '-'}; scenarios: "
           f"{', '.join(q['arms'])}; full comparison: `questions/{q['id']}/report.md`.*\n",
           "### The answer, with its uncertainty\n", *[f"- {a}" for a in answers], "",
           "### Trade-offs\n", *[f"- {t}" for t in trade], ""]
    for f in figures:
        out.append(f"![{q['title']}]({f.relative_to(run_dir).as_posix()})\n")
    if q["kind"] == "institutional":
        out.append(scorecard_markdown(res).replace("## GCM scorecard", "### What the scorecard offers"))
    if screen:
        from gcm_sim.studies.sensitivity import LEVELS, SIZE

        out += ["### Which uncertainty matters, and which data would reduce it\n",
                f"Each calibrated behavioural parameter set to the {LEVELS['low']:.0%} and {LEVELS['high']:.0%} "
                f"points of its plausible range in turn, the others at behaviour.yaml's point values, each arm "
                f"against baseline on the same seeds "
                f"({SIZE['households']:,} households x {SIZE['months']} months x {SIZE['replicates']} replicates "
                f"at most; `questions/{q['id']}/sensitivity.csv`, `target_response.csv`).\n",
                *[f"- {x}" for x in screen], ""]
    out.append("### What the model cannot say\n")
    out.append(q["cannot_say"].strip() + "\n")
    out += [f"- {x}" for x in _uncertainty_lines(res)]
    return "\n".join(out) + "\n\n"


def book_markdown(plan: Plan, sections: list[str]) -> str:
    from gcm_sim.edges import document

    cfg = plan.cfg
    head = ["# gcm-sim briefing book: the Marrakech dialogue on implementing the GCM\n",
            f"One simulated study per dialogue question: each scenario against current policies (baseline) on the "
            f"same random numbers, {cfg.run.replicates} replicates x {cfg.run.months} months, "
            f"{cfg.run.households:,} simulated households, seed {cfg.run.seed}. Intervals are 95% over replicates"
            + (f", which ran {cfg.run.draws} draws of the behavioural parameters from the world's posterior: they "
               "count the parameters' uncertainty as well as the seeds' (each question's `report.md` gives the two "
               "parts apart)" if cfg.run.parameters == "posterior" else
               " (the seeds' uncertainty only: the behavioural parameters are behaviour.yaml's point values; "
               "`run.parameters=posterior` adds theirs)")
            + "; a change the model cannot tell from zero is said so. Questions 9-11 are institutional: the model "
            "offers the scorecard and the data that would most reduce uncertainty, not an answer.\n",
            "## Contents\n", *[f"{i}. {q['title']}" for i, q in enumerate(plan.questions, 1)], ""]
    tail = [document.limitations_markdown(cfg), document.methods_markdown(
        experiment.RunResult(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), cfg, plan.arms))]
    return "\n".join(head) + "\n" + "".join(sections) + "".join(tail)
