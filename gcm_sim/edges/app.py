"""The trainer dashboard: a Mesa SolaraViz app over :class:`gcm_sim.model.MigrationModel`.

Start it with ``gcm-sim dashboard [KEY=VALUE ...]`` (docs/dashboard.md). What the page steps
is a :class:`Dashboard`, a small ``mesa.Model`` that holds up to three runs built from the
same controls and seed:

- ``policy``: the trainer's run (scenario + levers), what the live charts and the map show;
- ``baseline``: in comparison mode, baseline on the same seed (the trade-off view);
- ``follow``: a small reference-engine run (one ``mesa.Agent`` per household) whose
  households keep a ``story``; the page follows one that moves.

Why a wrapper model and not ``MigrationModel`` itself: Mesa's Reset button rebuilds the
model from the controls, and a bad value typed on the page must not break the app. The
wrapper catches :class:`gcm_sim.policy.ConfigError` and keeps the command line's message
(``gcm-sim: error: invalid config: KEY=VALUE: what is allowed``) in ``error`` for the page
to show; the runs stay empty until the input is fixed.

Controls are turned into what the command line takes: scenario, ``run.households``,
``run.seed`` and the free-text overrides go through :func:`gcm_sim.config.load_config`
(so the same composition and messages as ``gcm-sim run``), the levers through the
model's keyword levers (docs/levers.md). A lever left at its baseline position does not
override the scenario's value (see docs/dashboard.md). The run is replicate 0 of
``gcm-sim run`` with the same config and seed.
"""

from __future__ import annotations

import json
from html import escape
import os
import shlex
import time
from dataclasses import dataclass

import mesa
import numpy as np
import solara

from gcm_sim.policy import ConfigError

ENV = "GCM_SIM_DASHBOARD"  # JSON settings handed from `gcm-sim dashboard` to the server process
DEFAULT_HOUSEHOLDS = 20000  # as `gcm-sim run`; one month well under a second, comparison included
FOLLOW_HOUSEHOLDS = 500  # the reference-engine run behind "follow one household"
DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
SHOCK_START_MONTH, SHOCK_MONTHS = 3, 12  # a shock chosen on the page hits in month 3 for a year
SCENARIO_VALUE = "scenario"  # a Select at this value leaves the scenario's (or world's) value alone

# (indicator, GCM objectives / SDG target) for the scorecard and the comparison
SCORECARD = (
    ("irregular_departures", "GCM 5, 9"),
    ("regular_departures", "GCM 5"),
    ("irregular_share", "GCM 5"),
    ("deaths", "GCM 8; SDG 10.7.3"),
    ("deaths_per_1000_crossings", "GCM 8; SDG 10.7.3"),
    ("interception_rate", "GCM 11"),
    ("smuggling_revenue_usd", "GCM 9"),
    ("trafficking_victims", "GCM 10"),
    ("recruitment_cost_months", "GCM 6; SDG 10.7.1"),
    ("remittance_cost_pct", "GCM 20; SDG 10.c.1"),
    ("remittances_received_usd", "GCM 19, 20"),
    ("returns", "GCM 21"),
    ("stock_irregular_end", "GCM 7"),
    ("stranded_in_transit_end", "GCM 7, 8"),
    ("detained_children_end", "GCM 13"),
    ("female_share_departures", "GCM 1 (sex-disaggregated data)"),
)
READOUT = (("departures_regular", "departures, regular"), ("departures_irregular", "departures, irregular"),
           ("departures_internal", "moves, internal"), ("arrivals_irregular", "arrivals, irregular"),
           ("deaths", "deaths"), ("stock_irregular", "irregular stock"),
           ("remittances_sent_usd", "remittances sent, USD"))


