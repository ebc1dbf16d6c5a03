"""Login (OAuth2 password flow), logout and who-am-I."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import ActorDep, ContextDep, TokenDep
from central.api.login_throttle import (
    HashingBusy,
    Lockout,
    LoginThrottle,
    PasswordCheckSlots,
)
from central.auth.audit import ANONYMOUS, AuditAction, record
from central.auth.users import authenticate, issue_token, revoke_token
from central.context import CentralContext
from central.db.models import User, Worker, WorkerArea

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str = Field(
        description="Bearer token; send it as "
        "`Authorization: Bearer <token>`. Shown only once."
    )
    token_type: str = Field(default="bearer", description="Always `bearer`.")
    expires_at: datetime | None = Field(
        description="When the token stops working (UTC); null: never."
    )
    role: str = Field(description="admin, operator, supervisor, worker or edge_node.")
    username: str
    worker_id: str | None = Field(
        default=None, description="The grid worker this user is (worker role only)."
    )


class MeResponse(BaseModel):
    username: str
    role: str = Field(description="admin, operator, supervisor, worker or edge_node.")
    display_name: str = ""
    worker_id: str | None = Field(
        default=None, description="Worker users: the worker id."
    )
    worker_name: str | None = Field(
        default=None, description="Worker users: their name."
    )
    worker_role: str | None = Field(
        default=None,
        description="grid_leader, full_time, part_time or department_staff.",
    )
    areas: list[str] = Field(
        default_factory=list, description="Worker users: area codes they cover."
    )
    node_id: str | None = Field(
        default=None, description="Edge-node users: the node id."
    )


def client_address(request: Request) -> str:
    """The peer address as the server saw it (a proxy's own address unless the
    server is told to trust its forwarded headers)."""
    return request.client.host if request.client is not None else "unknown"


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Log in with username and password (OAuth2 password form)",
    description="Too many failed logins for one username or from one address "
    "lock them out for a while (429 with `Retry-After`, doubling each time); "
    "503 when too many password checks are running at once.",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Locked out after failed logins; see Retry-After"},
        503: {"description": "Too many logins at once; see Retry-After"},
    },
)
def login(
    context: ContextDep,
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenResponse:
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    lockout = throttle.check(address=address, username=form.username)
    if lockout is not None:
        refuse_locked_out(
            context,
            lockout,
            actor=ANONYMOUS,
            username=form.username,
            address=address,
            what="login",
        )
    now = context.clock.now()
    ttl = timedelta(hours=context.settings.http.token_ttl_h)
    slots: PasswordCheckSlots = request.app.state.password_check_slots
    with context.sessions() as session:
        try:
            with slots:
                user = authenticate(session, form.username, form.password)
        except HashingBusy:
            log.warning(
                "login refused (server busy) for user %r from %s",
                form.username,
                address,
            )
            raise HTTPException(
                503,
                "too many logins at once; try again shortly",
                headers={"Retry-After": "1"},
            ) from None
        if user is None:
            _record_failure(session, throttle, username=form.username, address=address)
            session.commit()
            raise HTTPException(
                401,
                "incorrect username or password",
                headers={"WWW-Authenticate": "Bearer"},
            )
        throttle.record_success(username=form.username)
        record(session, user.username, AuditAction.LOGIN, user.username, address)
        token = issue_token(
            session,
            user,
            now=now,
            ttl=ttl,
            label="login",
            max_person_ttl=timedelta(hours=context.settings.http.max_token_ttl_h),
            address=address,
        )
        response = TokenResponse(
            access_token=token,
            token_type="bearer",
            expires_at=now + ttl,
            role=user.role,
            username=user.username,
            worker_id=user.worker_id,
        )
        session.commit()
    return response


def refuse_locked_out(
    context: CentralContext,
    lockout: Lockout,
    *,
    actor: str,
    username: str,
    address: str,
    what: str,
) -> NoReturn:
    """Answer 429 to a `what` (login, password change) during a lockout: logged
    each time, audited at the lockout's first refusal in this process (later
    ones are cheap for a client to send and would only fill the audit log)."""
    log.warning(
        "%s refused (locked out by %s) for user %r from %s",
        what,
        lockout.locked_by,
        username,
        address,
    )
    if lockout.is_first_refusal:
        with context.sessions.begin() as session:
            record(
                session,
                actor,
                AuditAction.LOGIN_LOCKED,
                username,
                address,
                {
                    "refused": what,
                    "locked_by": str(lockout.locked_by),
                    "retry_after_s": lockout.retry_after_s,
                },
            )
    raise HTTPException(
        429,
        f"too many failed {'logins' if what == 'login' else 'attempts'}; "
        "try again later",
        headers={"Retry-After": str(lockout.retry_after_s)},
    )


def _record_failure(
    session: Session, throttle: LoginThrottle, *, username: str, address: str
) -> None:
    """Count, log and audit a failed login (the audit row is flushed: commit)."""
    lockout_s = throttle.record_failure(address=address, username=username)
    log.warning("failed login for user %r from %s", username, address)
    record(
        session,
        ANONYMOUS,
        AuditAction.LOGIN_FAILED,
        username,
        address,
        {"locked_for_s": lockout_s} if lockout_s is not None else None,
    )
    if lockout_s is not None:
        log.warning(
            "login locked for %d s for user %r or address %s",
            lockout_s,
            username,
            address,
        )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Revoke the token this request was made with",
)
def logout(
    context: ContextDep, request: Request, _actor: ActorDep, token: TokenDep
) -> Response:
    if token:  # always set: ActorDep has answered 401 without one
        with context.sessions() as session:
            revoke_token(session, token, address=client_address(request))
            session.commit()
    return Response(status_code=204)


@router.get("/me", response_model=MeResponse, summary="The logged-in user")
def me(context: ContextDep, actor: ActorDep) -> MeResponse:
    with context.sessions() as session:
        user = session.scalar(select(User).where(User.username == actor.name))
        if user is None:  # deleted since the token was checked
            raise HTTPException(401, "unknown user", {"WWW-Authenticate": "Bearer"})
        result = MeResponse(
            username=user.username,
            role=user.role,
            display_name=user.display_name,
            worker_id=user.worker_id,
            node_id=user.node_id,
        )
        if user.worker_id is not None:
            worker = session.get(Worker, user.worker_id)
            if worker is not None:
                result.worker_name = worker.name
                result.worker_role = worker.role
            result.areas = list(
                session.scalars(
                    select(WorkerArea.area_code)
                    .where(WorkerArea.worker_id == user.worker_id)
                    .order_by(WorkerArea.area_code)
                )
            )
    return result
