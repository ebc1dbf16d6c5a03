"""The logged-in user's own account: their tokens and their password."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from central.api.deps import ContextDep, PrincipalDep, TokenDep
from central.api.login_throttle import HashingBusy, LoginThrottle, PasswordCheckSlots
from central.api.routes_auth import client_address, refuse_locked_out
from central.auth.accounts import (
    TokenInfo,
    WrongPassword,
    change_password,
    find_user,
    list_tokens,
    revoke_token_by_id,
)
from central.auth.audit import AuditAction, record
from central.auth.tokens import token_digest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/me", tags=["account"])

PASSWORD_MAX = 1024


class TokenPublic(BaseModel):
    id: str = Field(description="The token's public id (not the token).")
    label: str = Field(description="What it was issued for, e.g. `login`, `cli`.")
    created_at: datetime
    expires_at: datetime | None = Field(description="null: never (edge nodes only).")
    expired: bool
    current: bool = Field(
        default=False, description="The token this request was made with."
    )

    @classmethod
    def from_info(cls, info: TokenInfo, *, now: datetime) -> TokenPublic:
        return cls(
            id=info.id,
            label=info.label,
            created_at=info.created_at,
            expires_at=info.expires_at,
            expired=info.expires_at is not None and info.expires_at <= now,
            current=info.is_current,
        )


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=PASSWORD_MAX)
    new_password: str = Field(max_length=PASSWORD_MAX)


def tokens_public(infos: list[TokenInfo], *, now: datetime) -> TokensPublic:
    data = [TokenPublic.from_info(info, now=now) for info in infos]
    return TokensPublic(data=data, count=len(data))


@router.get("/tokens", response_model=TokensPublic, summary="My tokens")
def my_tokens(
    context: ContextDep, principal: PrincipalDep, token: TokenDep
) -> TokensPublic:
    with context.sessions() as session:
        user = find_user(session, principal.actor.name)
        infos = list_tokens(
            session, user, current_digest=token_digest(token) if token else None
        )
    return tokens_public(infos, now=context.clock.now())


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke one of my tokens",
    responses={404: {"description": "No such token of mine"}},
)
def revoke_my_token(
    context: ContextDep, request: Request, principal: PrincipalDep, token_id: str
) -> Response:
    with context.sessions() as session:
        user = find_user(session, principal.actor.name)
        revoke_token_by_id(
            session,
            user,
            token_id,
            by=user.username,
            address=client_address(request),
        )
        session.commit()
    return Response(status_code=204)


@router.post(
    "/password",
    status_code=204,
    summary="Change my password (needs the old one)",
    description="Every other token of mine is revoked; the one this request was "
    "made with keeps working. Wrong old passwords count as failed logins "
    "(lockout: 429 with `Retry-After`).",
    responses={
        403: {"description": "Wrong old password"},
        409: {"description": "An account without a password (edge node)"},
        422: {"description": "The new password is too weak"},
        429: {"description": "Locked out after failed attempts"},
    },
)
def change_my_password(
    context: ContextDep,
    request: Request,
    principal: PrincipalDep,
    token: TokenDep,
    body: PasswordChange,
) -> Response:
    throttle: LoginThrottle = request.app.state.login_throttle
    slots: PasswordCheckSlots = request.app.state.password_check_slots
    username, address = principal.actor.name, client_address(request)
    lockout = throttle.check(address=address, username=username)
    if lockout is not None:
        refuse_locked_out(
            context,
            lockout,
            actor=username,
            username=username,
            address=address,
            what="password change",
        )
    with context.sessions() as session:
        user = find_user(session, username)
        try:
            with slots:
                change_password(
                    session,
                    user,
                    old_password=body.old_password,
                    new_password=body.new_password,
                    keep_digest=token_digest(token) if token else None,
                    address=address,
                )
        except HashingBusy:
            raise HTTPException(
                503, "too many password checks at once", {"Retry-After": "1"}
            ) from None
        except WrongPassword:
            log.warning(
                "wrong old password in a password change for user %r from %s",
                username,
                address,
            )
            session.rollback()  # before the throttle writes on its own connection
            throttle.record_failure(address=address, username=username)
            record(
                session, username, AuditAction.PASSWORD_CHANGE_FAILED, username, address
            )
            session.commit()
            raise
        session.commit()
    throttle.record_success(username=username)
    return Response(status_code=204)
