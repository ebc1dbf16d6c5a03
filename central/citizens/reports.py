"""Citizen and Open311 reports: submit, follow by token, rate, reopen."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.context import CentralContext
from central.db.models import CitizenReport, Ticket, TicketSource
from central.matters import Matter
from central.tickets.model import ManualTicket, NewTicket
from central.tickets.states import TicketState

CITIZEN_ACTOR = "citizen"
COMMON_MATTERS = 5
COMMON_SINCE = timedelta(days=90)
TITLE_TEXT_MAX = 80


class CitizenError(ValueError):
    """The report itself is wrong (unknown category, outside the city)."""


class TrackingNotFound(LookupError):
    """No report has this tracking token."""


class NotAllowedNow(RuntimeError):
    """The report's ticket is not in a state that allows this (or too late)."""


class Channel(StrEnum):
    WEB = "web"
    OPEN311 = "open311"


class Rating(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


@dataclass(frozen=True, slots=True)
class ReportIn:
    """One report from outside, as the API received it."""

    matter_key: str
    description: str
    lat: float
    lon: float
    contact: str | None = None
    photo_sha256: str | None = None
    channel: Channel = Channel.WEB
    open311_client_id: int | None = None
    external_id: str | None = None
    review_first: bool = True


def token_digest(token: str) -> str:
    """What is stored of a tracking token or an API key: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matter_label(matter: Matter) -> str:
    """A matter's short name for citizens: its first event type's label, else
    the category's subclass."""
    for words in matter.event_types.values():
        if words.label:
            return words.label
    return matter.category.subclass


class ReportDesk:
    """What the citizen and Open311 routes do, on the central context."""

    def __init__(self, context: CentralContext) -> None:
        self.context = context

    # -- categories ---------------------------------------------------------------

    def common_matter_keys(self, session: Session) -> list[str]:
        """The matters reported most in the last 90 days, most first."""
        since = self.context.clock.now() - COMMON_SINCE
        rows = session.execute(
            select(Ticket.matter_key, func.count())
            .where(Ticket.created_at >= since)
            .group_by(Ticket.matter_key)
            .order_by(func.count().desc(), Ticket.matter_key)
            .limit(COMMON_MATTERS)
        ).all()
        known = {m.key for m in self.context.matters.matters}
        return [key for key, _ in rows if key in known]

    # -- submitting ----------------------------------------------------------------

    def place(self, matter_key: str, lat: float, lon: float) -> tuple[Matter, str]:
        """The matter and grid of a report (checked before a photo is stored).

        Raises:
            CitizenError: unknown category, or a position outside every grid.
        """
        try:
            matter = self.context.matters.by_key(matter_key)
        except KeyError:
            raise CitizenError(f"no category {matter_key!r}") from None
        grid_code = self.context.lookup_grid(lat, lon)
        if grid_code is None:
            raise CitizenError(
                f"the position {lat:.6f}, {lon:.6f} is outside the city's grids"
            )
        return matter, grid_code

    def submit(self, report: ReportIn) -> tuple[Ticket, str | None]:
        """Open the ticket of a report, or join the open ticket of the same
        problem nearby (`central.tickets.merging`); the tracking token (web
        reports only) is returned once and only its digest is stored.

        Raises:
            CitizenError: unknown category, or a position outside every grid.
        """
        context = self.context
        matter, grid_code = self.place(report.matter_key, report.lat, report.lon)
        source = (
            TicketSource.CITIZEN
            if report.channel is Channel.WEB
            else TicketSource.OPEN311
        )
        text = " ".join(report.description.split())
        spec = ManualTicket(
            matter_key=matter.key,
            title=f"{matter_label(matter)}: {text[:TITLE_TEXT_MAX]}".rstrip(": "),
            description=report.description,
            source=source,
            lat=report.lat,
            lon=report.lon,
            photo_sha256=report.photo_sha256,
        )
        now = context.clock.now()
        new = NewTicket.from_citizen(
            spec,
            matter=matter,
            matters=context.matters,
            departments=context.departments,
            grid_code=grid_code,
            now=now,
        )
        token = secrets.token_urlsafe(32) if report.channel is Channel.WEB else None

        def attach(session: Session, ticket: Ticket) -> int:
            row = CitizenReport(
                ticket_id=ticket.id,
                channel=report.channel.value,
                token_digest=token_digest(token) if token else None,
                contact=report.contact or None,
                open311_client_id=report.open311_client_id,
                external_id=report.external_id,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return row.id

        actor = CITIZEN_ACTOR if report.channel is Channel.WEB else "open311"
        ticket = context.tickets.open_from_outside(
            new,
            actor_name=actor,
            review_first=report.review_first,
            attach=attach,
        )
        return ticket, token

    # -- following -----------------------------------------------------------------

    @staticmethod
    def find(session: Session, token: str) -> tuple[CitizenReport, Ticket]:
        """The report and ticket of a tracking token.

        Raises:
            TrackingNotFound: no report has this token.
        """
        row = session.execute(
            select(CitizenReport, Ticket)
            .join(Ticket, Ticket.id == CitizenReport.ticket_id)
            .where(CitizenReport.token_digest == token_digest(token))
        ).first()
        if row is None:
            raise TrackingNotFound("no report with this tracking link")
        report, ticket = row
        return report, ticket

    def reopen_until(self, ticket: Ticket) -> datetime | None:
        """Until when the reporter may reopen the ticket, or None (not closed,
        or reopening is off)."""
        days = self.context.settings.citizen.reopen_days
        if ticket.state != TicketState.CLOSED.value or ticket.closed_at is None:
            return None
        if days <= 0:
            return None
        return ticket.closed_at + timedelta(days=days)

    def rate(self, token: str, rating: Rating, comment: str) -> None:
        """Rate the handling of a closed ticket, once.

        Raises:
            TrackingNotFound: unknown token.
            NotAllowedNow: not closed yet, or rated already.
        """
        with self.context.sessions.begin() as session:
            report, ticket = self.find(session, token)
            if report.rated_at is not None:
                raise NotAllowedNow("this report has been rated already")
            if ticket.state != TicketState.CLOSED.value:
                raise NotAllowedNow("a report can be rated once it is closed")
            report.rating = rating.value
            report.rating_comment = comment.strip() or None
            report.rated_at = self.context.clock.now()

    def reopen(self, token: str, reason: str) -> None:
        """Reopen a closed ticket within the configured days: back to its
        worker for rework (`TicketService.reopen`), counted against them.

        Raises:
            TrackingNotFound: unknown token.
            NotAllowedNow: not closed, or the window has passed.
        """
        now = self.context.clock.now()
        with self.context.sessions() as session:
            report, ticket = self.find(session, token)
            until = self.reopen_until(ticket)
            ticket_id, report_id = ticket.id, report.id
        if ticket.state != TicketState.CLOSED.value:
            raise NotAllowedNow("only a closed report can be reopened")
        if until is None or now > until:
            raise NotAllowedNow(
                "the time to reopen this report has passed"
                + (f" ({until.isoformat()})" if until else "")
            )
        self.context.tickets.reopen(
            ticket_id,
            reason=f"reopened by the reporter: {reason}",
            actor_name=CITIZEN_ACTOR,
        )
        with self.context.sessions.begin() as session:
            row = session.get(CitizenReport, report_id)
            if row is not None:
                row.reopen_count += 1
                row.reopened_at = now
