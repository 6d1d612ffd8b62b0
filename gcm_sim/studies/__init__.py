"""Studies built on the model: replicates and comparisons (:mod:`.experiment`), Hydra sweeps
(:mod:`.sweep`), designed studies (:mod:`.explore`) on local or Dask executors
(:mod:`.executors`), calibration, validation, scenario discovery and benchmarks.

They run :class:`gcm_sim.model.MigrationModel`; the model never imports them.
"""
