"""Options shared by the `gridwatch central ...` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from central.config import CentralSettings, load_settings


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="central YAML config")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (default: the config's, else sqlite:///var/central/central.db)",
    )


def settings_from(args: argparse.Namespace) -> CentralSettings:
    """The config file's settings with command-line overrides applied."""
    settings = load_settings(args.config)
    if getattr(args, "database_url", None):
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings
