"""FastAPI dependencies: the central context and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select

from central.auth.tokens import token_digest
from central.context import CentralContext
from central.db.models import ApiToken, User, UserRole
from central.tickets.service import Actor

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_context(request: Request) -> CentralContext:
    context: CentralContext = request.app.state.context
    return context


ContextDep = Annotated[CentralContext, Depends(get_context)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_token(
    request: Request, bearer: Annotated[str | None, Depends(oauth2)]
) -> str | None:
    """The bearer token of the request: the header, or the `access_token` query
    parameter for EventSource and <video src>, which cannot set headers."""
    return bearer or request.query_params.get("access_token")


TokenDep = Annotated[str | None, Depends(get_token)]


def current_actor(context: ContextDep, token: TokenDep) -> Actor:
    """The user behind the request's bearer token."""
    if not token:
        raise _unauthorized("not authenticated: send 'Authorization: Bearer <token>'")
    now = context.clock.now()
    with context.sessions() as session:
        row = session.execute(
            select(User, ApiToken.expires_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.digest == token_digest(token))
        ).first()
    if row is None:
        raise _unauthorized("unknown or revoked token")
    user, expires_at = row
    if expires_at is not None and expires_at <= now:
        raise _unauthorized("token expired: log in again")
    if not user.active:
        raise _unauthorized(f"user {user.username} is disabled")
    return Actor(
        user.username, UserRole(user.role), user.worker_id, node_id=user.node_id
    )


ActorDep = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: UserRole) -> object:
    allowed = frozenset(roles)

    def check(actor: ActorDep) -> Actor:
        if actor.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {actor.role.value} may not do this "
                f"(needs {', '.join(sorted(r.value for r in allowed))})",
            )
        return actor

    return Depends(check)


StaffDep = Annotated[
    Actor, require_roles(UserRole.ADMIN, UserRole.OPERATOR, UserRole.SUPERVISOR)
]
# Staff, or a grid worker (who sees only their own tickets).
MemberDep = Annotated[
    Actor,
    require_roles(
        UserRole.ADMIN, UserRole.OPERATOR, UserRole.SUPERVISOR, UserRole.WORKER
    ),
]
AdminDep = Annotated[Actor, require_roles(UserRole.ADMIN)]
WorkerDep = Annotated[Actor, require_roles(UserRole.WORKER)]
EdgeNodeDep = Annotated[Actor, require_roles(UserRole.EDGE_NODE, UserRole.ADMIN)]
