"""The world: countries, regular corridors and irregular route legs, as a networkx graph.

The world is data, not code: three CSV tables (``countries.csv``, ``corridors.csv``,
``legs.csv``) and the behavioural parameters (``behaviour.yaml``) under
``gcm_sim/data/`` or a folder the user names with ``world=DIR``. Every figure is
sourced or marked as an assumption in ``gcm_sim/data/SOURCES.md``.

Loading validates every cell once; a malformed file raises :class:`WorldDataError`
naming the file, row, column, value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from gcm_sim import policy, safe_yaml

ROLES = ("origin", "transit", "destination")
FREE_MOVEMENT_BLOCS = ("ecowas", "ca4", "eu")
MAX_ROUTE_LEGS = 5
NOTE_COLUMNS = ("source", "note")  # documentation columns a table may add; the model reads none


class WorldDataError(ValueError):
    """A malformed world data file: names file, row, column, value and what is allowed."""

    def __init__(self, file: str, row: int | None, column: str | None, value, allowed: str):
        where = file if row is None else f"{file} row {row}"
        if column:
            where += f" column {column}"
        super().__init__(f"invalid world data: {where}: value {value!r}: {allowed}")


# column name -> (kind, lo, hi); kind: str, num, bool, tags
COUNTRY_COLUMNS = {
    "iso3": ("iso3",), "name": ("str",), "region": ("str",), "blocs": ("tags",), "roles": ("tags",),
    "lat": ("num", -90, 90), "lon": ("num", -180, 180),
    "population": ("num", 1, 2e9), "gni_per_capita_ppp_usd": ("num", 100, 500_000),
    "gdp_per_capita_usd": ("num", 50, 500_000), "household_size": ("num", 1, 15),
    "rural_pct": ("num", 0, 100), "agri_employment_pct": ("num", 0, 100), "insecurity": ("num", 0, 1),
    "income_growth_pct": ("num", -20, 20),
    "wage_low_usd_month": ("num", 1, 100_000), "wage_mid_usd_month": ("num", 1, 100_000),
    "wage_high_usd_month": ("num", 1, 100_000),
    "informal_wage_penalty_pct": ("num", 0, 100), "informal_job_rate_pct": ("num", 0, 100),
    "asylum_decisions_month": ("num", 0, 1e7), "asylum_recognition_rate": ("num", 0, 1),
    "removal_rate_pct_year": ("num", 0, 100), "detention_months": ("num", 0, 120),
    "alternatives_share": ("num", 0, 1), "readmission_rate": ("num", 0, 1),
    "unlicensed_recruiter_share": ("num", 0, 1),
}
SAMPLING_COLUMNS = {"origin": ("iso3",), "movers_per_household_year": ("num", 0, 10)}
# people already on the road at month 1 (optional transit.csv, from `gcm-sim bench design`)
TRANSIT_COLUMNS = {"origin": ("iso3",), "route": ("text",), "leg": ("num", 0, 4), "moving": ("bool",),
                   "people_per_household": ("num", 0, 1), "cash_usd": ("num", 0, 1e6)}
CORRIDOR_COLUMNS = {
    "origin": ("iso3",), "destination": ("iso3",), "diaspora_stock": ("num", 0, 1e9),
    "irregular_share_pct": ("num", 0, 100), "asylum_share_pct": ("num", 0, 100),
    "visa_required": ("bool",), "visa_fee_usd": ("num", 0, 1e5), "visa_refusal_rate": ("num", 0, 1),
    "visa_processing_months": ("num", 0, 60), "multi_entry": ("bool",),
    "remittance_cost_pct": ("num", 0, 100), "recruitment_fee_usd": ("num", 0, 1e6),
    "labour_quota_year": ("num", 0, 1e8), "family_quota_year": ("num", 0, 1e8),
    "humanitarian_quota_year": ("num", 0, 1e8), "travel_cost_usd": ("num", 0, 1e5),
    # group (prima facie) temporary protection on arrival: mechanisms/asylum.py, SOURCES.md
    "group_protection": ("bool",),
    # share of the diaspora stock with tertiary education, where a figure exists; blank: the
    # stock has its origin's skill mix (population.seed_stocks, SOURCES.md)
    "stock_tertiary_pct": ("num_or_blank", 0, 100),
}
# columns a world may leave out, with the value a missing column means
OPTIONAL_COLUMNS = {"corridors.csv": {"group_protection": "false", "stock_tertiary_pct": ""},
                    "legs.csv": {"pushback": "false"}}
LEG_COLUMNS = {
    "from": ("iso3",), "to": ("iso3",), "mode": ("choice", ("land", "sea")),
    "travel_months": ("num", 0.01, 60), "smuggling_fee_usd": ("num", 0, 1e6),
    "interception_prob": ("num", 0, 1), "death_prob": ("num", 0, 1),
    "intercepted_by": ("choice", ("from", "to")),
    "pushback": ("bool",),  # interceptions turn people back where the leg began, without a claim
}


@dataclass(frozen=True)
class Route:
    """An irregular route: a sequence of legs (indices into ``World.legs``) from origin to destination."""

    origin: str
    destination: str
    legs: tuple[int, ...]


@dataclass
class World:
    """Validated world tables and the graph built from them."""

    countries: pd.DataFrame  # index iso3
    corridors: pd.DataFrame  # columns as CORRIDOR_COLUMNS, RangeIndex
    legs: pd.DataFrame  # columns as LEG_COLUMNS, RangeIndex
    behaviour: dict[str, float]
    member_propensity: dict[str, tuple[float, ...]]
    source: str = "embedded"
    # sampling design (optional sampling.csv): international departures per household and year
    # by origin, used only to allocate simulated households (population.allocate); no behaviour
    sampling: dict[str, float] = field(default_factory=dict)
    # initial conditions (optional transit.csv): people on irregular routes at month 1, per real
    # household of their origin, by route (path of countries), leg, and moving or waiting
    transit: pd.DataFrame | None = None
    graph: nx.DiGraph = field(init=False)

    def __post_init__(self):
        self.graph = build_graph(self)

    # --- names and selections ---
    @cached_property
    def iso3(self) -> frozenset[str]:
        return frozenset(self.countries.index)

    @cached_property
    def tags(self) -> frozenset[str]:
        tags = set(self.countries["region"])
        for blocs in self.countries["blocs"]:
            tags.update(blocs)
        tags.update(ROLES)
        return frozenset(tags)

    @cached_property
    def codes(self) -> list[str]:
        """All countries in table order; a country's position is its integer index in the model."""
        return list(self.countries.index)

    @cached_property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.codes)}

    def with_role(self, role: str) -> list[str]:
        return [c for c in self.codes if role in self.countries.at[c, "roles"]]

    def select(self, selector: tuple[str, ...] | list[str] | str) -> set[str]:
        """ISO3 codes selected by codes and/or tags; an empty selector selects every country."""
        if isinstance(selector, str):
            selector = (selector,)
        if not selector:
            return set(self.codes)
        out: set[str] = set()
        for item in selector:
            if item in self.iso3:
                out.add(item)
                continue
            for c in self.codes:
                row = self.countries.loc[c]
                if item == row["region"] or item in row["blocs"] or item in row["roles"]:
                    out.add(c)
        return out

    def same_free_movement_bloc(self, a: str, b: str) -> bool:
        blocs_a = set(self.countries.at[a, "blocs"]) & set(FREE_MOVEMENT_BLOCS)
        return bool(blocs_a & set(self.countries.at[b, "blocs"]))

    @cached_property
    def routes(self) -> list[Route]:
        """Every simple path over irregular legs from an origin to a destination (at most 5 legs)."""
        legs = nx.DiGraph()
        for i, leg in self.legs.iterrows():
            legs.add_edge(leg["from"], leg["to"], leg=i)
        out = []
        for o in self.with_role("origin"):
            if o not in legs:
                continue
            for d in self.with_role("destination"):
                if d == o or d not in legs:
                    continue
                for path in nx.all_simple_paths(legs, o, d, cutoff=MAX_ROUTE_LEGS):
                    out.append(Route(o, d, tuple(legs.edges[a, b]["leg"] for a, b in zip(path, path[1:]))))
        return out

    def route_path(self, route: Route) -> str:
        """A route's countries in order, ``"NGA>NER>LBY>ITA"`` (how transit.csv names it)."""
        return ">".join([route.origin] + [self.legs.at[i, "to"] for i in route.legs])

    @cached_property
    def route_index(self) -> dict[str, int]:
        """Index into :attr:`routes` of each route's path (:meth:`route_path`)."""
        return {self.route_path(r): i for i, r in enumerate(self.routes)}


