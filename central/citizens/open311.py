"""Open311 GeoReport v2 clients (a 12345 hotline, civic apps) and the mapping
of tickets to the spec's service requests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.citizens.reports import matter_label, token_digest
from central.citizens.words import state_words
from central.db.models import CitizenReport, Open311Client, Ticket
from central.matters import Matter
from central.tickets.states import OPEN_STATES, TicketState

KEY_PREFIX = "o311_"


class ClientNameTaken(ValueError):
    """Another Open311 client has this name."""


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A new client and its API key (shown once; only its digest is kept)."""

    client: Open311Client
    api_key: str


def issue_client(
    session: Session, *, name: str, review_first: bool, by: str, now: datetime
) -> IssuedClient:
    """Add a client with a fresh API key (flushed, not committed).

    Raises:
        ClientNameTaken: the name is in use (revoked clients keep theirs).
    """
    if session.scalar(select(Open311Client.id).where(Open311Client.name == name)):
        raise ClientNameTaken(f"an Open311 client named {name!r} exists")
    api_key = KEY_PREFIX + secrets.token_urlsafe(24)
    client = Open311Client(
        name=name,
        key_digest=token_digest(api_key),
        review_first=review_first,
        created_at=now,
        created_by=by,
    )
    session.add(client)
    session.flush()
    return IssuedClient(client, api_key)


def client_by_key(session: Session, api_key: str) -> Open311Client | None:
    """The active client holding `api_key`, or None."""
    client = session.scalar(
        select(Open311Client).where(Open311Client.key_digest == token_digest(api_key))
    )
    if client is None or client.revoked_at is not None:
        return None
    return client


def service_of(matter: Matter) -> dict[str, object]:
    """One entry of `services.json`: a matter of the matter list."""
    return {
        "service_code": matter.key,
        "service_name": matter_label(matter),
        "description": f"{matter.category.name} ({matter.category.code})",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(matter.event_types),
        "group": matter.category.class_,
    }


def status_of(ticket: Ticket) -> str:
    """The spec's two statuses: open while the ticket is, else closed."""
    return "open" if TicketState(ticket.state) in OPEN_STATES else "closed"


def status_notes(ticket: Ticket) -> str:
    notes = state_words(ticket.state)
    if ticket.state == TicketState.REJECTED.value and ticket.reject_reason:
        notes += f": {ticket.reject_reason}"
    return notes


def request_of(
    ticket: Ticket, report: CitizenReport, *, service_name: str, agency: str | None
) -> dict[str, object]:
    """One service request, in the spec's field names."""
    updated = max(
        t
        for t in (
            ticket.created_at,
            ticket.dispatched_at,
            ticket.accepted_at,
            ticket.resolved_at,
            ticket.closed_at,
            ticket.rejected_at,
        )
        if t is not None
    )
    return {
        "service_request_id": str(ticket.id),
        "external_id": report.external_id,
        "status": status_of(ticket),
        "status_notes": status_notes(ticket),
        "service_name": service_name,
        "service_code": ticket.matter_key,
        "description": ticket.description,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": ticket.created_at.isoformat(),
        "updated_datetime": updated.isoformat(),
        "expected_datetime": ticket.due_at.isoformat() if ticket.due_at else None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": ticket.lat,
        "long": ticket.lon,
        "media_url": None,
    }
