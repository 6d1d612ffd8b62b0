"""Studies: sample levers and behavioural parameters with SALib, run them all, analyse.

Why this module exists: academics need designed experiments (Sobol, Morris, Latin
hypercube, full grids), not hand-written loops. A study file names the design; this
module turns it into one task per (sample point, replicate), hands the tasks to
:mod:`gcm_sim.studies.executors` (serial, local processes or Dask; resumable), gathers
``results.parquet`` and, for Sobol and Morris, computes the indices with SALib.

Study file (YAML)::

    name: sobol_enforcement       # optional; default: the file's stem
    design: sobol                 # sobol | morris | lhs | grid
    samples: 64                   # sobol: base N (runs = N x (levers + 2)); morris: trajectories
                                  # (runs = N x (levers + 1)); lhs: runs; grid: levels per lever
    replicates: 2                 # seeds per sample point (common random numbers across points)
    seed: 1                       # run.seed of every run, and the sampler's seed
    levers:                       # config key -> [low, high]; behaviour.NAME for parameter uncertainty
      policy.enforcement.interception_multiplier: [0.5, 3.0]
      behaviour.b_death: [4.0, 12.0]
    overrides: [run.households=2000, run.months=12]   # base config (Hydra syntax), scenario=NAME too
    indicators: [irregular_departures, deaths]        # optional: analysed and plotted (all are stored)
    morris_levels: 4              # optional, Morris grid levels
    discover: {outcome: irregular_departures, threshold: 300000, direction: above}   # optional (PRIM)
    outputs: indicators           # optional: indicators (run-level, the default) or targets

``outputs: targets`` records, for each run, the statistic of every target in
``data/targets.yaml`` (named as there), the calibration loss over the fitted ones
(``calibration_loss``) and the averaged relative difference per migration system
(``ard_<system>``), as :mod:`gcm_sim.studies.calibration` computes them: a Morris screen of
``behaviour.*`` levers with ``indicators: [calibration_loss, ...]`` says which parameters the
fit depends on (issue 14). Per replicate: a point's loss is the mean of its replicates' losses,
not the loss of their mean statistics as in ``gcm-sim calibrate``.

Every sampled config is composed and validated like ``gcm-sim run`` before any run
starts. Integer keys are rounded, boolean keys are true above 0.5. A lever key may
index a list (``climate.shocks.0.income_loss_pct``). ``target: module:function``
replaces the model with a plain Python function ``f(values, rng) -> {output: value}``
(used to check the machinery on functions with known indices, such as Ishigami).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import itertools
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gcm_sim.studies import executors
from gcm_sim import policy
from gcm_sim.policy import ConfigError
from gcm_sim.edges.outputs import atomic_write
from gcm_sim.edges.report import save_figure

DESIGNS = ("sobol", "morris", "lhs", "grid")
STUDY_KEYS = ("name", "design", "samples", "replicates", "seed", "levers", "overrides", "indicators",
              "morris_levels", "discover", "target", "outputs")
OUTPUTS = ("indicators", "targets")
HEADLINE = ("irregular_departures", "regular_departures", "irregular_share", "deaths",
            "deaths_per_1000_crossings", "remittance_cost_pct", "recruitment_cost_months", "returns",
            "stock_irregular_end", "remittances_received_usd")
ID_COLUMNS = ["run", "replicate", "seed", "indicator", "value"]


@dataclass
class Study:
    """A validated study: its design and one validated config dict per sample point."""

    name: str
    design: str
    samples: int
    replicates: int
    seed: int
    levers: dict[str, tuple[float, float]]
    overrides: list[str]
    indicators: list[str]
    morris_levels: int = 4
    discover: dict | None = None
    target: str | None = None
    outputs: str = "indicators"
    points: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # [runs, levers] sampled values
    configs: list[dict] = field(default_factory=list)  # plain config per point (model target only)

    @property
    def problem(self) -> dict:
        names = list(self.levers)
        return {"num_vars": len(names), "names": names, "bounds": [list(self.levers[n]) for n in names]}

    def tasks(self) -> list[executors.Task]:
        out = []
        for i, row in enumerate(self.points):
            values = {k: _py(v) for k, v in zip(self.levers, row)}
            for r in range(self.replicates):
                payload = {"run": i, "replicate": r, "seed": self.seed, "values": values,
                           "replicates": self.replicates}
                if self.target:
                    payload["target"] = self.target
                else:
                    payload["config"] = self.configs[i]
                if self.outputs != "indicators":
                    payload["outputs"] = self.outputs
                out.append((f"{i:05d}-r{r:03d}", payload))
        return out

    def fingerprint(self) -> str:
        data = {"design": self.design, "samples": self.samples, "replicates": self.replicates, "seed": self.seed,
                "levers": {k: list(v) for k, v in self.levers.items()}, "overrides": self.overrides,
                "target": self.target, "morris_levels": self.morris_levels,
                "points": hashlib.sha256(np.ascontiguousarray(self.points, dtype=float).tobytes()).hexdigest()}
        if self.outputs != "indicators":  # studies of before the key keep their fingerprint (they resume)
            data["outputs"] = self.outputs
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def includes(self) -> str:
        """What the spread of a study's outcomes includes (said in every output)."""
        parts = []
        if self.replicates > 1:
            parts.append(f"chance ({self.replicates} seeds per point)")
        pol = [k for k in self.levers if not k.startswith("behaviour.")]
        beh = [k for k in self.levers if k.startswith("behaviour.")]
        if pol:
            parts.append("policy/config levers: " + ", ".join(pol))
        if beh:
            parts.append("behavioural-parameter uncertainty: " + ", ".join(b.split(".", 1)[1] for b in beh))
        return "; ".join(parts) or "nothing varies"