def build_graph(world: World) -> nx.DiGraph:
    """Countries as nodes (with their attributes); corridors and legs as edge attributes."""
    g = nx.DiGraph()
    for iso, row in world.countries.iterrows():
        g.add_node(iso, **row.to_dict())
    for _, c in world.corridors.iterrows():
        g.add_edge(c["origin"], c["destination"])
        g.edges[c["origin"], c["destination"]]["corridor"] = c.to_dict()
    for _, leg in world.legs.iterrows():
        g.add_edge(leg["from"], leg["to"])
        g.edges[leg["from"], leg["to"]]["leg"] = leg.to_dict()
    return g


# --- loading --------------------------------------------------------------------------


def _data_dir(path: str | Path | None):
    if path is None:
        return resources.files("gcm_sim") / "data"
    p = Path(path).expanduser()
    if not p.is_dir():
        raise WorldDataError(str(path), None, None, str(path), "world must be a folder holding "
                             "countries.csv, corridors.csv, legs.csv and behaviour.yaml")
    return p


def load_world(path: str | Path | None = None) -> World:
    """Load and validate a world; ``None`` loads the embedded default world."""
    d = _data_dir(path)
    countries = _read_table(d, "countries.csv", COUNTRY_COLUMNS)
    known = set()
    for i, iso in enumerate(countries["iso3"]):
        if iso in known:
            raise WorldDataError("countries.csv", i + 2, "iso3", iso, "each country appears once")
        known.add(iso)
    for i, roles in enumerate(countries["roles"]):
        bad = [r for r in roles if r not in ROLES]
        if bad or not roles:
            raise WorldDataError("countries.csv", i + 2, "roles", ";".join(roles),
                                 f"';'-separated roles from {', '.join(ROLES)}")
    countries = countries.set_index("iso3", drop=False)
    corridors = _read_table(d, "corridors.csv", CORRIDOR_COLUMNS, known)
    legs = _read_table(d, "legs.csv", LEG_COLUMNS, known)
    for i, row in corridors.iterrows():
        if "origin" not in countries.at[row["origin"], "roles"]:
            raise WorldDataError("corridors.csv", i + 2, "origin", row["origin"],
                                 "the country must have the origin role in countries.csv")
        if "destination" not in countries.at[row["destination"], "roles"]:
            raise WorldDataError("corridors.csv", i + 2, "destination", row["destination"],
                                 "the country must have the destination role in countries.csv")
        if row["irregular_share_pct"] + row["asylum_share_pct"] > 100:
            raise WorldDataError("corridors.csv", i + 2, "asylum_share_pct", row["asylum_share_pct"],
                                 "irregular_share_pct + asylum_share_pct must not exceed 100")
    if corridors.duplicated(["origin", "destination"]).any():
        i = int(np.argmax(corridors.duplicated(["origin", "destination"]).to_numpy()))
        raise WorldDataError("corridors.csv", i + 2, "destination", corridors.at[i, "destination"],
                             "each origin-destination pair appears once")
    for i, row in corridors.iterrows():
        if row["origin"] == row["destination"]:
            raise WorldDataError("corridors.csv", i + 2, "destination", row["destination"],
                                 "a corridor joins two different countries")
    for i, row in legs.iterrows():
        if row["from"] == row["to"]:
            raise WorldDataError("legs.csv", i + 2, "to", row["to"], "a leg joins two different countries")
    if legs.duplicated(["from", "to"]).any():
        i = int(np.argmax(legs.duplicated(["from", "to"]).to_numpy()))
        raise WorldDataError("legs.csv", i + 2, "to", legs.at[i, "to"], "each from-to pair appears once")
    behaviour, propensity = _read_behaviour(d)
    sampling = {}
    if (d / "sampling.csv").is_file():  # optional: without it households are allocated by sqrt(population)
        table = _read_table(d, "sampling.csv", SAMPLING_COLUMNS, known)
        for i, row in table.iterrows():
            if "origin" not in countries.at[row["origin"], "roles"]:
                raise WorldDataError("sampling.csv", i + 2, "origin", row["origin"],
                                     "the country must have the origin role in countries.csv")
        sampling = dict(zip(table["origin"], table["movers_per_household_year"].astype(float)))
    world = World(countries, corridors, legs, behaviour, propensity,
                  source="embedded" if path is None else str(path), sampling=sampling)
    if (d / "transit.csv").is_file():  # optional: without it nobody is on the road at month 1
        world.transit = _transit_table(_read_table(d, "transit.csv", TRANSIT_COLUMNS, known), world)
    return world


