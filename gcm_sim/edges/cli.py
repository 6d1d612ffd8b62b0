"""The ``gcm-sim`` command: a thin argparse front end over config, experiment and report.

Why argparse and not ``@hydra.main``: the subcommands (run, compare, ...) share one
entry point and need control over errors (one line, exit code 2, before any work)
and over the run directory; Hydra's compose API gives the same config composition
and override syntax. ``hydra.run.dir=DIR`` is accepted as on any Hydra app.

This is the only module that prints to the terminal or exits.
"""

from __future__ import annotations

import os

# No helper threads, set before NumPy and pyarrow are imported: one BLAS/OpenMP thread
# (the model's array work is element-wise, with no large matrix products to share out;
# parallel work is done by processes) and no background purging thread in pyarrow's
# jemalloc. A process without other threads can fork its replicate workers instead of
# spawning them (gcm_sim.studies.experiment.process_context). A user's own settings win.
for _var, _value in (("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"),
                     ("JE_ARROW_MALLOC_CONF", "background_thread:false")):
    os.environ.setdefault(_var, _value)

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

from gcm_sim.edges.outputs import RUN_DIR_KEY, check_run_dir, resolve_run_dir  # noqa: E402
from gcm_sim.policy import ConfigError  # noqa: E402

EXIT_CONFIG = 2
EXIT_WRITE = 1        # results could not be written (full disk, read-only folder met during work)
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    from gcm_sim.world import WorldDataError

    previous = _terminate_as_exit()
    sigint = signal.getsignal(signal.SIGINT) if previous is not None else None
    try:
        return args.func(args)
    except (ConfigError, WorldDataError) as e:
        print(f"gcm-sim: error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # the reader went away (`gcm-sim list | head`): stop quietly, as Unix tools do
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as e:
        from gcm_sim.edges.outputs import write_error

        line = write_error(e)
        if line is None:
            raise
        print(f"gcm-sim: error: {line}", file=sys.stderr)
        return EXIT_WRITE
    except Terminated:
        print("gcm-sim: terminated; files already written are complete, the rest were not written",
              file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        # A second Ctrl-C (or a SIGINT sent to the whole process group) during the cleanup
        # and exit that follow would kill the interpreter with -SIGINT instead of exit code 130.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\ngcm-sim: interrupted; files already written are complete, the rest were not written",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if argv is not None and sigint is not None:  # called in-process (tests, scripts): leave Ctrl-C as it was
            signal.signal(signal.SIGINT, sigint)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so workers are stopped and temporary files removed."""


def _terminate_as_exit():
    """SIGTERM -> :class:`Terminated` (main thread only); returns the previous handler, or None."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gcm-sim",
        description="Agent-based simulation of migration policy scenarios (Global Compact for Migration).",
        epilog="Overrides use Hydra syntax, e.g. run.replicates=20 policy.remittances.cost_pct=3 "
               "'climate.shocks=[{origin:[MLI,NER],start_month:12,income_loss_pct:40}]'. "
               "hydra.run.dir=DIR sets the output folder (default outputs/DATE/TIME).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("run", help="run one scenario (scenario=NAME, default baseline) with R replicates")
    r.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. scenario=remittance_sdg")
    r.set_defaults(func=_cmd_run)
    c = sub.add_parser("compare", help="run scenarios and baseline on the same seeds; paired differences")
    c.add_argument("items", nargs="+", metavar="NAME|KEY=VALUE",
                   help="scenario names (see `gcm-sim list`), then config overrides")
    c.set_defaults(func=_cmd_compare)
    sh = sub.add_parser("show", help="a scenario's settings and what they change against baseline")
    sh.add_argument("scenario", metavar="NAME|FILE", help="a shipped scenario's name or a scenario file FILE.yaml")
    sh.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="config overrides of the scenario shown (as for run); baseline takes only run.* and world")
    sh.set_defaults(func=_cmd_show)
    bk = sub.add_parser("brief", help="the Marrakech dialogue's questions answered by simulation: one book "
                                      "(experiments/dialogue/*.yaml; resumable)")
    bk.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="[questions=a,b] [dialogue=FOLDER] [report.pdf=false] [hydra.run.dir=DIR] [run.*=...]")
    bk.set_defaults(func=_cmd_brief)
    ls = sub.add_parser("list", help="list the named scenarios")
    ls.set_defaults(func=_cmd_list)
    d = sub.add_parser("dashboard", help="serve the trainer dashboard in the browser (dashboard.port=8765, "
                                         "dashboard.host=127.0.0.1)")
    d.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dashboard.port=N, dashboard.host=ADDR, and config overrides the page starts from")
    d.set_defaults(func=_cmd_dashboard)
    sw = sub.add_parser("sweep", help="Hydra multirun: -m key=a,b run.seed=1,2 [hydra/launcher=joblib|submitit_slurm]")
    sw.add_argument("-m", "--multirun", action="store_true", help="accepted for Hydra habit; a sweep is always a multirun")
    sw.add_argument("overrides", nargs="*", metavar="KEY=V1,V2", help="config overrides and sweeps, hydra.* settings")
    sw.set_defaults(func=_cmd_sweep)
    ex = sub.add_parser("explore", help="a study file: SALib designs (sobol, morris, lhs, grid), local or on Dask")
    ex.add_argument("items", nargs="+", metavar="KEY=VALUE",
                    help="study=FILE.yaml [executor=processes|dask|serial] [executor.address=tcp://HOST:PORT] "
                         "[executor.workers=N] [hydra.run.dir=DIR] [config overrides]")
    ex.set_defaults(func=_cmd_explore)
    dc = sub.add_parser("discover", help="scenario discovery (PRIM) on a study's or sweep's results.parquet")
    dc.add_argument("items", nargs="+", metavar="KEY=VALUE",
                    help="results=DIR/results.parquet outcome=INDICATOR threshold=X [direction=above|below] "
                         "[inputs=a,b] [min_coverage=0.5] [max_boxes=2] [hydra.run.dir=DIR]")
    dc.set_defaults(func=_cmd_discover)
    bn = sub.add_parser("bench", help="benchmark speed, memory and scaling (writes bench.csv, bench.png); "
                                      "`bench crn`: variance reduction by common random numbers (crn.csv, crn.md); "
                                      "`bench design`: the sample design's departure rates and the people on the road at month 1 (sampling.csv, transit.csv); "
                                      "`bench scale`: sharded runs on Dask against households and workers, the sharding overhead, exchange round trips and the projection of one-to-one runs (scale.csv, scale_runs.csv, overhead.csv, round_trips.csv, projection.csv; repeats=N: N rounds of every configuration)")
    bn.add_argument("items", nargs="*", metavar="[crn] KEY=VALUE",
                    help="sizes=10000,100000,1000000 months=120 reference_sizes=10000 replicates=20000,120,4 "
                         "[hydra.run.dir=DIR]; or crn [households=20000] [months=36] [replicates=32] [seed=0] "
                         "[workers=2] [hydra.run.dir=DIR]; or design [households=50000] [months=120] [replicates=4] "
                         "[seed=0] [workers=2] [hydra.run.dir=DIR]")
    bn.set_defaults(func=_cmd_bench)
    cal = sub.add_parser("calibrate", help="fit behavioural parameters to the published targets (calibration.md)")
    cal.add_argument("items", nargs="*", metavar="KEY=VALUE",
                     help="[method=abc|nelder-mead] [params=consider_rate,asc_smuggled,...] [targets=FILE.yaml] "
                          "[write=true] [hydra.run.dir=DIR] [config overrides]; abc: [population=40] "
                          "[generations=4] [predictive=20] [address=HOST:PORT] [min_epsilon=0] (a run directory "
                          "holding abc.db resumes); nelder-mead: [maxfev=60] [final_replicates=3]")
    cal.set_defaults(func=_cmd_calibrate)
    val = sub.add_parser("validate", help="run the validation checks the calibration did not fit (validation.md)")
    val.add_argument("items", nargs="*", metavar="KEY=VALUE",
                     help="[checks=hump,remittance_elasticity,family_vs_skilled,mexico_crop_shock,remittances_by_origin] "
                          "[replicates=R] [hydra.run.dir=DIR] [config overrides]")
    val.set_defaults(func=_cmd_validate)
    return p


