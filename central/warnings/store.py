"""The `hotspot_warnings` table: open, update, resolve, acknowledge and list.

At most one warning per grid and category is not resolved: the partial unique
index of migration 0009 enforces it, so two replicas' jobs finding the same
rise open one warning (the second insert fails in its savepoint and is read
as "already open").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.auth.audit import AuditAction, record
from central.db.models import Area, AreaLevel, HotspotWarning
from central.warnings.detector import Assessment


class WarningState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ACTIVE_STATES = (WarningState.OPEN.value, WarningState.ACKNOWLEDGED.value)


class WarningNotFound(LookupError):
    """No warning with this id."""


class AlreadyAcknowledged(ValueError):
    """The warning was acknowledged (or resolved) already."""


class UnknownArea(LookupError):
    """No area with this code."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    grid_code: str
    category_code: str


def active_warnings(session: Session) -> dict[SeriesKey, HotspotWarning]:
    """Every warning not resolved, by grid and category."""
    rows = session.scalars(
        select(HotspotWarning).where(HotspotWarning.state.in_(ACTIVE_STATES))
    )
    return {SeriesKey(w.grid_code, w.category_code): w for w in rows}


def open_warning(
    session: Session,
    *,
    key: SeriesKey,
    category_name: str,
    verdict: Assessment,
    now: datetime,
) -> HotspotWarning | None:
    """Insert an open warning; None when one for `key` is active already
    (another replica's job was first)."""
    row = HotspotWarning(
        grid_code=key.grid_code,
        category_code=key.category_code,
        category_name=category_name[:200],
        state=WarningState.OPEN.value,
        opened_at=now,
        updated_at=now,
    )
    set_figures(row, verdict)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def set_figures(row: HotspotWarning, verdict: Assessment) -> None:
    row.window_days = verdict.window_days
    row.observed = verdict.observed
    row.expected = round(verdict.expected, 4)
    row.p_value = verdict.p_value


def resolve(row: HotspotWarning, *, now: datetime) -> None:
    row.state = WarningState.RESOLVED.value
    row.resolved_at = now
    row.updated_at = now


def acknowledge(
    session: Session,
    *,
    warning_id: int,
    by: str,
    now: datetime,
    address: str | None = None,
) -> HotspotWarning:
    """Mark an open warning acknowledged by `by`, audited in the same session.

    Raises:
        WarningNotFound: no such warning.
        AlreadyAcknowledged: it is acknowledged or resolved already.
    """
    row = session.get(HotspotWarning, warning_id, with_for_update=True)
    if row is None:
        raise WarningNotFound(f"warning {warning_id} not found")
    if row.state != WarningState.OPEN.value:
        raise AlreadyAcknowledged(f"warning {warning_id} is {row.state} already")
    row.state = WarningState.ACKNOWLEDGED.value
    row.acknowledged_at = now
    row.acknowledged_by = by[:100]
    row.updated_at = now
    record(
        session,
        by,
        AuditAction.WARNING_ACKNOWLEDGED,
        f"warning:{warning_id}",
        address,
        detail={
            "grid_code": row.grid_code,
            "category_code": row.category_code,
            "observed": row.observed,
            "expected": row.expected,
        },
    )
    return row


def grid_prefix(session: Session, area_code: str) -> str:
    """The grid-code prefix of an area (a city covers its districts' codes).

    Raises:
        UnknownArea: no area with this code.
    """
    area = session.get(Area, area_code)
    if area is None:
        raise UnknownArea(f"area {area_code} not found")
    if area.level == AreaLevel.CITY.value:
        return area_code[:4]
    return area_code


def list_warnings(
    session: Session,
    *,
    states: Sequence[str] = (),
    area_code: str | None = None,
    limit: int = 200,
) -> tuple[list[HotspotWarning], int]:
    """Warnings newest first (at most `limit`), and how many match in all.

    Raises:
        UnknownArea: `area_code` names no area.
    """
    query = select(HotspotWarning)
    if states:
        query = query.where(HotspotWarning.state.in_(list(states)))
    if area_code is not None:
        prefix = grid_prefix(session, area_code)
        query = query.where(
            HotspotWarning.grid_code.startswith(prefix, autoescape=True)
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(HotspotWarning.opened_at.desc(), HotspotWarning.id.desc()).limit(
            limit
        )
    )
    return list(rows), int(total)


def changed_since(session: Session, since: datetime) -> list[HotspotWarning]:
    """Warnings updated at or after `since`, oldest change first."""
    return list(
        session.scalars(
            select(HotspotWarning)
            .where(HotspotWarning.updated_at >= since)
            .order_by(HotspotWarning.updated_at, HotspotWarning.id)
        )
    )
