"""What one replicate runs: its seed and its config (the posterior draw it runs on).

Shared by the experiment runner (:mod:`.experiment`) and the sharded driver (:mod:`.shards`),
which builds each shard of a replicate on a Dask worker from the same seed and config.
"""

from __future__ import annotations

import numpy as np

from gcm_sim.policy import Config


def replicate_seeds(cfg: Config) -> list[np.random.SeedSequence]:
    """Replicate r's seed: the r-th child of ``SeedSequence(cfg.run.seed)`` (the contract)."""
    return np.random.SeedSequence(cfg.run.seed).spawn(cfg.run.replicates)


def draw_of(cfg: Config, replicate: int) -> int:
    """The posterior draw replicate r runs on: r % run.draws (run.parameters=posterior)."""
    return replicate % cfg.run.draws


def replicate_config(cfg: Config, replicate: int, world=None) -> Config:
    """The config replicate r runs: with ``run.parameters=posterior`` its behavioural parameters
    are the posterior draw :func:`draw_of` (keyed to run.seed, the same in every arm, so arms
    stay paired); with ``point`` the config itself."""
    if cfg.run.parameters == "point":
        return cfg
    from .parameters import with_behaviour, world_posterior

    world = world_of(cfg, world)
    return with_behaviour(cfg, world, world_posterior(world).draw(cfg.run.seed, draw_of(cfg, replicate)))


def world_of(cfg: Config, world=None):
    """``world``, or the world ``cfg`` names (the embedded default world when it names none)."""
    if world is not None:
        return world
    from gcm_sim.world import load_world

    return load_world(cfg.world) if cfg.world else load_world()
