"""User administration (admin only): list users, disable and enable them, list
and revoke their tokens, reset their passwords.

There is no way here to act as another user: an admin never receives another
person's token or password, and every change is logged with the admin's name
(`central.auth.accounts`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.api.deps import AdminDep, ContextDep
from central.api.routes_account import PASSWORD_MAX, TokensPublic, tokens_public
from central.auth.accounts import (
    find_user,
    list_tokens,
    reset_password,
    revoke_token_by_id,
    set_active,
)
from central.db.models import ApiToken, User

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])

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


@router.get("", response_model=AccountsPublic, summary="All users (admin)")
def list_users(context: ContextDep, _admin: AdminDep) -> AccountsPublic:
    with context.sessions() as session:
        users = session.scalars(select(User).order_by(User.username))
        data = [_account_public(session, user) for user in users]
    return AccountsPublic(data=data, count=len(data))


@router.get(
    "/{username}",
    response_model=AccountPublic,
    summary="One user (admin)",
    responses=_NOT_FOUND,
)
def get_user(context: ContextDep, _admin: AdminDep, username: str) -> AccountPublic:
    with context.sessions() as session:
        return _account_public(session, find_user(session, username))


def _set_active(
    context: ContextDep, admin: AdminDep, username: str, *, active: bool
) -> AccountPublic:
    with context.sessions() as session:
        user = find_user(session, username)
        set_active(session, user, active=active, by=admin.name)
        session.commit()
        return _account_public(session, user)


@router.post(
    "/{username}/disable",
    response_model=AccountPublic,
    summary="Disable a user (admin)",
    description="The user can no longer log in; all their tokens are revoked at "
    "once (their open streams end). Not yourself, not the last active admin (409).",
    responses={**_NOT_FOUND, 409: {"description": "Yourself or the last admin"}},
)
def disable_user(context: ContextDep, admin: AdminDep, username: str) -> AccountPublic:
    return _set_active(context, admin, username, active=False)


@router.post(
    "/{username}/enable",
    response_model=AccountPublic,
    summary="Enable a user again (admin)",
    description="Tokens revoked when it was disabled stay revoked.",
    responses=_NOT_FOUND,
)
def enable_user(context: ContextDep, admin: AdminDep, username: str) -> AccountPublic:
    return _set_active(context, admin, username, active=True)


@router.get(
    "/{username}/tokens",
    response_model=TokensPublic,
    summary="A user's tokens (admin): label and dates, never the token",
    responses=_NOT_FOUND,
)
def user_tokens(context: ContextDep, _admin: AdminDep, username: str) -> TokensPublic:
    with context.sessions() as session:
        infos = list_tokens(session, find_user(session, username))
    return tokens_public(infos, now=context.clock.now())


@router.delete(
    "/{username}/tokens/{token_id}",
    status_code=204,
    summary="Revoke a user's token (admin)",
    responses={404: {"description": "No such user or token"}},
)
def revoke_user_token(
    context: ContextDep, admin: AdminDep, username: str, token_id: str
) -> Response:
    with context.sessions() as session:
        user = find_user(session, username)
        revoke_token_by_id(session, user, token_id, by=admin.name)
        session.commit()
    return Response(status_code=204)


@router.post(
    "/{username}/password",
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
    context: ContextDep, admin: AdminDep, username: str, body: PasswordReset
) -> Response:
    with context.sessions() as session:
        user = find_user(session, username)
        reset_password(session, user, new_password=body.new_password, by=admin.name)
        session.commit()
    return Response(status_code=204)
