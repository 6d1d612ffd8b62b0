"""Compose a run's configuration with Hydra and validate it into a frozen :class:`Config`.

Why this module exists: Hydra composes the config tree (primary config, then the
selected scenario file, then command-line overrides) and :func:`gcm_sim.policy.build_config`
validates the result. Between the two sit the rules a user would otherwise trip
over: a scenario name must name a file in ``conf/scenario/``; every error, whether
Hydra's own (bad override syntax, unknown key without ``+``) or ours (bad value,
unknown country), becomes one :class:`ConfigError` naming the key, the bad value and
what is allowed, before any work starts.

Scenario files are ``# @package _global_`` and describe themselves under ``meta:``
(``scenario`` is the config-group name, so it cannot also be a value key); the
loader maps ``meta`` onto ``Config.scenario`` and sets ``meta.name`` to the chosen
scenario unless an override sets it.

Hydra keeps its state in a process-wide singleton, so :func:`load_config` saves and
restores it around each composition (it can be called repeatedly, and from inside a
Hydra app), but it is not thread-safe.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, OverrideParseException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gcm_sim import policy
from gcm_sim.policy import Config, ConfigError

CONF_MODULE = "gcm_sim.conf"
SCENARIO_GROUP = "scenario"  # the folder conf/scenario/ (repository alias: scenarios/)
META_KEY = "meta"  # where scenario files describe themselves; becomes Config.scenario
TOP_LEVEL_KEYS = ("run", "policy", "climate", "behaviour", "world", META_KEY, "expect")


def list_scenarios() -> list[str]:
    """Names of the scenario files shipped in ``gcm_sim/conf/scenario/``, sorted."""
    folder = resources.files(CONF_MODULE) / SCENARIO_GROUP
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_config(scenario: str = "baseline", overrides: Sequence[str] = (), world=None) -> Config:
    """Compose ``scenario`` plus Hydra-syntax ``overrides`` and validate against the world.

    A ``scenario=NAME`` among ``overrides`` wins over the ``scenario`` argument (it is
    the command line). ``world`` is a loaded :class:`gcm_sim.world.World` to validate
    country codes, tags and behaviour names against; when ``None`` the world named by
    the config's ``world`` key (or the embedded one) is loaded, and a malformed world
    raises :class:`gcm_sim.world.WorldDataError`.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    if not isinstance(scenario, str):
        raise ConfigError("scenario", scenario, "a scenario name (a string); known scenarios: "
                          + ", ".join(list_scenarios()))
    if not isinstance(overrides, Sequence) or isinstance(overrides, bytes):
        raise ConfigError("overrides", overrides, "a list of strings such as ['run.months=24']")
    if world is not None and not all(hasattr(world, a) for a in ("iso3", "tags", "behaviour", "select")):
        raise ConfigError("world", type(world).__name__, "a gcm_sim.World (gcm_sim.load_world()) or None")
    parsed = [_parse(text) for text in overrides]
    scenario, rest = _pick_scenario(scenario, parsed)
    texts = [_hydra_text(text, ov) for text, ov in rest]
    if is_scenario_file(scenario):
        return _load_file_scenario(str(scenario), texts, rest, world)
    known = list_scenarios()
    if not isinstance(scenario, str) or scenario not in known:
        raise ConfigError("scenario", scenario, f"known scenarios: {', '.join(known)}, "
                                                "or the path of a scenario file (FILE.yaml)")
    raw = _compose([f"{SCENARIO_GROUP}={scenario}", *texts], dict(rest))
    if not any(ov.key_or_group == f"{META_KEY}.name" for _, ov in rest):
        meta = raw.get(META_KEY)
        if isinstance(meta, dict):
            meta["name"] = scenario
    return _validate(raw, world)


# --- a user's scenario file -----------------------------------------------------------

FILE_OPTION = "user_scenario_file"  # the group option a user's file is composed as


def is_scenario_file(spec) -> bool:
    """Whether a scenario argument is a path to a file (ends in .yaml/.yml or has a folder)
    rather than a shipped scenario's name."""
    return isinstance(spec, (str, Path)) and (str(spec).endswith((".yaml", ".yml")) or "/" in str(spec)
                                              or "\\" in str(spec))


