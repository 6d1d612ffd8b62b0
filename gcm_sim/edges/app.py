"""The trainer dashboard: a Solara page over :class:`gcm_sim.model.MigrationModel` runs.

Start it with ``gcm-sim dashboard [KEY=VALUE ...]`` (docs/dashboard.md). What the page steps
is a :class:`Dashboard`, a small ``mesa.Model`` that holds the runs built from the controls:

- ``runs``: the trainer's policy (scenario + levers) on ``seeds`` seeds: replicates 0..S-1 of
  ``gcm-sim run`` with ``run.replicates=S`` (the same seeds as ``gcm-sim compare``);
- ``baseline_runs``: with "compare" on (the default), baseline on the same seeds, so every
  difference is paired (common random numbers; the model's draws are keyed to seed, mechanism,
  month and entity);
- ``follow``: a small reference-engine run (one ``mesa.Agent`` per household) whose households
  keep a ``story``; the page follows one that moves, month by month.

Bands are the range over seeds, intervals on differences are 95% t-intervals of the paired
per-seed differences.

Why a wrapper model: the Reset button rebuilds it from the controls, and nothing typed on the
page may break the app. The wrapper catches every error: a :class:`gcm_sim.policy.ConfigError`
becomes the command line's message (``gcm-sim: error: invalid config: KEY=VALUE: what is
allowed``), anything else a one-line message naming the settings; ``error`` holds it for the
page, and the traceback goes to the server's log only.

The page is Solara with Mesa's own run controller (Reset, play, Step); Mesa's other SolaraViz
controls (play/render interval, threads, "Information: Time") are left out and its "Page N"
tabs replaced by named ones. Charts and the map are ECharts, drawn in the browser, through a
copy of solara's widget (``assets/echarts.vue``, MIT licence, solara 1.x) that does not throw
when an update arrives before the chart is drawn.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import json
import logging
import math
import os
import re
import shlex
import threading
import time
from dataclasses import dataclass
from html import escape
from importlib import resources

import mesa
import numpy as np
import solara
import traitlets
import yaml

from gcm_sim.policy import ConfigError

ENV = "GCM_SIM_DASHBOARD"  # JSON settings handed from `gcm-sim dashboard` to the server process
DEFAULT_HOUSEHOLDS = 20000  # per seed, as `gcm-sim run`: 5 seeds x 2 arms step in about 0.2 s (docs/dashboard.md)
DEFAULT_SEEDS = 5
MAX_HOUSEHOLDS = 50000  # per seed, on the page: a Reset stays a few seconds
FOLLOW_HOUSEHOLDS = 500  # the reference-engine run behind "one household's story"
DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
SHOCK_START_MONTH, SHOCK_MONTHS = 3, 12  # a shock chosen on the page hits in month 3 for a year
SCENARIO_VALUE = "scenario"  # a Select at this value leaves the scenario's (or world's) value alone
T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}  # t(0.975, n-1)
log = logging.getLogger(__name__)
_CONFIG_LOCK = threading.Lock()  # Hydra's compose state is process-wide: one composition at a time

# Okabe & Ito (2008) colours, distinguishable with the common colour-vision deficiencies
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#555555")
ARM_COLOURS = {"policy": BLUE, "baseline": ORANGE}
LINE_COLOURS = (BLUE, VERMILLION, GREEN, PURPLE)

# (indicator, plain name, unit, GCM objectives / SDG target) for the scorecard and the comparison
SCORECARD = (
    ("irregular_departures", "irregular departures", "people", "GCM 5, 9"),
    ("regular_departures", "regular departures", "people", "GCM 5"),
    ("irregular_share", "irregular share of departures", "share", "GCM 5"),
    ("deaths", "deaths on routes", "people", "GCM 8; SDG 10.7.3"),
    ("deaths_per_1000_crossings", "deaths per 1,000 crossings", "per 1,000", "GCM 8; SDG 10.7.3"),
    ("interception_rate", "interception rate", "share", "GCM 11"),
    ("smuggling_revenue_usd", "smugglers' revenue", "USD", "GCM 9"),
    ("trafficking_victims", "trafficking victims", "people", "GCM 10"),
    ("recruitment_cost_months", "recruitment cost", "months of wage", "GCM 6; SDG 10.7.1"),
    ("remittance_cost_pct", "remittance cost", "% of USD 200", "GCM 20; SDG 10.c.1"),
    ("remittances_received_usd", "remittances received", "USD", "GCM 19, 20"),
    ("returns", "returns", "people", "GCM 21"),
    ("stock_irregular_end", "irregular migrants abroad (end)", "people", "GCM 7"),
    ("stranded_in_transit_end", "stranded in transit (end)", "people", "GCM 7, 8"),
    ("detained_children_end", "children in detention (end)", "children", "GCM 13"),
    ("female_share_departures", "women's share of departures", "share", "GCM 1 (sex-disaggregated data)"),
)
HEADLINES = ("irregular_departures", "regular_departures", "deaths", "deaths_per_1000_crossings",
             "remittances_received_usd", "returns")
READOUT = (("departures_regular", "regular departures", "people"),
           ("departures_irregular", "irregular departures", "people"),
           ("arrivals_irregular", "irregular arrivals", "people"), ("deaths", "deaths on routes", "people"),
           ("stock_irregular", "irregular migrants abroad", "people"),
           ("remittances_sent_usd", "formal remittances", "USD"))
CHART_PANELS = (
    ("Departures by channel", "people per month", [("departures_regular", "regular"),
                                                   ("departures_irregular", "irregular"),
                                                   ("overstays", "visa overstays"),
                                                   ("departures_internal", "internal moves")]),
    ("Arrivals at destinations", "people per month", [("arrivals_regular", "regular"),
                                                      ("arrivals_irregular", "irregular")]),
    ("Deaths and interceptions on routes", "people per month", [("deaths", "deaths"),
                                                                 ("interceptions", "interceptions")]),
    ("Migrants abroad and in transit", "people", [("stock_regular", "regular status"),
                                                  ("stock_irregular", "irregular status"),
                                                  ("stock_asylum_pending", "asylum pending"),
                                                  ("stranded_in_transit", "stranded in transit")]),
    ("Money sent home", "USD per month", [("remittances_sent_usd", "formal transfers"),
                                          ("remittances_informal_usd", "informal transfers"),
                                          ("remittance_fees_usd", "fees paid")]),
    ("What moving costs", "USD per month", [("recruitment_fees_usd", "recruitment fees"),
                                            ("smuggling_fees_usd", "smugglers' fees")]),
)
COMPARE_PANELS = (("departures_irregular", "Irregular departures", "people per month"),
                  ("departures_regular", "Regular departures", "people per month"),
                  ("deaths", "Deaths on routes", "people per month"),
                  ("remittances_sent_usd", "Formal remittances", "USD per month"))
# "things to try" for a few scenarios; every scenario also gets its expected effects (its `expect:`)
THINGS_TO_TRY = {
    "baseline": ["Press play and watch the stocks abroad: where do they go if nothing changes?",
                 "Raise 'Enforcement effort' to 3, press Reset: do deaths per 1,000 crossings fall too?",
                 "Set 'Remittance cost' to 3% (SDG 10.c.1): how much more money reaches families?"],
    "enforcement_surge": ["Compare deaths per 1,000 crossings with irregular departures: "
                          "fewer crossings, but are they safer?",
                          "Add 'Sea rescue' 0.8 and Reset: what does rescue change?"],
    "regular_pathways": ["Watch irregular departures in 'Policy vs baseline': do regular routes replace them?",
                         "Add 'Enforcement effort' 2: is the combination better than either alone?"],
    "remittance_sdg": ["Look at 'Money sent home': formal transfers against informal ones."],
    "climate_shock": ["Switch to 'One household's story': what does a shocked family do?",
                      "Most climate moves are internal: compare internal moves with departures."],
}


@dataclass(frozen=True)
class Settings:
    """What ``gcm-sim dashboard`` was started with (``dashboard.*`` keys and the overrides)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    scenario: str = "baseline"
    households: str = str(DEFAULT_HOUSEHOLDS)
    seed: str = "0"
    overrides: str = ""  # the other overrides, as one shell-quoted line
    seeds: int = DEFAULT_SEEDS


