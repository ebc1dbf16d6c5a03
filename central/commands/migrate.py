"""`gridwatch central migrate`: bring the database schema up to date."""

from __future__ import annotations

import argparse
import sys

from central.commands.common import add_settings_arguments, settings_from
from central.config import CentralConfigError
from central.db.migrate import upgrade


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_arguments(parser)


def run_cli(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        upgrade(settings.database_url)
    except CentralConfigError as exc:
        print(f"central migrate: {exc}", file=sys.stderr)
        return 2
    print("database schema is up to date")
    return 0
