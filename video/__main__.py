"""Command line: ``python -m video PRESET [--field value ...] [--tiny]``.

Trains a MoCoGAN preset on rotating MNIST (`video.configs.PRESETS`: one per motion generator,
``gru``, ``ode``, ``sde``, ``cde``, ``odernn``, ``ncode_open``, ``ncode_closed``, plus
``seed000`` and ``ode_rk4``; ``--list`` prints them) into a run folder and prints its path.
Explicit flags override the preset's fields (``--motion ode --fresh-noise-per-frame false``);
with ``--run-dir`` an interrupted run resumes from its latest checkpoint.
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
        argv, run=_run, prog="python -m video",
        description="MoCoGAN on rotating MNIST: trains a named preset into a run folder.",
        config_type=TrainConfig, presets=PRESETS, default="gru", tiny=tiny,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
