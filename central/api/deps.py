"""FastAPI dependencies: the central context, the link signer and the actor."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select

from central.auth.links import LinkSigner
from central.auth.tokens import token_digest
from central.config import CentralConfigError, LinkSettings
from central.context import CentralContext
from central.db.models import ApiToken, User, UserRole
from central.tickets.service import STAFF_ROLES, Actor

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

_SIGNER_LOCK = threading.Lock()


def get_context(request: Request) -> CentralContext:
    context: CentralContext = request.app.state.context
    return context


ContextDep = Annotated[CentralContext, Depends(get_context)]


def build_link_signer(
    settings: LinkSettings, environ: Mapping[str, str] | None = None
) -> LinkSigner:
    """The signer of `http.links`, the environment winning over it
    (`LinkSigner.from_sources`); called when the API app is built, so that a bad
    secret stops the start-up rather than the first request.

    Raises:
        CentralConfigError: an unreadable or short secret file (naming it), a
            short `GRIDWATCH_LINK_SECRET` or a bad lifetime variable.
    """
    try:
        return LinkSigner.from_sources(
            secret_file=settings.secret_file,
            media_ttl_s=settings.media_ttl_s,
            stream_ttl_s=settings.stream_ticket_ttl_s,
            environ=environ,
        )
    except ValueError as exc:
        raise CentralConfigError(f"http.links: {exc}") from exc


def get_link_signer(request: Request) -> LinkSigner:
    """The app's signer of media links and stream tickets (`app.state.link_signer`,
    set by `create_app`), made from the context's settings on first use in an app
    assembled without one."""
    state = request.app.state
    with _SIGNER_LOCK:  # one key per app: two would refuse each other's links
        signer: LinkSigner | None = getattr(state, "link_signer", None)
        if signer is None:
            context: CentralContext = state.context
            signer = build_link_signer(context.settings.http.links)
            state.link_signer = signer
    return signer


LinkSignerDep = Annotated[LinkSigner, Depends(get_link_signer)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_token(bearer: Annotated[str | None, Depends(oauth2)]) -> str | None:
    """The bearer token of the request's `Authorization` header.

    Never from the query string: a token in a URL leaks into logs, history and
    `Referer`. Pages use signed media links and stream tickets instead."""
    return bearer


TokenDep = Annotated[str | None, Depends(get_token)]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user: their row id (what signed links name) and actor."""

    user_id: int
    actor: Actor


def _actor_of(user: User) -> Actor:
    return Actor(
        user.username, UserRole(user.role), user.worker_id, node_id=user.node_id
    )


def not_authenticated(request: Request) -> HTTPException:
    """The 401 of a request without a bearer header (naming a stray
    `access_token` query parameter, which is no longer accepted)."""
    if "access_token" in request.query_params:
        return _unauthorized(
            "the access_token query parameter is not accepted (a token in a URL "
            "leaks into logs): send 'Authorization: Bearer <token>'"
        )
    return _unauthorized("not authenticated: send 'Authorization: Bearer <token>'")


def current_principal(
    request: Request, context: ContextDep, token: TokenDep
) -> Principal:
    """The user behind the request's bearer token."""
    if not token:
        raise not_authenticated(request)
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
    return Principal(user.id, _actor_of(user))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def current_actor(principal: PrincipalDep) -> Actor:
    return principal.actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def actor_of_user(context: CentralContext, user_id: int) -> Actor:
    """The actor a signed link or stream ticket was issued to, as they are now.

    Raises:
        HTTPException: 401 when the user is gone or disabled.
    """
    with context.sessions() as session:
        user = session.get(User, user_id)
        if user is None:
            raise _unauthorized("the user this link was issued to no longer exists")
        if not user.active:
            raise _unauthorized(f"user {user.username} is disabled")
        return _actor_of(user)


def ensure_role(actor: Actor, allowed: frozenset[UserRole]) -> Actor:
    """`actor`, or a 403 naming the roles that may."""
    if actor.role not in allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a {actor.role.value} may not do this "
            f"(needs {', '.join(sorted(r.value for r in allowed))})",
        )
    return actor


# Staff, or a grid worker (who sees only their own tickets).
MEMBER_ROLES = STAFF_ROLES | {UserRole.WORKER}


def require_roles(*roles: UserRole) -> object:
    allowed = frozenset(roles)

    def check(actor: ActorDep) -> Actor:
        return ensure_role(actor, allowed)

    return Depends(check)


StaffDep = Annotated[Actor, require_roles(*STAFF_ROLES)]
MemberDep = Annotated[Actor, require_roles(*MEMBER_ROLES)]
AdminDep = Annotated[Actor, require_roles(UserRole.ADMIN)]
WorkerDep = Annotated[Actor, require_roles(UserRole.WORKER)]
EdgeNodeDep = Annotated[Actor, require_roles(UserRole.EDGE_NODE, UserRole.ADMIN)]
