"""Every bad input refused before work (issue 17): enumerated cases by category, in-process.

Each case asserts what DESIGN.md promises: a ConfigError (or WorldDataError) or exit
code 2, a one-line message naming the key and the bad value, no traceback, nothing
written (the working folder stays empty). Each category is one test that runs all its
cases and prints ``bad inputs: CATEGORY: N tried, N handled``; `pytest -rA` (or -s)
shows the counts, and ``test_total_count`` checks there are at least 300.

    PYTHONPATH=. python -m pytest -p no:xdist -q -rA tests/test_bad_inputs.py -k "not real_cli"
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
import os
import shutil
import typing
from importlib import resources
from pathlib import Path

import pytest

from gcm_sim import policy, safe_yaml
from gcm_sim.config import load_config
from gcm_sim.policy import ConfigError, build_config, to_dict
from gcm_sim.world import WorldDataError, load_world

COUNTS: dict[str, tuple[int, int]] = {}
BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                 + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]) + "\n"


@pytest.fixture(scope="module")
def world():
    return load_world()


@pytest.fixture(scope="module")
def base_raw(world):
    """The baseline config as plain dicts (what Hydra composes), with meta instead of scenario."""
    raw = to_dict(build_config({}, world.iso3, world.tags, world.behaviour))
    raw["behaviour"] = {}
    raw["run"]["months"] = 24
    return raw


def _one_line_ok(message: str, key: str, value_text: str | None) -> str | None:
    """None when the message keeps the contract, else what is wrong with it."""
    if "\n" in message.strip():
        return f"more than one line: {message!r}"
    if "Traceback" in message:
        return f"traceback: {message!r}"
    if key not in message:
        return f"key {key!r} not named: {message!r}"
    if value_text is not None and value_text not in message:
        return f"value {value_text!r} not quoted: {message!r}"
    return None


def _run_cases(category: str, cases, attempt, cwd: Path):
    """Run ``attempt(case)`` for each case; it must raise ConfigError/WorldDataError naming key and value."""
    problems = []
    for case in cases:
        key, value_text = case["key"], case.get("value")
        before = sorted(os.listdir(cwd))
        try:
            attempt(case)
        except (ConfigError, WorldDataError) as e:
            bad = _one_line_ok(str(e), key, value_text)
            if bad:
                problems.append(f"{case['name']}: {bad}")
        except Exception as e:  # noqa: BLE001 - a crash is what the suite looks for
            problems.append(f"{case['name']}: {type(e).__name__}: {e}")
        else:
            problems.append(f"{case['name']}: accepted")
        if sorted(os.listdir(cwd)) != before:
            problems.append(f"{case['name']}: wrote {sorted(set(os.listdir(cwd)) - set(before))}")
    COUNTS[category] = (len(cases), len(cases) - len(problems))
    print(f"bad inputs: {category}: {len(cases)} tried, {len(cases) - len(problems)} handled")
    assert not problems, f"{len(problems)} of {len(cases)} {category} cases mishandled:\n" + "\n".join(problems[:20])


# --- 1. config values: every number of the lever schema ----------------------------------------

LIST_BASES = {  # a valid entry for each list whose items have numeric fields
    "policy.visa.corridors": {"origin": ["MLI"], "destination": ["FRA"]},
    "policy.pathways.labour_agreements": {"origin": ["MLI"], "destination": ["FRA"]},
    "policy.pathways.skills_partnerships": {"origin": ["MLI"], "destination": ["FRA"]},
    "policy.pathways.humanitarian": {"origin": ["SYR"], "destination": ["DEU"]},
    "policy.pathways.seasonal": {"origin": ["MEX"], "destination": ["USA"]},
    "policy.remittances.corridors": {"origin": ["MLI"], "destination": ["FRA"]},
    "policy.pathways.quota_multipliers": {"origin": ["MEX"], "destination": ["USA"]},
    "climate.shocks": {"origin": ["MLI"], "start_month": 3},
}


def numeric_levers():
    """(key as written in messages, list path or None, field, lo, hi, is_int) for each number."""
    out = []
    for row in policy.lever_table():
        if not row["range"]:
            continue
        lo, hi = row["range"]
        key = row["key"]
        is_int = row["type"] is int  # from the schema, not the default (``month: int | None = None``)
        if "[]" in key:
            lst, field = key.split("[].")
            out.append((f"{lst}[0].{field}", lst, field, lo, hi, is_int))
        else:
            out.append((key, None, key, lo, hi, is_int))
    return out


def _set(raw, key_path: str, value):
    node = raw
    *path, leaf = key_path.split(".")
    for p in path:
        node = node[p]
    node[leaf] = value


def number_cases():
    cases = []
    for key, lst, field, lo, hi, is_int in numeric_levers():
        bad = [(float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf"), ("abc", "'abc'"),
               (True, "True"), ([1], "[1]")]
        if lo is not None:
            bad.append((lo - 1, policy._num(lo - 1)))
        if hi is not None:
            bad.append((hi * 10 + 1, policy._num(hi * 10 + 1)))
        if is_int:
            bad.append((1.5, "1.5"))
        for value, text in bad:
            cases.append({"name": f"{key}={text}", "key": key, "value": text, "list": lst, "field": field,
                          "bad": value})
    return cases


def test_config_numbers(base_raw, world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def attempt(case):
        raw = copy.deepcopy(base_raw)
        if case["list"]:
            entry = dict(LIST_BASES[case["list"]])
            entry[case["field"]] = case["bad"]
            _set(raw, case["list"], [entry])
        else:
            _set(raw, case["field"], case["bad"])
        build_config(raw, world.iso3, world.tags, world.behaviour, world=world)

    _run_cases("config numbers", number_cases(), attempt, tmp_path)


def test_config_choices_and_types(base_raw, world, tmp_path, monkeypatch):
    """Strings with choices, booleans, selectors, lists and mappings given the wrong kind of value."""
    monkeypatch.chdir(tmp_path)
    cases = []
    for row in policy.lever_table():
        key = row["key"]
        if "[]" in key:
            continue
        if row["choices"]:
            cases.append({"name": f"{key}=bogus", "key": key, "value": "'bogus'", "set": (key, "bogus")})
            cases.append({"name": f"{key}=3", "key": key, "value": "3", "set": (key, 3)})
        elif isinstance(row["default"], bool) or key.endswith(("required", "multi_entry", "enabled", "employer_pays")):
            cases.append({"name": f"{key}='yes'", "key": key, "value": "'yes'", "set": (key, "yes")})
            cases.append({"name": f"{key}=2", "key": key, "value": "2", "set": (key, 2)})
        elif key.endswith("origin") or key.endswith("countries"):
            cases.append({"name": f"{key}=XXX", "key": key, "value": "'XXX'", "set": (key, ["XXX"])})
            cases.append({"name": f"{key}=5", "key": key, "value": "5", "set": (key, 5)})
    for lst in list(LIST_BASES) + ["policy.visa.border_communities", "policy.pathways.regional_mobility"]:
        cases.append({"name": f"{lst}=mapping", "key": lst, "value": None, "set": (lst, {"origin": "MLI"})})
        cases.append({"name": f"{lst}=[5]", "key": f"{lst}[0]", "value": "5", "set": (lst, [5])})
        cases.append({"name": f"{lst}[0].bogus", "key": f"{lst}[0].bogus", "value": "1",
                      "set": (lst, [{**LIST_BASES.get(lst, {}), "bogus": 1}])})
    for lst in LIST_BASES:
        if "origin" in LIST_BASES[lst]:
            cases.append({"name": f"{lst}[0].origin=ZZZ", "key": f"{lst}[0].origin", "value": "ZZZ",
                          "set": (lst, [{**LIST_BASES[lst], "origin": ["ZZZ"]}])})
    for section in ("run", "policy", "policy.visa", "policy.enforcement", "climate"):
        cases.append({"name": f"{section}.bogus", "key": f"{section}.bogus", "value": "1",
                      "set": (f"{section}.bogus", 1)})
        cases.append({"name": f"{section}=5", "key": section, "value": "5", "set": (section, 5)})

    def attempt(case):
        raw = copy.deepcopy(base_raw)
        _set(raw, *case["set"])
        build_config(raw, world.iso3, world.tags, world.behaviour, world=world)

    _run_cases("config choices and types", cases, attempt, tmp_path)


# --- 2. behaviour: every parameter's range ------------------------------------------------------


def test_behaviour_ranges(base_raw, world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = []
    for name, (lo, hi, _) in policy.BEHAVIOUR_RANGES.items():
        step = max(1.0, abs(hi - lo))
        for value, text in ((lo - step, policy._num(lo - step)), (hi + step, policy._num(hi + step)),
                            (float("nan"), "nan"), (float("inf"), "inf"), ("x", "'x'")):
            cases.append({"name": f"behaviour.{name}={text}", "key": f"behaviour.{name}", "value": text,
                          "bad": value, "param": name})
    cases.append({"name": "behaviour.bogus=1", "key": "behaviour.bogus", "value": "1", "bad": 1, "param": "bogus"})
    cases.append({"name": "skill shares sum > 1", "key": "behaviour.skill_share_high", "value": "0.9",
                  "bad": 0.9, "param": "skill_share_high", "also": {"skill_share_mid": 0.5}})
    cases.append({"name": "remit + living > 1", "key": "behaviour.living_cost_share", "value": "0.9",
                  "bad": 0.9, "param": "living_cost_share", "also": {"remit_share": 0.5}})

    def attempt(case):
        raw = copy.deepcopy(base_raw)
        raw["behaviour"] = {case["param"]: case["bad"], **case.get("also", {})}
        build_config(raw, world.iso3, world.tags, world.behaviour, world=world)

    _run_cases("behaviour", cases, attempt, tmp_path)


def test_behaviour_bounds_are_accepted(base_raw, world):
    """The ends of every range are allowed values (the ranges are closed)."""
    for name, (lo, hi, _) in policy.BEHAVIOUR_RANGES.items():
        for v in (lo, hi):
            raw = copy.deepcopy(base_raw)
            raw["behaviour"] = {name: v}
            if name in ("skill_share_mid", "skill_share_high"):
                raw["behaviour"]["skill_share_high" if name == "skill_share_mid" else "skill_share_mid"] = 0.0
            earnings = ("remit_share", "remit_share_contract", "remit_share_family", "remit_share_refugee",
                        "living_cost_share")  # each remit share + living_cost_share <= 1
            if name in earnings:
                raw["behaviour"].update({other: 0.0 for other in earnings if other != name})
            build_config(raw, world.iso3, world.tags, world.behaviour)


def test_every_world_parameter_has_a_range(world):
    assert set(policy.BEHAVIOUR_RANGES) == set(world.behaviour)
    for name, (lo, hi, why) in policy.BEHAVIOUR_RANGES.items():
        assert lo <= world.behaviour[name] <= hi and why, name


# --- 3. composed configs: Hydra syntax, keys, interpolation, cross-key rules --------------------

COMPOSE_CASES = [  # (overrides, key, value text)
    (["run.households=nan"], "run.households", "nan"),
    (["run.months=inf"], "run.months", "inf"),
    (["run.seed=-inf"], "run.seed", "-inf"),
    (["run.replicates=nan"], "run.replicates", "nan"),
    (["run.workers=nan"], "run.workers", "nan"),
    (["climate.shocks=[{origin:MLI,start_month:nan}]"], "climate.shocks[0].start_month", "nan"),
    (["climate.shocks=[{origin:MLI,duration_months:inf}]"], "climate.shocks[0].duration_months", "inf"),
    (["climate.shocks=[{origin:MLI,start_month:200}]", "run.months=24"], "climate.shocks[0].start_month", "200"),
    (["climate.shocks=[{origin:DEU}]"], "climate.shocks[0].origin", "DEU"),
    (["climate.shocks=[{origin:[]}]"], "climate.shocks[0].origin", "[]"),
    (["climate.shocks={origin:MLI}"], "climate.shocks", "origin"),
    (["behaviour.consider_rate=-1"], "behaviour.consider_rate", "-1"),
    (["behaviour.contract_months=0"], "behaviour.contract_months", "0"),
    (["behaviour.nest_dissimilarity=5"], "behaviour.nest_dissimilarity", "5"),
    (["behaviour.overstay_prob=-0.5"], "behaviour.overstay_prob", "-0.5"),
    (["behaviour.deception_prob=5"], "behaviour.deception_prob", "5"),
    (["behaviour.remit_share=3"], "behaviour.remit_share", "3"),
    (["behaviour.retry_rate=-0.1"], "behaviour.retry_rate", "-0.1"),
    (["behaviour.income_sigma=-1"], "behaviour.income_sigma", "-1"),
    (["behaviour.visit_months=0"], "behaviour.visit_months", "0"),
    (["behaviour.nosuch=1"], "behaviour.nosuch", "1"),
    (["run.months=12", "+run.months=5"], "run.months", "5"),
    (["run.months=${nosuch}"], "run.months", "${nosuch}"),
    (["run.households=${oc.env:HOME}"], "run.households", "${oc.env:HOME}"),
    (["meta.description=${oc.env:HOME}"], "meta.description", "${oc.env:HOME}"),
    (["meta.question=${run.months}"], "meta.question", "${run.months}"),
    (["meta.name=${oc.env:USER}"], "meta.name", "${oc.env:USER}"),
    (["world=${oc.env:HOME}"], "world", "${oc.env:HOME}"),
    (["meta.gcm_objectives=[-5,999]"], "meta.gcm_objectives[0]", "-5"),
    (["meta.gcm_objectives=[24]"], "meta.gcm_objectives[0]", "24"),
    (["meta.gcm_objectives=[abc]"], "meta.gcm_objectives[0]", "abc"),
    (["expect.deaths=sideways"], "expect.deaths", "sideways"),
    (["expect.nosuch=up"], "expect.nosuch", "nosuch"),
    (["expect=5"], "expect", "5"),
    (["policy.visa.corridors=[{origin:DEU,destination:FRA,fee_usd:3}]"], "policy.visa.corridors[0].origin", "DEU"),
    (["policy.visa.corridors=[{origin:MLI,destination:MLI,fee_usd:3}]"], "policy.visa.corridors[0].destination",
     "MLI"),
    (["policy.pathways.labour_agreements=[{origin:MLI,destination:NER,annual_quota:5}]"],
     "policy.pathways.labour_agreements[0].destination", "NER"),
    (["policy.remittances.corridors=[{origin:ITA,destination:FRA,cost_pct:3}]"],
     "policy.remittances.corridors[0].origin", "ITA"),
    (["policy.development.origin=[DEU]"], "policy.development.origin", "DEU"),
    (["policy.information.origin=[USA]"], "policy.information.origin", "USA"),
    (["policy.visa.default.fee_usd"], "policy.visa.default.fee_usd", None),
    (["policy.visa.default.fee_usd=[1,2"], "policy.visa.default.fee_usd", "[1,2"),
    (["+policy.visa.default.feee_usd=3"], "feee_usd", "3"),
    (["policy.nosuch=3"], "policy.nosuch", "3"),
    (["nosuch=3"], "nosuch", "3"),
    (["~run.nosuch"], "run.nosuch", None),
    (["run.months=1,2"], "run.months", "1,2"),
    (["hydra.job.name=x"], "hydra.job.name", "x"),
    (["+hydra.callbacks.x._target_=shutil.copyfile"], "hydra.callbacks.x._target_", "shutil.copyfile"),
    (["scenario=nosuch"], "scenario", "nosuch"),
    (["+scenario=baseline"], "scenario", "baseline"),
    (["run.engine=reference", "run.households=300000"], "run.households", "300000"),
    (["world=no/such/world"], "world", "no/such/world"),
    (["run.months=0"], "run.months", "0"),
    (["run.households=2e9"], "run.households", "2000000000"),
    (["run.seed=1.5"], "run.seed", "1.5"),
    (["policy.pathways.labour_agreements=[{origin:MLI,destination:FRA,skill:expert}]"],
     "policy.pathways.labour_agreements[0].skill", "expert"),
]


def test_composed_configs(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = [{"name": " ".join(o), "key": k, "value": v, "overrides": o} for o, k, v in COMPOSE_CASES]

    def attempt(case):
        load_config("baseline", case["overrides"], world=None if any(
            o.startswith("world=") for o in case["overrides"]) else world)

    _run_cases("composed configs", cases, attempt, tmp_path)


# --- 4. world folders ---------------------------------------------------------------------------


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path, rows, fields=None):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields or list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _edit_behaviour(text: str, name: str, new: str | None) -> str:
    out = []
    for line in text.splitlines():
        if line.strip().startswith(f"{name}:"):
            if new is None:
                continue
            line = new
        out.append(line)
    return "\n".join(out) + "\n"


def world_cases():
    cases = []

    def add(name, key, value, edit):
        cases.append({"name": name, "key": key, "value": value, "edit": edit})

    for table, col in (("countries.csv", "population"), ("corridors.csv", "visa_fee_usd"),
                       ("legs.csv", "death_prob")):
        for bad in ("nan", "inf", "-5", "lots", ""):
            add(f"{table} {col}={bad!r}", col, repr(bad),
                lambda d, t=table, c=col, b=bad: _write_rows(d / t, [{**r, c: b} if i == 0 else r
                                                                   for i, r in enumerate(_rows(d / t))]))
        add(f"{table} extra column", "colour", "'colour'",
            lambda d, t=table: _write_rows(d / t, [{**r, "colour": "x"} for r in _rows(d / t)]))
        add(f"{table} empty", table, None, lambda d, t=table: _write_rows(d / t, [], list(_rows(d / t)[0])))
        add(f"{table} missing", table, None, lambda d, t=table: (d / t).unlink())
        add(f"{table} not UTF-8", table, None, lambda d, t=table: (d / t).write_bytes(b"iso3\xff\xfe\n"))
    for bad in ("nan", "-5", "120", "most"):  # an optional figure: blank is allowed, a bad value is not
        add(f"corridors.csv stock_tertiary_pct={bad!r}", "stock_tertiary_pct", repr(bad),
            lambda d, b=bad: _write_rows(d / "corridors.csv", [{**r, "stock_tertiary_pct": b} if i == 0 else r
                                                              for i, r in enumerate(_rows(d / "corridors.csv"))]))
    add("legs self-loop", "to", "'MLI'", lambda d: _write_rows(
        d / "legs.csv", [{**r, "from": "MLI", "to": "MLI"} if i == 0 else r for i, r in enumerate(_rows(d / "legs.csv"))]))
    add("legs duplicate", "to", None, lambda d: _write_rows(d / "legs.csv", _rows(d / "legs.csv")
                                                             + _rows(d / "legs.csv")[:1]))
    add("corridor self-loop", "corridors.csv", None, lambda d: _write_rows(
        d / "corridors.csv", [{**r, "destination": r["origin"]} if i == 0 else r
                              for i, r in enumerate(_rows(d / "corridors.csv"))]))
    add("corridor duplicate", "corridors.csv", None, lambda d: _write_rows(
        d / "corridors.csv", _rows(d / "corridors.csv") + _rows(d / "corridors.csv")[:1]))
    add("country duplicate", "iso3", None, lambda d: _write_rows(
        d / "countries.csv", _rows(d / "countries.csv") + _rows(d / "countries.csv")[:1]))
    add("unknown iso3 in legs", "from", "'ZZZ'", lambda d: _write_rows(
        d / "legs.csv", [{**r, "from": "ZZZ"} if i == 0 else r for i, r in enumerate(_rows(d / "legs.csv"))]))
    add("bad bool", "visa_required", "'maybe'", lambda d: _write_rows(
        d / "corridors.csv", [{**r, "visa_required": "maybe"} if i == 0 else r
                              for i, r in enumerate(_rows(d / "corridors.csv"))]))

    def beh(fn):
        return lambda d: (d / "behaviour.yaml").write_text(fn((d / "behaviour.yaml").read_text(encoding="utf-8")),
                                                           encoding="utf-8")

    for name in ("consider_rate", "contract_months", "b_cost", "asc_labour", "remit_share"):
        add(f"behaviour.yaml missing {name}", f"parameters.{name}", None, beh(lambda t, n=name: _edit_behaviour(t, n, None)))
    for name, value in (("consider_rate", "-0.1"), ("retry_rate", "-1"), ("contract_months", "0"),
                        ("nest_dissimilarity", "0"), ("income_sigma", "-1"), ("deception_prob", "5"),
                        ("visit_months", "0"), ("b_death", "-8")):
        add(f"behaviour.yaml {name}={value}", f"parameters.{name}", value,
            beh(lambda t, n=name, v=value: _edit_behaviour(t, n, f'  {n}: {{value: {v}, source: "x"}}')))
    add("behaviour.yaml unknown parameter", "parameters.bogus_rate", "0.1",
        beh(lambda t: t.replace("parameters:\n", 'parameters:\n  bogus_rate: {value: 0.1, source: "x"}\n', 1)))
    add("behaviour.yaml value is text", "parameters.consider_rate.value", "'lots'",
        beh(lambda t: _edit_behaviour(t, "consider_rate", '  consider_rate: {value: lots, source: "x"}')))
    add("behaviour.yaml no source", "parameters.consider_rate.source", None,
        beh(lambda t: _edit_behaviour(t, "consider_rate", "  consider_rate: {value: 0.01}")))
    add("behaviour.yaml syntax error", "line", None, beh(lambda t: t + "\n  broken: [1, 2\n"))
    add("behaviour.yaml alias bomb", "aliases", None, beh(lambda t: t + "\nbomb:\n" + "".join(
        "  " + line + "\n" for line in BOMB.splitlines())))
    add("behaviour.yaml python tag", "python", None, beh(lambda t: t + "\nx: !!python/object/apply:os.getcwd []\n"))
    add("behaviour.yaml not UTF-8", "UTF-8", None, lambda d: (d / "behaviour.yaml").write_bytes(b"parameters: \xff\n"))
    add("behaviour.yaml a list", "parameters", None, beh(lambda t: "- 1\n- 2\n"))
    add("behaviour.yaml missing", "behaviour.yaml", None, lambda d: (d / "behaviour.yaml").unlink())
    add("member_propensity short", "member_propensity.labour", None,
        beh(lambda t: t.replace("  labour: [0.4, 2.0, 0.3, 1.2, 0.0]", "  labour: [0.4, 2.0]")))
    return cases


def test_world_folders(tmp_path, monkeypatch):
    src = resources.files("gcm_sim") / "data"
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    cases = world_cases()

    def attempt(case):
        d = tmp_path / "world"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(str(src), d)
        case["edit"](d)
        load_world(d)

    _run_cases("world folders", cases, attempt, work)


# --- 5. scenario and study files ----------------------------------------------------------------

FILE_CASES = [  # (name, bytes, key the message names)
    ("python tag", b"a: !!python/object/apply:os.system ['echo hi']\n", "python"),
    ("python name tag", b"a: !!python/name:os.system\n", "python"),
    ("custom tag", b"a: !Secret 3\n", "Secret"),
    ("alias bomb", BOMB.encode(), "aliases"),
    ("recursive alias", b"a: &a [*a]\n", "alias"),
    ("unclosed list", b"policy:\n  visa: [1, 2\n", "line"),
    ("bad indentation", b"a: 1\n  b: 2\n", "line 2"),
    ("tab indentation", b"key:\n\tb: 1\n", "line"),
    ("not UTF-8", b"meta:\n  description: caf\xe9\n", "UTF-8"),
    ("UTF-16", "a: 1\n".encode("utf-16"), "UTF-8"),
    ("two documents", b"a: 1\n---\nb: 2\n", "single document"),
    ("huge", b"a: " + b"x" * (safe_yaml.MAX_BYTES + 10) + b"\n", "too large"),
]


def test_yaml_files(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    cases = [{"name": n, "key": "f.yaml", "value": None, "data": b, "also": k} for n, b, k in FILE_CASES]

    def attempt(case):
        p = tmp_path / "f.yaml"
        p.write_bytes(case["data"])
        try:
            safe_yaml.load_file(p, "f.yaml")
        except safe_yaml.YamlFileError as e:
            assert case["also"].lower() in str(e).lower(), str(e)
            raise

    _run_cases("scenario and study YAML files", cases, attempt, work)


STUDY_OK = {"name": "s", "design": "lhs", "samples": 2, "replicates": 1, "seed": 0,
            "levers": {"policy.enforcement.interception_multiplier": [0.5, 2]},
            "overrides": ["run.households=1000", "run.months=3"]}


def study_cases():
    import yaml

    def with_(**kw):
        d = {**STUDY_OK, **kw}
        return yaml.safe_dump({k: v for k, v in d.items() if v is not ...}).encode()

    return [
        ("target outside gcm_sim", with_(target="os:system"), "study.target", "os:system"),
        ("target shutil", with_(target="shutil:rmtree"), "study.target", "shutil:rmtree"),
        ("target no colon", with_(target="gcm_sim.model"), "study.target", "gcm_sim.model"),
        ("design", with_(design="taguchi"), "study.design", "taguchi"),
        ("samples 0", with_(samples=0), "study.samples", "0"),
        ("samples text", with_(samples="many"), "study.samples", "many"),
        ("replicates nan", with_(replicates=float("nan")), "study.replicates", "nan"),
        ("levers list", with_(levers=["a", "b"]), "study.levers", "a"),
        ("lever bounds reversed", with_(levers={"policy.enforcement.anti_smuggling": [1, 0]}),
         "study.levers.policy.enforcement.anti_smuggling", "[1, 0]"),
        ("lever bounds nan", with_(levers={"policy.enforcement.anti_smuggling": [0, float("nan")]}),
         "study.levers.policy.enforcement.anti_smuggling", "nan"),
        ("lever out of range", with_(levers={"policy.enforcement.anti_smuggling": [0, 5]}),
         "policy.enforcement.anti_smuggling", None),
        ("behaviour lever out of range", with_(levers={"behaviour.consider_rate": [0.5, 3]}),
         "behaviour.consider_rate", None),
        ("overrides mapping", with_(overrides={"run.months": 3}), "study.overrides", "run.months"),
        ("overrides bad value", with_(overrides=["run.households=nan"]), "run.households", "nan"),
        ("unknown key", with_(colour="red"), "study.colour", "red"),
        ("meta interpolation", with_(overrides=["meta.description=${oc.env:HOME}"]), "meta.description",
         "oc.env"),
        ("python tag", b"design: !!python/object/apply:os.getcwd []\n", "python", None),
        ("alias bomb", BOMB.encode(), "aliases", None),
        ("a list", b"- design\n- lhs\n", "expected a mapping", None),
        ("not UTF-8", b"name: caf\xe9\n", "UTF-8", None),
        ("syntax", b"design: [lhs\n", "line", None),
    ]


def test_study_files(tmp_path, monkeypatch):
    from gcm_sim.studies import explore

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    cases = [{"name": n, "key": k, "value": v, "data": b} for n, b, k, v in study_cases()]

    def attempt(case):
        p = tmp_path / "study.yaml"
        p.write_bytes(case["data"])
        explore.load_study(p)

    _run_cases("study files", cases, attempt, work)


def test_scenario_file_content(base_raw, world, tmp_path, monkeypatch):
    """A scenario file's content (safe_yaml, then validation): a mapping where a list goes, etc."""
    monkeypatch.chdir(tmp_path)
    texts = [
        ("shocks as mapping", "climate:\n  shocks: {origin: MLI}\n", "climate.shocks", None),
        ("corridors as text", "policy:\n  visa:\n    corridors: MLI\n", "policy.visa.corridors", "MLI"),
        ("policy as list", "policy: [1, 2]\n", "policy", None),
        ("labour quota text", "policy:\n  pathways:\n    labour_agreements: [{origin: MLI, destination: FRA, "
                              "annual_quota: lots}]\n", "policy.pathways.labour_agreements[0].annual_quota", "lots"),
        ("refusal > 1", "policy:\n  visa:\n    default: {refusal_rate: 3}\n", "policy.visa.default.refusal_rate",
         "3"),
        ("unknown lever", "policy:\n  visa:\n    defualt: {fee_usd: 3}\n", "policy.visa.defualt", None),
        ("nan", "policy:\n  enforcement:\n    anti_smuggling: .nan\n", "policy.enforcement.anti_smuggling", "nan"),
        ("inf", "climate:\n  shocks: [{origin: MLI, start_month: .inf}]\n", "climate.shocks[0].start_month", "inf"),
    ]
    cases = [{"name": n, "key": k, "value": v, "text": t} for n, t, k, v in texts]

    def attempt(case):
        data = safe_yaml.require_mapping(safe_yaml.loads(case["text"], "s.yaml"), "s.yaml")
        raw = copy.deepcopy(base_raw)
        for k, v in data.items():
            if isinstance(v, dict) and isinstance(raw.get(k), dict):
                _merge(raw[k], v)
            else:
                raw[k] = v
        build_config(raw, world.iso3, world.tags, world.behaviour, world=world)

    _run_cases("scenario file content", cases, attempt, tmp_path)


