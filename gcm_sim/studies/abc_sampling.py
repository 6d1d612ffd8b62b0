"""Reproducible ABC-SMC sampling: pyabc's particles drawn from random numbers seeded by ``run.seed``.

Reads the seed and generation pyabc passes; writes NumPy's and Python's global generators in
the process that runs each task (pyabc's proposals draw from them).

pyabc's own parallel samplers seed each worker from the operating system's entropy and keep
particles in the order they finish, so the same calibration gives different posteriors run to
run (pyabc issues 392 and 400); its single-core sampler reseeds nothing, so it depends on
whatever ran before. Here a generation of ``n`` particles is ``n`` tasks mapped in order
(pyabc's MappingSampler, Klinger, Rickert & Hasenauer 2018, Bioinformatics 34(20)): task ``i``
of generation ``t`` seeds the generators with :func:`task_seed` and samples until it has one
accepted particle, and the results are kept in task order, so which worker ran a task, and
when, changes nothing. The model runs themselves are keyed to ``run.seed`` already.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import pyabc

MAIN_PROCESS = -2  # the "generation" whose seed the calling process takes (pyabc's t is -1 or more)


def task_seed(seed: int, generation: int, task: int) -> int:
    """The 32-bit seed of task ``task`` of generation ``generation`` (pyabc's ``t``: -1 for the
    sample that sets the first tolerance) under ``run.seed``, by NumPy's SeedSequence."""
    return int(np.random.SeedSequence([int(seed), int(generation) - MAIN_PROCESS, int(task)]).generate_state(1)[0])


def seed_main_process(seed: int) -> None:
    """Seed the calling process's generators (what pyabc draws outside the tasks)."""
    s = task_seed(seed, MAIN_PROCESS, 0)
    np.random.seed(s)
    random.seed(s)


class SeededSampler(pyabc.sampler.MappingSampler):
    """pyabc's MappingSampler whose tasks are seeded from ``seed`` (see the module docstring).

    ``map_``: a map that keeps the order of its inputs (the built-in ``map``, a process pool's
    ``map``, or a Dask client's map then gather).
    """

    def __init__(self, seed: int, map_=map):
        super().__init__(map_=map_)
        self.seed = int(seed)

    def map_function(self, simulate_one, seed: int):
        simulate_one = self.unpickle(simulate_one)
        np.random.seed(seed)
        random.seed(seed)
        evaluations, sample = 0, self._create_empty_sample()
        while True:
            particle = simulate_one()
            evaluations += 1
            sample.append(particle)
            if particle.accepted:
                return sample, evaluations

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False,
                                ana_vars=None):
        work = functools.partial(self.map_function, self.pickle(simulate_one))
        results = list(self.map_(work, [task_seed(self.seed, t, i) for i in range(n)]))
        self.nr_evaluations_ = sum(e for _, e in results)
        sample = self._create_empty_sample()
        for part, _ in results:
            sample += part
        return sample
