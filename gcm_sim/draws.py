"""Entity-keyed random numbers: every draw is a function of (seed, stream, month, entity).

Each mechanism draws from streams of its own, named for the decision they serve
("consider", "visa", "interception", ...). A draw for entity ``e`` (a household's
``uid`` or a migrant's ``uid``) in month ``t`` of stream ``s`` is

    u = mix(key(seed, s, t) + e * GAMMA)

where ``key`` comes from NumPy's ``SeedSequence`` (the run's seed with the stream's
code and the month appended to its spawn key) and ``mix`` is the SplitMix64 output
function (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
generators", OOPSLA; the generator NumPy's ``SeedSequence`` documentation and
Java's ``SplittableRandom`` build on). This is a counter-based generator in the
sense of Salmon et al. (2011, "Parallel random numbers: as easy as 1, 2, 3"): no
state advances, so

- the same household meets the same luck in every arm of a comparison, whatever
  other households or mechanisms drew before it (common random numbers aligned by
  entity and decision, the method of Starsim: Klein, Abeysuriya, Stuart & Kerr 2024,
  arXiv 2409.02086, "Random numbers" in docs.starsim.org);
- results do not depend on the order rows are stored in or how households are split
  into blocks or shards;
- a policy that changes one corridor leaves every other entity's draws untouched.

NumPy has counter-based bit generators (Philox) but one key per generator object,
so keying millions of entities through it would mean millions of generators; the
SplitMix64 mix is a few vectorised integer operations per draw. Set-up draws that
need NumPy's distributions (Poisson household sizes, ...) use :meth:`Draws.generator`:
an ordinary ``Generator`` seeded per (stream, key), e.g. per origin country.

Reads nothing of the model; pure functions of their arguments.
"""

from __future__ import annotations

import zlib

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (odd: e -> e * GAMMA is a bijection)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_TO_UNIT = 2.0 ** -53
# "month" of draws made once per entity whenever the event happens (an asylum decision, whether a
# migrant claims asylum, holds an ID): a policy that shifts the event's timing keeps its outcome
ONCE = 0
CHUNK = 1 << 17  # entities mixed at a time (fits in cache)


def stream_code(name: str) -> int:
    """A stable 32-bit code for a stream name (the same in every process and Python run)."""
    return zlib.crc32(name.encode("utf-8"))


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function, in place on a uint64 array (returned for chaining)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def hashed(key: np.uint64, ids, sub=None) -> np.ndarray:
    """64 random bits per entity: ``mix(key + ids * GAMMA)``; ``sub`` keys a second level
    (e.g. one draw per household and option), mixed in after the first."""
    z = np.asarray(ids).astype(np.uint64)  # a copy: mixed in place below
    z *= GAMMA
    z += key
    mix(z)
    if sub is not None:
        z = mix(z + np.asarray(sub).astype(np.uint64) * GAMMA)  # broadcasts, e.g. [n, 1] + [k]
    return z


def to_uniform(z: np.ndarray) -> np.ndarray:
    """Random bits to float64 uniforms strictly inside (0, 1) (the top 53 bits, centred)."""
    return ((z >> _S11).astype(np.float64) + 0.5) * _TO_UNIT


class Draws:
    """The run's keyed streams: ``draws.uniform("visa", month, uid)``.

    ``root`` is the replicate's ``SeedSequence`` (the r-th child of
    ``SeedSequence(run.seed)``, DESIGN.md). Keys are cached per (stream, month).
    """

    def __init__(self, root: np.random.SeedSequence):
        self.root = root
        self._keys: dict[tuple[str, int], np.uint64] = {}

    @classmethod
    def of(cls, rng, generator: np.random.Generator) -> "Draws":
        """From what ``mesa.Model(rng=...)`` was given: a SeedSequence, an int or None."""
        if isinstance(rng, np.random.SeedSequence):
            return cls(rng)
        if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
            return cls(np.random.SeedSequence(int(rng)))
        return cls(np.random.SeedSequence(int(generator.integers(2 ** 63))))

    def _child(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.root.entropy, spawn_key=(*self.root.spawn_key, *key))

    def key(self, stream: str, month: int) -> np.uint64:
        k = self._keys.get((stream, month))
        if k is None:
            k = self._child(stream_code(stream), int(month)).generate_state(1, np.uint64)[0]
            self._keys[(stream, month)] = k
        return k

    def uniform(self, stream: str, month: int, ids, sub=None) -> np.ndarray:
        """One uniform in (0, 1) per entity (per entity and ``sub`` when given)."""
        key = self.key(stream, month)
        ids = np.asarray(ids)
        if sub is not None or ids.ndim != 1 or len(ids) <= CHUNK:
            return to_uniform(hashed(key, ids, sub))
        # long arrays in cache-sized chunks: the mix is memory-bound (2x faster at 1M)
        out = np.empty(len(ids))
        for lo in range(0, len(ids), CHUNK):
            out[lo:lo + CHUNK] = to_uniform(hashed(key, ids[lo:lo + CHUNK]))
        return out

    def gumbel(self, stream: str, month: int, ids, sub) -> np.ndarray:
        """Standard Gumbel draws [n, k] per entity ``ids`` [n] and option key ``sub`` [k]."""
        z = hashed(self.key(stream, month), np.asarray(ids)[:, None], np.asarray(sub)[None, :])
        return -np.log(-np.log(to_uniform(z)))

    def generator(self, stream: str, *key: int) -> np.random.Generator:
        """An ordinary NumPy generator for set-up draws, seeded by (stream, key...)."""
        return np.random.Generator(np.random.PCG64(self._child(stream_code(stream), *map(int, key))))
