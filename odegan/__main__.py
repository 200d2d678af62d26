"""Command line: ``python -m odegan PRESET [--field value ...] [--tiny]``.

Trains a named configuration (`odegan.configs.PRESETS`: ``mog``, ``toy``, ``mnist`` and its
per-method variants, ``cifar``; ``--list`` prints them) into a run folder and prints its path.
Explicit flags override the preset's fields; with ``--run-dir`` an interrupted run resumes from
its latest checkpoint.
"""

import json
import sys

from common.cli import parse_preset

from .configs import PRESETS, TrainConfig, tiny


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args, config, code = parse_preset(
        argv, prog="python -m odegan",
        description="ODE-GAN: trains a named preset into a run folder.",
        config_type=TrainConfig, presets=PRESETS, default="mog", tiny=tiny,
    )
    if config is None:
        return code

    from ._experiment import run_experiment  # heavy imports only when running

    run_dir = run_experiment(
        config, out=args.out, run_dir=args.run_dir, progress=not args.no_progress
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    print(json.dumps(summary))
    print(f"run folder: {run_dir.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