@dataclass(frozen=True)
class Settings:
    """What ``gcm-sim dashboard`` was started with (``dashboard.*`` keys and the overrides)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    scenario: str = "baseline"
    households: str = str(DEFAULT_HOUSEHOLDS)
    seed: str = "0"
    overrides: str = ""  # the other overrides, as one shell-quoted line


def parse_args(overrides: list[str]) -> Settings:
    """Take ``dashboard.*``, ``scenario``, ``run.households`` and ``run.seed`` out of the
    command-line overrides; the rest become the page's "more overrides" line."""
    host, port, scenario, households, seed, rest = DEFAULT_HOST, DEFAULT_PORT, "baseline", None, None, []
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
        else:
            rest.append(o)
    return Settings(host, port, scenario, households or str(DEFAULT_HOUSEHOLDS), seed or "0", shlex.join(rest))


def validate(settings: Settings) -> None:
    """Compose and validate the starting config as the page will (raises ConfigError)."""
    from gcm_sim.config import load_config

    load_config(settings.scenario, _cli_overrides(settings.households, settings.seed, settings.overrides))


def serve(settings: Settings) -> None:
    """Run the Solara server in this process until interrupted (blocks)."""
    os.environ[ENV] = json.dumps(settings.__dict__)
    os.environ["SOLARA_APP"] = "gcm_sim.edges.app:Page"
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # no network calls
    from solara.__main__ import run as solara_run

    solara_run.main(args=["gcm_sim.edges.app:Page", "--host", settings.host, "--port", str(settings.port),
                          "--production", "--no-open", "--no-check-version", "--log-level-uvicorn", "warning"],
                    standalone_mode=False)


def _cli_overrides(households: str, seed: str, more: str) -> list[str]:
    try:
        extra = shlex.split(more or "")
    except ValueError as e:
        raise ConfigError("overrides", more, f"not a valid command line ({e})") from None
    return [f"run.households={str(households).strip()}", f"run.seed={str(seed).strip()}", *extra]


def _settings_from_env() -> Settings:
    raw = os.environ.get(ENV)
    return Settings(**json.loads(raw)) if raw else Settings()


# --- the model the page steps ---------------------------------------------------------


