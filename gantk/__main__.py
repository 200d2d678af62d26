"""Command line: ``python -m gantk PRESET [--field value ...] [--tiny]``.

Runs a named particle-flow experiment (see `gantk.configs.PRESETS`; ``--list`` prints them) and
writes its run folder. Explicit flags override the preset's fields.
"""

import argparse
import dataclasses
import json
import sys

from .configs import PRESETS, FlowConfig, tiny


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gantk",
        description="GAN(TK)² particle flows: runs a named preset into a run folder.",
    )
    p.add_argument("preset", nargs="?", default="demo", help="preset name (see --list)")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    p.add_argument("--tiny", action="store_true", help="a seconds-long variant (for tests)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder")
    p.add_argument("--run-dir", default=None, help="exact run folder (resumes if it exists)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for field in dataclasses.fields(FlowConfig):
        kind = {float: float, str: str}.get(field.type, int)
        p.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.list:
        print("\n".join(sorted(PRESETS)))
        return 0
    if args.preset not in PRESETS:
        print(
            f"error: unknown preset {args.preset!r}; `python -m gantk --list` lists the "
            f"{len(PRESETS)} presets.",
            file=sys.stderr,
        )
        return 2
    config = PRESETS[args.preset]
    if args.tiny:
        config = tiny(config)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(FlowConfig)
        if getattr(args, f.name) is not None
    }
    try:
        config = dataclasses.replace(config, **overrides)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

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
