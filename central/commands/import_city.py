"""`gridwatch central import-city FILE`: departments, workers and cameras."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from central.auth.audit import AuditAction, cli_actor, file_sha256, record
from central.commands.common import add_settings_arguments, settings_from
from central.config import CentralConfigError
from central.context import build_context
from central.importer import CityFileError, import_city, load_city_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="city.json from `gridwatch sim city`")
    parser.add_argument(
        "--worker-password",
        help="create a login for every worker (username = worker id) with this "
        "password; for demos",
    )
    add_settings_arguments(parser)


def run_cli(args: argparse.Namespace) -> int:
    try:
        city = load_city_file(args.file)
        settings = settings_from(args)
    except (CityFileError, CentralConfigError) as exc:
        print(f"import-city: refused {args.file}: {exc}", file=sys.stderr)
        return 2
    context = build_context(settings)
    try:
        with context.sessions.begin() as session:
            report = import_city(
                session,
                city,
                now=context.clock.now(),
                worker_password=args.worker_password,
                nearest_grid_m=settings.ingest.nearest_grid_m,
            )
            record(
                session,
                cli_actor(),
                AuditAction.CITY_IMPORTED,
                str(args.file),
                detail={"sha256": file_sha256(args.file), **report.as_dict()},
            )
    except (CityFileError, ValueError) as exc:
        print(f"import-city: refused {args.file}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"file": str(args.file), **report.as_dict()}, ensure_ascii=False))
    return 0
