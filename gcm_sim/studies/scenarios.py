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