# --- reading and validating a study -----------------------------------------------------------


OWN_TARGETS = ("gcm_sim",)  # a study file's target: may name these packages' functions without opt-in
ALLOW_TARGET_OPTION = "allow_target"


def load_study(path: str | os.PathLike, extra_overrides: list[str] = (), allow_target: bool = False) -> Study:
    """Read a study file, sample its design and validate every sampled config.

    A study file is data: its ``target: module:function`` may only name a function of
    gcm-sim itself, unless ``allow_target`` (``gcm-sim explore ... allow_target=true``)
    says the user trusts the file to import and run that module.
    """
    from gcm_sim import safe_yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError("study", str(path), "a study YAML file (see experiments/studies/)")
    data = safe_yaml.require_mapping(safe_yaml.load_file(p), str(path))
    target = data.get("target")
    if isinstance(target, str) and not allow_target:
        module = target.partition(":")[0]
        if not any(module == own or module.startswith(own + ".") for own in OWN_TARGETS):
            raise ConfigError("study.target", target,
                              f"a study file may name only gcm-sim's own functions ({', '.join(OWN_TARGETS)}.*); "
                              f"to import and run another module, trust the file with {ALLOW_TARGET_OPTION}=true")
    data.setdefault("name", p.stem)
    return make_study(data, extra_overrides)


