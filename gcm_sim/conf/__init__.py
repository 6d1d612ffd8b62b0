"""Hydra config tree shipped inside the package (so ``pip install .`` carries it).

``config.yaml`` is the primary config; ``scenario/NAME.yaml`` are the named policy
scenarios selected with ``scenario=NAME``. The repository's top-level ``configs/``
and ``scenarios/`` are symlinks to these folders.
"""
