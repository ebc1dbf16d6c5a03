"""`gridwatch sim scenario build|list|check`: the scene builder (simulators) and
its in-process check (the harness), under one command."""

from __future__ import annotations

import argparse

from harness.accuracy import scene_check
from simulators.scenario import command as scene_build


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    scene_build.add_actions(actions)
    scene_check.add_check_action(actions)


def run_cli(args: argparse.Namespace) -> int:
    if args.action == "check":
        return scene_check.check_scenes(args)
    return scene_build.run_cli(args)