class Dashboard(mesa.Model):
    """The trainer's run, the baseline beside it and a household to follow, stepped together.

    Never raises on bad input: ``error`` holds the command line's message instead.
    """

    def __init__(self, named_scenario: str = "baseline", households: str = str(DEFAULT_HOUSEHOLDS), seed: str = "0",
                 overrides: str = "", compare: bool = False, follow: bool = True,
                 visa_fee: str = SCENARIO_VALUE, multi_entry: bool = False, labour_quota: int = 0,
                 fee_cap: str = SCENARIO_VALUE, employer_pays: bool = False,
                 remittance_cost: str = SCENARIO_VALUE, enforcement: float = 1.0, search_and_rescue: float = 0.0,
                 climate_origin: str = "none", climate_severity: int = 40, rng=None):
        super().__init__(rng=rng)
        self.policy = self.baseline = self.follow = None
        self.error: str | None = None
        self.history: list[dict] = []  # the policy run's month totals, one dict per month
        self.baseline_history: list[dict] = []
        self.step_seconds = 0.0
        self.followed: int | None = None  # row of the household the story follows
        self.story: list[str] = []
        self._seen: dict[int, tuple] = {}
        self._story_seen = 0
        levers = _levers(visa_fee, multi_entry, labour_quota, fee_cap, employer_pays, remittance_cost,
                         enforcement, search_and_rescue, climate_origin, climate_severity)
        self.levers = levers
        self.scenario_name = scenario = named_scenario
        from gcm_sim.world import WorldDataError

        try:
            self._build(scenario, households, seed, overrides, compare, follow, levers)
        except (ConfigError, WorldDataError) as e:  # the CLI's message, on the page
            self.error = f"gcm-sim: error: {e}"
            self.policy = self.baseline = self.follow = None
            self.running = False

    def _build(self, scenario, households, seed, overrides, compare, follow, levers) -> None:
        from gcm_sim.config import load_config
        from gcm_sim.model import MigrationModel
        from gcm_sim.world import load_world

        base = _cli_overrides(households, seed, overrides)
        cfg = load_config(scenario, base)
        world = load_world(cfg.world) if cfg.world else load_world()
        seed_seq = lambda: np.random.SeedSequence(cfg.run.seed).spawn(1)[0]  # noqa: E731 - replicate 0
        self.policy = MigrationModel(cfg, rng=seed_seq(), world=world, **levers)
        self.command = "gcm-sim run " + shlex.join([f"scenario={scenario}", *base, *_lever_overrides(levers)])
        if levers.get("labour_agreement_quota"):  # a list entry per corridor: the Python API says it shorter
            self.command += (f"  (and MigrationModel(labour_agreement_quota={levers['labour_agreement_quota']}):"
                             " one labour agreement per corridor)")
        if compare:
            self.baseline = MigrationModel(load_config("baseline", base, world=world), rng=seed_seq(), world=world)
        if follow:
            small = load_config(scenario, [*base, f"run.households={FOLLOW_HOUSEHOLDS}", "run.engine=reference"],
                                world=world)
            self.follow = MigrationModel(small, rng=seed_seq(), world=world, **levers)

    def step(self) -> None:
        if self.policy is None:
            return
        t0 = time.perf_counter()
        for model, history in ((self.policy, self.history), (self.baseline, self.baseline_history)):
            if model is not None:
                model.step()
                history.append(model.recorder.month_totals())
        if self.follow is not None:
            self.follow.step()
            self._follow_story()
        self.step_seconds = time.perf_counter() - t0
        if self.policy.steps >= self.policy.cfg.run.months:
            self.running = False

    @property
    def month(self) -> int:
        return len(self.history)

    # --- follow one household -------------------------------------------------------
    def _follow_story(self) -> None:
        """Pick the first household that chose to move abroad (or move at all); tell its story."""
        from gcm_sim.categories import CHANNELS, STATES, STATUSES

        model = self.follow
        hh = model.households
        month = model.steps
        if self.followed is None:
            moved = [a for a in hh.by_row if any("chose" in s for s in a.story)]
            abroad = [a for a in moved if not any("chose internal" in s for s in a.story)]
            if not (abroad or moved):
                return
            agent = (abroad or moved)[0]
            self.followed = agent.row
            c = model.world.codes[int(hh.country[agent.row])]
            self.story.append(f"We follow household #{agent.row} in {c} "
                              f"({'rural' if hh.rural[agent.row] else 'urban'}, "
                              f"assets USD {float(hh.assets_usd[agent.row]):,.0f}, "
                              f"income USD {float(hh.income_usd[agent.row]):,.0f} a month).")
        agent = hh.by_row[self.followed]
        self.story.extend(agent.story[self._story_seen:])
        self._story_seen = len(agent.story)
        m = model.migrants
        codes = model.world.codes
        for r in np.flatnonzero(m.view("household") == self.followed):
            key = (int(m.state[r]), int(m.status[r]), int(m.location[r]))
            if self._seen.get(r) == key:
                continue
            state, status, where = STATES[key[0]], STATUSES[key[1]], codes[key[2]]
            who = "a member" if r not in self._seen else "the member"
            if state == "transit":
                text = f"{who} travelling ({CHANNELS[int(m.channel[r])]}) is in {where}"
            elif state == "abroad":
                text = f"{who} is abroad in {where}, status {status}"
            elif state == "pending":
                text = f"{who} waits for a visa at home"
            else:
                text = f"{who} is {state}" + (f" in {where}" if state == "detained" else "")
            self.story.append(f"month {month}: {text}")
            self._seen[r] = key


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
        out["labour_agreement_quota"] = labour_quota
    if enforcement != 1.0:
        out["interception_multiplier"] = enforcement
    if search_and_rescue:
        out["search_and_rescue"] = search_and_rescue
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