def parse_args(overrides: list[str]) -> Settings:
    """Take ``dashboard.*``, ``scenario``, ``run.households``, ``run.seed`` and ``run.replicates``
    (the page's seeds) out of the command-line overrides; the rest become "More overrides"."""
    host, port, scenario, households, seed, seeds, rest = (DEFAULT_HOST, DEFAULT_PORT, "baseline", None, None,
                                                           DEFAULT_SEEDS, [])
    for o in overrides:
        key, eq, value = o.partition("=")
        key = key.lstrip("+")
        if not eq:
            rest.append(o)
        elif key == "dashboard.port":
            try:
                port = int(value)
            except ValueError:
                port = -1
            if not 1 <= port <= 65535:
                raise ConfigError("dashboard.port", value, "a TCP port number from 1 to 65535")
        elif key == "dashboard.host":
            if not value.strip():
                raise ConfigError("dashboard.host", value, "an address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
            host = value.strip()
        elif key.startswith("dashboard."):
            raise ConfigError(key, value, "unknown key; allowed keys in dashboard: host, port")
        elif key == "scenario":
            scenario = value
        elif key == "run.households":
            households = value
        elif key == "run.seed":
            seed = value
        elif key == "run.replicates":
            seeds = _seed_count(value)
        else:
            rest.append(o)
    return Settings(host, port, scenario, households or str(DEFAULT_HOUSEHOLDS), seed or "0", shlex.join(rest),
                    seeds)


def _seed_count(value) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if not 2 <= n <= 10:
        raise ConfigError("run.replicates", value, "2 to 10 seeds on the dashboard (bands need at least 2)")
    return n


def validate(settings: Settings) -> None:
    """Compose and validate the starting config as the page will (raises ConfigError)."""
    _load_config(settings.scenario, _cli_overrides(settings.households, settings.seed, settings.overrides))


def serve(settings: Settings) -> None:
    """Run the Solara server in this process until interrupted (blocks)."""
    os.environ[ENV] = json.dumps(settings.__dict__)
    os.environ["SOLARA_APP"] = "gcm_sim.edges.app:Page"
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # no network calls
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")  # "This website runs on Solara" covers the charts
    import solara.server.settings
    from solara.__main__ import run as solara_run

    solara.server.settings.theme.show_banner = False

    solara_run.main(args=["gcm_sim.edges.app:Page", "--host", settings.host, "--port", str(settings.port),
                          "--production", "--no-open", "--no-check-version", "--log-level-uvicorn", "warning"],
                    standalone_mode=False)


def _whole_number(key: str, text, allowed: str) -> str:
    """A typed whole number, as the command line would take it (NaN, inf, 1.5, words refused)."""
    t = str(text).strip()
    if not re.fullmatch(r"\d+", t):
        raise ConfigError(key, text, f"a whole number; {allowed}")
    return t


def _cli_overrides(households, seed, more: str) -> list[str]:
    h = _whole_number("run.households", households, f"at most {MAX_HOUSEHOLDS:,} per seed on the dashboard")
    if int(h) > MAX_HOUSEHOLDS:
        raise ConfigError("run.households", households, f"at most {MAX_HOUSEHOLDS:,} per seed on the dashboard "
                                                        "(larger runs: gcm-sim run)")
    s = _whole_number("run.seed", seed, "0 or more")
    try:
        extra = shlex.split(more or "")
    except ValueError as e:
        raise ConfigError("overrides", more, f"not a valid command line ({e})") from None
    return [f"run.households={h}", f"run.seed={s}", *extra]


def _load_config(scenario: str, overrides: list[str], world=None):
    """:func:`gcm_sim.config.load_config`, with anything it raises besides ConfigError turned into one
    (naming the override that caused it), so that no typed value can end in a traceback."""
    from gcm_sim.config import load_config

    with _CONFIG_LOCK:
        try:
            return load_config(scenario, overrides, world=world)
        except ConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - e.g. run.months=nan: the composition itself fails
            culprit = "overrides"
            for o in overrides:
                try:
                    load_config(scenario, [o], world=world)
                except Exception:  # noqa: BLE001
                    culprit = o
                    break
            key, _, value = culprit.partition("=")
            raise ConfigError(key, value or culprit, f"not accepted ({type(e).__name__}: {e})") from None


def _settings_from_env() -> Settings:
    raw = os.environ.get(ENV)
    return Settings(**json.loads(raw)) if raw else Settings()


@functools.lru_cache(maxsize=64)
def scenario_text(name: str) -> dict:
    """A scenario file's own words: description, question, GCM objectives and expected effects."""
    try:
        raw = yaml.safe_load((resources.files("gcm_sim.conf") / "scenario" / f"{name}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {"description": "", "question": "", "gcm_objectives": [], "expect": {}}
    meta = raw.get("meta") or {}
    return {"description": str(meta.get("description", "")).strip(), "question": str(meta.get("question", "")).strip(),
            "gcm_objectives": list(meta.get("gcm_objectives") or []), "expect": dict(raw.get("expect") or {})}


def things_to_try(name: str) -> list[str]:
    out = list(THINGS_TO_TRY.get(name, []))
    names = {k: n for k, n, _, _ in SCORECARD}
    for ind, direction in scenario_text(name)["expect"].items():
        if direction in ("up", "down"):
            out.append(f"The scenario expects {names.get(ind, ind.replace('_', ' '))} to go {direction}: "
                       "check it in 'Policy vs baseline'.")
    if not out or name != "baseline":
        out.append("Move one lever at a time (left), press Reset, and read the difference it makes.")
    return out


# --- the model the page steps ---------------------------------------------------------


_RUN_IDS = itertools.count(1)


class Arm:
    """One scenario on several seeds: the models and their month totals, month 0 included."""

    def __init__(self, models: list):
        from gcm_sim.agents.border import stock_masks
        from gcm_sim.measures import MEASURES

        self.models = models
        self.names = list(MEASURES)
        self.index = {n: i for i, n in enumerate(MEASURES)}
        start = np.zeros((len(models), len(MEASURES)))
        for s, m in enumerate(models):  # month 0: the observed stocks the run starts from; no flows yet
            mig = m.migrants
            w = mig.weight[: mig.n]
            for name, mask in stock_masks(mig).items():
                if name in self.index:
                    start[s, self.index[name]] = float(w[mask].sum())
        self.rows = [start]
        self._indicators: tuple[int, list[dict]] | None = None

    def step(self) -> None:
        for m in self.models:
            m.step()
        self.rows.append(np.array([[m.month_totals.get(n, 0.0) for n in self.names] for m in self.models]))

    def series(self, name: str) -> np.ndarray:
        """[months + 1, seeds] values of one measure, month 0 first."""
        i = self.index[name]
        return np.array([r[:, i] for r in self.rows])

    def indicators(self) -> list[dict]:
        """Each seed's run-level indicators over the months so far (cached per month)."""
        month = len(self.rows) - 1
        if self._indicators is None or self._indicators[0] != month:
            self._indicators = (month, [m.indicators() for m in self.models])
        return self._indicators[1]


class Dashboard(mesa.Model):
    """The trainer's policy and the baseline on the same seeds, and a household to follow.

    Never raises, neither when built nor when stepped: ``error`` holds a message instead.
    """

    def __init__(self, named_scenario: str = "baseline", households: str = str(DEFAULT_HOUSEHOLDS), seed: str = "0",
                 seeds: int = DEFAULT_SEEDS, overrides: str = "", compare: bool = True, follow: bool = True,
                 visa_fee: str = SCENARIO_VALUE, multi_entry: bool = False, labour_quota: int = 0,
                 fee_cap: str = SCENARIO_VALUE, employer_pays: bool = False,
                 remittance_cost: str = SCENARIO_VALUE, enforcement: float = 1.0, search_and_rescue: float = 0.0,
                 climate_origin: str = "none", climate_severity: int = 40, rng=None):
        super().__init__(rng=rng)
        self.arm = self.baseline_arm = None
        self.follow = None
        self.error: str | None = None
        self.step_seconds = 0.0
        self.command = ""
        self.followed: int | None = None  # row of the household the story follows
        self.story: list[dict] = []  # one entry per month once a household is followed
        self.waiting: int = 0  # months without a household to follow
        self._last_assets: float | None = None
        self.scenario_name = named_scenario
        self.run_id = next(_RUN_IDS)  # tells the page (and its tests) that Reset built a new one
        self.settings = dict(named_scenario=named_scenario, households=households, seed=seed, seeds=seeds,
                             overrides=overrides, compare=compare, follow=follow)
        try:
            self.levers = _levers(visa_fee, multi_entry, labour_quota, fee_cap, employer_pays, remittance_cost,
                                  enforcement, search_and_rescue, climate_origin, climate_severity)
            self._build(named_scenario, households, seed, seeds, overrides, compare, follow, self.levers)
        except Exception as e:  # noqa: BLE001 - nothing typed on the page may end in a traceback
            self._fail(e, overrides)

    def _fail(self, e: Exception, overrides: str = "") -> None:
        from gcm_sim.world import WorldDataError

        if isinstance(e, (ConfigError, WorldDataError)):
            self.error = f"gcm-sim: error: {e}"
        else:
            log.exception("dashboard run failed")
            what = f" (overrides: {overrides})" if overrides.strip() else ""
            self.error = (f"gcm-sim: error: the model cannot run with these settings{what}: "
                          f"{type(e).__name__}: {e}. Change a value and press Reset.")
        self.arm = self.baseline_arm = self.follow = None
        self.running = False

    def _build(self, scenario, households, seed, seeds, overrides, compare, follow, levers) -> None:
        from gcm_sim.model import MigrationModel
        from gcm_sim.world import load_world

        seeds = _seed_count(seeds)
        base = _cli_overrides(households, seed, overrides)
        cfg = _load_config(scenario, base)
        world = load_world(cfg.world) if cfg.world else load_world()
        self.seed_sequences = lambda: np.random.SeedSequence(cfg.run.seed).spawn(seeds)  # noqa: E731
        self.cfg = cfg
        self.arm = Arm([MigrationModel(cfg, rng=s, world=world, replicate=r, **levers)
                        for r, s in enumerate(self.seed_sequences())])
        self.command = "gcm-sim compare " + shlex.join(
            [scenario, *base, f"run.replicates={seeds}", *_lever_overrides(levers)])
        if levers.get("labour_agreement_quota"):  # a list entry per corridor: the Python API says it shorter
            self.command += (f"  (and MigrationModel(labour_agreement_quota={levers['labour_agreement_quota']}):"
                             " one labour agreement per corridor)")
        if compare:
            bcfg = _load_config("baseline", base, world=world)
            self.baseline_arm = Arm([MigrationModel(bcfg, rng=s, world=world, replicate=r)
                                     for r, s in enumerate(self.seed_sequences())])
        if follow:
            small = _load_config(scenario, [*base, f"run.households={FOLLOW_HOUSEHOLDS}", "run.engine=reference"],
                                 world=world)
            self.follow = MigrationModel(small, rng=self.seed_sequences()[0], world=world, **levers)

    # what older callers and tests read
    @property
    def policy(self):
        return self.arm.models[0] if self.arm else None

    @property
    def baseline(self):
        return self.baseline_arm.models[0] if self.baseline_arm else None

    @property
    def seeds(self) -> int:
        return len(self.arm.models) if self.arm else 0

    @property
    def month(self) -> int:
        return len(self.arm.rows) - 1 if self.arm else 0

    @property
    def months(self) -> int:
        return self.cfg.run.months if self.arm else 0

    def step(self) -> None:
        if self.arm is None or self.error:
            return
        t0 = time.perf_counter()
        try:
            self.arm.step()
            if self.baseline_arm is not None:
                self.baseline_arm.step()
            if self.follow is not None:
                self.follow.step()
                self._follow_story()
        except Exception as e:  # noqa: BLE001 - e.g. a behaviour value the model cannot work with
            log.exception("dashboard step failed")
            self.error = (f"gcm-sim: error: the model stopped in month {self.month + 1} with these settings"
                          + (f" (overrides: {self.settings['overrides']})" if self.settings["overrides"].strip()
                             else "")
                          + f": {type(e).__name__}: {e}. Change a value and press Reset.")
            self.running = False
            return
        self.step_seconds = time.perf_counter() - t0
        if self.month >= self.months:
            self.running = False

    # --- one household's story ---------------------------------------------------------
    def _follow_story(self) -> None:
        """Pick the first household that chose to move abroad (or move at all); then write, every
        month, what it faced, what it chose, its money, and where each member is."""
        from gcm_sim.categories import CHANNELS, STATES, STATUSES

        model = self.follow
        hh = model.households
        month = model.month
        if self.followed is None:
            moved = [a for a in hh.by_row if any("chose" in s for s in a.story)]
            abroad = [a for a in moved if not any("chose internal" in s for s in a.story)]
            if not (abroad or moved):
                self.waiting = month
                return
            agent = (abroad or moved)[0]
            self.followed = agent.row
            self._first_month = month
        r = self.followed
        agent = hh.by_row[r]
        codes = model.world.codes
        income, assets, debt = float(hh.income_usd[r]), float(hh.assets_usd[r]), float(hh.debt_usd[r])
        faced = f"income USD {income:,.0f} a month"
        if float(hh.shock_loss[r]) > 0:
            faced += f" (climate shock: {100 * float(hh.shock_loss[r]):.0f}% of income lost)"
        faced += f"; savings USD {assets:,.0f}" + (f"; debt USD {debt:,.0f}" if debt > 0 else "")
        chose = [s.split(": ", 1)[1] for s in agent.story if s.startswith(f"month {month}:")]
        money = []
        if self._last_assets is not None and assets < self._last_assets - 1:
            money.append(f"paid USD {self._last_assets - assets:,.0f} out of savings")
        received = float(hh.remittances_usd[r])
        if received > 0:
            money.append(f"received USD {received:,.0f} from members abroad")
        self._last_assets = assets
        m = model.migrants
        where: dict[str, int] = {}
        for k in np.flatnonzero(m.view("household") == r):
            state, status, loc = STATES[int(m.state[k])], STATUSES[int(m.status[k])], codes[int(m.location[k])]
            if state == "transit":
                text = f"travelling ({CHANNELS[int(m.channel[k])]}), now in {loc}"
            elif state == "abroad":
                text = f"abroad in {loc}, {status.replace('_', ' ')} status"
            elif state == "pending":
                text = "waiting at home for a visa"
            elif state == "detained":
                text = f"detained in {loc}"
            else:
                text = state
            where[text] = where.get(text, 0) + 1
        at_home = int(hh.members[r].sum())
        self.story.append({
            "month": month,
            "household": f"household #{r} in {codes[int(hh.country[r])]}, "
                         f"{'rural' if hh.rural[r] else 'urban'}",
            "faced": faced, "chose": "; ".join(chose) or "stayed with its plans",
            "money": "; ".join(money) or "no large payment, nothing received",
            "members": f"{at_home} at home" + "".join(f"; {n} {w}" for w, n in where.items())})


def _levers(visa_fee, multi_entry, labour_quota, fee_cap, employer_pays, remittance_cost,
            enforcement, search_and_rescue, climate_origin, climate_severity) -> dict:
    """Controls -> keyword levers; a control at its baseline position sets nothing."""
    out = {}
    for name, value in (("visa_fee_usd", visa_fee), ("fee_cap_months", fee_cap),
                        ("remittance_cost_pct", remittance_cost)):
        if value not in (None, SCENARIO_VALUE):
            try:
                out[name] = float(value)
            except (TypeError, ValueError):
                out[name] = value  # validation names the key and what is allowed
    if multi_entry:
        out["multi_entry"] = True
    if employer_pays:
        out["employer_pays"] = True
    if labour_quota:
        out["labour_agreement_quota"] = int(labour_quota)
    if float(enforcement) != 1.0:
        out["interception_multiplier"] = float(enforcement)
    if search_and_rescue:
        out["search_and_rescue"] = float(search_and_rescue)
    if climate_origin and climate_origin != "none":
        out.update(climate_origin=climate_origin, climate_start_month=SHOCK_START_MONTH,
                   climate_duration_months=SHOCK_MONTHS, climate_income_loss_pct=climate_severity,
                   climate_asset_loss_pct=climate_severity / 2)
    return out


def _lever_overrides(levers: dict) -> list[str]:
    """The keyword levers as command-line overrides (shown on the page, to reproduce a run)."""
    from gcm_sim.model import KEYWORD_LEVERS

    out, shock = [], {}
    for name, value in levers.items():
        if name in KEYWORD_LEVERS:
            v = str(value).lower() if isinstance(value, bool) else value
            out.append(f"{KEYWORD_LEVERS[name]}={v}")
        elif name.startswith("climate_"):
            shock[name[len("climate_"):]] = value
    if shock:
        out.append("climate.shocks=[{" + ",".join(f"{k}:{v}" for k, v in shock.items()) + "}]")
    return out


# --- what the page computes -----------------------------------------------------------


def band(arm: Arm, name: str) -> tuple[list, list, list]:
    """Mean, low and high over seeds of one measure, months 0..now (rounded for the browser)."""
    x = arm.series(name)
    r = lambda a: [round(float(v), 1) for v in a]  # noqa: E731
    return r(x.mean(axis=1)), r(x.min(axis=1)), r(x.max(axis=1))


def paired(policy: list[dict], baseline: list[dict], name: str) -> dict:
    """Per-seed paired difference of one indicator: mean, 95% t-interval, relative change."""
    p = np.array([d.get(name, 0.0) for d in policy], float)
    b = np.array([d.get(name, 0.0) for d in baseline], float)
    d = p - b
    n = len(d)
    half = T95.get(n, 1.96) * d.std(ddof=1) / math.sqrt(n) if n > 1 else float("nan")
    base = b.mean()
    return {"policy": p.mean(), "baseline": base, "diff": d.mean(), "lo": d.mean() - half, "hi": d.mean() + half,
            "pct": 100 * d.mean() / base if base else None, "n": n}


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if abs(x) >= 1e9:
        return f"{x / 1e9:,.2f} bn"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} m"
    if abs(x) < 10 and x != int(x):
        return f"{x:,.3f}"
    return f"{x:,.0f}"


def chart_option(arms: list[tuple[str, Arm]], title: str, unit: str, lines: list[tuple[str, str]]) -> dict:
    """One line chart: each line the mean over seeds with its range as a band, from month 0."""
    first = arms[0][1]
    months = list(range(len(first.rows)))
    series, legend = [], []
    k = 0
    for arm_name, arm in arms:
        for j, (name, label) in enumerate(lines):
            colour = ARM_COLOURS[arm_name] if len(arms) > 1 else LINE_COLOURS[j % len(LINE_COLOURS)]
            full = label if len(arms) == 1 else arm_name.replace("policy", "your policy")
            mean, lo, hi = band(arm, name)
            legend.append(full)
            dashed = {"type": "dashed"} if arm_name == "baseline" else {}
            series += [
                {"type": "line", "name": full, "data": mean, "showSymbol": len(months) < 3, "color": colour,
                 "lineStyle": {"width": 2.5, **dashed}, "z": 3},
                {"type": "line", "name": full, "data": lo, "stack": f"band{k}", "symbol": "none", "silent": True,
                 "lineStyle": {"opacity": 0}, "tooltip": {"show": False}, "color": colour},
                {"type": "line", "name": full, "data": [round(h - l, 1) for h, l in zip(hi, lo)],
                 "stack": f"band{k}", "symbol": "none", "silent": True, "lineStyle": {"opacity": 0},
                 "areaStyle": {"color": colour, "opacity": 0.22}, "tooltip": {"show": False}, "color": colour},
            ]
            k += 1
    return {
        "animation": False,
        "title": {"text": title, "subtext": f"{unit}; line: mean of {len(first.models)} seeds, band: their range",
                  "left": 8, "top": 4, "textStyle": {"fontSize": 16}, "subtextStyle": {"fontSize": 12}},
        "legend": {"data": legend, "top": 50, "left": 8, "textStyle": {"fontSize": 13}, "itemWidth": 22},
        "grid": {"left": 12, "right": 20, "top": 84, "bottom": 30, "containLabel": True},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "category", "data": months, "name": "month", "nameLocation": "middle", "nameGap": 24,
                  "axisLabel": {"fontSize": 12}, "boundaryGap": False},
        "yAxis": {"type": "value", "axisLabel": {"fontSize": 12}, "min": 0},
        "series": series,
    }


@functools.lru_cache(maxsize=1)
def outlines() -> dict:
    """The modelled countries' outlines (GeoJSON; Natural Earth 1:110m via world-atlas, SOURCES.md)."""
    return json.loads((resources.files("gcm_sim") / "data" / "outlines.geojson").read_text())


def map_option(d: Dashboard) -> dict:
    """Countries with outlines, coloured by role; irregular legs with the people in transit on them
    (month end, mean over seeds), regular corridors with this month's regular departures."""
    from gcm_sim.categories import TRANSIT

    m0 = d.arm.models[0]
    t = m0.world.countries
    codes = list(m0.world.codes)
    lat, lon = t["lat"].to_numpy(float), t["lon"].to_numpy(float)
    on_leg = np.zeros(len(m0.leg_from))
    flows: dict[tuple[int, int], float] = {}
    for m in d.arm.models:
        mig = m.migrants
        sel = np.flatnonzero(mig.view("state") == TRANSIT)
        if len(sel):
            legs = m.route_legs[np.maximum(mig.route[sel], 0), mig.leg[sel]]
            np.add.at(on_leg, legs, mig.weight[sel])
        for k, v in _regular_flows(m).items():
            flows[k] = flows.get(k, 0.0) + v
    on_leg /= len(d.arm.models)
    flows = {k: v / len(d.arm.models) for k, v in flows.items()}
    role_colour = {"origin": "#F5C26B", "transit": "#A6D8F0", "destination": "#9FD3B9"}
    regions = []
    for i, code in enumerate(codes):
        roles = t["roles"].iloc[i]
        role = "origin" if "origin" in roles else ("destination" if "destination" in roles else "transit")
        if "origin" in roles and "destination" in roles:
            role = "origin"
        regions.append({"name": code, "itemStyle": {"areaColor": role_colour[role]}})
    top = max(on_leg.max(initial=0.0), 1.0)
    legs = [{"coords": [[lon[a], lat[a]], [lon[b], lat[b]]], "value": round(float(v)),
             "lineStyle": {"width": 1.5 + 9 * v / top},
             "label": {"show": bool(v >= 0.02 * top and v > 0), "formatter": _fmt(float(v)), "fontSize": 13,
                       "color": VERMILLION, "fontWeight": "bold", "backgroundColor": "rgba(255,255,255,0.8)"}}
            for a, b, v in zip(m0.leg_from, m0.leg_to, on_leg)]
    ftop = max(flows.values(), default=1.0) or 1.0
    big = sorted(flows.values(), reverse=True)[:6]
    corridors = [{"coords": [[lon[o], lat[o]], [lon[dd], lat[dd]]], "value": round(v),
                  "lineStyle": {"width": 0.8 + 6 * v / ftop},
                  "label": {"show": bool(big and v >= big[-1] and v > 0), "formatter": _fmt(v), "fontSize": 12,
                            "color": BLUE, "backgroundColor": "rgba(255,255,255,0.8)"}}
                 for (o, dd), v in flows.items() if v > 0]
    return {
        "animation": False,
        "title": {"text": f"Routes in month {d.month}", "left": 8, "top": 4, "textStyle": {"fontSize": 16},
                  "subtext": "people in transit on each irregular leg (thick, labelled) and regular departures this "
                             f"month by corridor; mean of {d.seeds} seeds",
                  "subtextStyle": {"fontSize": 12}},
        "legend": {"top": 52, "left": 8, "textStyle": {"fontSize": 13},
                   "data": ["people in transit, irregular legs", "regular departures this month", "countries"]},
        "tooltip": {"trigger": "item"},
        "geo": {"map": "gcm_world", "roam": True, "layoutCenter": ["50%", "58%"], "layoutSize": "155%",
                "aspectScale": 0.8, "boundingCoords": [[-118, 56], [127, 2]],
                "itemStyle": {"borderColor": "#333", "borderWidth": 0.8, "areaColor": "#EEE"},
                "emphasis": {"disabled": True}, "label": {"show": False}, "regions": regions,
                "select": {"disabled": True}},
        "series": [
            {"type": "lines", "coordinateSystem": "geo", "name": "regular departures this month", "data": corridors,
             "lineStyle": {"color": BLUE, "opacity": 0.5, "curveness": 0.15}, "z": 2},
            {"type": "lines", "coordinateSystem": "geo", "name": "people in transit, irregular legs", "data": legs,
             "lineStyle": {"color": VERMILLION, "opacity": 0.85}, "z": 3},
            {"type": "scatter", "coordinateSystem": "geo", "name": "countries", "symbolSize": 7, "color": "#222",
             "data": [{"name": c, "value": [lon[i], lat[i]]} for i, c in enumerate(codes)],
             "label": {"show": True, "formatter": "{b}", "position": "right", "fontSize": 12, "color": "#111"},
             "labelLayout": {"hideOverlap": True}, "z": 4},
        ],
    }


def _regular_flows(m) -> dict[tuple[int, int], float]:
    """This month's regular departures by (origin, destination) index, from the recorder."""
    from gcm_sim.measures import MEASURE_ID

    rec = m.recorder
    if not rec._months:  # noqa: SLF001 - the recorder keeps months as (month, keys, sums)
        return {}
    _, keys, sums = rec._months[-1]  # noqa: SLF001
    mid, o, d, ch, s, a = rec._decode(keys)  # noqa: SLF001
    n = len(m.world.codes)
    sel = (mid == MEASURE_ID["departures_regular"]) & (o < n) & (d < n)  # every sex and age group
    out: dict[tuple[int, int], float] = {}
    for oo, dd, v in zip(o[sel], d[sel], sums[sel]):
        out[(int(oo), int(dd))] = out.get((int(oo), int(dd)), 0.0) + float(v)
    return out


def results_csv(d: Dashboard) -> str:
    """Every measure, month by month (0 = the start), for each seed of each arm: one row per
    (arm, replicate, month)."""
    import pandas as pd

    frames = []
    for arm_name, arm in (("policy", d.arm), ("baseline", d.baseline_arm)):
        if arm is None:
            continue
        x = np.stack(arm.rows)  # [months + 1, seeds, measures]
        t, s, _ = x.shape
        df = pd.DataFrame(x.reshape(t * s, -1), columns=arm.names)
        df.insert(0, "month", np.repeat(np.arange(t), s))
        df.insert(0, "replicate", np.tile(np.arange(s), t))
        df.insert(0, "scenario", d.scenario_name if arm_name == "policy" else "baseline")
        df.insert(0, "arm", arm_name)
        frames.append(df)
    out = io.StringIO()
    pd.concat(frames).to_csv(out, index=False)
    return out.getvalue()


def _plain(x):
    if dataclasses.is_dataclass(x):
        return {k: _plain(v) for k, v in dataclasses.asdict(x).items()}
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _changed(now, base):
    """The parts of ``now`` that differ from ``base`` (dicts recursively; lists and values whole)."""
    if isinstance(now, dict) and isinstance(base, dict):
        out = {}
        for k, v in now.items():
            c = _changed(v, base.get(k))
            if c is not _SAME:
                out[k] = c
        return out or _SAME
    if isinstance(now, list):
        now = [{k: v for k, v in e.items() if v is not None} if isinstance(e, dict) else e for e in now]
    return _SAME if now == base else now


_SAME = object()


def scenario_yaml(d: Dashboard) -> str:
    """The page's settings as a scenario file (same schema as gcm_sim/conf/scenario/*.yaml:
    ``meta`` plus the ``policy``/``climate`` keys that differ from baseline)."""
    cfg = d.policy.cfg
    base = _load_config("baseline", [f"run.households={cfg.run.households}"], world=d.policy.world)
    text = scenario_text(d.scenario_name)
    body = {"meta": {"description": f"Workshop settings: scenario {d.scenario_name}"
                                    + (f" with {', '.join(_lever_overrides(d.levers))}" if d.levers else "")
                                    + (f"; overrides {d.settings['overrides']}" if d.settings['overrides'] else "")
                                    + ". " + text["description"],
                     "gcm_objectives": text["gcm_objectives"] or [1],
                     "question": text["question"]}}
    for section in ("policy", "climate"):
        c = _changed(_plain(getattr(cfg, section)), _plain(getattr(base, section)))
        if c is not _SAME:
            body[section] = c
    head = ("# @package _global_\n# Written by the gcm-sim trainer dashboard. Run it again with\n"
            f"#   gcm-sim compare THIS_FILE run.households={cfg.run.households} run.seed={cfg.run.seed} "
            f"run.replicates={d.seeds}\n")
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


# --- the page -------------------------------------------------------------------------


class EchartsWidget(solara.components.echarts.EchartsWidget):
    """solara's ECharts widget with a template that tolerates early updates (assets/echarts.vue)."""

    template_file = (__file__, "assets/echarts.vue")
    cdn = traitlets.Unicode(None, allow_none=True).tag(sync=True)


@solara.component
def Chart(option: dict, height: int = 340, classes: str = "gcm-chart", maps: dict | None = None, month: int = 0):
    return EchartsWidget.element(option=option, maps=maps or {}, responsive=True,
                                 attributes={"style": f"height: {height}px; width: 100%;", "class": classes,
                                             "data-month": str(month)})


def _html(text: str, bold: str = "", classes: str = "", size: int = 15) -> None:
    """A paragraph. solara.Markdown is not used: it loads KaTeX, which solara-assets lacks (offline)."""
    solara.HTML(tag="p", unsafe_innerHTML=(f"<b>{escape(bold)}</b> " if bold else "") + escape(text),
                classes=[classes] if classes else [], style={"font-size": f"{size}px", "margin": "4px 0"})


def _help(text: str) -> None:
    solara.HTML(tag="div", unsafe_innerHTML=escape(text), classes=["gcm-help"],
                style={"font-size": "12px", "color": "#444", "margin": "-10px 0 10px 0", "line-height": "1.25"})


def _table(header: list[str], rows: list[list[str]], classes: str) -> None:
    head = "".join(f"<th style='text-align:left;padding:6px 10px;border-bottom:2px solid #333'>{escape(h)}</th>"
                   for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding:5px 10px;border-bottom:1px solid #ddd'>{escape(str(c))}</td>"
                                    for c in r) + "</tr>" for r in rows)
    solara.HTML(tag="table", unsafe_innerHTML=f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>",
                classes=[classes], style={"font-size": "15px", "border-collapse": "collapse", "width": "100%"})