def _merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v


# --- 6. the Python API --------------------------------------------------------------------------


def test_python_api(world, tmp_path, monkeypatch):
    import numpy as np

    import gcm_sim
    from gcm_sim.keywords import apply_keywords, check_model_args, default_config

    monkeypatch.chdir(tmp_path)
    cfg = default_config(world)
    calls = [
        ("load_config(overrides=5)", "overrides", "5", lambda: gcm_sim.load_config(overrides=5)),
        ("load_config(overrides=[5])", "overrides", "5", lambda: gcm_sim.load_config(overrides=[5])),
        ("load_config(scenario=3)", "scenario", "3", lambda: gcm_sim.load_config(scenario=3)),
        ("load_config(world=5)", "world", "int", lambda: gcm_sim.load_config(world=5)),
        ("run('x')", "cfg", "'x'", lambda: gcm_sim.run("x")),
        ("run(None)", "cfg", "NoneType", lambda: gcm_sim.run(None)),
        ("run(cfg, world=3)", "world", "int", lambda: gcm_sim.run(cfg, world=3)),
        ("compare('x')", "cfg", "'x'", lambda: gcm_sim.compare("x", scenarios=["baseline"])),
        ("compare(scenarios='x')", "scenarios", "'x'", lambda: gcm_sim.compare(cfg, scenarios="x")),
        ("compare(overrides=5)", "overrides", "5", lambda: gcm_sim.compare(cfg, ["baseline"], overrides=5)),
        ("MigrationModel('notacfg')", "cfg", "notacfg", lambda: check_model_args("notacfg")),
        ("MigrationModel(rng=-1)", "rng", "-1", lambda: check_model_args(None, rng=-1)),
        ("MigrationModel(rng='abc')", "rng", "'abc'", lambda: check_model_args(None, rng="abc")),
        ("MigrationModel(rng=nan)", "rng", "nan", lambda: check_model_args(None, rng=float("nan"))),
        ("MigrationModel(rng=2**64)", "rng", str(2**64), lambda: check_model_args(None, rng=2**64)),
        ("MigrationModel(replicate=-1)", "replicate", "-1", lambda: check_model_args(None, replicate=-1)),
        ("MigrationModel(world=5)", "world", "int", lambda: check_model_args(None, world=5)),
        ("households=nan", "households", "nan", lambda: apply_keywords(cfg, world, {"households": float("nan")})),
        ("months=inf", "months", "inf", lambda: apply_keywords(cfg, world, {"months": float("inf")})),
        ("visa_fee_usd=-1", "visa_fee_usd", "-1", lambda: apply_keywords(cfg, world, {"visa_fee_usd": -1})),
        ("engine='turbo'", "engine", "turbo", lambda: apply_keywords(cfg, world, {"engine": "turbo"})),
        ("unknown keyword", "colour", "'red'", lambda: apply_keywords(cfg, world, {"colour": "red"})),
        ("climate_start_month=nan", "climate_start_month", "nan",
         lambda: apply_keywords(cfg, world, {"climate_origin": "MLI", "climate_start_month": float("nan")})),
        ("replace(run=bad)", "run.months", "-3",
         lambda: cfg.replace(run=dataclasses.replace(cfg.run, months=-3))),
        ("replace(run=nan households)", "run.households", "nan",
         lambda: cfg.replace(run=dataclasses.replace(cfg.run, households=float("nan")))),
        ("replace(behaviour=bad)", "behaviour.consider_rate", "5",
         lambda: cfg.replace(behaviour={**cfg.behaviour, "consider_rate": 5})),
        ("replace(nosuch=1)", "nosuch", "1", lambda: cfg.replace(nosuch=1)),
        ("replace(world=5)", "world", "5", lambda: cfg.replace(world=5)),
        ("replace(climate=shock after horizon)", "climate.shocks[0].start_month", "500",
         lambda: cfg.replace(climate=dataclasses.replace(cfg.climate, shocks=(
             policy.ClimateShock(origin=("MLI",), start_month=500),)))),
        ("build_config('x')", "config", "str", lambda: build_config("x", world.iso3, world.tags, world.behaviour)),
    ]
    del np
    cases = [{"name": n, "key": k, "value": v, "call": c} for n, k, v, c in calls]
    _run_cases("Python API", cases, lambda case: case["call"](), tmp_path)


