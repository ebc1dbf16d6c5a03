"""Administration (admin only): list users, disable and enable them, list and
revoke their tokens, reset their passwords; read the audit log.

There is no way here to act as another user: an admin never receives another
person's token or password, and every change is logged with the admin's name
(`central.auth.accounts`) and written to the audit log (`central.auth.audit`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.api.csv_safety import neutralise_rows
from central.api.deps import AdminDep, ContextDep
from central.api.routes_account import PASSWORD_MAX, TokensPublic, tokens_public
from central.api.routes_auth import client_address
from central.auth.accounts import (
    find_user,
    list_tokens,
    reset_password,
    revoke_token_by_id,
    set_active,
)
from central.db.models import ApiToken, AuditEntry, User
from central.performance import to_csv

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such user"}}


class AccountPublic(BaseModel):
    id: int
    username: str
    role: str
    display_name: str = ""
    worker_id: str | None = None
    node_id: str | None = None
    active: bool
    has_password: bool = Field(description="false: tokens only (edge nodes).")
    created_at: datetime
    tokens: int = Field(description="Tokens not revoked (expired ones included).")


class AccountsPublic(BaseModel):
    data: list[AccountPublic]
    count: int


class PasswordReset(BaseModel):
    new_password: str = Field(max_length=PASSWORD_MAX)


def _account_public(session: Session, user: User) -> AccountPublic:
    tokens = session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)
    )
    return AccountPublic(
        id=user.id,
        username=user.username,
        role=user.role,
        display_name=user.display_name,
        worker_id=user.worker_id,
        node_id=user.node_id,
        active=user.active,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        tokens=tokens or 0,
    )


@router.get("/users", response_model=AccountsPublic, summary="All users (admin)")
def list_users(context: ContextDep, _admin: AdminDep) -> AccountsPublic:
    with context.sessions() as session:
        users = session.scalars(select(User).order_by(User.username))
        data = [_account_public(session, user) for user in users]
    return AccountsPublic(data=data, count=len(data))


@router.get(
    "/users/{username}",
    response_model=AccountPublic,
    summary="One user (admin)",
    responses=_NOT_FOUND,
)
def get_user(context: ContextDep, _admin: AdminDep, username: str) -> AccountPublic:
    with context.sessions() as session:
        return _account_public(session, find_user(session, username))


def _set_active(
    context: ContextDep,
    request: Request,
    admin: AdminDep,
    username: str,
    *,
    active: bool,
) -> AccountPublic:
    with context.sessions() as session:
        user = find_user(session, username)
        set_active(
            session,
            user,
            active=active,
            by=admin.name,
            address=client_address(request),
        )
        session.commit()
        return _account_public(session, user)


@router.post(
    "/users/{username}/disable",
    response_model=AccountPublic,
    summary="Disable a user (admin)",
    description="The user can no longer log in; all their tokens are revoked at "
    "once (their open streams end). Not yourself, not the last active admin (409).",
    responses={**_NOT_FOUND, 409: {"description": "Yourself or the last admin"}},
)
def disable_user(
    context: ContextDep, request: Request, admin: AdminDep, username: str
) -> AccountPublic:
    return _set_active(context, request, admin, username, active=False)


@router.post(
    "/users/{username}/enable",
    response_model=AccountPublic,
    summary="Enable a user again (admin)",
    description="Tokens revoked when it was disabled stay revoked.",
    responses=_NOT_FOUND,
)
def enable_user(
    context: ContextDep, request: Request, admin: AdminDep, username: str
) -> AccountPublic:
    return _set_active(context, request, admin, username, active=True)


@router.get(
    "/users/{username}/tokens",
    response_model=TokensPublic,
    summary="A user's tokens (admin): label and dates, never the token",
    responses=_NOT_FOUND,
)
def user_tokens(context: ContextDep, _admin: AdminDep, username: str) -> TokensPublic:
    with context.sessions() as session:
        infos = list_tokens(session, find_user(session, username))
    return tokens_public(infos, now=context.clock.now())


@router.delete(
    "/users/{username}/tokens/{token_id}",
    status_code=204,
    summary="Revoke a user's token (admin)",
    responses={404: {"description": "No such user or token"}},
)
def revoke_user_token(
    context: ContextDep,
    request: Request,
    admin: AdminDep,
    username: str,
    token_id: str,
) -> Response:
    with context.sessions() as session:
        user = find_user(session, username)
        revoke_token_by_id(
            session, user, token_id, by=admin.name, address=client_address(request)
        )
        session.commit()
    return Response(status_code=204)


@router.post(
    "/users/{username}/password",
    status_code=204,
    summary="Reset another user's password (admin)",
    description="All the user's tokens are revoked; they log in with the new "
    "password. An admin changes their own password with the old one "
    "(`POST /api/v1/me/password`), not here (409).",
    responses={
        **_NOT_FOUND,
        409: {"description": "Your own password"},
        422: {"description": "The new password is too weak"},
    },
)
def reset_user_password(
    context: ContextDep,
    request: Request,
    admin: AdminDep,
    username: str,
    body: PasswordReset,
) -> Response:
    with context.sessions() as session:
        user = find_user(session, username)
        reset_password(
            session,
            user,
            new_password=body.new_password,
            by=admin.name,
            address=client_address(request),
        )
        session.commit()
    return Response(status_code=204)


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str = Field(
        description="A username, `cli:<os user>`, `system`, or `anonymous` "
        "(a failed login)."
    )
    action: str = Field(description="e.g. login, login_failed, user_disabled.")
    target: str | None = Field(
        default=None, description="Whom or what: a username, a media id, a login."
    )
    address: str | None = Field(default=None, description="The client's address.")
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditLogPublic(BaseModel):
    data: list[AuditEntryPublic]
    count: int


class AuditCsvRow(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str | None
    address: str | None
    detail: str


AUDIT_MAX_ROWS = 1000

_AUDIT_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The entries; CSV (header + one line per entry) when "
        "format=csv.",
    }
}


@router.get(
    "/audit",
    response_model=AuditLogPublic,
    responses=_AUDIT_CSV,
    summary="The audit log, newest first (admin)",
    description="Logins and failed logins, token issue and revocation, user "
    "changes, media downloads and broker logins. Append-only: the database "
    "refuses to change or delete an entry.",
)
def audit_log(
    context: ContextDep,
    _admin: AdminDep,
    since: Annotated[
        AwareDatetime | None,
        Query(
            description="Only entries at or after this (ISO 8601 with a time "
            "zone, e.g. 2026-12-01T08:00:00+08:00)."
        ),
    ] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_MAX_ROWS)] = 200,
    fmt: Annotated[
        Literal["json", "csv"],
        Query(alias="format", description="json, or csv for a spreadsheet."),
    ] = "json",
) -> AuditLogPublic | Response:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    with context.sessions() as session:
        data = [
            AuditEntryPublic(
                id=entry.id,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                address=entry.address,
                detail=entry.detail or {},
            )
            for entry in session.scalars(query)
        ]
    if fmt == "csv":
        rows = [
            AuditCsvRow(
                **entry.model_dump(exclude={"at", "detail"}),
                at=entry.at.isoformat(),
                detail=json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
            )
            for entry in data
        ]
        return Response(
            content=to_csv(neutralise_rows(rows), AuditCsvRow),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return AuditLogPublic(data=data, count=len(data))