def _no_run(d: Dashboard):
    if d.error:
        return solara.Error(d.error, classes=["gcm-error"])
    return solara.Info("No run yet: press Reset.")


def _tick():
    from mesa.visualization.utils import update_counter

    update_counter.get()  # re-render when Mesa's controller steps the model


@solara.component
def StatusCard(d: Dashboard):
    _tick()
    with solara.Card(classes=["gcm-status"], style={"padding": "8px 12px"}):
        solara.HTML(tag="span", unsafe_innerHTML=str(d.run_id), classes=["gcm-run-id"], style={"display": "none"})
        if d.error:
            solara.Error(d.error, classes=["gcm-error"])
        if d.arm is None:
            _html("Fix the value, then press Reset.")
            return
        _html(f"{d.scenario_name}: month {d.month} of {d.months}; {d.seeds} seeds of "
              f"{d.cfg.run.households:,} households each"
              + ("; baseline on the same seeds" if d.baseline_arm is not None else "; no baseline")
              + f"; last step {d.step_seconds:.2f} s", bold="Run", classes="gcm-run-line")


@solara.component
def ScenarioCard(name: str, full: bool = True):
    text = scenario_text(name)
    with solara.Card(f"Scenario: {name.replace('_', ' ')}", classes=["gcm-scenario"]):
        _html(text["description"] or "(no description)", bold="What it is:", classes="gcm-description")
        if text["question"]:
            _html(text["question"], bold="The question:", classes="gcm-question")
        if text["gcm_objectives"]:
            _html(", ".join(str(o) for o in text["gcm_objectives"]), bold="GCM objectives:", classes="gcm-objectives")
        if full:
            solara.HTML(tag="div", unsafe_innerHTML="<b>Things to try:</b><ul>" + "".join(
                f"<li>{escape(t)}</li>" for t in things_to_try(name)) + "</ul>", classes=["gcm-try"],
                style={"font-size": "15px"})