def make_study(data: dict, extra_overrides: list[str] = (), world=None) -> Study:
    """Validate a study mapping (see the module doc), sample it, validate each point's config."""
    unknown = [k for k in data if k not in STUDY_KEYS]
    if unknown:
        raise ConfigError(f"study.{unknown[0]}", data[unknown[0]], f"unknown key; allowed: {', '.join(STUDY_KEYS)}")
    design = data.get("design")
    if design not in DESIGNS:
        raise ConfigError("study.design", design, f"one of {', '.join(DESIGNS)}")
    samples = _int(data, "samples", None, 1)
    replicates = _int(data, "replicates", 1, 1)
    seed = _int(data, "seed", 0, 0)
    levels = _int(data, "morris_levels", 4, 2)
    levers = data.get("levers")
    if not isinstance(levers, dict) or not levers:
        raise ConfigError("study.levers", levers, "a mapping of config keys to [low, high]")
    bounds = {}
    for key, b in levers.items():
        if (not isinstance(b, (list, tuple)) or len(b) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in b)
                or not b[0] < b[1]):
            raise ConfigError(f"study.levers.{key}", b, "[low, high], two finite numbers with low < high")
        bounds[str(key)] = (float(b[0]), float(b[1]))
    overrides = data.get("overrides") or []
    if isinstance(overrides, str):
        overrides = [overrides]
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError("study.overrides", overrides, "a list of Hydra overrides such as run.households=2000")
    overrides = [*overrides, *extra_overrides]
    indicators = data.get("indicators") or []
    if not isinstance(indicators, list) or not all(isinstance(i, str) for i in indicators):
        raise ConfigError("study.indicators", indicators, "a list of indicator names")
    target = data.get("target")
    if target is not None and (not isinstance(target, str) or ":" not in target):
        raise ConfigError("study.target", target, "module:function")
    outputs = data.get("outputs", "indicators")
    if outputs not in OUTPUTS:
        raise ConfigError("study.outputs", outputs, " or ".join(OUTPUTS))
    if outputs != "indicators" and target is not None:
        raise ConfigError("study.outputs", outputs, "indicators with study.target (a function has no targets)")
    discover = data.get("discover")
    if discover is not None:
        from gcm_sim.studies.discovery import check_spec

        check_spec(discover, prefix="study.discover")
    study = Study(name=str(data.get("name") or "study"), design=design, samples=samples, replicates=replicates,
                  seed=seed, levers=bounds, overrides=overrides, indicators=indicators, morris_levels=levels,
                  discover=discover, target=target, outputs=outputs)
    study.points = sample(study)
    if target is None:
        study.configs = _configs(study, world)
    return study


def _int(data, key, default, lo):
    v = data.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ConfigError(f"study.{key}", v, f"an integer >= {lo}")
    return v


def sample(study: Study) -> np.ndarray:
    """The design's sample matrix [runs, levers] (SALib samplers; grid: a full factorial)."""
    prob = study.problem
    n = study.samples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns when N is not a power of 2; we say so in the docs
        if study.design == "sobol":
            from SALib.sample import sobol

            return sobol.sample(prob, n, calc_second_order=False, seed=study.seed)
        if study.design == "morris":
            from SALib.sample import morris

            return morris.sample(prob, n, num_levels=study.morris_levels, seed=study.seed)
        if study.design == "lhs":
            from SALib.sample import latin

            return latin.sample(prob, n, seed=study.seed)
    axes = [np.linspace(lo, hi, n) for lo, hi in prob["bounds"]]
    return np.array(list(itertools.product(*axes)), dtype=float)


def _configs(study: Study, world) -> list[dict]:
    """Compose the base config like ``gcm-sim run``, then set each point's values and validate."""
    from gcm_sim.config import load_config

    for o in study.overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key in study.levers:
            raise ConfigError(key, o, "is a study lever; do not also set it in overrides")
        if key in ("run.replicates", "run.seed"):
            raise ConfigError(key, o, f"set {key.split('.')[1]} in the study file (study.{key.split('.')[1]})")
    base = load_config("baseline", [*study.overrides, f"run.seed={study.seed}",
                                    f"run.replicates={study.replicates}",
                                    "run.workers=1"], world=world)
    if world is None:
        world = _world(base.world)
    raw = policy.to_dict(base)
    for key in study.levers:
        _slot(raw, key)  # unknown keys fail here, naming the key
    out, seen = [], {}
    for row in study.points:
        values = tuple(_py(v) for v in row)
        if values not in seen:
            cfg = copy.deepcopy(raw)
            for key, v in zip(study.levers, values):
                parent, leaf, current = _slot(cfg, key)
                parent[leaf] = _coerce(current, v)
            try:
                policy.build_config(copy.deepcopy(cfg), world.iso3, world.tags, world.behaviour)
            except ConfigError as e:
                raise ConfigError(e.key, e.value, f"{e.allowed} (sampled from study.levers; narrow the range)") from None
            seen[values] = cfg
        out.append(seen[values])
    return out


def _slot(raw: dict, key: str):
    """(parent container, leaf key or index, current value) for a dotted key in a plain config."""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict) and part in node:
            if last:
                return node, part, node[part]
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                return node, int(part), node[int(part)]
            node = node[int(part)]
        else:
            where = ".".join(parts[:i]) or "the config"
            allowed = ", ".join(map(str, node)) if isinstance(node, dict) else f"indices 0..{len(node) - 1}" \
                if isinstance(node, list) else "nothing (a value)"
            raise ConfigError(f"study.levers.{key}", None, f"unknown key; {where} has {allowed}")
    raise ConfigError(f"study.levers.{key}", None, "not a value")


