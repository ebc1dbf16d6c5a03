"""`gridwatch central user`: create a login (and a token), or manage one.

    gridwatch central user NAME --role R [--password P] [--token [--token-ttl-h H]]
    gridwatch central user NAME --disable | --enable | --list-tokens
    gridwatch central user NAME --revoke-token ID | --reset-password

Each change is logged as made by `cli:<os user>`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth.accounts import (
    find_user,
    list_tokens,
    reset_password,
    revoke_token_by_id,
    set_active,
)
from central.auth.passwords import WeakPasswordError
from central.auth.users import create_user, issue_token
from central.commands.common import add_settings_arguments, settings_from
from central.context import CentralContext, build_context
from central.db.models import User, UserRole


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")
    parser.add_argument(
        "--role",
        choices=[r.value for r in UserRole],
        help="role of a new user (needed to create one)",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("GRIDWATCH_PASSWORD"),
        help="password (or GRIDWATCH_PASSWORD); edge nodes may have none; "
        "the new one for --reset-password",
    )
    parser.add_argument("--worker-id", help="the worker this login belongs to")
    parser.add_argument("--node-id", help="the edge node this login belongs to")
    parser.add_argument(
        "--token", action="store_true", help="also issue a bearer token and print it"
    )
    parser.add_argument(
        "--token-ttl-h",
        type=float,
        help="token lifetime; default: none for an edge node (no expiry), "
        "http.max_token_ttl_h for a person (also its maximum)",
    )
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument(
        "--disable", action="store_true", help="disable the user, revoke its tokens"
    )
    actions.add_argument("--enable", action="store_true", help="enable it again")
    actions.add_argument(
        "--list-tokens", action="store_true", help="its tokens (never the token)"
    )
    actions.add_argument("--revoke-token", metavar="ID", help="revoke one token")
    actions.add_argument(
        "--reset-password",
        action="store_true",
        help="set the password given by --password, revoke all its tokens",
    )
    add_settings_arguments(parser)


@dataclass(frozen=True, slots=True)
class _Request:
    """One run's arguments, its context and who it is attributed to."""

    args: argparse.Namespace
    context: CentralContext
    by: str


Result = dict[str, object]


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment nor passwd
        return "cli:unknown"


def _create_or_token(session: Session, request: _Request) -> Result:
    args = request.args
    user = session.scalars(select(User).where(User.username == args.username)).first()
    if user is None:
        if args.role is None:
            raise ValueError(f"no user {args.username!r}: give --role to create it")
        user = create_user(
            session,
            args.username,
            args.password,
            UserRole(args.role),
            worker_id=args.worker_id,
            node_id=args.node_id,
            by=request.by,
        )
    elif args.role is not None and args.role != user.role:
        # A role is never changed in place: the new role gets a new login (both
        # audited), and no token of the old role carries over.
        raise ValueError(
            f"user {args.username!r} exists with role {user.role}: roles are not "
            "changed; --disable it and create a login with the new role"
        )
    result: Result = {"username": user.username, "role": user.role}
    if args.token:
        max_ttl = timedelta(hours=request.context.settings.http.max_token_ttl_h)
        ttl = timedelta(hours=args.token_ttl_h) if args.token_ttl_h else None
        if ttl is None and user.role != UserRole.EDGE_NODE.value:
            ttl = max_ttl
        result["token"] = issue_token(
            session,
            user,
            now=request.context.clock.now(),
            ttl=ttl,
            label=f"cli ({request.by})",
            max_person_ttl=max_ttl,
            by=request.by,
        )
    return result


def _set_active(session: Session, request: _Request, *, active: bool) -> Result:
    user = find_user(session, request.args.username)
    revoked = set_active(session, user, active=active, by=request.by)
    return {"username": user.username, "active": active, "revoked_tokens": revoked}


def _list_tokens(session: Session, request: _Request) -> Result:
    user = find_user(session, request.args.username)
    now = request.context.clock.now()
    tokens = [
        {
            "id": info.id,
            "label": info.label,
            "created_at": info.created_at.isoformat(),
            "expires_at": info.expires_at.isoformat() if info.expires_at else None,
            "expired": info.expires_at is not None and info.expires_at <= now,
        }
        for info in list_tokens(session, user)
    ]
    return {"username": user.username, "tokens": tokens}


def _revoke_token(session: Session, request: _Request) -> Result:
    user = find_user(session, request.args.username)
    token_id: str = request.args.revoke_token
    revoke_token_by_id(session, user, token_id, by=request.by)
    return {"username": user.username, "revoked": token_id}


def _reset_password(session: Session, request: _Request) -> Result:
    if not request.args.password:
        raise ValueError("--reset-password needs --password (or GRIDWATCH_PASSWORD)")
    user = find_user(session, request.args.username)
    revoked = reset_password(
        session, user, new_password=request.args.password, by=request.by
    )
    return {
        "username": user.username,
        "password_reset": True,
        "revoked_tokens": revoked,
    }


_ACTIONS: dict[str, Callable[[Session, _Request], Result]] = {
    "disable": lambda session, request: _set_active(session, request, active=False),
    "enable": lambda session, request: _set_active(session, request, active=True),
    "list_tokens": _list_tokens,
    "revoke_token": _revoke_token,
    "reset_password": _reset_password,
}


def run_cli(args: argparse.Namespace) -> int:
    action = next((_ACTIONS[name] for name in _ACTIONS if getattr(args, name)), None)
    if action is not None and (args.token or args.role):
        print(
            "central user: --token and --role go without the other actions",
            file=sys.stderr,
        )
        return 2
    request = _Request(args, build_context(settings_from(args)), _cli_actor())
    try:
        with request.context.sessions.begin() as session:
            result = (action or _create_or_token)(session, request)
    except (ValueError, WeakPasswordError) as exc:
        print(f"central user: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