def _big(label: str, value: str, sub: str, colour: str = "#222", classes: str = "gcm-big") -> None:
    solara.HTML(tag="div", unsafe_innerHTML=(
        f"<div style='font-size:14px;color:#333'>{escape(label)}</div>"
        f"<div style='font-size:30px;font-weight:700;color:{colour};line-height:1.15'>{escape(value)}</div>"
        f"<div style='font-size:12px;color:#444'>{escape(sub)}</div>"),
        classes=[classes], style={"padding": "8px 12px", "border": "1px solid #ccc", "border-radius": "6px",
                                  "min-width": "180px", "flex": "1 1 180px", "background": "#fff"})


@solara.component
def ThisMonth(d: Dashboard):
    _tick()
    StatusCard(d)
    if d.arm is None:
        return
    with solara.Row(style={"flex-wrap": "wrap", "gap": "8px"}, classes=["gcm-readout"]):
        for name, label, unit in READOUT:
            x = d.arm.rows[-1][:, d.arm.index[name]]
            _big(f"{label} in month {d.month}", f"{_fmt(x.mean())}",
                 f"{unit}; seeds range {_fmt(x.min())} to {_fmt(x.max())}")
    with solara.GridFixed(columns=2):
        for title, unit, lines in CHART_PANELS:
            Chart(chart_option([("policy", d.arm)], title, unit, lines), month=d.month)