# --- 7. commands, in-process through gcm_sim.edges.cli.main ----------------------------------------

CLI_CASES = [  # (argv, key, value text)
    (["run", "run.households=nan"], "run.households", "nan"),
    (["run", "run.months=inf", "run.households=1000"], "run.months", "inf"),
    (["run", "behaviour.consider_rate=2"], "behaviour.consider_rate", "2"),
    (["run", "meta.description=${oc.env:HOME}"], "meta.description", "oc.env"),
    (["run", "expect.deaths=up", "expect.nosuch=down"], "expect.nosuch", "nosuch"),
    (["run", "meta.gcm_objectives=[-5,999]"], "meta.gcm_objectives[0]", "-5"),
    (["run", "hydra.run.dir="], "hydra.run.dir", "''"),
    (["run", "hydra.job.chdir=true"], "hydra.job.chdir", "true"),
    (["compare", "visa_liberalisation", "run.households=nan"], "run.households", "nan"),
    (["compare", "nosuch"], "scenario", "nosuch"),
    (["compare", "visa_liberalisation", "climate.shocks=[{origin:MLI,duration_months:inf}]"],
     "climate.shocks[0].duration_months", "inf"),
    (["sweep", "-m", "run.seed=1,1"], "run.seed", "1,1"),
    (["sweep", "-m", "run.seed=1,2", "hydra.launcher.n_jobs=abc"], "hydra.launcher.n_jobs", "abc"),
    (["sweep", "-m", "run.seed=1,2", "hydra/launcher=nope"], "hydra/launcher", "nope"),
    (["sweep", "-m", "run.seed=1,2", "+hydra.callbacks.x._target_=shutil.copyfile",
      "+hydra.callbacks.x.src=README.md", "+hydra.callbacks.x.dst=copied.md"], "hydra.callbacks.x._target_",
     "shutil.copyfile"),
    (["sweep", "-m", "run.seed=1,2", "hydra.launcher._target_=os.system"], "hydra.launcher._target_", "os.system"),
    (["sweep", "-m", "run.seed=1,2", "hydra.job_logging.root.level=DEBUG"], "hydra.job_logging.root.level",
     "DEBUG"),
    (["sweep", "-m", "run.seed=1,2", "hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs", "0"),
    (["sweep", "-m", "run.seed=1,2", "hydra.launcher.n_jobs=${oc.env:HOME}"], "hydra.launcher.n_jobs", "oc.env"),
    (["sweep", "-m", "run.households=nan,1000"], "run.households", "nan"),
    (["sweep", "-m", "behaviour.contract_months=0,12"], "behaviour.contract_months", "0"),
    (["explore", "study=nosuch.yaml"], "study", "nosuch.yaml"),
    (["explore", "study=x.yaml", "executor=threads"], "executor", "threads"),
    (["explore", "study=x.yaml", "executor.workers=abc"], "executor.workers", "abc"),
    (["explore", "study=x.yaml", "allow_target=maybe"], "allow_target", "maybe"),
    (["run", "run.households=1000", "run.months=3", "run.replicates=2", "hydra.run.dir=${oc.env:HOME}/x"],
     "hydra.run.dir", "oc.env"),
]


def test_commands_in_process(tmp_path, monkeypatch, capsys):
    from gcm_sim.edges import cli

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    problems = []
    for argv, key, value in CLI_CASES:
        code = cli.main(argv)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        if code != 2:
            problems.append(f"{argv}: exit {code}: {err[-300:]}")
        elif len(lines) != 1 or not lines[0].startswith("gcm-sim: error:"):
            problems.append(f"{argv}: not one error line: {err[-300:]}")
        else:
            bad = _one_line_ok(lines[0], key, value)
            if bad:
                problems.append(f"{argv}: {bad}")
        if os.listdir(work):
            problems.append(f"{argv}: wrote {os.listdir(work)}")
            shutil.rmtree(work)
            work.mkdir()
    n = len(CLI_CASES)
    COUNTS["commands (in-process)"] = (n, n - len(problems))
    print(f"bad inputs: commands (in-process): {n} tried, {n - len(problems)} handled")
    assert not problems, "\n".join(problems)


def test_total_count():
    """Runs last in this file: the categories above tried at least 300 bad inputs, all handled."""
    if len(COUNTS) < 8:
        pytest.skip("run the whole file to count every category")
    tried = sum(t for t, _ in COUNTS.values())
    handled = sum(h for _, h in COUNTS.values())
    for name, (t, h) in COUNTS.items():
        print(f"bad inputs: {name:32s} {t:4d} tried {h:4d} handled")
    print(f"bad inputs: {'total':32s} {tried:4d} tried {handled:4d} handled")
    assert tried >= 300 and handled == tried


# --- 8. the lever schema, by hypothesis --------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SCALAR_LEVERS = [(k, lo, hi, is_int) for k, lst, _, lo, hi, is_int in numeric_levers() if lst is None]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lever=st.sampled_from(SCALAR_LEVERS),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                       st.text(max_size=5), st.booleans(), st.none()))
def test_lever_schema_accepts_exactly_the_allowed_values(base_raw, world, lever, value):
    """Any value for any lever: built with that value when it is allowed, else a ConfigError naming the key."""
    key, lo, hi, is_int = lever
    raw = copy.deepcopy(base_raw)
    _set(raw, key, value)
    optional = policy._is_optional(typing.get_type_hints(_owner(key))[key.rsplit(".", 1)[1]])[0]
    allowed = (value is None and optional) or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        and (lo is None or value >= lo) and (hi is None or value <= hi)
        and (not is_int or float(value).is_integer()))
    if key == "run.households" and allowed and raw["run"]["engine"] == "reference":
        allowed = value <= 200_000
    if key in ("policy.timing.start_month", "policy.regularisation.month") and allowed and value is not None:
        allowed = value <= raw["run"]["months"]  # a policy cannot start after the last month
    try:
        cfg = build_config(raw, world.iso3, world.tags, world.behaviour, world=world)
    except ConfigError as e:
        assert not allowed, f"{key}={value!r} refused: {e}"
        assert e.key == key and "\n" not in str(e)
        return
    assert allowed, f"{key}={value!r} accepted"
    got = cfg
    for part in key.split("."):
        got = getattr(got, part)
    assert got == value or (got is None and value is None)


def _owner(key: str):
    cls = policy.Config
    for part in key.split(".")[:-1]:
        cls = policy._is_optional(typing.get_type_hints(cls)[part])[1]
    return cls