# --- the page -------------------------------------------------------------------------


def _fmt(x: float) -> str:
    if abs(x) >= 1e9:
        return f"{x / 1e9:,.2f} bn"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} m"
    if abs(x) < 10 and x != int(x):
        return f"{x:,.3f}"
    return f"{x:,.0f}"


def model_params(s: Settings) -> dict:
    """The controls (Mesa's UserInputs), applied when Reset is pressed."""
    from gcm_sim.config import list_scenarios
    from gcm_sim.world import load_world

    w = load_world()
    origins = ["none", *w.with_role("origin"), *sorted(t for t in w.tags if t in
                                                       ("west_africa", "central_america", "south_asia"))]
    return {
        # not "scenario": Mesa's Reset passes its own Scenario object under that name
        "named_scenario": {"type": "Select", "label": "Scenario", "value": s.scenario, "values": list_scenarios()},
        "households": {"type": "InputText", "label": "Households (simulated; Enter to confirm)",
                       "value": s.households},
        "seed": {"type": "InputText", "label": "Seed", "value": s.seed},
        "compare": {"type": "Checkbox", "label": "Comparison mode: baseline side by side", "value": False},
        "follow": {"type": "Checkbox", "label": "Follow one household (reference engine)", "value": True},
        "visa_fee": {"type": "Select", "label": "Visa fee, USD, all corridors", "value": SCENARIO_VALUE,
                     "values": [SCENARIO_VALUE, "0", "30", "60", "90", "185", "300", "600"]},
        "multi_entry": {"type": "Checkbox", "label": "Multi-entry visas on all corridors", "value": False},
        "labour_quota": {"type": "SliderInt", "label": "Labour quota/yr",
                         "value": 0, "min": 0, "max": 20000, "step": 500},
        "fee_cap": {"type": "Select", "label": "Recruitment fee cap, months of wage", "value": SCENARIO_VALUE,
                    "values": [SCENARIO_VALUE, "0", "0.5", "1", "2", "3", "6"]},
        "employer_pays": {"type": "Checkbox", "label": "Employer pays recruitment", "value": False},
        "remittance_cost": {"type": "Select", "label": "Remittance cost, %, all corridors", "value": SCENARIO_VALUE,
                            "values": [SCENARIO_VALUE, "1", "3", "5", "7", "10"]},
        "enforcement": {"type": "SliderFloat", "label": "Enforcement",
                        "value": 1.0, "min": 0.0, "max": 5.0, "step": 0.25},
        "search_and_rescue": {"type": "SliderFloat", "label": "Sea rescue", "value": 0.0,
                              "min": 0.0, "max": 1.0, "step": 0.1},
        "climate_origin": {"type": "Select", "label": "Climate shock origin (hits in month 3; severity below)", "value": "none",
                           "values": origins},
        "climate_severity": {"type": "SliderInt", "label": "Shock loss %", "value": 40,
                             "min": 0, "max": 90, "step": 10},
        "overrides": {"type": "InputText", "label": "More overrides, as on the command line (Enter)",
                      "value": s.overrides},
    }


def _html(text: str, bold: str = "") -> None:
    """A paragraph. solara.Markdown is not used: it loads KaTeX, which solara-assets lacks (offline)."""
    solara.HTML(tag="p", unsafe_innerHTML=(f"<b>{escape(bold)}</b> " if bold else "") + escape(text))


def _table(header: list[str], rows: list[list[str]], classes: str) -> None:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    solara.HTML(tag="table", unsafe_innerHTML=f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>",
                classes=[classes], style={"font-size": "13px", "border-collapse": "collapse"})


def _series(history: list[dict], name: str) -> np.ndarray:
    return np.array([h.get(name, 0.0) for h in history])


def _no_run(model: Dashboard):
    if model.error:
        return solara.Error(model.error, classes=["gcm-error"])
    return solara.Info("No run yet.")


