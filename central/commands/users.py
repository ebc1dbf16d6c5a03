"""`gridwatch central user`: create a login and print a token for it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta

from sqlalchemy import select

from central.auth.passwords import WeakPasswordError
from central.auth.users import create_user, issue_token
from central.commands.common import add_settings_arguments, settings_from
from central.context import build_context
from central.db.models import User, UserRole


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")
    parser.add_argument("--role", choices=[r.value for r in UserRole], required=True)
    parser.add_argument(
        "--password",
        default=os.environ.get("GRIDWATCH_PASSWORD"),
        help="password (or GRIDWATCH_PASSWORD); edge nodes may have none",
    )
    parser.add_argument("--worker-id", help="the worker this login belongs to")
    parser.add_argument("--node-id", help="the edge node this login belongs to")
    parser.add_argument(
        "--token", action="store_true", help="also issue a bearer token and print it"
    )
    parser.add_argument(
        "--token-ttl-h", type=float, help="token lifetime; none = no expiry"
    )
    add_settings_arguments(parser)


def run_cli(args: argparse.Namespace) -> int:
    context = build_context(settings_from(args))
    now = context.clock.now()
    try:
        with context.sessions.begin() as session:
            user = session.scalars(
                select(User).where(User.username == args.username)
            ).first()
            if user is None:
                user = create_user(
                    session,
                    args.username,
                    args.password,
                    UserRole(args.role),
                    worker_id=args.worker_id,
                    node_id=args.node_id,
                )
            result: dict[str, object] = {"username": user.username, "role": user.role}
            if args.token:
                ttl = timedelta(hours=args.token_ttl_h) if args.token_ttl_h else None
                result["token"] = issue_token(
                    session, user, now=now, ttl=ttl, label="cli"
                )
    except (ValueError, WeakPasswordError) as exc:
        print(f"central user: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
