"""People on the move and abroad, as a struct of arrays (one row per migrant record).

Each row stands for ``weight`` real people (the weight of the household the person
left). A person who returns or dies keeps a row in state ``returned``, ``rejoined`` or
``dead``, so people are conserved and counted in exactly one state, until
:mod:`gcm_sim.mechanisms.compaction` drops the rows whose story is over (the dead are kept
by key).
Arrays grow by doubling; ``n`` is the number of rows in use.
"""

from __future__ import annotations

import numpy as np

from ..categories import NO_STATUS, PENDING

FIELDS = {
    # identity and demography (uid: household uid << 16 | record number; keys the draws)
    "uid": np.uint64, "household": np.int32, "origin": np.int16, "destination": np.int16, "channel": np.int8,
    "sex": np.int8, "age": np.int8, "skill": np.int8, "weight": np.float32,
    # where and in what legal position
    "state": np.int8, "status": np.int8, "location": np.int16,
    "route": np.int16, "leg": np.int8, "tries": np.int8, "months_left": np.float32, "moving": np.bool_,
    "claim_month": np.int32, "months_abroad": np.int16,
    # work and money
    "employed": np.bool_, "wage_usd": np.float32, "cash_usd": np.float32, "debt_usd": np.float32,
    "savings_usd": np.float32, "fee_owed_usd": np.float32,  # the part of a leg's fee due on getting through
    # rights and risks
    "multi_entry": np.bool_, "trafficked": np.bool_, "skill_recognised": np.bool_, "has_id": np.bool_,
}


class Migrants:
    """Struct-of-arrays population of migrant records."""

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._cap = max(16, capacity)
        for name, dtype in FIELDS.items():
            setattr(self, name, np.zeros(self._cap, dtype=dtype))

    def __len__(self) -> int:
        return self.n

    def view(self, name: str) -> np.ndarray:
        """The live part of one field (a view: writes go to the population)."""
        return getattr(self, name)[: self.n]

    def add(self, count: int, **values) -> np.ndarray:
        """Append ``count`` rows with the given field values; returns their indices."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        need = self.n + count
        if need > self._cap:
            cap = max(need, 2 * self._cap)
            for name in FIELDS:
                old = getattr(self, name)
                new = np.zeros(cap, dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
            self._cap = cap
        idx = np.arange(self.n, need)
        defaults = {"route": -1, "state": PENDING, "status": NO_STATUS, "has_id": True}
        for name in FIELDS:
            arr = getattr(self, name)
            if name in values:
                arr[idx] = values[name]
            else:
                arr[idx] = defaults.get(name, 0)
        self.n = need
        return idx

    def compact(self, keep: np.ndarray) -> None:
        """Keep only the live rows where ``keep`` (a mask over them), in their order."""
        idx = np.flatnonzero(keep)
        for name in FIELDS:
            arr = getattr(self, name)
            arr[: len(idx)] = arr[idx]
        self.n = len(idx)

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in FIELDS)
