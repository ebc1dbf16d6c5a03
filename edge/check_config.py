"""`gridwatch edge check-config`: validate a node config and say what it sets up."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="Node config YAML file.")


def run_cli(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    rules = sum(len(z.rules) for c in config.cameras for z in c.zones)
    sys.stdout.write(
        f"{args.config}: ok: node {config.node_id}, {len(config.cameras)} cameras, "
        f"{rules} rules, model {config.model.name}\n"
    )
    return 0