def Status(model: Dashboard):
    """Where the run is, the latest month's numbers (as text) and how to reproduce it."""
    with solara.Card("gcm-sim: this month", classes=["gcm-status"]) as card:
        if model.policy is None:
            _no_run(model)
            _html("Fix the value, then press Reset.")
            return card
        last = model.history[-1] if model.history else {}
        _html(f"{model.scenario_name}, month {model.month} of "
                        f"{model.policy.cfg.run.months}, {model.policy.cfg.run.households:,} households"
                        + (", comparison on" if model.baseline is not None else "")
                        + f"; last step {model.step_seconds:.2f} s", bold="Scenario")
        lines = [f"{label}: {_fmt(last.get(name, 0.0))}" for name, label in READOUT]
        solara.Text(" | ".join(lines), classes=["gcm-readout"])
        _html("Change controls, then press Reset to apply them. The same run on the command line:")
        solara.Text(model.command, classes=["gcm-command"])
    return card


CHART_PANELS = (
    ("Departures by channel, people/month", [("departures_regular", "regular departures"),
                                             ("departures_irregular", "irregular departures"),
                                             ("overstays", "overstays"), ("departures_internal", "internal moves")]),
    ("Arrivals, people/month", [("arrivals_regular", "regular arrivals"),
                                ("arrivals_irregular", "irregular arrivals")]),
    ("Deaths and interceptions, people/month", [("deaths", "deaths"), ("interceptions", "interceptions")]),
    ("Stocks abroad, people", [("stock_regular", "regular stock"), ("stock_irregular", "irregular stock"),
                               ("stock_asylum_pending", "asylum pending"), ("stranded_in_transit", "stranded")]),
    ("Remittances, USD/month", [("remittances_sent_usd", "formal remittances"),
                                ("remittances_informal_usd", "informal remittances"),
                                ("remittance_fees_usd", "remittance fees")]),
    ("Recruitment and smuggling, USD/month", [("recruitment_fees_usd", "recruitment fees"),
                                              ("smuggling_fees_usd", "smuggling fees")]),
)


def chart_option(history: list[dict]) -> dict:
    """One ECharts option with six small line charts (CHART_PANELS), months on the x axis."""
    months = list(range(1, len(history) + 1))
    option = {"title": [], "grid": [], "xAxis": [], "yAxis": [], "series": [], "animation": False,
              "tooltip": {"trigger": "axis"},
              "legend": {"type": "scroll", "bottom": 0, "textStyle": {"fontSize": 10}}}
    for i, (title, lines) in enumerate(CHART_PANELS):
        col, row = i % 3, i // 3
        left, top = 6 + 33 * col, 8 + 44 * row
        option["title"].append({"text": title, "left": f"{left - 3}%", "top": f"{top - 6}%",
                                "textStyle": {"fontSize": 11}})
        option["grid"].append({"left": f"{left}%", "top": f"{top}%", "width": "25%", "height": "27%",
                               "containLabel": True})
        option["xAxis"].append({"type": "category", "data": months, "gridIndex": i})
        option["yAxis"].append({"type": "value", "gridIndex": i, "axisLabel": {"fontSize": 9}})
        for name, label in lines:
            option["series"].append({"type": "line", "name": label, "xAxisIndex": i, "yAxisIndex": i,
                                     "showSymbol": len(months) < 3,
                                     "data": [round(float(h.get(name, 0.0)), 1) for h in history]})
    return option


def Charts(model: Dashboard):
    """Live charts: departures by channel, arrivals, deaths, stocks, remittances, recruitment costs.

    ECharts (drawn in the browser; its script is in solara-assets): a month's update sends a few
    numbers, where a matplotlib picture of six charts took half a second to draw here.
    """
    if model.policy is None:
        return _no_run(model)
    if not model.history:  # an ECharts widget mounted with the page fails ("invalid dom")
        return solara.Info("Press Step or play: the charts start with month 1.")
    # solara's ECharts widget drops an update that arrives within a fraction of a second of its
    # first drawing (a console TypeError; the next month redraws it): see docs/dashboard.md
    return solara.FigureEcharts(option=chart_option(model.history),
                                attributes={"style": "height: 460px;", "class": "gcm-charts"})