def _cmd_calibrate(args) -> int:
    from gcm_sim.studies import calibration, posterior

    run_dir, items = _split_run_dir(args.items)
    methods = [i.partition("=")[2] for i in items if i.startswith("method=")]
    method = methods[-1] if methods else "abc"
    if method not in ("abc", "nelder-mead"):
        raise ConfigError("method", method, "abc (a posterior by ABC-SMC, pyabc) or nelder-mead (a point fit)")
    if method == "nelder-mead":
        return calibration.main([i for i in items if not i.startswith("method=")], run_dir, _checked_run_dir)
    return posterior.main(items, run_dir, _checked_run_dir)


def _cmd_validate(args) -> int:
    from gcm_sim.studies import validation

    run_dir, items = _split_run_dir(args.items)
    return validation.main(items, run_dir, _checked_run_dir)


# --- commands -------------------------------------------------------------------------


def _cmd_bench(args) -> int:
    import pandas as pd

    from gcm_sim.studies import bench
    from gcm_sim.edges.outputs import atomic_write

    if args.items and args.items[0] == "crn":
        return _bench_crn(args.items[1:])
    if args.items and args.items[0] == "design":
        return _bench_design(args.items[1:])
    if args.items and args.items[0] == "scale":
        return _bench_scale(args.items[1:])
    run_dir, items = _split_run_dir(args.items)
    allowed = {"sizes", "months", "reference_sizes", "replicates"}
    opts = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in allowed or (not value and key not in ("reference_sizes", "replicates")):
            raise ConfigError(key, value or None, f"bench takes {', '.join(sorted(allowed))} (KEY=VALUE; "
                                                  "reference_sizes= and replicates= may be empty to skip)")
        try:
            nums = [int(x) for x in value.split(",") if x]
        except ValueError:
            raise ConfigError(key, value, "whole numbers separated by commas") from None
        if any(x < 0 for x in nums) or (key != "reference_sizes" and key != "replicates" and not nums):
            raise ConfigError(key, value, "positive whole numbers separated by commas")
        if key == "replicates" and nums and len(nums) != 3:
            raise ConfigError(key, value, "households,months,replicates (three numbers) or empty to skip")
        opts[key] = nums
    run_dir = _checked_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"gcm-sim: benchmark; results will go to {run_dir}", flush=True)
    results = bench.run_all(sizes=tuple(opts.get("sizes", (10_000, 100_000, 1_000_000))),
                            months=(opts.get("months") or [120])[0],
                            reference_sizes=tuple(opts.get("reference_sizes", (10_000,))),
                            replicate_check=tuple(opts["replicates"]) if "replicates" in opts
                            else (20_000, 120, 4),
                            progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    table = pd.DataFrame([vars(r) for r in results])
    atomic_write(run_dir / "bench.csv", lambda f: table.to_csv(f, index=False))
    bench.plot(results, run_dir / "bench.png")
    cols = ["kind", "households", "months", "startup_s", "step_s", "output_s", "peak_rss_mb",
            "household_months_per_s", "note"]
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:,.3g}"))
    for key, value in bench.summarise(results).items():
        print(f"{key}: {value:,.3g}")
    print(f"gcm-sim: results in {run_dir} (bench.csv, bench.png)")
    return 0


