"""The ``gcm-sim`` command: a thin argparse front end over config, experiment and report.

Why argparse and not ``@hydra.main``: the subcommands (run, compare, ...) share one
entry point and need control over errors (one line, exit code 2, before any work)
and over the run directory; Hydra's compose API gives the same config composition
and override syntax. ``hydra.run.dir=DIR`` is accepted as on any Hydra app.

This is the only module that prints to the terminal or exits.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from collections.abc import Sequence
from pathlib import Path

from gcm_sim.policy import ConfigError

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
RUN_DIR_KEY = "hydra.run.dir"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    from gcm_sim.world import WorldDataError

    try:
        return args.func(args)
    except (ConfigError, WorldDataError) as e:
        print(f"gcm-sim: error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("\ngcm-sim: interrupted; files already written are complete, the rest were not written",
              file=sys.stderr)
        return EXIT_INTERRUPTED


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
    ls = sub.add_parser("list", help="list the named scenarios")
    ls.set_defaults(func=_cmd_list)
    return p


# --- commands -------------------------------------------------------------------------


def _cmd_run(args) -> int:
    from gcm_sim import experiment
    from gcm_sim.config import load_config

    run_dir, overrides = _split_run_dir(args.overrides)
    cfg = load_config("baseline", overrides)  # validates everything before any work starts
    world = _load_world(cfg)
    run_dir = _resolve_run_dir(run_dir)
    print(f"gcm-sim: scenario {cfg.scenario.name}: {cfg.run.replicates} replicates x {cfg.run.months} months, "
          f"{cfg.run.households:,} households; results will go to {run_dir}", flush=True)
    result = experiment.run(cfg, progress=True, world=world)
    return _finish(result, run_dir)


def _cmd_compare(args) -> int:
    from gcm_sim import experiment
    from gcm_sim.config import list_scenarios, load_config

    names = [x for x in args.items if "=" not in x and not x.startswith(("+", "~"))]
    items = [x for x in args.items if x not in names]
    run_dir, overrides = _split_run_dir(items)
    known = list_scenarios()
    if not [n for n in names if n != "baseline"]:
        raise ConfigError("scenario", " ".join(names) or None,
                          f"name at least one scenario to compare with baseline; known scenarios: {', '.join(known)}")
    for name in names:
        if name not in known:
            raise ConfigError("scenario", name, f"known scenarios: {', '.join(known)}")
    for o in overrides:
        if o.split("=", 1)[0].lstrip("+~") == "scenario":
            raise ConfigError("scenario", o.split("=", 1)[-1],
                              "compare takes scenario names as arguments: gcm-sim compare NAME [NAME...] [KEY=VALUE...]")
    cfg = load_config("baseline", overrides)
    world = _load_world(cfg)
    for name in names:  # every arm must compose and validate before any work starts
        load_config(name, overrides, world=world)
    run_dir = _resolve_run_dir(run_dir)
    arms = ["baseline"] + [n for n in dict.fromkeys(names) if n != "baseline"]
    print(f"gcm-sim: comparing {', '.join(arms[1:]) or 'baseline'} with baseline on the same seeds: "
          f"{cfg.run.replicates} replicates x {cfg.run.months} months, {cfg.run.households:,} households; "
          f"results will go to {run_dir}", flush=True)
    result = experiment.compare(cfg, names, overrides, progress=True, world=world)
    return _finish(result, run_dir)


def _cmd_list(args) -> int:
    from gcm_sim.config import list_scenarios, load_config

    from gcm_sim.world import load_world

    world = load_world()
    for name in list_scenarios():
        meta = load_config(name, world=world).scenario
        print(f"{name:22s} {meta.description.split('. ')[0] if meta.description else ''}")
    return 0


# --- helpers --------------------------------------------------------------------------


def _finish(result, run_dir: Path) -> int:
    from gcm_sim.report import format_summary, write_run_dir

    write_run_dir(result, run_dir)
    print(format_summary(result.summary))
    print(f"gcm-sim: results in {run_dir} (report.md, summary.csv, indicators.csv, timeseries.parquet, figures/)")
    return 0


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


def _resolve_run_dir(value: str | None) -> Path:
    """The run directory: as given (``${now:...}`` resolved like Hydra does), or outputs/DATE/TIME."""
    if value is None:
        now = _dt.datetime.now()
        base = Path("outputs") / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
        path, i = base, 1
        while path.exists():  # two runs in the same second must not share a folder
            path, i = base.with_name(f"{base.name}-{i}"), i + 1
        return path
    if "${" in value:
        import hydra.core.utils  # noqa: F401 - registers the ${now:...} resolver
        from omegaconf import OmegaConf

        try:
            value = str(OmegaConf.create({"d": value}).d)
        except Exception as e:  # noqa: BLE001 - any resolver failure is a bad value
            raise ConfigError(RUN_DIR_KEY, value, f"could not resolve ({str(e).splitlines()[0]})") from None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(RUN_DIR_KEY, value, "a folder path (this is an existing file)")
    return path


if __name__ == "__main__":
    sys.exit(main())
