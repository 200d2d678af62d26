"""Command line: ``python -m gantk PRESET [--field value ...] [--tiny]``.

Runs a named particle-flow experiment (see `gantk.configs.PRESETS`; ``--list`` prints them) and
writes its run folder. Explicit flags override the preset's fields.
"""

import json
import sys

from common.cli import parse_preset

from .configs import PRESETS, FlowConfig, tiny


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args, config, code = parse_preset(
        argv, prog="python -m gantk",
        description="GAN(TK)² particle flows: runs a named preset into a run folder.",
        config_type=FlowConfig, presets=PRESETS, default="demo", tiny=tiny,
    )
    if config is None:
        return code

    from ._experiment import run_experiment  # heavy imports only when running

    run_dir = run_experiment(
        config, out=args.out, run_dir=args.run_dir, progress=not args.no_progress
    )
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