CRN_OPTIONS = {"households": 20_000, "months": 36, "replicates": 32, "seed": 0, "workers": 2}
DESIGN_OPTIONS = {"households": 50_000, "months": 120, "replicates": 4, "seed": 0, "workers": 2}


def _int_options(items, defaults: dict, command: str, lists=()) -> tuple[str | None, dict]:
    """KEY=VALUE whole-number options of a bench sub-mode, checked against ``defaults``; keys in
    ``lists`` take several, separated by commas (a tuple)."""
    run_dir, items = _split_run_dir(items)
    opts = dict(defaults)
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in defaults:
            raise ConfigError(key, value or None, f"{command} takes {', '.join(defaults)} (KEY=VALUE)")
        many = key in lists
        try:
            nums = tuple(int(x) for x in value.split(",")) if many else (int(value),)
        except ValueError:
            raise ConfigError(key, value, "whole numbers separated by commas" if many else "a whole number") from None
        least = {"seed": 0, "replicates": 2}.get(key, 1)  # variances need two replicates
        if min(nums) < least:
            raise ConfigError(key, value, f"whole numbers >= {least}" if many else f"a whole number >= {least}")
        opts[key] = nums if many else nums[0]
    return run_dir, opts


SCALE_OPTIONS = {"sizes": (500_000, 2_000_000), "workers": (1, 2), "months": 12, "seed": 0, "repeats": 1,
                 "round_trip_workers": (1, 2, 4, 8)}


