"""Documents and recognition: the rates that inclusion levers change, computed once.

Reads cfg.policy.inclusion.local_id and cfg.policy.pathways.skills_recognition;
writes the model's own copy of the behavioural parameters: ``irregular_id_share``
(migrants without status who hold an identity document; formal remittance channels
need one, GCM objective 4) and ``skill_recognition`` (the chance a regular
migrant's skills count abroad, GCM objective 18). Each lever closes its share of the
gap to 1 (ASSUMPTION: full implementation documents everyone / recognises every
skill; docs/levers.md).
"""

from __future__ import annotations


def lift(share: float, x: float) -> float:
    """Close ``x`` of the gap between ``share`` and 1."""
    return share + x * (1.0 - share)


def setup(b: dict, policy) -> None:
    b["irregular_id_share"] = lift(b["irregular_id_share"], policy.inclusion.local_id)
    b["skill_recognition"] = lift(b["skill_recognition"], policy.pathways.skills_recognition)
