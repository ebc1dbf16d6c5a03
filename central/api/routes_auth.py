"""Login (OAuth2 password flow), logout and who-am-I."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import select

from central.api.deps import ActorDep, ContextDep, TokenDep
from central.auth.users import authenticate, issue_token, revoke_token
from central.db.models import User, Worker, WorkerArea

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


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Log in with username and password (OAuth2 password form)",
    responses={401: {"description": "Wrong username or password"}},
)
def login(
    context: ContextDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenResponse:
    now = context.clock.now()
    ttl = timedelta(hours=context.settings.http.token_ttl_h)
    with context.sessions() as session:
        user = authenticate(session, form.username, form.password)
        if user is None:
            raise HTTPException(
                401,
                "incorrect username or password",
                headers={"WWW-Authenticate": "Bearer"},
            )
        token = issue_token(session, user, now=now, ttl=ttl, label="login")
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


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Revoke the token this request was made with",
)
def logout(context: ContextDep, _actor: ActorDep, token: TokenDep) -> Response:
    if token:  # always set: ActorDep has answered 401 without one
        with context.sessions() as session:
            revoke_token(session, token)
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