def _bench_scale(items) -> int:
    """`gcm-sim bench scale`: sharded runs against households and workers; the projection (bench_scale)."""
    from gcm_sim.edges.outputs import atomic_write
    from gcm_sim.studies import bench_scale
    from gcm_sim.world import load_world

    run_dir, opts = _int_options(items, SCALE_OPTIONS, "bench scale", lists=("sizes", "workers", "round_trip_workers"))
    if min(opts["sizes"]) < 2000:
        raise ConfigError("sizes", ",".join(map(str, opts["sizes"])), "at least 2000 households each")
    run_dir = _checked_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"gcm-sim: sharded runs at {', '.join(f'{n:,}' for n in opts['sizes'])} households on one process and "
          f"{', '.join(map(str, opts['workers']))} Dask worker(s), {opts['months']} months, "
          f"{opts['repeats']} round(s) of every configuration (figures: the median run); results will go to "
          f"{run_dir}", flush=True)
    runs = bench_scale.run(opts["sizes"], opts["workers"], opts["months"], opts["seed"],
                           progress=lambda msg: print(msg, file=sys.stderr, flush=True), repeats=opts["repeats"])
    table = bench_scale.medians(runs)
    projection = bench_scale.project(table, load_world())
    overhead = bench_scale.overhead(runs)
    trips = bench_scale.round_trips(opts["round_trip_workers"])
    atomic_write(run_dir / "scale_runs.csv", lambda f: runs.to_csv(f, index=False, float_format="%.6g"))
    for name, frame in (("scale.csv", table), ("overhead.csv", overhead), ("round_trips.csv", trips),
                        ("projection.csv", projection)):
        atomic_write(run_dir / name, lambda f, frame=frame: frame.to_csv(f, index=False, float_format="%.6g"))
        print(frame.to_string(index=False, float_format=lambda x: f"{x:,.4g}"))
    print(f"gcm-sim: results in {run_dir} (scale.csv, scale_runs.csv, overhead.csv, round_trips.csv, "
          "projection.csv)")
    return 0


def _bench_design(items) -> int:
    """`gcm-sim bench design`: the world's measured starting tables (sampling.csv, transit.csv)."""
    from gcm_sim.studies import bench
    from gcm_sim.edges.outputs import atomic_write

    run_dir, opts = _int_options(items, DESIGN_OPTIONS, "bench design")
    run_dir = _checked_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"gcm-sim: sampling design and people on the road: baseline departures per household and year "
          f"by origin, and the stock on irregular routes "
          f"({opts['replicates']} replicates x {opts['months']} months, {opts['households']:,} households); "
          f"results will go to {run_dir}", flush=True)
    table, transit = bench.design(**opts, progress=True)
    atomic_write(run_dir / "sampling.csv", lambda f: table.to_csv(f, index=False, float_format="%.6g"))
    atomic_write(run_dir / "transit.csv", lambda f: transit.to_csv(f, index=False, float_format="%.6g"))
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"people on irregular routes per month end: {transit['people_per_household'].sum():.3g} per household "
          f"summed over origins, {len(transit)} route legs")
    print(f"gcm-sim: results in {run_dir} (sampling.csv, transit.csv: copy them into the world folder to use them)")
    return 0


