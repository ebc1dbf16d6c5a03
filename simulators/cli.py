"""Shared `python -m simulators.<name>` entry point: parse, set up logging, run."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence


def run_module_cli(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run_cli: Callable[[argparse.Namespace], int],
) -> int:
    """Parse `argv` with the simulator's options plus ``--log-level`` and run it.

    Args:
        argv: Command-line arguments; ``sys.argv[1:]`` when None.
        prog: Program name shown in usage.
        description: Help text, usually the module docstring.
        add_arguments: Adds the simulator's options to the parser.
        run_cli: Runs the simulator with the parsed arguments.

    Returns:
        The exit code from `run_cli`.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="logging level")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_cli(args)