@solara.component
def PolicyVsBaseline(d: Dashboard):
    _tick()
    StatusCard(d)
    if d.arm is None:
        return
    if d.baseline_arm is None:
        solara.Info("Tick 'Compare with baseline' (left) and press Reset: baseline then runs on the same seeds.")
        return
    p, b = d.arm.indicators(), d.baseline_arm.indicators()
    _html(f"Your policy ({d.scenario_name} and the levers set on the left) against baseline, months 1 to "
          f"{d.month}, {d.seeds} paired seeds. ▲ more, ▼ less under your policy; the interval is the 95% "
          "interval of the paired difference.", classes="gcm-compare-intro")
    names = {k: (n, u, tag) for k, n, u, tag in SCORECARD}
    with solara.Row(style={"flex-wrap": "wrap", "gap": "8px"}, classes=["gcm-headlines"]):
        for key in HEADLINES:
            if key not in p[0]:
                continue
            r = paired(p, b, key)
            label, unit, _ = names[key]
            arrow = "▲" if r["diff"] > 0 else ("▼" if r["diff"] < 0 else "=")
            pct = f"{r['pct']:+.0f}%" if r["pct"] is not None else _fmt(r["diff"])
            colour = VERMILLION if r["diff"] > 0 else (BLUE if r["diff"] < 0 else GREY)
            _big(label, f"{arrow} {pct}", f"{_fmt(r['diff'])} {unit} (95%: {_fmt(r['lo'])} to {_fmt(r['hi'])})",
                 colour, classes="gcm-big gcm-headline")
    rows = []
    for key, label, unit, tag in SCORECARD:
        if key not in p[0]:
            continue
        r = paired(p, b, key)
        arrow = "▲" if r["diff"] > 0 else ("▼" if r["diff"] < 0 else "=")
        pct = f" ({r['pct']:+.0f}%)" if r["pct"] is not None else ""
        rows.append([label, unit, tag, _fmt(r["baseline"]), _fmt(r["policy"]), f"{arrow} {_fmt(r['diff'])}{pct}",
                     f"{_fmt(r['lo'])} to {_fmt(r['hi'])}"])
    with solara.Card("Trade-offs: every headline indicator", classes=["gcm-tradeoffs"]):
        _table(["indicator", "unit", "GCM / SDG", "baseline", "your policy", "difference", "95% interval"], rows,
               "gcm-compare-table")
    with solara.GridFixed(columns=2):
        for name, title, unit in COMPARE_PANELS:
            Chart(chart_option([("policy", d.arm), ("baseline", d.baseline_arm)], title, unit, [(name, title)]),
                  month=d.month, classes="gcm-chart gcm-compare-chart")


