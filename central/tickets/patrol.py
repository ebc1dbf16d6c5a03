"""Cases a grid worker finds on patrol (网格员巡查上报): what a report is, and
how a report sent twice is recognised.

The worker either hands the case to the matter list like any other (it is
dispatched to the grid's on-duty worker) or handles it on the spot (一格解决):
the ticket is opened, dispatched to the reporter, accepted and resolved in one
transaction, each step through the transition table of `central.tickets.states`
and in the history, and then waits for an operator's check like any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.db.models import PatrolReport, Ticket, TicketSource
from central.tickets.model import ManualTicket

CLIENT_KEY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
HANDLED_ON_PATROL = "found and handled on patrol"


@dataclass(frozen=True, slots=True)
class PatrolReportIn:
    """One report from a worker's terminal.

    Attributes:
        client_key: minted once by the phone for this report; the same key from
            the same worker is the same report (a retry or a replayed queue).
        handle_self: the worker handles it now (一格解决) instead of asking for
            dispatch; then `resolution_note` (what was done) is required.
    """

    matter_key: str
    title: str
    description: str
    lat: float
    lon: float
    client_key: str
    handle_self: bool = False
    photo_sha256: str | None = None
    resolution_note: str | None = None
    after_photo_sha256: str | None = None

    def as_manual(self, reporter: str) -> ManualTicket:
        """The ticket's opening columns (source `patrol`, reported by `reporter`)."""
        return ManualTicket(
            matter_key=self.matter_key,
            title=self.title,
            description=self.description,
            source=TicketSource.PATROL,
            lat=self.lat,
            lon=self.lon,
            reporter=reporter,
            photo_sha256=self.photo_sha256,
        )


@dataclass(frozen=True, slots=True)
class PatrolOutcome:
    """The ticket of a report, whether the report had been received before,
    and whether it joined an open ticket of the same problem."""

    ticket: Ticket
    replayed: bool
    merged: bool = False


def find_reported(
    session: Session, *, worker_id: str, client_key: str
) -> Ticket | None:
    """The ticket a worker's report with this key opened, if it was received."""
    return session.scalar(
        select(Ticket)
        .join(PatrolReport, PatrolReport.ticket_id == Ticket.id)
        .where(
            PatrolReport.worker_id == worker_id,
            PatrolReport.client_key == client_key,
        )
    )
