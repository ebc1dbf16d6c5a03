"""`gridwatch central migrate`: bring the database schema up to date."""

from __future__ import annotations

import argparse
import sys

from central.commands.common import add_settings_arguments, settings_from
from central.config import CentralConfigError
from central.db.migrate import upgrade
from central.db.roles import RoleError, grant_app_role
from central.db.session import make_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_arguments(parser)
    parser.add_argument(
        "--grant-app-role",
        metavar="ROLE",
        help="PostgreSQL: after migrating (as the tables' owner), give ROLE, the "
        "role central runs as, read and write on the tables but only SELECT and "
        "INSERT on audit_log (docs/security.md)",
    )


def run_cli(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        upgrade(settings.database_url)
        if args.grant_app_role:
            engine = make_engine(settings.database_url)
            try:
                with engine.begin() as connection:
                    grant_app_role(connection, app_role=args.grant_app_role)
            finally:
                engine.dispose()
    except (CentralConfigError, RoleError) as exc:
        print(f"central migrate: {exc}", file=sys.stderr)
        return 2
    print("database schema is up to date")
    if args.grant_app_role:
        print(f"role {args.grant_app_role} may use it (audit_log: SELECT, INSERT)")
    return 0