def NetworkMap(model: Dashboard):
    """Countries at their coordinates; route legs weighted by people in transit on them, regular
    corridors by this month's regular departures."""
    from matplotlib.figure import Figure

    from gcm_sim.categories import TRANSIT

    if model.policy is None:
        return _no_run(model)
    m = model.policy
    t = m.world.countries
    lat, lon = t["lat"].to_numpy(float), t["lon"].to_numpy(float)
    fig = Figure(figsize=(9, 4.8), dpi=80)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.93, bottom=0.1)
    ax = fig.subplots()
    # irregular legs: people in transit on each leg at month end
    mig = m.migrants
    sel = np.flatnonzero(mig.view("state") == TRANSIT)
    on_leg = np.zeros(len(m.leg_from))
    if len(sel):
        legs = m.route_legs[np.maximum(mig.route[sel], 0), mig.leg[sel]]
        np.add.at(on_leg, legs, mig.weight[sel])
    scale = max(on_leg.max(), 1.0)
    for k in range(len(on_leg)):
        a, b = m.leg_from[k], m.leg_to[k]
        ax.plot([lon[a], lon[b]], [lat[a], lat[b]], color="tab:red", alpha=0.35 + 0.6 * on_leg[k] / scale,
                linewidth=0.5 + 6 * on_leg[k] / scale, zorder=2)
        if on_leg[k] > 0:
            ax.annotate(_fmt(on_leg[k]), ((lon[a] + lon[b]) / 2, (lat[a] + lat[b]) / 2), fontsize=6,
                        color="tab:red")
    # regular corridors: this month's regular departures by origin and destination
    flows = _regular_flows(m)
    if flows:
        top = max(flows.values())
        for (o, d), v in flows.items():
            ax.plot([lon[o], lon[d]], [lat[o], lat[d]], color="tab:blue", alpha=0.25,
                    linewidth=0.3 + 4 * v / top, zorder=1)
    roles = t["roles"]
    color = ["tab:green" if "origin" in r else ("tab:purple" if "destination" in r else "tab:orange")
             for r in roles]
    ax.scatter(lon, lat, c=color, s=25, zorder=3)
    for i, code in enumerate(m.world.codes):
        ax.annotate(code, (lon[i], lat[i]), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_title(f"Month {model.month}: people in transit on each irregular leg (red, labelled); "
                 "regular departures this month (blue). Green origin, purple destination, orange transit.",
                 fontsize=8)
    ax.set_xlabel("longitude", fontsize=7)
    ax.set_ylabel("latitude", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    return solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])


def _regular_flows(m) -> dict[tuple[int, int], float]:
    """This month's regular departures by (origin, destination) index, from the recorder."""
    from gcm_sim.measures import MEASURE_ID

    rec = m.recorder
    if not rec._months:  # noqa: SLF001 - the recorder keeps months as (month, keys, sums)
        return {}
    _, keys, sums = rec._months[-1]  # noqa: SLF001
    mid, o, d, ch, s, a = rec._decode(keys)  # noqa: SLF001
    n = len(m.world.codes)
    sel = (mid == MEASURE_ID["departures_regular"]) & (o < n) & (d < n) & (s == s.max()) & (a == a.max())
    out: dict[tuple[int, int], float] = {}
    for oo, dd, v in zip(o[sel], d[sel], sums[sel]):
        out[(int(oo), int(dd))] = out.get((int(oo), int(dd)), 0.0) + float(v)
    return out