@solara.component
def Scorecard(d: Dashboard):
    from gcm_sim.measures import INDICATORS

    _tick()
    StatusCard(d)
    if d.arm is None:
        return
    ind = d.arm.indicators()
    rows = []
    for key, label, unit, tag in SCORECARD:
        if key not in ind[0]:
            continue
        x = np.array([i[key] for i in ind])
        rows.append([label, unit, _fmt(x.mean()), f"{_fmt(x.min())} to {_fmt(x.max())}", tag, INDICATORS.get(key, "")])
    with solara.Card(f"GCM scorecard: your policy, months 1 to {d.month}", classes=["gcm-scorecard"]):
        _table(["indicator", "unit", "mean of seeds", "range over seeds", "GCM objective / SDG", "meaning"], rows,
               "gcm-scorecard-table")


@solara.component
def RouteMap(d: Dashboard):
    _tick()
    StatusCard(d)
    if d.arm is None:
        return
    Chart(map_option(d), height=520, classes="gcm-chart gcm-map", maps={"gcm_world": outlines()}, month=d.month)
    _html("Country fill: orange origin, blue transit, green destination (a country can be all three; it is coloured "
          "by its first role). Outlines: Natural Earth 1:110m. Drag or scroll to zoom.", size=13)


@solara.component
def HouseholdStory(d: Dashboard):
    _tick()
    StatusCard(d)
    if d.arm is None:
        return
    with solara.Card("One household's story", classes=["gcm-follow"]):
        if d.follow is None:
            solara.Info("Tick 'Follow one household' (left) and press Reset.")
            return
        if not d.story:
            _html(f"Month {d.month}: none of the {FOLLOW_HOUSEHOLDS} households followed has decided to move yet. "
                  "Press Step or play.", classes="gcm-story-wait")
            return
        _html(f"We follow {d.story[0]['household']}, the first of {FOLLOW_HOUSEHOLDS} households (a small run "
              f"with one Mesa agent per household) to decide to move, from month {d.story[0]['month']}. "
              "Latest month first.", classes="gcm-story-who")
        rows = [[str(e["month"]), e["faced"], e["chose"], e["money"], e["members"]] for e in reversed(d.story[-60:])]
        _table(["month", "what it faced", "what it chose", "money", "where its members are"], rows,
               "gcm-story-table")


