"""Command line: ``python -m gantk PRESET [--field value ...] [--tiny]``.

Runs a named particle-flow experiment (see `gantk.configs.PRESETS`; ``--list`` prints them) and
writes its run folder. Explicit flags override the preset's fields.

Several hosts: start the same command on every host with ``--distributed --run-dir SHARED``.
`jax.distributed.initialize` finds the cluster by itself under SLURM, Open MPI and on Cloud TPU;
elsewhere give ``--coordinator HOST:PORT --num-processes N --process-id I`` (I = 0 … N − 1).
The particles are split across all devices of all hosts; process 0 writes the run folder.
"""

import argparse
import json
import sys

from common.cli import parse_preset

from .configs import PRESETS, FlowConfig, tiny


def _distributed_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--distributed", action="store_true",
        help="call jax.distributed.initialize() first: one process per host, same command",
    )
    parser.add_argument("--coordinator", default=None, help="HOST:PORT of process 0")
    parser.add_argument("--num-processes", type=int, default=None, help="number of processes")
    parser.add_argument("--process-id", type=int, default=None, help="this process' index")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args, config, code = parse_preset(
        argv, prog="python -m gantk",
        description="GAN(TK)² particle flows: runs a named preset into a run folder.",
        config_type=FlowConfig, presets=PRESETS, default="demo", tiny=tiny,
        extra=_distributed_flags,
    )
    if config is None:
        return code

    import jax

    if args.distributed:
        # CPU hosts exchange through gloo (GPU/TPU backends ignore this option).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)

    from ._experiment import run_experiment  # heavy imports only when running

    run_dir = run_experiment(
        config, out=args.out, run_dir=args.run_dir, progress=not args.no_progress
    )
    if jax.process_index() != 0:
        return 0
    summary = json.loads((run_dir / "summary.json").read_text())
    print(
        f"{config.name}: Sinkhorn divergence {summary['sinkhorn_initial']:.4g} -> "
        f"{summary['sinkhorn_final']:.4g} after {summary['steps']} steps "
        f"({summary['wall_time_s']:.1f} s)"
    )
    print(f"run folder: {run_dir.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
