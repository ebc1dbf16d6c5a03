"""Idempotent ticket actions: an `Idempotency-Key` header makes a worker's action
safe to send again (a phone's offline queue replayed, a retry after an answer
lost on a poor signal).

The first request with a key claims it (a `ticket_action_keys` row) before it
acts and stores its outcome after: the ticket as the action left it, or a
refusal that is final (the state does not allow it, not yours, not valid). The
same key from the same user again gets that outcome back (same status and
body, header `Idempotent-Replayed: true`) and acts no more; another request
under a used key is refused (422); one sent while the first is still being
handled is told to retry (409). A failure that may pass (the ticket changed
under a concurrent write, no face model, a server fault) frees the key, so a
retry acts. A claim whose request died before storing its outcome (a crash) is
taken over after `STALE_AFTER`; the ticket's transition table still refuses an
action done twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from central.context import CentralContext
from central.db.models import TicketActionKey, TicketHistory, UserRole
from central.tickets.service import (
    Actor,
    ConcurrentChange,
    InvalidRequest,
    PermissionDenied,
    TicketNotFound,
)
from central.tickets.states import IllegalTransition, TicketAction

KEY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
REPLAY_HEADER = "Idempotent-Replayed"
STALE_AFTER = timedelta(minutes=5)

_Answer = TypeVar("_Answer", bound=BaseModel)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Minted once by the client for this action (8-64 letters, "
        "digits, `-` or `_`; a UUID fits). Sent again by the same user it gets "
        "the first outcome back (header `Idempotent-Replayed: true`) and does not "
        "act twice; with another request it is refused (422). Kept "
        "`retention.action_key_days`.",
    ),
]

# Refusals that are the action's answer for good: stored and replayed. Anything
# else (ConcurrentChange, a photo refused, a server fault) frees the key.
FINAL_REFUSALS: tuple[tuple[type[Exception], int], ...] = (
    (IllegalTransition, 409),
    (TicketNotFound, 404),
    (PermissionDenied, 403),
    (InvalidRequest, 422),
)


class KeyReused(InvalidRequest):
    """An Idempotency-Key already used for another request (422)."""


class KeyInFlight(ConcurrentChange):
    """The first request with this key is still being handled (409)."""


class NoLongerAssigned(TicketNotFound):
    """The ticket was given to another worker before the action arrived (404)."""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What a key stands for: one action on one ticket with one content."""

    ticket_id: int
    action: TicketAction
    fingerprint: str

    @classmethod
    def of(
        cls,
        ticket_id: int,
        action: TicketAction,
        *,
        note: str | None = None,
        photo: bytes | None = None,
    ) -> ActionRequest:
        """The request with the SHA-256 of its parts (the photo's as sent)."""
        photo_sha = hashlib.sha256(photo).hexdigest() if photo is not None else None
        parts = json.dumps([ticket_id, action.value, note, photo_sha])
        return cls(ticket_id, action, hashlib.sha256(parts.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    status_code: int
    body: dict[str, Any]


def run_once(
    context: CentralContext,
    actor: Actor,
    key: str | None,
    request: ActionRequest,
    act: Callable[[], _Answer],
) -> _Answer | JSONResponse:
    """Run `act` once per (user, key); without a key, just run it.

    Raises:
        KeyReused: the key was used for another request.
        KeyInFlight: the first request with the key is still being handled.
    """
    if key is None:
        return _explained(context, actor, request, act)
    stored = _claim(context, actor.name, key, request)
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status_code, headers={REPLAY_HEADER: "true"}
        )
    try:
        answer = _explained(context, actor, request, act)
    except Exception as exc:
        status = next(
            (code for kind, code in FINAL_REFUSALS if isinstance(exc, kind)), 0
        )
        if status and not isinstance(exc, ConcurrentChange):
            _complete(context, actor.name, key, status, {"detail": str(exc)})
        else:
            _release(context, actor.name, key)
        raise
    _complete(context, actor.name, key, 200, answer.model_dump(mode="json"))
    return answer


def _explained(
    context: CentralContext,
    actor: Actor,
    request: ActionRequest,
    act: Callable[[], _Answer],
) -> _Answer:
    """`act`, saying plainly when a worker's ticket went to someone else
    meanwhile (a queued action arriving late) rather than "not found"."""
    try:
        return act()
    except TicketNotFound as exc:
        if actor.role is UserRole.WORKER and _held_before(context, actor, request):
            raise NoLongerAssigned(
                f"ticket {request.ticket_id} was given to another worker: your "
                f"{request.action.value} was not applied"
            ) from exc
        raise


def _held_before(context: CentralContext, actor: Actor, request: ActionRequest) -> bool:
    with context.sessions() as session:
        return bool(
            session.scalar(
                select(
                    exists().where(
                        TicketHistory.ticket_id == request.ticket_id,
                        TicketHistory.assignee_id == actor.worker_id,
                    )
                )
            )
        )


def _claim(
    context: CentralContext, username: str, key: str, request: ActionRequest
) -> StoredOutcome | None:
    """Claim the key for this request (None: go on and act), or the outcome
    stored under it."""
    now = context.clock.now()
    try:
        with context.sessions.begin() as session:
            session.add(
                TicketActionKey(
                    username=username,
                    key=key,
                    ticket_id=request.ticket_id,
                    action=request.action.value,
                    fingerprint=request.fingerprint,
                    created_at=now,
                )
            )
        return None
    except IntegrityError:
        pass  # used before: read what it holds
    with context.sessions.begin() as session:
        found = session.get(TicketActionKey, (username, key))
        if found is None:  # freed a moment ago by a failed first request
            raise KeyInFlight("a request with this Idempotency-Key just failed; retry")
        if found.fingerprint != request.fingerprint:
            raise KeyReused(
                f"Idempotency-Key {key!r} was used for another request ({found.action} "
                f"of ticket {found.ticket_id}): mint a new key for a new request"
            )
        if found.status_code is not None:
            return StoredOutcome(found.status_code, dict(found.response or {}))
        if now - found.created_at < STALE_AFTER:
            raise KeyInFlight(
                "a request with this Idempotency-Key is still being handled; "
                "retry in a moment"
            )
        taken = session.execute(
            update(TicketActionKey)
            .where(
                TicketActionKey.username == username,
                TicketActionKey.key == key,
                TicketActionKey.status_code.is_(None),
                TicketActionKey.created_at == found.created_at,
            )
            .values(created_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(taken, "rowcount", 0):
            raise KeyInFlight("a request with this Idempotency-Key took it over; retry")
    return None


def _complete(
    context: CentralContext,
    username: str,
    key: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    with context.sessions.begin() as session:
        session.execute(
            update(TicketActionKey)
            .where(TicketActionKey.username == username, TicketActionKey.key == key)
            .values(
                status_code=status_code, response=body, completed_at=context.clock.now()
            )
            .execution_options(synchronize_session=False)
        )


def _release(context: CentralContext, username: str, key: str) -> None:
    with context.sessions.begin() as session:
        session.execute(
            delete(TicketActionKey).where(
                TicketActionKey.username == username,
                TicketActionKey.key == key,
                TicketActionKey.status_code.is_(None),
            )
        )
