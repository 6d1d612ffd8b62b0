"""One-to-one run of the default world on a SLURM cluster, through dask-jobqueue (docs/scale.md).

    pip install 'gcm-sim[cluster]'      # dask-jobqueue
    python experiments/scale/slurm.py --workers 32 --memory 6GB --checkpoint-dir $SCRATCH/gcm-ckpt

Each SLURM job is one Dask worker with one core (the shards are single-threaded NumPy), and
``run.shards`` equals the number of workers. Origins are drawn in blocks of
``run.block_households`` (2 million), dealt to the shards largest first, so at ``run.scale=1``
(568 million households) 32 workers hold about 18.6 million households each, some 2.4 GB
(docs/scale.md, projection). ``--dry-run`` prints the job script and exits.
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=32, help="SLURM jobs, one Dask worker and one shard each")
    ap.add_argument("--memory", default="6GB", help="memory per job (the largest shard needs the most)")
    ap.add_argument("--walltime", default="04:00:00")
    ap.add_argument("--queue", default=None, help="SLURM partition")
    ap.add_argument("--account", default=None)
    ap.add_argument("--scale", type=float, default=1.0, help="run.scale: simulated households per real one")
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--checkpoint-dir", required=True, help="a folder every node reaches (shared file system)")
    ap.add_argument("--out", default="outputs/slurm", help="run directory of the results")
    ap.add_argument("--dry-run", action="store_true", help="print the job script only")
    args = ap.parse_args()

    from dask_jobqueue import SLURMCluster

    # workers keep glibc's memory management, one heap, a quieter event loop (gcm_sim/studies/cluster.py)
    cluster = SLURMCluster(cores=1, processes=1, memory=args.memory, walltime=args.walltime, queue=args.queue,
                           account=args.account, job_name="gcm-sim-shard",
                           job_script_prologue=[
                               "export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None",
                               "export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_ARENA_MAX=1",
                               "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False",
                               "export DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s",
                               "export DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL=10s",
                               "export DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL=1s"])
    if args.dry_run:
        print(cluster.job_script())
        cluster.close()
        return
    cluster.scale(jobs=args.workers)
    from gcm_sim.edges import cli

    try:
        cli.main(["run", f"run.shards={args.workers}", f"run.scale={args.scale}", f"run.months={args.months}",
                  "run.replicates=1", f"run.scheduler={cluster.scheduler_address}",
                  f"run.checkpoint_dir={args.checkpoint_dir}", f"hydra.run.dir={args.out}"])
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
