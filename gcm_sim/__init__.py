"""gcm-sim: agent-based simulation of migration policy scenarios (Global Compact for Migration).

The Python API (DESIGN.md)::

    cfg = gcm_sim.load_config(scenario="visa_liberalisation", overrides=["run.households=50000"])
    model = gcm_sim.MigrationModel(cfg, rng=42)
    result = gcm_sim.run(cfg)
"""

__version__ = "0.1.0"


def load_config(*args, **kwargs):
    """Compose (Hydra) and validate a configuration; see :func:`gcm_sim.config.load_config`."""
    from .config import load_config as _load

    return _load(*args, **kwargs)


def run(*args, **kwargs):
    """Run all replicates of a configuration; see :func:`gcm_sim.studies.experiment.run`."""
    from .studies.experiment import run as _run

    return _run(*args, **kwargs)


def compare(*args, **kwargs):
    """Scenarios against baseline with paired seeds; see :func:`gcm_sim.studies.experiment.compare`."""
    from .studies.experiment import compare as _compare

    return _compare(*args, **kwargs)


# Loaded on first use: importing the package imports neither NumPy nor Mesa, so the CLI
# reports bad input fast and can configure NumPy's threads first (gcm_sim.edges.cli).
_LAZY = {"MigrationModel": ".model", "Config": ".policy", "ConfigError": ".policy", "World": ".world",
         "WorldDataError": ".world", "load_world": ".world"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'gcm_sim' has no attribute {name!r}")


__all__ = ["MigrationModel", "Config", "ConfigError", "World", "WorldDataError", "load_world",
           "load_config", "run", "compare", "__version__"]
