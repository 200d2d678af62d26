"""The preset command line shared by the packages' ``__main__`` modules.

A run is described by a frozen config dataclass; the paper's settings are named instances of it.
`parse_preset` builds one flag per field (an explicit flag always overrides the preset) plus
``--list``, ``--tiny``, ``--out``, ``--run-dir`` and ``--no-progress``, and resolves the config;
`run_preset` also runs it and prints the run's summary. Standard library only.
"""

import argparse
import dataclasses
import json
import pathlib
import sys
import typing
from collections.abc import Callable, Mapping, Sequence


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_field(parser: argparse.ArgumentParser, field: dataclasses.Field) -> None:
    flag = f"--{field.name.replace('_', '-')}"
    if typing.get_origin(field.type) is tuple:  # e.g. tuple[int, ...]: --hidden 25 25
        parser.add_argument(flag, type=typing.get_args(field.type)[0], nargs="+", default=None)
    else:  # a scalar type, or a scalar type | None
        scalar = [t for t in typing.get_args(field.type) if t is not type(None)] or [field.type]
        kind = {float: float, str: str, bool: _bool}.get(scalar[0], int)
        parser.add_argument(flag, type=kind, default=None)


def parse_preset(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    config_type: type,
    presets: Mapping[str, object],
    default: str,
    tiny: Callable,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[argparse.Namespace, object | None, int]:
    """Parses a preset command line into its resolved config.

    Args:
        argv: the arguments (``None``: ``sys.argv[1:]``).
        prog: program name for the help.
        description: one-line description for the help.
        config_type: the frozen config dataclass.
        presets: name → config.
        default: the preset used when none is named.
        tiny: config → its seconds-long variant (``--tiny``).
        extra: adds the caller's own flags (not config fields) to the parser.

    Returns:
        ``(args, config, code)``: `config` is ``None`` when the caller should exit with `code`
        (0 after ``--list``; 2 after an unknown preset or an invalid field, reported on stderr).
    """
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("preset", nargs="?", default=default, help="preset name (see --list)")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    p.add_argument("--tiny", action="store_true", help="a seconds-long variant (for tests)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder")
    p.add_argument("--run-dir", default=None, help="exact run folder (resumes if it exists)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    if extra is not None:
        extra(p)
    fields = dataclasses.fields(config_type)
    for field in fields:
        _add_field(p, field)
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(sorted(presets)))
        return args, None, 0
    if args.preset not in presets:
        print(
            f"error: unknown preset {args.preset!r}; `{prog} --list` lists the "
            f"{len(presets)} presets.",
            file=sys.stderr,
        )
        return args, None, 2
    config = tiny(presets[args.preset]) if args.tiny else presets[args.preset]
    overrides = {
        f.name: tuple(v) if isinstance(v, list) else v
        for f in fields
        if (v := getattr(args, f.name)) is not None
    }
    try:
        return args, dataclasses.replace(config, **overrides), 0
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return args, None, 2


def run_preset(
    argv: Sequence[str] | None, *, run: Callable[..., pathlib.Path], **parse_options
) -> int:
    """`parse_preset`, then `run` the config and print its `summary.json` and run folder.

    Args:
        argv: the arguments (``None``: ``sys.argv[1:]``).
        run: ``run(config, out=, run_dir=, progress=) -> run folder``, e.g. a package's
            `run_experiment` (import it inside `run` to keep ``--help`` and ``--list`` fast).
        **parse_options: the keyword arguments of `parse_preset`.

    Returns:
        The process exit code.
    """
    args, config, code = parse_preset(argv, **parse_options)
    if config is None:
        return code
    run_dir = run(config, out=args.out, run_dir=args.run_dir, progress=not args.no_progress)
    print(json.dumps(json.loads((run_dir / "summary.json").read_text())))
    print(f"run folder: {run_dir.resolve()}")
    return 0
