"""What a scenario changes: its settings against baseline, and corridors its selectors create.

Why: a scenario file is short, but what it does depends on the world data. A labour
agreement from SEN to the tag ``eu`` opens a regular corridor to every EU member,
including ones with no corridor row in ``corridors.csv`` (no diaspora, no fees or
visa data of their own: the model gives them the table's medians). That is easy to
miss, so :func:`new_corridors` lists such pairs, and the command line and the report
name them. :func:`changes` lists every setting that differs from baseline
(``gcm-sim show``).
"""

from __future__ import annotations

from gcm_sim import policy
from gcm_sim.policy import Config

# Lists of entries whose selectors open a regular corridor where the world has none
# (gcm_sim/corridors.py: they set ``exists``).
CORRIDOR_MAKERS = ("policy.pathways.labour_agreements", "policy.pathways.skills_partnerships",
                   "policy.pathways.humanitarian", "policy.pathways.seasonal", "policy.visa.border_communities")


def _entries(cfg: Config, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part if part != "scenario" else "scenario")
    return node


def new_corridors(cfg: Config, world) -> list[dict]:
    """Corridors (origin, destination) a scenario's selectors open that the world data lacks.

    One row per lever entry and pair: ``{"key", "origin", "destination"}`` where ``key``
    is the entry, e.g. ``policy.pathways.labour_agreements[0]``.
    """
    have = set(zip(world.corridors["origin"], world.corridors["destination"]))
    out = []
    for key in CORRIDOR_MAKERS:
        for i, e in enumerate(_entries(cfg, key)):
            for o in sorted(world.select(e.origin)):
                for d in sorted(world.select(e.destination)):
                    if o != d and (o, d) not in have and not world.same_free_movement_bloc(o, d):
                        out.append({"key": f"{key}[{i}]", "origin": o, "destination": d})
    return out


def new_corridors_text(rows: list[dict]) -> str:
    """One sentence naming the corridors a scenario creates ('' when none)."""
    if not rows:
        return ""
    by_key: dict[str, list[str]] = {}
    for r in rows:
        by_key.setdefault(r["key"], []).append(f"{r['origin']}-{r['destination']}")
    parts = [f"{k} creates {', '.join(v)}" for k, v in by_key.items()]
    return ("corridors absent from the world data (corridors.csv), opened by a selector: " + "; ".join(parts)
            + ". They start with no diaspora and the table's median fees and visa rules.")


def _flat(d, prefix=""):
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def changes(cfg: Config, base: Config) -> list[tuple[str, object, object]]:
    """Every leaf setting where ``cfg`` differs from ``base``: ``(key, baseline value, value)``,
    leaving out the scenario's description (``meta``) and expectations."""
    a, b = _flat(policy.to_dict(base)), _flat(policy.to_dict(cfg))
    keys = [k for k in dict.fromkeys([*a, *b]) if not k.startswith(("scenario.", "expect."))]
    return [(k, compact(a.get(k)), compact(b.get(k))) for k in keys if a.get(k) != b.get(k)]


def compact(v):
    """A setting's value without its unset (null) fields, for reading: list entries keep only
    what they set."""
    if isinstance(v, dict):
        return {k: compact(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [compact(x) for x in v]
    return v


def plain(v) -> str:
    """A setting's value for reading: ``null (world data)`` for unset, lists and mappings in
    YAML's one-line style (``[{origin: [SEN], destination: [eu], multi_entry: true}]``)."""
    import yaml

    if v is None:
        return "null (world data)"
    if isinstance(v, (list, dict)):
        return yaml.safe_dump(v, default_flow_style=True, sort_keys=False, width=10_000).strip()
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip() \
        if isinstance(v, bool) else str(v)


# Corridor rules shown by `gcm-sim show`, in words (gcm_sim.corridors.CorridorRules fields)
CORRIDOR_FIELDS = {"exists": "regular corridor", "regional": "free movement", "visa_required": "visa required",
                   "visa_fee_usd": "visa fee (USD)", "refusal_rate": "visa refusal rate",
                   "processing_months": "visa processing (months)", "multi_entry": "multi-entry visa",
                   "remittance_cost_pct": "remittance cost (%)", "recruitment_fee_usd": "recruitment fee (USD)",
                   "labour_quota_year": "labour places a year", "skills_quota_year": "skills-partnership places a year",
                   "family_quota_year": "family places a year", "humanitarian_quota_year": "humanitarian places a year",
                   "travel_cost_usd": "travel cost (USD)", "group_protection": "temporary protection on arrival"}


def corridor_changes(cfg: Config, base: Config, world) -> list[tuple[str, str, object, object]]:
    """What a scenario changes on each corridor at full effect: ``(corridor, rule, baseline, scenario)``,
    e.g. ``("SEN-FRA", "remittance cost (%)", 7.4, 3.0)``, from the resolved corridor rules of both
    configs (the world data with the levers applied; gcm_sim/corridors.py). Only pairs that
    are, or become, a regular corridor or an irregular route's end points are listed."""
    import numpy as np

    from gcm_sim.corridors import resolve

    a, b = resolve(world, base), resolve(world, cfg)
    used = a.exists | b.exists | a.regional | b.regional
    for r in world.routes:
        used[world.index[r.origin], world.index[r.destination]] = True
    out = []
    for name, label in CORRIDOR_FIELDS.items():
        x, y = getattr(a, name), getattr(b, name)
        for o, d in np.argwhere((x != y) & used):
            out.append((f"{world.codes[o]}-{world.codes[d]}", label, _number(x[o, d]), _number(y[o, d])))
    skill = ("low", "mid", "high")
    for k in range(a.labour_skill_quota_year.shape[0]):
        x, y = a.labour_skill_quota_year[k], b.labour_skill_quota_year[k]
        for o, d in np.argwhere((x != y) & used):
            out.append((f"{world.codes[o]}-{world.codes[d]}", f"labour places a year ({skill[k]} skill)",
                        _number(x[o, d]), _number(y[o, d])))
    return sorted(out)


def _number(v):
    import numpy as np

    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    v = float(v)
    return int(v) if v.is_integer() else round(v, 3)