def _transit_table(table: pd.DataFrame, world: World) -> pd.DataFrame:
    """transit.csv checked against the world's routes: each row names a route of its origin and
    one of that route's legs."""
    for i, row in table.iterrows():
        r = world.route_index.get(row["route"])
        if r is None or world.routes[r].origin != row["origin"]:
            raise WorldDataError("transit.csv", i + 2, "route", row["route"],
                                 f"a route of {row['origin']} over legs.csv, countries joined by '>' "
                                 "(e.g. NGA>NER>LBY>ITA)")
        if row["leg"] != int(row["leg"]) or row["leg"] >= len(world.routes[r].legs):
            raise WorldDataError("transit.csv", i + 2, "leg", row["leg"],
                                 f"a leg number of the route, 0 to {len(world.routes[r].legs) - 1}")
    return table.assign(leg=table["leg"].astype(int))


def _read_table(d, name: str, columns: dict, known: set[str] | None = None) -> pd.DataFrame:
    try:
        with (d / name).open("r", encoding="utf-8") as fh:
            df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise WorldDataError(name, None, None, None, "file is missing from the world folder") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise WorldDataError(name, None, None, None, f"not a readable CSV file ({e})") from None
    for col, default in OPTIONAL_COLUMNS.get(name, {}).items():
        if col not in df.columns:
            df[col] = default
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise WorldDataError(name, 1, missing[0], None, f"required column is missing; needs {', '.join(columns)}")
    extra = [c for c in df.columns if c not in columns and not c.startswith(NOTE_COLUMNS)]
    if extra:  # nothing is silently ignored: a misspelt column would otherwise be dropped
        raise WorldDataError(name, 1, extra[0], extra[0], f"unknown column (the model does not read it); "
                             f"columns: {', '.join(columns)}, and notes in columns named source* or note*")
    if df.empty:
        raise WorldDataError(name, None, None, None, "the table has no rows; at least one is needed")
    out = {}
    for col, spec in columns.items():
        kind = spec[0]
        values = []
        for i, raw in enumerate(df[col]):
            row = i + 2  # header is row 1
            v = raw.strip()
            if kind == "num_or_blank" and not v:
                values.append(float("nan"))
            elif kind in ("num", "num_or_blank"):
                blank = " or blank" if kind == "num_or_blank" else ""
                try:
                    x = float(v)
                except ValueError:
                    raise WorldDataError(name, row, col, raw, f"a number from {spec[1]} to {spec[2]}{blank}") from None
                if not np.isfinite(x) or x < spec[1] or x > spec[2]:
                    raise WorldDataError(name, row, col, raw, f"a number from {spec[1]} to {spec[2]}{blank}")
                values.append(x)
            elif kind == "bool":
                if v.lower() not in ("true", "false"):
                    raise WorldDataError(name, row, col, raw, "true or false")
                values.append(v.lower() == "true")
            elif kind == "iso3":
                if len(v) != 3 or not v.isalpha() or not v.isupper():
                    raise WorldDataError(name, row, col, raw, "a three-letter ISO 3166 alpha-3 code")
                if known is not None and v not in known:
                    raise WorldDataError(name, row, col, raw, "a country listed in countries.csv")
                values.append(v)
            elif kind == "tags":
                values.append(tuple(t.strip() for t in v.split(";") if t.strip()))
            elif kind == "choice":
                if v not in spec[1]:
                    raise WorldDataError(name, row, col, raw, f"one of {', '.join(spec[1])}")
                values.append(v)
            else:
                if not v:
                    raise WorldDataError(name, row, col, raw, "a non-empty text")
                values.append(v)
        out[col] = values
    return pd.DataFrame(out)