def _bench_crn(items) -> int:
    """`gcm-sim bench crn`: paired against independent seeds for the five core scenarios (bench.crn)."""
    from gcm_sim.studies import bench
    from gcm_sim.edges.outputs import atomic_write

    run_dir, opts = _int_options(items, CRN_OPTIONS, "bench crn")
    run_dir = _checked_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    arms = 1 + 2 * len(bench.CRN_SCENARIOS)
    print(f"gcm-sim: common random numbers benchmark: baseline and {', '.join(bench.CRN_SCENARIOS)} on the same "
          f"seeds and the scenarios again on independent seeds ({arms} arms x {opts['replicates']} replicates x "
          f"{opts['months']} months, {opts['households']:,} households, {opts['workers']} workers); "
          f"results will go to {run_dir}", flush=True)
    table = bench.crn(**opts, progress=True)
    summary = bench.crn_summary(table)
    md = bench.crn_markdown(table, summary, opts["households"], opts["months"], opts["replicates"], opts["seed"])
    atomic_write(run_dir / "crn.csv", lambda f: table.to_csv(f, index=False))
    atomic_write(run_dir / "crn.md", lambda f: f.write(md))
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.3g}"))
    print(bench.crn_summary_line(summary))
    print(f"gcm-sim: results in {run_dir} (crn.csv, crn.md)")
    return 0


def _cmd_run(args) -> int:
    from gcm_sim.studies import experiment
    from gcm_sim.config import load_config

    run_dir, overrides = _split_run_dir(args.overrides)
    options, overrides = _report_options(overrides)
    cfg = load_config("baseline", overrides)  # validates everything before any work starts
    world = _load_world(cfg)
    _check_origins(options, world)
    _log_new_corridors({cfg.scenario.name: cfg}, world)
    run_dir = check_run_dir(resolve_run_dir(run_dir))
    _check_memory(cfg)
    print(f"gcm-sim: scenario {cfg.scenario.name}: {cfg.run.replicates} replicates x {cfg.run.months} months, "
          f"{cfg.run.households:,} households; results will go to {run_dir}", flush=True)
    result = experiment.run(cfg, progress=True, world=world)
    return _finish(result, run_dir, options)


def _cmd_compare(args) -> int:
    from gcm_sim.studies import experiment
    from gcm_sim.config import is_scenario_file, list_scenarios

    names = [x for x in args.items if "=" not in x and not x.startswith(("+", "~"))]
    items = [x for x in args.items if x not in names]
    run_dir, overrides = _split_run_dir(items)
    options, overrides = _report_options(overrides)
    known = list_scenarios()
    if not [n for n in names if n != "baseline"]:
        raise ConfigError("scenario", " ".join(names) or None,
                          "name at least one scenario (or scenario file) to compare with baseline; "
                          f"known scenarios: {', '.join(known)}")
    for name in names:
        if name not in known and not is_scenario_file(name):
            raise ConfigError("scenario", name, f"known scenarios: {', '.join(known)}, or a scenario file FILE.yaml")
    for o in overrides:
        if o.split("=", 1)[0].lstrip("+~") == "scenario":
            raise ConfigError("scenario", o.split("=", 1)[-1],
                              "compare takes scenario names as arguments: gcm-sim compare NAME [NAME...] [KEY=VALUE...]")
    from gcm_sim.config import load_config

    common, _ = experiment.split_arm_overrides(overrides, ["baseline", *(experiment.arm_name(n) for n in names)])
    try:
        cfg = load_config("baseline", common)
    except ConfigError as e:
        raise experiment.in_arm(e, "baseline") from None
    world = _load_world(cfg)
    configs = experiment.arm_configs(cfg, names, overrides, world)  # every arm validated before any work starts
    _check_origins(options, world)
    _log_new_corridors(configs, world)
    run_dir = check_run_dir(resolve_run_dir(run_dir))
    _check_memory(cfg)
    arms = list(configs)
    print(f"gcm-sim: comparing {', '.join(arms[1:]) or 'baseline'} with baseline on the same seeds: "
          f"{cfg.run.replicates} replicates x {cfg.run.months} months, {cfg.run.households:,} households; "
          f"results will go to {run_dir}", flush=True)
    result = experiment.compare(cfg, names, overrides, progress=True, world=world)
    return _finish(result, run_dir, options)


