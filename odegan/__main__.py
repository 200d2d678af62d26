"""Command line: ``python -m odegan PRESET [--field value ...] [--tiny]``.

Trains a named configuration (`odegan.configs.PRESETS`: ``mog``, ``toy``; ``--list`` prints
them) into a run folder and prints its path. Explicit flags override the preset's fields; with
``--run-dir`` an interrupted run resumes from its latest checkpoint.
"""

import argparse
import dataclasses
import json
import sys

from .configs import PRESETS, TrainConfig, tiny


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m odegan",
        description="ODE-GAN: trains a named preset into a run folder.",
    )
    p.add_argument("preset", nargs="?", default="mog", help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    p.add_argument("--tiny", action="store_true", help="a seconds-long variant (for tests)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder")
    p.add_argument("--run-dir", default=None, help="exact run folder (resumes if it exists)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for field in dataclasses.fields(TrainConfig):
        flag = f"--{field.name.replace('_', '-')}"
        if field.name == "hidden":
            p.add_argument(flag, type=int, nargs="+", default=None)
        else:
            kind = {"float": float, "str": str, "bool": _bool}.get(
                getattr(field.type, "__name__", str(field.type)), int
            )
            p.add_argument(flag, type=kind, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.list:
        for name, config in PRESETS.items():
            print(f"{name}: {config}")
        return 0
    if args.preset not in PRESETS:
        print(
            f"error: unknown preset {args.preset!r}; choose from {sorted(PRESETS)}.",
            file=sys.stderr,
        )
        return 2
    config = PRESETS[args.preset]
    if args.tiny:
        config = tiny(config)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name) is not None
    }
    if "hidden" in overrides:
        overrides["hidden"] = tuple(overrides["hidden"])
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
    print(json.dumps(summary))
    print(f"run folder: {run_dir.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