PROPENSITY_CHANNELS = ("labour", "family", "humanitarian", "visitor", "regional", "smuggled", "overstay")


def _read_behaviour(d) -> tuple[dict[str, float], dict[str, tuple[float, ...]]]:
    f = d / "behaviour.yaml"
    if not f.is_file():
        raise WorldDataError("behaviour.yaml", None, None, None, "file is missing from the world folder")
    try:
        with resources.as_file(f) as path:
            raw = safe_yaml.load_file(path, "behaviour.yaml")
    except safe_yaml.YamlFileError as e:
        raise WorldDataError("behaviour.yaml", None, None, None, e.allowed) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("parameters"), dict):
        raise WorldDataError("behaviour.yaml", None, "parameters", None,
                             "a mapping 'parameters:' of name -> {value, source}")
    out = {}
    for name, entry in raw["parameters"].items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise WorldDataError("behaviour.yaml", None, f"parameters.{name}.value", value, "a finite number")
        if not isinstance(entry, dict) or not entry.get("source"):
            raise WorldDataError("behaviour.yaml", None, f"parameters.{name}.source", None,
                                 "every parameter needs a source or 'ASSUMPTION: why'")
        out[name] = float(value)
    problem = policy.check_behaviour(out, "parameters")
    if problem:
        raise WorldDataError("behaviour.yaml", None, problem[0], problem[1], problem[2])
    prop = raw.get("member_propensity")
    if not isinstance(prop, dict):
        raise WorldDataError("behaviour.yaml", None, "member_propensity", prop,
                             f"a mapping from each of {', '.join(PROPENSITY_CHANNELS)} to 5 numbers >= 0")
    propensity = {}
    for ch in PROPENSITY_CHANNELS:
        v = prop.get(ch)
        ok = isinstance(v, list) and len(v) == 5 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in v) and sum(v) > 0
        if not ok:
            raise WorldDataError("behaviour.yaml", None, f"member_propensity.{ch}", v,
                                 "5 numbers >= 0 (female_youth, male_youth, female_adult, male_adult, child)")
        propensity[ch] = tuple(float(x) for x in v)
    return out, propensity
