"""`gridwatch central broker`: provision, rotate and revoke broker logins.

Central is the authority: `add-node` makes an edge node's broker login and its
API token in one step; every change rewrites the broker's password and ACL files
(`broker_access.dir`) and signals the broker to reload them
(`broker_access.pid_file`). Secrets are written to files readable by their
owner only, never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.auth.audit import AuditAction, cli_actor, record
from central.auth.users import create_user, issue_token
from central.broker.accounts import (
    BrokerAccountError,
    IssuedSecret,
    active_accounts,
    is_active,
    provision,
    reload_broker,
    revoke,
    rotate,
    write_broker_files,
)
from central.broker.acl import BrokerIdentity, BrokerRole
from central.commands.common import add_settings_arguments, settings_from
from central.config import CentralSettings
from central.context import CentralContext, build_context
from central.db.models import ApiToken, User, UserRole
from gridwatch.secrets import write_private


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    node = actions.add_parser(
        "add-node", help="An edge node's broker login and API token, in one step."
    )
    node.add_argument("node_id")
    node.add_argument(
        "--secret-out", type=Path, required=True, help="broker password file"
    )
    node.add_argument("--token-out", type=Path, required=True, help="API token file")
    other = actions.add_parser(
        "add",
        help="Another broker login (central, observer, worker, iot_gateway).",
    )
    other.add_argument("username")
    other.add_argument(
        "--role",
        required=True,
        choices=[
            BrokerRole.CENTRAL,
            BrokerRole.OBSERVER,
            BrokerRole.WORKER,
            BrokerRole.IOT_GATEWAY,
        ],
    )
    other.add_argument(
        "--subject",
        help="the worker id of a worker's login, the gateway id of a gateway's "
        "(default: the username)",
    )
    other.add_argument("--secret-out", type=Path, required=True, help="password file")
    again = actions.add_parser(
        "rotate", help="A new password; the old one stops working."
    )
    again.add_argument("username")
    again.add_argument("--secret-out", type=Path, required=True, help="password file")
    gone = actions.add_parser(
        "revoke", help="Take a login away (and a node's API tokens)."
    )
    gone.add_argument("username")
    actions.add_parser("list", help="Active logins and what they may do.")
    actions.add_parser(
        "write-files", help="Write the broker's files now and reload it."
    )
    for sub in (node, other):
        sub.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing (exit 0) when the login is already active (setup scripts)",
        )
    for sub in actions.choices.values():
        add_settings_arguments(sub)


def run_cli(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    context = build_context(settings)
    try:
        message = _run(args, context)
        _publish(context, settings)
    except (BrokerAccountError, ValueError) as error:
        print(f"central broker: {error}", file=sys.stderr)
        return 2
    finally:
        context.engine.dispose()
    print(message)
    return 0


def _run(args: argparse.Namespace, context: CentralContext) -> str:
    now = context.clock.now()
    by = cli_actor()
    with context.sessions.begin() as session:
        match args.action:
            case "add-node" | "add" if args.if_missing and is_active(
                session, args.node_id if args.action == "add-node" else args.username
            ):
                return "already there: nothing changed"
            case "add-node":
                identity = BrokerIdentity(
                    args.node_id, BrokerRole.EDGE_NODE, args.node_id
                )
                secret = provision(session, identity, now)
                record(
                    session,
                    by,
                    AuditAction.BROKER_LOGIN_ADDED,
                    args.node_id,
                    detail={"role": BrokerRole.EDGE_NODE.value},
                )
                user = session.scalars(
                    select(User).where(User.username == args.node_id)
                ).first() or create_user(
                    session,
                    args.node_id,
                    None,
                    UserRole.EDGE_NODE,
                    node_id=args.node_id,
                    by=by,
                )
                token = issue_token(
                    session, user, now=now, ttl=None, label="provision", by=by
                )
                write_private(args.secret_out, secret.password + "\n")
                write_private(args.token_out, token + "\n")
                return (
                    f"node {args.node_id}: broker login and API token made; "
                    f"password in {args.secret_out}, token in {args.token_out}"
                )
            case "add":
                role = BrokerRole(args.role)
                subject = args.subject
                if role is BrokerRole.IOT_GATEWAY and subject is None:
                    subject = args.username  # a gateway's login is its id
                identity = BrokerIdentity(args.username, role, subject)
                issued = provision(session, identity, now)
                record(
                    session,
                    by,
                    AuditAction.BROKER_LOGIN_ADDED,
                    args.username,
                    detail={"role": identity.role.value, "subject": subject},
                )
                return _issued(issued, args.secret_out)
            case "rotate":
                issued = rotate(session, args.username, now)
                record(session, by, AuditAction.BROKER_LOGIN_ROTATED, args.username)
                return _issued(issued, args.secret_out)
            case "revoke":
                revoke(session, args.username, now)
                tokens = _revoke_node_tokens(session, args.username)
                record(
                    session,
                    by,
                    AuditAction.BROKER_LOGIN_REVOKED,
                    args.username,
                    detail={"api_tokens_revoked": tokens},
                )
                return f"{args.username}: revoked (and {tokens} API tokens)"
            case "list":
                return json.dumps(
                    [
                        {
                            "username": i.username,
                            "role": i.role.value,
                            "subject": i.subject,
                        }
                        for i, _ in active_accounts(session)
                    ]
                )
            case _:
                return "broker files written"


def _revoke_node_tokens(session: Session, username: str) -> int:
    """An edge node's API tokens end with its broker login."""
    user = session.scalars(
        select(User).where(
            User.username == username, User.role == UserRole.EDGE_NODE.value
        )
    ).first()
    if user is None:
        return 0
    result = session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def _issued(secret: IssuedSecret, path: Path) -> str:
    write_private(path, secret.password + "\n")
    return f"{secret.username}: password in {path}"


def _publish(context: CentralContext, settings: CentralSettings) -> None:
    """Rewrite the broker's files and have it reload them, where configured."""
    access = settings.broker_access
    if access.dir is None:
        return
    with context.sessions() as session:
        write_broker_files(session, access.dir, settings.mqtt.topic_prefix)
    if access.pid_file is not None:
        try:
            reload_broker(access.pid_file)
        except BrokerAccountError as error:
            # Not running (yet): it reads the files when it starts.
            print(
                f"central broker: files written, broker not signalled ({error})",
                file=sys.stderr,
            )
