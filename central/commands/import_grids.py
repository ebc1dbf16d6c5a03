"""`gridwatch central import-grids FILE`: load grid polygons from GeoJSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from central.auth.audit import AuditAction, cli_actor, file_sha256, record
from central.commands.common import add_settings_arguments, settings_from
from central.config import CentralConfigError
from central.context import build_context
from central.grids.geojson import GridFileError, load_grid_file
from central.importer import import_grids


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="GeoJSON FeatureCollection of grids")
    add_settings_arguments(parser)


def run_cli(args: argparse.Namespace) -> int:
    try:
        features = load_grid_file(args.file)
        settings = settings_from(args)
    except (GridFileError, CentralConfigError) as exc:
        print(f"import-grids: refused {args.file}: {exc}", file=sys.stderr)
        return 2
    context = build_context(settings)
    with context.sessions.begin() as session:
        report = import_grids(session, features)
        record(
            session,
            cli_actor(),
            AuditAction.GRIDS_IMPORTED,
            str(args.file),
            detail={"sha256": file_sha256(args.file), **report.as_dict()},
        )
    print(json.dumps({"file": str(args.file), **report.as_dict()}, ensure_ascii=False))
    return 0
