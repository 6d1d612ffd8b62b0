"""What the parts of a run split over shards must tell each other, and how their parts combine.

A run can hold its households on several shards (``run.shards``; blocks of origin households
per shard, :func:`gcm_sim.studies.shards.partition`), each a :class:`gcm_sim.model.MigrationModel`
built for its blocks only. Almost everything a household or migrant does depends on its own
origin's state and on figures every shard holds alike (the world, the policy, beliefs and
prices), and every random number is keyed to the entity that draws it
(:mod:`gcm_sim.draws`), so a shard computes its rows exactly as one process would. Three
things couple origins:

- what households hear about the irregular legs (attempts, interceptions, deaths, retries,
  claims at the border: :func:`gcm_sim.mechanisms.beliefs.leg_counts`), summed over every
  origin each month before beliefs and smugglers' prices follow them;
- the asylum queue of each destination, which decides the oldest claims of every origin up
  to the authority's capacity (:meth:`gcm_sim.agents.border.BorderAuthority.queue_head`);
- two development levers that target the poorer half or the poorest households of all
  origins (:func:`gcm_sim.mechanisms.income.setup`).

An origin with more simulated households than ``run.block_households`` is drawn in blocks
(:func:`gcm_sim.population.origin_units`), and a shard may hold some blocks of an origin only.
Then what sums over an origin's households is exchanged as well (:func:`shared`, yielding only
when the run splits some origin): each quota's queue of applicants and its expected demand
(:func:`gcm_sim.mechanisms.placement.ration_queues`), the diaspora and the people at home
behind network ties (:mod:`gcm_sim.mechanisms.networks`) and the low-skill people home-track
training draws from (:func:`gcm_sim.mechanisms.income.train_home_track`). Queues are merged
by the keys one process sorts by, so which applicants are admitted is the same; the sums of
an origin split over shards add partial sums, equal to one process's to float-summation
tolerance (about 1e-16 relative).

Where the model needs one of them it yields an :class:`Exchange`: its own part and the
function that combines the parts of every shard. :func:`run_local` answers with the model's
own part (one process); the sharded driver gathers the part of every shard, combines them
and sends each shard the same answer. Combining is exact: counts are kept per origin, so the
parts of different shards never add into the same cell (x + 0 = x), and queues are merged by
the same keys one process sorts by, so a sharded run equals one process bit for bit (the
tests check it on 1, 2 and 4 shards). Pure: no I/O, no Dask.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial, reduce

import numpy as np


@dataclass
class Exchange:
    """A request for a figure every shard contributes to: ``combine([part of each shard])``."""

    tag: str            # what is exchanged (the shards of one run must yield the same tags in order)
    part: object        # this shard's part
    combine: Callable   # module-level function: list of parts (in shard order) -> the answer


Phases = Generator[Exchange, object, None]


def run_local(phases: Phases) -> None:
    """Run a model's phases in one process: every exchange is answered from the model's own part."""
    try:
        request = next(phases)
        while True:
            request = phases.send(request.combine([request.part]))
    except StopIteration:
        pass


def together(*requests: Exchange) -> Exchange:
    """Several exchanges sent as one (a sharded run then makes one call for them, not one each):
    the answer is the tuple of their answers, in order. For a figure whose parts are complete
    before the model needs it (the legs' counters of the month travel with the asylum queues)."""
    return Exchange("+".join(r.tag for r in requests), tuple(r.part for r in requests),
                    partial(combine_each, tuple(r.combine for r in requests)))


def combine_each(combines: tuple, parts: list[tuple]) -> tuple:
    """The answer of :func:`together`: each request's ``combine`` over its own parts."""
    return tuple(combine([p[i] for p in parts]) for i, combine in enumerate(combines))


def shared(model, tag: str, part, combine: Callable):
    """``combine([part])`` in a run whose origins are each on one shard (or one process); the
    combined parts of every shard where the run splits an origin over shards
    (``model.split_origins``). A generator: ``answer = yield from shared(...)``."""
    if model.split_origins:
        return (yield Exchange(tag, part, combine))
    return combine([part])


def merged(parts: list[dict], columns, by) -> dict[str, np.ndarray]:
    """The shards' ``columns`` (arrays in each part), concatenated and sorted by the columns
    ``by``, the first the primary key (the order one process sorts its own rows by)."""
    cols = {k: np.concatenate([p[k] for p in parts]) for k in columns}
    order = np.lexsort([cols[k] for k in reversed(by)])
    return {k: v[order] for k, v in cols.items()}


def add_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Element-wise sum of the shards' arrays; exact when shards fill disjoint cells (per origin)."""
    return parts[0] if len(parts) == 1 else reduce(np.add, parts)