def read_scenario_file(path: str | Path) -> tuple[str, dict]:
    """Read a user's scenario file: the only place one is parsed (:mod:`gcm_sim.safe_yaml`:
    size and alias limits, no tags).

    Returns ``(name, data)``: ``name`` is ``meta.name`` when the file sets it, else the
    file's stem. Same schema as the shipped files (top-level ``meta``, ``policy``,
    ``climate``, ``behaviour``, ``expect``; the ``# @package _global_`` line is optional).
    Errors name the file and the key.
    """
    from gcm_sim import safe_yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError("scenario", str(path), "no such scenario file" + (
            "" if p.suffix in (".yaml", ".yml") else "; shipped scenarios are named without a path"))
    data = safe_yaml.load_file(p)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}", type(data).__name__, "a scenario file is a mapping of keys (meta:, policy:, ...)")
    allowed = [k for k in TOP_LEVEL_KEYS if k != "run"]
    for key in data:
        if key not in allowed:
            hint = ("run settings belong on the command line (run.households=...)" if key == "run"
                    else f"allowed top-level keys in a scenario file: {', '.join(allowed)}")
            raise ConfigError(f"{p}: {key}", data[key], f"unknown key; {hint}")
    meta = data.get(META_KEY)
    if meta is not None and not isinstance(meta, dict):
        raise ConfigError(f"{p}: {META_KEY}", meta, "a mapping (description, question, gcm_objectives, title)")
    name = (meta or {}).get("name") or p.stem
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise ConfigError(f"{p}: {META_KEY}.name", name, "letters, digits, _ and - only")
    return name, data


def _load_file_scenario(path: str, texts: list[str], rest: list, world) -> Config:
    """Compose config.yaml, then the user's file (as an option of the scenario group, from a
    temporary search path), then the overrides: the same precedence as a shipped scenario."""
    import tempfile

    import yaml

    name, data = read_scenario_file(path)
    data = dict(data)
    meta = dict(data.get(META_KEY) or {})
    meta["name"] = name
    data[META_KEY] = meta
    with tempfile.TemporaryDirectory(prefix="gcm-sim-scenario-") as tmp:
        folder = Path(tmp) / SCENARIO_GROUP
        folder.mkdir()
        (folder / f"{FILE_OPTION}.yaml").write_text(
            "# @package _global_\n" + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        try:
            raw = _compose([f"hydra.searchpath=[file://{Path(tmp).as_posix()}]", f"{SCENARIO_GROUP}={FILE_OPTION}",
                            *texts], dict(rest))
            return _validate(raw, world)
        except ConfigError as e:
            if _in_file(e.key, data):  # the file set this key (an override of it would be named as itself)
                raise ConfigError(f"{Path(path)}: {e.key}", e.value, e.allowed) from None
            raise


def _in_file(key: str, data: dict) -> bool:
    """Whether a dotted key (``policy.visa.corridors[0].origin``) starts at a key the file sets."""
    first, *more = re.split(r"[.\[]", key, maxsplit=2)
    if first not in data:
        return False
    node = data[first]
    second = more[0].rstrip("]") if more else None
    return second is None or not isinstance(node, dict) or second in node or second.isdigit()


# --- overrides ------------------------------------------------------------------------


def _parse(text: str):
    """One override string -> Hydra ``Override``; syntax errors name the key."""
    if not isinstance(text, str):
        raise ConfigError("overrides", text, "each override is a string such as run.months=24")
    try:
        (ov,) = OverridesParser.create().parse_overrides([text])
    except OverrideParseException as e:
        key, _, value = text.lstrip("+~").partition("=")
        hint = str(e).splitlines()
        hint = hint[1] if len(hint) > 1 and hint[0].startswith("Error parsing") else hint[0]
        raise ConfigError(key or text, value if "=" in text else text,
                          f"not a valid override ({hint}); write KEY=VALUE, lists as [a,b], "
                          "mappings as {k:v}, and quote the whole argument in the shell") from None
    if ov.key_or_group.split(".")[0] == "hydra":
        raise ConfigError(ov.key_or_group, _value_of(ov),
                          "hydra.* settings are not config values; the command line accepts hydra.run.dir=DIR")
    if ov.is_sweep_override():
        raise ConfigError(ov.key_or_group, _value_of(ov),
                          "one value per key here; sweeps (a,b,c or range()) belong to `gcm-sim sweep -m`")
    return text, ov


def _value_of(ov) -> Any:
    """The override's value as the user wrote it (for messages)."""
    return ov.input_line.partition("=")[2] if ov.input_line else None


def _is_plain(ov) -> bool:
    """KEY=VALUE, without +, ++ or ~."""
    return not (ov.is_add() or ov.is_force_add() or ov.is_delete())


def _pick_scenario(default: str, parsed: list) -> tuple[str, list]:
    """Take ``scenario=NAME`` out of the overrides (the last one wins over ``default``)."""
    scenario, rest = default, []
    for text, ov in parsed:
        if ov.key_or_group == SCENARIO_GROUP:
            if _is_plain(ov) is False or ov.value() is None:
                raise ConfigError("scenario", _value_of(ov), "write scenario=NAME (no + or ~)")
            scenario = ov.value()
        else:
            rest.append((text, ov))
    return scenario, rest


def _hydra_text(text: str, ov) -> str:
    """``behaviour.NAME=V`` sets a parameter the world defines, so add-or-override it.

    ``behaviour`` is empty in config.yaml (the world data holds the defaults), so
    Hydra would demand ``+``; validation then rejects names the world lacks.
    """
    if ov.key_or_group.startswith(OPEN_GROUPS) and _is_plain(ov):
        return "++" + text
    return text


# groups that are empty in config.yaml and take names validated later: behaviour (the
# world's parameters) and expect (indicator names)
OPEN_GROUPS = ("behaviour.", "expect.")


# --- composition ----------------------------------------------------------------------


def _compose(overrides: list[str], by_text: dict) -> dict:
    """Run Hydra's compose API and return the resolved plain config."""
    backup = get_gh_backup() if GlobalHydra.instance().is_initialized() else None
    if backup is not None:  # called from inside a Hydra app: step aside, then restore
        GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONF_MODULE, version_base=None):
            cfg = compose(config_name="config", overrides=overrides)
            _check_interpolations(cfg, by_text)
            raw = OmegaConf.to_container(cfg, resolve=True)
    except HydraException as e:
        raise _hydra_error(e, by_text) from None
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "config"
        raise ConfigError(key, _override_value(key, by_text), _first_line(e)) from None
    finally:
        if backup is not None:
            restore_gh_from_backup(backup)
    raw.pop("hydra", None)
    return raw