def _log_new_corridors(configs, world) -> None:
    from gcm_sim.studies.scenarios import new_corridors, new_corridors_text

    for name, c in configs.items():
        text = new_corridors_text(new_corridors(c, world))
        if text:
            print(f"gcm-sim: note: scenario {name}: {text}", file=sys.stderr, flush=True)


def _check_origins(options, world) -> None:
    for o in options.get("origins", ()):
        if o not in world.iso3:
            raise ConfigError("report.origins", o, f"known countries: {', '.join(sorted(world.iso3))}")


REPORT_OPTIONS = ("report.by", "report.origins", "report.pdf", "output.dense")


def _report_options(overrides, allowed=REPORT_OPTIONS):
    """Take the report's and outputs' options (not config keys) out of the overrides:
    ``report.by=origin|corridor``, ``report.origins=[SEN,MLI]``, ``report.pdf=true|false``,
    ``output.dense=true|false`` (timeseries.parquet with its zero cells filled in)."""
    import yaml

    opts, rest = {}, []
    for o in overrides:
        key, eq, value = o.partition("=")
        if key.split(".")[0] in ("report", "output") and (not eq or key not in allowed):
            raise ConfigError(key, value or None, f"options here: {', '.join(allowed)}")
        if not eq or key not in allowed:
            rest.append(o)
            continue
        if key == "report.by":
            if value not in ("origin", "corridor"):
                raise ConfigError(key, value, "origin or corridor")
            opts["by"] = value
        elif key == "report.origins":
            v = yaml.safe_load(value) if value.startswith("[") else [x for x in value.split(",") if x]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(key, value, "a list of ISO3 codes, e.g. report.origins=[SEN,MLI]")
            opts["origins"] = v
        else:
            if value.lower() not in ("true", "false"):
                raise ConfigError(key, value, "true or false")
            opts["pdf" if key == "report.pdf" else "dense"] = value.lower() == "true"
    return opts, rest


SHOW_CORRIDOR_LINES = 40  # a scenario on every corridor (remittance_sdg) changes hundreds of rules


def _cmd_show(args) -> int:
    from gcm_sim.config import load_config
    from gcm_sim.edges.report import scenario_title
    from gcm_sim.studies.scenarios import changes, corridor_changes, new_corridors, new_corridors_text

    overrides = [o for o in args.overrides]
    cfg = load_config(args.scenario, overrides)
    world = _load_world(cfg)
    # the baseline it is shown against: the same run settings and world, not the scenario's overrides
    shared = [o for o in overrides if o.lstrip("+~").split("=", 1)[0].split(".")[0] in ("run", "world")]
    base = load_config("baseline", shared, world=world)
    meta = cfg.scenario
    print(f"{scenario_title(meta.name, meta, world.codes)} ({meta.name})")
    if meta.description:
        print(f"  description: {meta.description}")
    if meta.question:
        print(f"  question: {meta.question}")
    if meta.gcm_objectives:
        print(f"  GCM objectives: {', '.join(str(o) for o in meta.gcm_objectives)}")
    if cfg.expect:
        print("  expects: " + ", ".join(f"{k} {v}" for k, v in cfg.expect.items()))
    diff = changes(cfg, base)
    print("changes against baseline:" if diff else "changes against baseline: none (the same settings)")
    for key, old, new in diff:
        print(f"  {key}: {_plain(old)} -> {_plain(new)}")
    rules = corridor_changes(cfg, base, world)
    if rules:
        print("on corridors, at full effect (baseline -> scenario):")
        for corridor, rule, old, new in rules[:SHOW_CORRIDOR_LINES]:
            print(f"  {corridor} {rule}: {old} -> {new}")
        if len(rules) > SHOW_CORRIDOR_LINES:
            print(f"  ... and {len(rules) - SHOW_CORRIDOR_LINES} more")
    note = new_corridors_text(new_corridors(cfg, world))
    if note:
        print(f"note: {note}")
    return 0


def _plain(v) -> str:
    from gcm_sim.studies.scenarios import plain

    return plain(v)