def _coerce(current, v: float):
    if isinstance(current, bool):
        return bool(v > 0.5)
    if isinstance(current, int):
        return int(round(v))
    if isinstance(current, (dict, list)):
        raise ConfigError("study.levers", v, "a lever must name a single number, not a group or list")
    return float(v)


def _py(v) -> float:
    return float(v)


@functools.lru_cache(maxsize=4)
def _world(path: str | None):
    from gcm_sim.world import load_world

    return load_world(path) if path else load_world()


# --- one task (runs on a worker) --------------------------------------------------------------


def evaluate(payload: dict) -> pd.DataFrame:
    """Run one (sample point, replicate); rows ``run, replicate, seed, indicator, value`` + levers."""
    values = payload["values"]
    if "target" in payload:
        mod, _, name = payload["target"].partition(":")
        fn = getattr(importlib.import_module(mod), name)
        seed = np.random.SeedSequence(payload["seed"]).spawn(payload["replicates"])[payload["replicate"]]
        outputs = fn(dict(values), np.random.default_rng(seed))
    else:
        from gcm_sim.studies.experiment import run_replicate

        world = _world(payload["config"].get("world"))
        cfg = policy.build_config(copy.deepcopy(payload["config"]), world.iso3, world.tags, world.behaviour)
        if payload.get("outputs") == "targets":
            outputs = target_outputs(cfg, payload["replicate"], world)
        else:
            _, outputs = run_replicate(cfg, payload["replicate"], world)
    rows = [(payload["run"], payload["replicate"], payload["seed"], str(k), float(v)) for k, v in outputs.items()]
    df = pd.DataFrame(rows, columns=ID_COLUMNS)
    for k, v in values.items():
        df[k] = v
    return df


def target_outputs(cfg, replicate: int, world) -> dict[str, float]:
    """One replicate's calibration statistics (``outputs: targets``): every target's statistic,
    ``calibration_loss`` over the fitted targets and ``ard_<system>`` per migration system."""
    from gcm_sim.studies import calibration as cal

    targets = cal.load_targets()
    stats = cal.statistics(cal.run_replicate(cfg, replicate, world), [t.name for t in targets])
    tab = cal.table(targets, pd.DataFrame([stats]))
    ard = {f"ard_{system}": v for system, (n, v) in cal.relative_difference_by_system(tab).items() if n}
    return {**stats, "calibration_loss": cal.loss(targets, stats), **ard}


# --- the whole study --------------------------------------------------------------------------


def run_study(study: Study, run_dir: str | os.PathLike, executor: str = "processes", workers: int | None = None,
              address: str | None = None, progress: bool = True) -> dict:
    """Run (or resume) a study into ``run_dir``; write results, sensitivity, figures, study.md."""
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    marker = d / "study.json"
    fp = study.fingerprint()
    if marker.exists():
        old = json.loads(marker.read_text(encoding="utf-8")).get("fingerprint")
        if old != fp:
            raise ConfigError("hydra.run.dir", str(d), "holds a different study (its design, levers or overrides "
                              "differ); choose another folder or delete this one")
    else:
        atomic_write(marker, lambda f: f.write(json.dumps(_describe(study, fp), indent=1)))
    tasks = study.tasks()
    outcome = executors.run_tasks(evaluate, tasks, d, executor=executor, workers=workers, address=address,
                                  progress=progress, label=study.name)
    results = executors.gather(d, [t for t, _ in tasks])
    if not results.empty:
        results = results.sort_values(["run", "replicate", "indicator"], kind="stable").reset_index(drop=True)
    atomic_write(d / "results.parquet", lambda f: results.to_parquet(f, engine="pyarrow", index=False), binary=True)
    fails = executors.failures(d)
    atomic_write(d / "failures.csv", lambda f: fails.to_csv(f, index=False))
    unc = uncertainty(results, study)
    atomic_write(d / "uncertainty.csv", lambda f: unc.to_csv(f, index=False))
    sens, figures = pd.DataFrame(), []
    complete = outcome.complete and len(results) > 0
    if study.design in ("sobol", "morris") and complete:
        sens = sensitivity(results, study)
        atomic_write(d / "sensitivity.csv", lambda f: sens.to_csv(f, index=False))
        figures = plot_sensitivity(sens, study, d / "figures")
    discovered = None
    if study.discover and complete:
        from gcm_sim.studies.discovery import discover

        discovered = discover(results, out_dir=d, inputs=list(study.levers), **study.discover)
    atomic_write(d / "study.md", lambda f: f.write(_markdown(study, outcome, unc, sens, figures, d)))
    return {"outcome": outcome, "results": results, "sensitivity": sens, "uncertainty": unc,
            "discovery": discovered, "run_dir": d}