ABOUT = (
    ("What it is", "gcm-sim simulates households in 18 origin countries deciding each month whether to stay, move "
     "within their country, take a regular pathway abroad or pay smugglers for an irregular route, across 28 "
     "countries of origin, transit and destination. Migrants travel leg by leg, can be intercepted, die, be "
     "stranded or detained, claim asylum, find work, send money home and return."),
    ("How it works", "A household weighs the earnings it expects abroad against costs, risks and its chances of "
     "success, as it believes them; it can only choose what it can pay for (savings and loans from relatives "
     "abroad), which is why the poorest rarely leave. Governments' levers (visas, quotas, recruitment rules, "
     "remittance costs, enforcement, rescue, climate shocks) change those costs, risks and chances. Each simulated "
     "household stands for many real ones; results are in real people."),
    ("Uncertainty on this page", "Every number is run on several seeds (the same seeds for your policy and "
     "baseline). Bands show the range over seeds; the intervals on differences are 95% intervals of the paired "
     "differences. They show the model's chance variation, not the uncertainty of its parameters."),
    ("How far to trust it", "The model starts from observed data (populations, incomes, diasporas, routes, fees; "
     "each figure sourced in gcm_sim/data/SOURCES.md). In its latest validation against published findings "
     "(docs/validation.md, November 2026), one of four checks passed: it reproduces that closing family routes "
     "pushes more people into irregular channels than closing skilled routes, but not yet the 'migration hump' "
     "across origin incomes, the size of the response of remittances to their cost, or the response of emigration "
     "to a crop failure. Read its numbers as an illustration of trade-offs and mechanisms, not as forecasts."),
    ("Where to read more", "docs/model.md (how the model works), docs/levers.md (every lever), docs/scorecard.md "
     "(the indicators), docs/validation.md and docs/calibration.md (how it was tested)."),
)


@solara.component
def About(d: Dashboard):
    with solara.Card("About this model", classes=["gcm-about"]):
        for title, text in ABOUT:
            _html(text, bold=title + ".")
    ScenarioCard(d.scenario_name)


CONTROLS = (
    # name, kind, label, unit, help, extra
    ("named_scenario", "select", "Scenario", "", "A named policy package; its text is shown below.", {}),
    ("households", "text", "Households per seed", "simulated, 500 to 50,000",
     "Each stands for many real households; more is slower. Press Enter.", {}),
    ("seed", "text", "Seed", "whole number", "Another seed gives another draw of chance. Press Enter.", {}),
    ("seeds", "slider", "Seeds run side by side", "runs", "The bands and intervals come from these runs.",
     {"min": 2, "max": 10, "step": 1}),
    ("compare", "check", "Compare with baseline", "", "Baseline runs on the same seeds ('Policy vs baseline').", {}),
    ("follow", "check", "Follow one household", "", "A small run with one agent per household (its story tab).", {}),
    ("visa_fee", "select", "Visa fee", "USD, all corridors", "'scenario' keeps each corridor's fee.",
     {"values": [SCENARIO_VALUE, "0", "30", "60", "90", "185", "300", "600"]}),
    ("multi_entry", "check", "Multi-entry visas on all corridors", "", "A visa that allows coming back.", {}),
    ("labour_quota", "slider", "Labour agreement quota", "visas per year and corridor",
     "Extra regular work visas on every corridor.", {"min": 0, "max": 20000, "step": 500}),
    ("fee_cap", "select", "Recruitment fee cap", "months of wage", "Most a recruiter may charge a worker.",
     {"values": [SCENARIO_VALUE, "0", "0.5", "1", "2", "3", "6"]}),
    ("employer_pays", "check", "Employer pays recruitment", "", "Workers pay no recruitment fee (ILO principle).", {}),
    ("remittance_cost", "select", "Remittance cost", "% of USD 200 sent", "SDG 10.c.1 target: 3%.",
     {"values": [SCENARIO_VALUE, "1", "3", "5", "7", "10"]}),
    ("enforcement", "slider", "Enforcement effort", "x today's", "Border interception effort (1 = as today).",
     {"min": 0.0, "max": 5.0, "step": 0.25}),
    ("search_and_rescue", "slider", "Sea rescue", "share of boats reached", "0 = none beyond today, 1 = all.",
     {"min": 0.0, "max": 1.0, "step": 0.1}),
    ("climate_origin", "select", "Climate shock in", "country or region", f"Hits in month {SHOCK_START_MONTH} for "
     f"{SHOCK_MONTHS} months; 'none' for no shock.", {}),
    ("climate_severity", "slider", "Shock severity", "% of income lost", "Savings lose half as much.",
     {"min": 0, "max": 90, "step": 10}),
    ("overrides", "text", "More overrides", "as on the command line",
     "e.g. policy.pathways.skills_recognition=0.5; checked as gcm-sim run checks them. Press Enter.", {}),
)