def _cmd_brief(args) -> int:
    from gcm_sim.edges import brief

    run_dir, items = _split_run_dir(args.overrides)
    options, items = _report_options(items, allowed=("report.pdf",))  # the book picks its own origins
    opts, overrides = _options(items, ("questions", "dialogue", "sensitivity"))
    sens = opts.get("sensitivity", "true").lower()
    if sens not in ("true", "false"):
        raise ConfigError("sensitivity", opts.get("sensitivity"), "true or false (the institutional questions' "
                                                                  "parameter screen)")
    plan = brief.prepare(overrides, questions=[q for q in opts.get("questions", "").split(",") if q] or None,
                         folder=opts.get("dialogue"))  # every question's arms validated before any work starts
    run_dir = resolve_run_dir(run_dir or str(Path("outputs") / "brief"))
    print(f"gcm-sim: briefing book: {len(plan.questions)} questions, {len(plan.arms)} distinct arms x "
          f"{plan.cfg.run.replicates} replicates x {plan.cfg.run.months} months, {plan.cfg.run.households:,} "
          f"households; results will go to {run_dir} (rerun the same command to resume)", flush=True)
    out = brief.run_brief(plan, run_dir, pdf=options.get("pdf", True), sensitivity=sens == "true",
                          echo=lambda msg: print(msg, file=sys.stderr, flush=True))
    for note in out["notes"]:
        print(f"gcm-sim: note: {note}", file=sys.stderr)
    print(f"gcm-sim: briefing book in {run_dir} (book.md, book.html{', book.pdf' if out['pdf'] else ''}; "
          "one comparison per question under questions/)")
    return 0


def _cmd_list(args) -> int:
    from gcm_sim.config import list_scenarios, load_config

    from gcm_sim.world import load_world

    world = load_world()
    for name in list_scenarios():
        meta = load_config(name, world=world).scenario
        print(f"{name:22s} {meta.description.split('. ')[0] if meta.description else ''}")
    return 0


def _cmd_dashboard(args) -> int:
    from gcm_sim.edges import app

    settings = app.parse_args(args.overrides)
    app.validate(settings)  # the starting config must compose and validate, as for `run`
    print(f"gcm-sim: dashboard at http://{settings.host}:{settings.port}/ (scenario {settings.scenario}, "
          f"{int(settings.households):,} households; Ctrl+C to stop)", flush=True)
    app.serve(settings)
    return 0


def _cmd_sweep(args) -> int:
    from gcm_sim.studies import sweep

    plan = sweep.prepare(list(args.overrides))  # every combination validated before any job starts
    print(f"gcm-sim: sweep of {len(plan['jobs'])} jobs; results will go to {plan['sweep_dir']}", flush=True)
    out = sweep.launch(plan)
    return _study_end(out["sweep_dir"], len(out["failed"]) + len(out["missing"]))


def _cmd_explore(args) -> int:
    from gcm_sim.studies import explore

    opts, overrides = _options(args.items, ("study", "executor", "executor.address", "executor.workers",
                                            "allow_target"))
    allow_target = opts.pop("allow_target", "false").lower()
    if allow_target not in ("true", "false"):
        raise ConfigError("allow_target", allow_target, "true or false (true: the study file's target may import "
                                                        "and run any module)")
    if "study" not in opts:
        raise ConfigError("study", None, "name a study file: gcm-sim explore study=FILE.yaml")
    executor = opts.get("executor", "dask" if "executor.address" in opts else "processes")
    if executor not in ("processes", "dask", "serial"):
        raise ConfigError("executor", executor, "processes, dask or serial")
    if "executor.address" in opts and executor != "dask":
        raise ConfigError("executor.address", opts["executor.address"], "only with executor=dask")
    workers = opts.get("executor.workers")
    if workers is not None and (not workers.isdigit() or int(workers) < 1):
        raise ConfigError("executor.workers", workers, "an integer >= 1")
    run_dir, overrides = _split_run_dir(overrides)
    study = explore.load_study(opts["study"], overrides, allow_target=allow_target == "true")  # validates every run
    run_dir = check_run_dir(resolve_run_dir(run_dir or str(Path("outputs") / "explore" / study.name)), kind="study")
    if executor != "dask" and study.configs:
        from gcm_sim.studies.resources import check_memory

        check_memory(max(c["run"]["households"] for c in study.configs),
                     int(workers) if workers else (os.cpu_count() or 1) if executor == "processes" else 1)
    print(f"gcm-sim: study {study.name}: {study.design}, {len(study.points)} points x {study.replicates} replicates "
          f"on {executor}{' at ' + opts['executor.address'] if 'executor.address' in opts else ''}; "
          f"results will go to {run_dir}", flush=True)
    out = explore.run_study(study, run_dir, executor=executor, workers=int(workers) if workers else None,
                            address=opts.get("executor.address"))
    o = out["outcome"]
    return _study_end(run_dir, o.total - o.skipped - len(o.done))