_RESOLVER = re.compile(r"\$\{\s*[A-Za-z_][\w.]*\s*:")


def _check_interpolations(cfg, by_text: dict) -> None:
    """Refuse resolvers anywhere and interpolations in ``meta`` before anything is resolved.

    ``${oc.env:HOME}`` or any other resolver in a value would run code or read the
    environment and write the result into the outputs; ``meta.*`` is text shown in
    reports, written as given. Plain references between config keys (``${run.months}``)
    stay allowed outside ``meta``.
    """
    def walk(node, path):
        items = node.items_ex(resolve=False) if OmegaConf.is_dict(node) else enumerate(node)
        for k, _ in items:
            key = f"{path}.{k}" if path and OmegaConf.is_dict(node) else (f"{path}[{k}]" if path else str(k))
            if OmegaConf.is_interpolation(node, k):
                text = OmegaConf.to_container(node, resolve=False)[k]
                if key.startswith(META_KEY + ".") or key.startswith(META_KEY + "["):
                    raise ConfigError(key, text, "meta.* is text written as given: no ${...} interpolation")
                if _RESOLVER.search(str(text)):
                    raise ConfigError(key, text, "resolvers (${name:...}, e.g. oc.env) are not evaluated in "
                                      "config values; write the value itself")
                continue
            child = node._get_node(k)
            if OmegaConf.is_config(child):
                walk(child, key)

    for top in TOP_LEVEL_KEYS:
        if top in cfg and OmegaConf.is_config(cfg._get_node(top)):
            walk(cfg._get_node(top), top)
        elif top in cfg and OmegaConf.is_interpolation(cfg, top):
            text = OmegaConf.to_container(cfg, resolve=False)[top]
            if top == META_KEY or _RESOLVER.search(str(text)):
                raise ConfigError(top, text, "resolvers (${name:...}) are not evaluated in config values")


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _override_value(key: str, by_text: dict, added: bool = False) -> Any:
    """The value the user gave ``key`` (the last one, or with ``added`` the last ``+KEY=``);
    for a key that no override names, the override that refers to it (an interpolation)."""
    found = None
    for ov in by_text.values():
        if ov.key_or_group == key and (not added or ov.is_add()):
            found = _value_of(ov)
    if found is None and not added:
        for ov in by_text.values():
            if "${" in (ov.input_line or "") and key.split(".")[-1] in ov.input_line:
                found = _value_of(ov)
    return found