def initial_values(s: Settings) -> dict:
    return dict(named_scenario=s.scenario, households=s.households, seed=s.seed, seeds=s.seeds,
                overrides=s.overrides, compare=True, follow=True, visa_fee=SCENARIO_VALUE, multi_entry=False,
                labour_quota=0, fee_cap=SCENARIO_VALUE, employer_pays=False, remittance_cost=SCENARIO_VALUE,
                enforcement=1.0, search_and_rescue=0.0, climate_origin="none", climate_severity=40)


def model_params(s: Settings) -> dict:
    """The controls as Mesa-style user inputs (``{"type", "label", "value", ...}``), for notebooks."""
    kinds = {"select": "Select", "text": "InputText", "check": "Checkbox", "slider": "SliderFloat"}
    values = initial_values(s)
    return {name: {"type": kinds[kind], "label": f"{label} ({unit})" if unit else label, "value": values[name],
                   **extra} for name, kind, label, unit, _, extra in CONTROLS}


@functools.lru_cache(maxsize=1)
def _choices() -> dict:
    from gcm_sim.config import list_scenarios
    from gcm_sim.world import load_world

    w = load_world()
    return {"named_scenario": list_scenarios(),
            "climate_origin": ["none", *w.with_role("origin"),
                               *sorted(t for t in w.tags if t in ("west_africa", "central_america", "south_asia"))]}


@solara.component
def Controls(values: solara.Reactive):
    v = values.value

    def setter(name):
        return lambda x: values.set({**values.value, name: x})

    for name, kind, label, unit, help_text, extra in CONTROLS:
        with solara.Column(gap="0px", classes=[f"gcm-control gcm-control-{name}"]):
            if kind == "select":
                choices = extra.get("values") or _choices()[name]
                solara.Select(label=f"{label}" + (f" ({unit})" if unit else ""), value=v[name], values=choices,
                              on_value=setter(name))
            elif kind == "text":
                solara.InputText(label=f"{label} ({unit})", value=str(v[name]), on_value=setter(name))
            elif kind == "check":
                solara.Checkbox(label=label, value=v[name], on_value=setter(name))
            else:
                shown = f"{v[name]:g}" if isinstance(v[name], float) else f"{v[name]:,}"
                widget = solara.SliderFloat if isinstance(extra["step"], float) else solara.SliderInt
                widget(label=f"{label}: {shown} {unit}", value=v[name], on_value=setter(name), min=extra["min"],
                       max=extra["max"], step=extra["step"], thumb_label="always")
            _help(help_text)
        if name == "named_scenario":
            PickedScenario(v[name])


@solara.component
def PickedScenario(name: str):
    """The picked scenario's own words, shown as soon as it is picked (before Reset)."""
    t = scenario_text(name)
    parts = [f"<b>What it is:</b> {escape(t['description'] or '(no description)')}"]
    if t["question"]:
        parts.append(f"<b>The question:</b> {escape(t['question'])}")
    if t["gcm_objectives"]:
        parts.append(f"<b>GCM objectives:</b> {escape(', '.join(str(o) for o in t['gcm_objectives']))}")
    parts.append("<b>Things to try:</b><ul style='margin:0;padding-left:18px'>"
                 + "".join(f"<li>{escape(x)}</li>" for x in things_to_try(name)) + "</ul>")
    solara.HTML(tag="div", unsafe_innerHTML="".join(f"<div style='margin-bottom:4px'>{p}</div>" for p in parts),
                classes=["gcm-picked"], style={"font-size": "13px", "margin": "0 0 14px 0", "padding": "6px 8px",
                                               "background": "#F4F4F4", "border-radius": "4px"})


@solara.component
def Downloads(model: solara.Reactive):
    _tick()
    d = model.value
    if d.arm is None:
        return
    with solara.Row(style={"gap": "8px", "flex-wrap": "wrap"}):
        solara.FileDownload(lambda: results_csv(model.value), filename=f"gcm-sim-{d.scenario_name}-results.csv",
                            label="Results (CSV)", icon_name="mdi-download")
        solara.FileDownload(lambda: scenario_yaml(model.value), filename=f"workshop-{d.scenario_name}.yaml",
                            label="Settings (scenario YAML)", icon_name="mdi-file-download")
    _help("The YAML runs again with: gcm-sim compare FILE (the command below has the run size).")
    solara.Text(d.command, classes=["gcm-command"], style={"font-size": "11px", "word-break": "break-all"})


TABS = (("This month", ThisMonth), ("Policy vs baseline", PolicyVsBaseline), ("GCM scorecard", Scorecard),
        ("Route map", RouteMap), ("One household", HouseholdStory), ("About", About))


@solara.component
def Page():
    """The page: run controls and levers on the left, named tabs on the right."""
    from mesa.visualization.solara_viz import ModelController

    settings = solara.use_memo(_settings_from_env, [])
    values = solara.use_reactive(initial_values(settings))
    # one model per browser session: Mesa's Reset replaces its value with Dashboard(**values)
    model = solara.use_memo(lambda: solara.reactive(Dashboard(**initial_values(settings))), [])
    play_interval = solara.use_reactive(100)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)
    tab = solara.use_reactive(0)
    d = model.value
    solara.Title("gcm-sim: migration policy workshop")
    solara.Style(".v-tab{min-width:0 !important;padding:0 12px !important;text-transform:none !important;"
                 "font-size:16px !important;letter-spacing:0 !important} .v-slider__thumb-label{font-size:11px}")
    with solara.AppBar():
        solara.AppBarTitle("gcm-sim: migration policy workshop")
    with solara.Sidebar():
        with solara.Card("Run", classes=["gcm-run"]):
            _help_top = "Reset applies the settings below; Step runs one month; ▶ plays month after month."
            solara.Text(_help_top, style={"font-size": "12px"})
            ModelController(model, model_parameters=values, play_interval=play_interval,
                            render_interval=render_interval, use_threads=use_threads)
            Downloads(model)
        with solara.Card("Settings (applied on Reset)", classes=["gcm-settings"]):
            Controls(values)
    with solara.lab.Tabs(value=tab, lazy=True):
        for title, view in TABS:
            with solara.lab.Tab(title):
                view(d)
