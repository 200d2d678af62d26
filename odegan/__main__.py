"""Command line: ``python -m odegan PRESET [--field value ...] [--tiny]``.

Trains a named configuration (`odegan.configs.PRESETS`: ``mog``, ``toy``, ``mnist`` and its
per-method variants, ``cifar``; ``--list`` prints them) into a run folder and prints its path.
Explicit flags override the preset's fields; with ``--run-dir`` an interrupted run resumes from
its latest checkpoint.
"""

import sys

from common.cli import run_preset

from .configs import PRESETS, TrainConfig, tiny


def _run(config: TrainConfig, **options):
    from ._experiment import run_experiment  # heavy imports only when running

    return run_experiment(config, **options)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    return run_preset(
        argv, run=_run, prog="python -m odegan",
        description="ODE-GAN: trains a named preset into a run folder.",
        config_type=TrainConfig, presets=PRESETS, default="mog", tiny=tiny,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