def _hydra_error(e: HydraException, by_text: dict) -> ConfigError:
    """Turn a Hydra composition error into a ConfigError naming the override's key."""
    msg = str(e)
    m = re.search(r"Could not override '([^']+)'", msg)
    if m:
        key = m.group(1)
        return ConfigError(key, _override_value(key, by_text), f"unknown key; {_allowed_here(key)}")
    m = re.search(r"An item is already at '([^']+)'", msg)
    if m:
        key = m.group(1)
        return ConfigError(key, _override_value(key, by_text, added=True),
                           f"the key exists: set it with {key}=VALUE (without +)")
    m = re.search(r"Could not delete from config. '([^']+)'", msg)
    if m:
        key = m.group(1)
        return ConfigError(key, None, f"cannot delete a key that does not exist; {_allowed_here(key)}")
    m = re.search(r"Error merging override ([^=\s]+)=", msg)
    if m:  # the reason is OmegaConf's, in the cause (list index out of range, dict vs list, ...)
        key = m.group(1)
        reason = _first_line(e.__cause__) if e.__cause__ is not None else _first_line(e)
        return ConfigError(key, _override_value(key, by_text),
                           f"cannot set this key ({reason}); set the whole list or mapping instead")
    return ConfigError("overrides", [ov.input_line for ov in by_text.values()], _first_line(e))


def _allowed_here(key: str) -> str:
    """What keys exist beside ``key`` in the schema (for 'unknown key' messages)."""
    parts = key.split(".")
    if len(parts) == 1:
        return f"allowed top-level keys: {', '.join(TOP_LEVEL_KEYS)}"
    cls: Any = Config
    for i, name in enumerate(parts[:-1]):
        if i == 0 and name == META_KEY:
            name = "scenario"
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if name not in fields:
            return f"{'.'.join(parts[:i + 1])} is not a known key"
        _, tp = policy._is_optional(typing.get_type_hints(cls)[name])
        if not dataclasses.is_dataclass(tp):
            return f"{'.'.join(parts[:i + 1])} is a value, not a group of keys"
        cls = tp
    return f"allowed keys in {'.'.join(parts[:-1])}: {', '.join(f.name for f in dataclasses.fields(cls))}"


# --- validation -----------------------------------------------------------------------


def _validate(raw: dict, world) -> Config:
    """Map ``meta`` onto ``scenario``, resolve the world and run policy.build_config."""
    unknown = [k for k in raw if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigError(unknown[0], raw[unknown[0]], f"unknown key; {_allowed_here(unknown[0])}")
    raw = dict(raw)
    expect = raw.get("expect")
    if isinstance(expect, dict):
        from gcm_sim.measures import INDICATORS  # late: measures pulls in NumPy

        for name, direction in expect.items():
            if name not in INDICATORS:
                raise ConfigError(f"expect.{name}", direction,
                                  f"unknown indicator; indicators: {', '.join(INDICATORS)}")
    raw["scenario"] = raw.pop(META_KEY, None)
    path = raw.get("world")
    if path is not None:
        if not isinstance(path, str) or not path.strip():
            raise ConfigError("world", path, "a folder holding countries.csv, corridors.csv, legs.csv "
                                             "and behaviour.yaml, or null for the embedded world")
        raw["world"] = str(Path(path).expanduser().resolve())  # the saved config must not depend on the CWD
    if world is None:
        from gcm_sim.world import load_world  # the world module pulls in networkx/pandas: import late

        world = load_world(raw["world"]) if raw.get("world") else load_world()
    try:
        return policy.build_config(raw, world.iso3, world.tags, world.behaviour, world=world)
    except ConfigError as e:
        if e.key == "scenario" or e.key.startswith("scenario."):
            raise ConfigError(META_KEY + e.key[len("scenario"):], e.value, e.allowed) from None
        raise
