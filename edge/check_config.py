"""`gridwatch edge check-config`: validate a node config and say what it sets up."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.advice import config_advice
from edge.config import ConfigError, NodeConfig, load_config
from edge.rules.registry import rules_of_module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="Node config YAML file.")


def load_or_report(path: Path) -> NodeConfig | None:
    """The validated config, or None after writing the problems to stderr."""
    try:
        return load_config(path)
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        return None


def run_cli(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    rules = sum(len(z.rules) for c in config.cameras for z in c.zones)
    sys.stdout.write(
        f"{args.config}: ok: node {config.node_id}, {len(config.cameras)} cameras, "
        f"{rules} rules, model {config.model.name}\n"
    )
    for module in config.plugins:
        for rule in rules_of_module(module):
            raises = getattr(rule, "event_type", None)
            events = f"event type {raises}" if raises else "no events"
            sys.stdout.write(
                f"{args.config}: plug-in {module}: rule {rule.type_key}, {events}\n"
            )
    for line in config_advice(config):
        sys.stdout.write(f"{args.config}: note: {line}\n")
    return 0