def _cmd_discover(args) -> int:
    import yaml

    from gcm_sim.studies import discovery

    keys = ("results", "outcome", "threshold", "direction", "inputs", "min_coverage", "max_boxes", "peel_alpha",
            "mass_min")
    opts, rest = _options(args.items, keys)
    run_dir, rest = _split_run_dir(rest)
    if rest:
        raise ConfigError(rest[0].split("=", 1)[0], rest[0], f"unknown; allowed: {', '.join(keys)}, hydra.run.dir")
    if "results" not in opts:
        raise ConfigError("results", None, "results=DIR/results.parquet (from gcm-sim explore or sweep)")
    spec = {k: (yaml.safe_load(v) if k not in ("outcome", "direction", "inputs") else v)
            for k, v in opts.items() if k != "results"}
    if "inputs" in spec:
        spec["inputs"] = [s for s in spec["inputs"].split(",") if s]
    out_dir = resolve_run_dir(run_dir) if run_dir else None
    res = discovery.discover_file(opts["results"], spec, out_dir)
    print(res["summary"])
    print(f"gcm-sim: discovery written to {out_dir or Path(opts['results']).parent}")
    return 0


def _options(items, keys) -> tuple[dict, list[str]]:
    """Take ``key=value`` items with the given keys out of a list (the rest are config overrides)."""
    opts, rest = {}, []
    for item in items:
        key, eq, value = item.partition("=")
        if eq and key in keys:
            opts[key] = value
        elif not eq:
            raise ConfigError(item, None, "write KEY=VALUE")
        else:
            rest.append(item)
    return opts, rest


def _study_end(run_dir, unfinished: int) -> int:
    if unfinished:
        print(f"gcm-sim: {unfinished} runs failed or unfinished (see {run_dir}/failures.csv); "
              "rerun the same command to retry them; finished runs are kept", file=sys.stderr)
        return 1
    print(f"gcm-sim: results in {run_dir} (results.parquet)")
    return 0


# --- helpers --------------------------------------------------------------------------


def _finish(result, run_dir: Path, options: dict | None = None) -> int:
    from gcm_sim.edges.report import format_summary, write_run_dir

    options = options or {}
    written = write_run_dir(result, run_dir, **options)
    print(format_summary(result.summary))
    extra = [p for p in ("report.html", "report.pdf", "results.xlsx") if (Path(written) / p).exists()]
    print(f"gcm-sim: results in {run_dir} (report.md, {', '.join(extra) + ', ' if extra else ''}summary.csv, "
          "indicators.csv, timeseries.parquet, figures/)")
    return 0


def _checked_run_dir(value):
    """resolve_run_dir, then the writability check (before any work)."""
    return check_run_dir(resolve_run_dir(value))


def _check_memory(cfg) -> None:
    from gcm_sim.studies.resources import check_config

    check_config(cfg)


def _load_world(cfg):
    from gcm_sim.world import load_world

    return load_world(cfg.world) if cfg.world else load_world()


def _split_run_dir(overrides: Sequence[str]) -> tuple[str | None, list[str]]:
    """Take ``hydra.run.dir=DIR`` out of the overrides (the last one wins)."""
    run_dir, rest = None, []
    for o in overrides:
        key, eq, value = o.partition("=")
        if eq and key.lstrip("+") == RUN_DIR_KEY:
            if not value.strip():
                raise ConfigError(RUN_DIR_KEY, value, "a folder path")
            run_dir = value
        else:
            rest.append(o)
    return run_dir, rest


if __name__ == "__main__":
    sys.exit(main())