def Comparison(model: Dashboard):
    """Baseline and the trainer's policy on the same seed: indicators so far and their difference."""
    from matplotlib.figure import Figure

    with solara.Card("Comparison: baseline vs your policy (same seed)", classes=["gcm-compare"]) as card:
        if model.policy is None:
            _no_run(model)
            return card
        if model.baseline is None:
            solara.Info("Tick 'Comparison mode' under Model Parameters and press Reset to run baseline "
                        "side by side.")
            return card
        if not model.history:
            solara.Info("Press Step or play to run both.")
            return card
        a, b = model.baseline.indicators(), model.policy.indicators()
        rows = []
        for name, tag in SCORECARD:
            if name not in a:
                continue
            diff = b[name] - a[name]
            pct = f" ({100 * diff / a[name]:+.0f}%)" if a[name] else ""
            arrow = "▲" if diff > 0 else ("▼" if diff < 0 else "=")
            rows.append([name, tag, _fmt(a[name]), _fmt(b[name]), f"{arrow} {_fmt(diff)}{pct}"])
        _html(f"Months 1 to {model.month}, totals so far; ▲ more, ▼ less under your policy.")
        _table(["indicator", "GCM / SDG", "baseline", "your policy", "difference"], rows, "gcm-compare-table")
        fig = Figure(figsize=(9, 2.6))
        fig.subplots_adjust(left=0.06, right=0.98, top=0.88, bottom=0.12, wspace=0.35)
        months = np.arange(1, model.month + 1)
        for ax, (name, title) in zip(fig.subplots(1, 4), (
                ("departures_irregular", "irregular departures"), ("departures_regular", "regular departures"),
                ("deaths", "deaths"), ("remittances_sent_usd", "formal remittances, USD"))):
            ax.plot(months, _series(model.baseline_history, name), label="baseline", color="grey")
            ax.plot(months, _series(model.history, name), label="your policy", color="tab:blue")
            ax.set_title(title, fontsize=8)
            ax.tick_params(labelsize=6)
            ax.legend(fontsize=6, loc="upper left")
        solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])
    return card


def Scorecard(model: Dashboard):
    """The GCM scorecard of the current run: headline indicators so far, with objective tags."""
    from gcm_sim.measures import INDICATORS

    with solara.Card("GCM scorecard (this run, months so far)", classes=["gcm-scorecard"]) as card:
        if model.policy is None:
            _no_run(model)
            return card
        ind = model.policy.indicators()
        rows = [[name, _fmt(ind[name]), tag, INDICATORS.get(name, "")] for name, tag in SCORECARD if name in ind]
        _table(["indicator", "value", "GCM objective / SDG", "meaning"], rows, "gcm-scorecard-table")
    return card


def FollowHousehold(model: Dashboard):
    """One family's story, month by month (reference engine, FOLLOW_HOUSEHOLDS households)."""
    with solara.Card("Follow one household", classes=["gcm-follow"]) as card:
        if model.policy is None:
            _no_run(model)
        elif model.follow is None:
            solara.Info("Tick 'Follow one household' and press Reset.")
        elif not model.story:
            solara.Info(f"No household has decided to move yet (month {model.month}); press Step.")
        else:
            for line in model.story[-40:]:
                solara.Text(line, style={"display": "block"})
    return card


@solara.component
def Page():
    """The Solara page: Mesa's SolaraViz with the dashboard's controls and views."""
    from mesa.visualization import SolaraViz

    settings = solara.use_memo(_settings_from_env, [])
    params = solara.use_memo(lambda: model_params(settings), [])
    # a reactive made here, one per browser session: Reset replaces its value
    model = solara.use_memo(lambda: solara.reactive(Dashboard(**{k: v["value"] for k, v in params.items()})), [])
    model.value  # noqa: B018 - subscribe: the page re-renders when Reset builds a new Dashboard
    return SolaraViz(model, components=[(Status, 0), (Charts, 0), (NetworkMap, 0), (Comparison, 1),
                                        (Scorecard, 2), (FollowHousehold, 3)],
                     model_params=params, name="gcm-sim trainer dashboard", play_interval=50)