def _describe(study: Study, fp: str) -> dict:
    return {"fingerprint": fp, "name": study.name, "design": study.design, "samples": study.samples,
            "runs": len(study.points), "replicates": study.replicates, "seed": study.seed,
            "levers": {k: list(v) for k, v in study.levers.items()}, "overrides": study.overrides,
            "target": study.target, "includes": study.includes()}


def per_run(results: pd.DataFrame, indicator: str, runs: int) -> np.ndarray:
    """Mean over replicates of one indicator, one value per run in design order (NaN if missing)."""
    sub = results[results["indicator"] == indicator]
    return sub.groupby("run")["value"].mean().reindex(range(runs)).to_numpy(dtype=float)


def sensitivity(results: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Sobol (S1, ST with 95% CIs) or Morris (mu*, its CI, sigma) per indicator and parameter.

    The model output per sample point is the mean over its replicates (common seeds
    across points). Indicators that do not vary, or have non-finite values, get NaN.
    """
    prob = study.problem
    rows = []
    for ind in _indicators(results, study, headline_only=False):
        y = per_run(results, ind, len(study.points))
        ok = np.all(np.isfinite(y)) and np.ptp(y) > 0
        res = None
        if ok:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                if study.design == "sobol":
                    from SALib.analyze import sobol

                    res = sobol.analyze(prob, y, calc_second_order=False, seed=study.seed)
                else:
                    from SALib.analyze import morris

                    res = morris.analyze(prob, study.points, y, num_levels=study.morris_levels, seed=study.seed)
        for j, name in enumerate(prob["names"]):
            row = {"indicator": ind, "parameter": name, "method": study.design}
            if study.design == "sobol":
                for k in ("S1", "ST"):
                    v, c = (float(res[k][j]), float(res[f"{k}_conf"][j])) if res is not None else (np.nan, np.nan)
                    row.update({k: v, f"{k}_ci_low": v - c, f"{k}_ci_high": v + c})
            else:
                v, c = (float(res["mu_star"][j]), float(res["mu_star_conf"][j])) if res is not None else (np.nan, np.nan)
                row.update({"mu_star": v, "mu_star_ci_low": v - c, "mu_star_ci_high": v + c,
                            "sigma": float(res["sigma"][j]) if res is not None else np.nan})
            rows.append(row)
    return pd.DataFrame(rows)


def uncertainty(results: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Each indicator's spread over every run and replicate, and what that spread includes."""
    cols = ["indicator", "n", "mean", "p2_5", "p50", "p97_5", "includes"]
    if results.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for ind, g in results.groupby("indicator", sort=True):
        v = g["value"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        q = np.percentile(v, [2.5, 50, 97.5]) if len(v) else [np.nan] * 3
        rows.append([ind, len(v), float(v.mean()) if len(v) else np.nan, *map(float, q), study.includes()])
    return pd.DataFrame(rows, columns=cols)


def _indicators(results: pd.DataFrame, study: Study, headline_only: bool) -> list[str]:
    present = list(dict.fromkeys(results["indicator"]))
    if study.indicators:
        missing = [i for i in study.indicators if i not in present]
        if missing:
            raise ConfigError("study.indicators", missing[0], f"not produced; produced: {', '.join(present)}")
        return list(study.indicators)
    if headline_only:
        chosen = [i for i in HEADLINE if i in present]
        return chosen or present[:10]
    return present


def plot_sensitivity(sens: pd.DataFrame, study: Study, folder: Path) -> list[Path]:
    """One figure per analysed indicator: Sobol S1/ST bars with 95% CIs, or Morris mu* vs sigma."""
    if sens.empty:
        return []
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    written = []
    wanted = study.indicators or [i for i in HEADLINE if i in set(sens["indicator"])]
    for ind in wanted:
        s = sens[sens["indicator"] == ind]
        if s.empty or s.iloc[:, 3].isna().all():
            continue
        fig, ax = plt.subplots(figsize=(7, 0.5 * len(s) + 1.8))
        if study.design == "sobol":
            y = np.arange(len(s))
            for k, off in (("S1", -0.18), ("ST", 0.18)):
                err = np.vstack([s[k] - s[f"{k}_ci_low"], s[f"{k}_ci_high"] - s[k]])
                ax.barh(y + off, s[k], height=0.35, xerr=err, label=k, capsize=2)
            ax.set_yticks(y, s["parameter"])
            ax.set_xlabel("Sobol index (95% CI)")
            ax.legend(fontsize="small")
        else:
            ax.errorbar(s["mu_star"], s["sigma"], xerr=[s["mu_star"] - s["mu_star_ci_low"],
                                                         s["mu_star_ci_high"] - s["mu_star"]], fmt="o", capsize=2)
            for _, r in s.iterrows():
                ax.annotate(r["parameter"], (r["mu_star"], r["sigma"]), fontsize="small",
                            xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel("mu* (mean absolute elementary effect, 95% CI)")
            ax.set_ylabel("sigma")
        ax.set_title(f"{ind}: {study.design} ({len(study.points)} runs x {study.replicates} replicates)",
                     fontsize="medium")
        ax.grid(alpha=0.3)
        written.append(save_figure(fig, folder / f"sensitivity_{ind}.png", dpi=100))
    return written


def _markdown(study: Study, outcome, unc: pd.DataFrame, sens: pd.DataFrame, figures: list[Path], d: Path) -> str:
    from gcm_sim.edges.report import _fmt

    lines = [f"# Study `{study.name}`: {study.design}", "",
             f"{len(study.points)} sample points x {study.replicates} replicates = {outcome.total} runs "
             f"({outcome.skipped} from an earlier invocation, {len(outcome.done)} now, "
             f"{len(outcome.failed)} failed; see failures.csv). Seed {study.seed}: every point uses the same "
             "replicate seeds (common random numbers).", "",
             f"**What the intervals include:** {study.includes()}.", "",
             "Levers and ranges: " + ", ".join(f"`{k}` {lo:g}..{hi:g}" for k, (lo, hi) in study.levers.items()),
             "", "## Spread of outcomes (2.5-97.5 percentile over all runs and replicates)", "",
             "| indicator | mean | 2.5% | 97.5% |", "|---|---:|---:|---:|"]
    show = study.indicators or [i for i in HEADLINE if i in set(unc["indicator"])]
    for _, r in unc[unc["indicator"].isin(show)].iterrows():
        lines.append(f"| {r['indicator']} | {_fmt(r['mean'])} | {_fmt(r['p2_5'])} | {_fmt(r['p97_5'])} |")
    if not sens.empty:
        key = "ST" if study.design == "sobol" else "mu_star"
        lines += ["", f"## Most influential parameter per indicator ({key})", ""]
        for ind in show:
            s = sens[sens["indicator"] == ind].dropna(subset=[key])
            if not s.empty:
                top = s.sort_values(key, ascending=False).iloc[0]
                lines.append(f"- {ind}: `{top['parameter']}` ({key} {top[key]:.3g})")
    elif study.design in ("sobol", "morris"):
        lines += ["", "Sensitivity indices were not computed: the study is incomplete (rerun to resume)."]
    if figures:
        lines += ["", "## Figures", ""] + [f"![{f.stem}]({f.relative_to(d).as_posix()})" for f in figures]
    lines += ["", "Files: results.parquet (run, replicate, seed, indicator, value, one column per lever), "
              "sensitivity.csv, uncertainty.csv, failures.csv, study.json, runs/ (one file per finished run).", ""]
    return "\n".join(lines)
