"""The central database schema (SQLAlchemy 2 declarative; Alembic migrates it).

Times are aware UTC (`UtcDateTime`). Enumerations are stored as their string
values so the schema reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from central.db.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class AreaLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


class WorkerRole(StrEnum):
    GRID_LEADER = "grid_leader"
    FULL_TIME = "full_time"
    PART_TIME = "part_time"
    DEPARTMENT_STAFF = "department_staff"


class UserRole(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    WORKER = "worker"
    EDGE_NODE = "edge_node"


class TicketSource(StrEnum):
    AI = "ai"
    CITIZEN = "citizen"
    PATROL = "patrol"
    OPEN311 = "open311"  # another system's order (a 12345 hotline, a civic app)


class Area(Base):
    """A node of the 5-level hierarchy; grids carry their polygon."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(
        String(15), ForeignKey("areas.code"), index=True
    )
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    centroid_lat: Mapped[float | None] = mapped_column(Float, default=None)
    centroid_lon: Mapped[float | None] = mapped_column(Float, default=None)


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64), index=True)


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), index=True)
    department_code: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("departments.code"), index=True
    )
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    duty: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WorkerArea(Base):
    """The areas (grids, or a community/street/district) a worker covers."""

    __tablename__ = "worker_areas"

    worker_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True
    )
    area_code: Mapped[str] = mapped_column(
        String(15), ForeignKey("areas.code"), primary_key=True, index=True
    )


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("node_id", "camera_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default="camera")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    clip: Mapped[str | None] = mapped_column(String(300), default=None)
    health: Mapped[str | None] = mapped_column(String(16), default=None)
    fps_in: Mapped[float | None] = mapped_column(Float, default=None)
    fps_analysed: Mapped[float | None] = mapped_column(Float, default=None)
    status_at: Mapped[datetime | None] = mapped_column(default=None)
    status_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_event_at: Mapped[datetime | None] = mapped_column(default=None)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    role: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("workers.id"), index=True, default=None
    )
    node_id: Mapped[str | None] = mapped_column(String(64), default=None)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token; only its sha256 digest is stored."""

    __tablename__ = "api_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class EventMessageRow(Base):
    """Every accepted message once, keyed by `EventMessage.dedupe_key`."""

    __tablename__ = "event_messages"

    dedupe_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    phase: Mapped[str] = mapped_column(String(8))
    detected_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Event(Base):
    """One AI event (all its start/update/end messages), idempotent by event_id."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(index=True)
    confidence: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    location_source: Mapped[str] = mapped_column(String(8))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    zone_id: Mapped[str | None] = mapped_column(String(64), default=None)
    image_box: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    clip_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    observations: Mapped[int] = mapped_column(Integer, default=1)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id"), index=True, default=None
    )


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_open_type_grid", "state", "event_type", "grid_code"),
        Index("ix_tickets_assignee_state", "assignee_id", "state"),
        # Reports and events join the open ticket of their matter nearby.
        Index("ix_tickets_open_matter_grid", "state", "matter_key", "grid_code"),
        # The list filtered by state, newest first; the review queue (0010).
        Index("ix_tickets_state_created", "state", "created_at"),
        # A time range's ticket ids from the index alone; newest-first order.
        Index("ix_tickets_created_id", "created_at", "id"),
        # The list's grid-prefix LIKE under a non-C collation (0010).
        Index(
            "ix_tickets_grid_code_prefix",
            "grid_code",
            "created_at",
            postgresql_ops={"grid_code": "varchar_pattern_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(32), default=None)
    matter_key: Mapped[str] = mapped_column(String(64))
    matter_version: Mapped[str] = mapped_column(String(32))
    category_code: Mapped[str] = mapped_column(String(8), index=True)
    category_name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str | None] = mapped_column(
        String(32), index=True, default=None
    )
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    review_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    node_id: Mapped[str | None] = mapped_column(String(64), default=None)
    camera_id: Mapped[str | None] = mapped_column(String(64), default=None)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    assignee_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("workers.id"), default=None
    )
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    time_limit_min: Mapped[int] = mapped_column(Integer)
    observations: Mapped[int] = mapped_column(Integer, default=1)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    found_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    rejected_at: Mapped[datetime | None] = mapped_column(default=None)
    last_observed_at: Mapped[datetime]
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    resolution_photo_sha256: Mapped[str | None] = mapped_column(
        String(64), default=None
    )
    reject_reason: Mapped[str | None] = mapped_column(Text, default=None)
    return_reason: Mapped[str | None] = mapped_column(Text, default=None)
    reporter: Mapped[str | None] = mapped_column(String(200), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


_REWORK_ACTIONS = "action IN ('resolve', 'return', 'reopen')"


class TicketHistory(Base):
    """Append-only record of every ticket transition and escalation."""

    __tablename__ = "ticket_history"
    __table_args__ = (
        # The evaluation's rework counts per ticket (0010).
        Index(
            "ix_ticket_history_rework",
            "ticket_id",
            "action",
            sqlite_where=text(_REWORK_ACTIONS),
            postgresql_where=text(_REWORK_ACTIONS),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16), default=None)
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    assignee_id: Mapped[str | None] = mapped_column(String(64), default=None)
    escalation_level: Mapped[int | None] = mapped_column(Integer, default=None)


class MediaObject(Base):
    """A stored file (snapshot, clip, resolution photo), content-addressed."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
    # Set when retention deleted the file (`central.retention`): the API answers
    # 410 for it rather than 404.
    expired_at: Mapped[datetime | None] = mapped_column(default=None)


class MetaValue(Base):
    """Small key/value facts about this database (the loaded matter list version)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class BrokerAccount(Base):
    """A broker login central provisioned (an edge node, a central replica, ...).

    Only the Mosquitto password hash is kept; the password is shown once, when
    made. Revoked accounts stay (when, and who it was) but leave the broker's files.
    """

    __tablename__ = "broker_accounts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(64), default=None)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One audited action (`central.auth.audit`): who did what to whom, from where.

    Append-only: migration 0003 makes the database itself refuse UPDATE and
    DELETE (triggers), whoever sends them; the ORM refuses them too (below). A
    later SQLite batch migration that recreates this table must recreate the
    triggers.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CitizenReport(Base):
    """A report from outside: the public page or an Open311 client.

    One row per reported ticket: how the reporter follows it (the SHA-256 of
    their tracking token, never the token), their optional contact (personal
    data: staff only, erased by retention's `citizen_contact_days`), their
    rating, and reopenings. Open311 orders keep the client and its own id.
    """

    __tablename__ = "citizen_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Several reports of one problem share its ticket (`central.tickets.merging`).
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # web | open311
    token_digest: Mapped[str | None] = mapped_column(
        String(64), unique=True, default=None
    )
    contact: Mapped[str | None] = mapped_column(String(200), default=None)
    open311_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_clients.id"), index=True, default=None
    )
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime]
    rating: Mapped[str | None] = mapped_column(String(24), default=None)
    rating_comment: Mapped[str | None] = mapped_column(Text, default=None)
    rated_at: Mapped[datetime | None] = mapped_column(default=None)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    reopened_at: Mapped[datetime | None] = mapped_column(default=None)


class Open311Client(Base):
    """A system allowed to use the Open311 endpoints (a 12345 hotline, a civic
    app): its name and the SHA-256 of its API key (the key is shown once)."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    review_first: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PatrolReport(Base):
    """A case a grid worker found on patrol (网格员巡查上报): one row per ticket.

    `client_key` is minted once by the worker's phone for the report, so a
    report sent again (a retry, a queue replayed after being offline) finds this
    row and its ticket instead of opening a second one.
    """

    __tablename__ = "patrol_reports"
    __table_args__ = (UniqueConstraint("worker_id", "client_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Several reports of one problem share its ticket (`central.tickets.merging`).
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    worker_id: Mapped[str] = mapped_column(String(64), ForeignKey("workers.id"))
    client_key: Mapped[str] = mapped_column(String(64))
    handled_self: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class TicketMerge(Base):
    """A report that joined an open ticket of the same problem (one ticket per
    problem, `central.tickets.merging`): what it said and where, so that an
    operator can split a wrong merge into a ticket of its own.

    The report's row (`citizen_report_id` or `patrol_report_id`) points at the
    ticket it belongs to now; a split moves it and records where to.
    """

    __tablename__ = "ticket_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    distance_m: Mapped[float] = mapped_column(Float)
    photo_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    citizen_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizen_reports.id"), default=None
    )
    patrol_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrol_reports.id"), default=None
    )
    merged_at: Mapped[datetime]
    split_at: Mapped[datetime | None] = mapped_column(default=None)
    split_by: Mapped[str | None] = mapped_column(String(100), default=None)
    split_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id"), default=None
    )


class LoginThrottleEntry(Base):
    """Recent failed logins of one username or client address, and its lockout
    (`central.api.login_throttle`), shared by every API replica.

    Times are epoch seconds (the throttle's wall clock). `failures_s` holds the
    times of the failures still inside the window, at most the limit's count.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures_s: Mapped[list[float]] = mapped_column(JSON, default=list)
    locked_until_s: Mapped[float] = mapped_column(Float, default=0.0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    updated_s: Mapped[float] = mapped_column(Float, index=True)


class Device(Base):
    """An IoT sensor of the city (docs/iot.md), with what central knows of it now.

    `rule_state` is the rules' memory of the device (`central.iot.rules`);
    `recent` the last readings of its main quantity as `[iso time, value]` pairs,
    oldest first, for the devices view.
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_type: Mapped[str] = mapped_column(String(32), index=True)
    gateway_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    last_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rule_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recent: Mapped[list[Any]] = mapped_column(JSON, default=list)


class HotspotWarning(Base):
    """A grid × category whose tickets are rising above its own baseline
    (`central/warnings/`): open → acknowledged (by staff) → resolved (by the
    job, once the series is back to normal). At most one warning per grid and
    category is not resolved (a partial unique index)."""

    __tablename__ = "hotspot_warnings"
    __table_args__ = (
        Index(
            "uq_hotspot_warnings_active",
            "grid_code",
            "category_code",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grid_code: Mapped[str] = mapped_column(String(15), index=True)
    category_code: Mapped[str] = mapped_column(String(8))
    category_name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    window_days: Mapped[int] = mapped_column(Integer)
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class CameraCheck(Base):
    """Central asked the node that raised a ticket to look again after its
    resolution (`central/verify/`): pending until the node answers (`gone`,
    `present`, `cannot_verify`) or the time-out answers `cannot_verify`.
    `outcome` is what the answer did to the ticket (closed, review, returned)."""

    __tablename__ = "camera_checks"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str | None] = mapped_column(String(64), default=None)
    event_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    before_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    after_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    requested_at: Mapped[datetime]
    deadline_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)


class TicketActionKey(Base):
    """A ticket action sent with an `Idempotency-Key` (`central/api/idempotency.py`):
    the same key from the same user again gets this outcome back instead of
    acting twice. `status_code` is null while the first request is being handled;
    `fingerprint` (SHA-256 of the action, ticket, note and photo) tells a replay
    from another request under a used key. Deleted after `retention.action_key_days`.
    """

    __tablename__ = "ticket_action_keys"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class MatterListVersion(Base):
    """One version of the matter list (`central/matter_store.py`): the YAML text
    as applied from the console or seeded from the file. The newest row (highest
    id) is the list in force; rows are never changed, so the history stays."""

    __tablename__ = "matter_list_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class EvaluationSnapshot(Base):
    """The evaluation of one completed month or quarter by one dimension, as
    computed at `computed_at` (`central/evaluation_snapshots.py`): the rows of
    `central.performance.evaluate` for that bucket, as JSON."""

    __tablename__ = "evaluation_snapshots"
    __table_args__ = (
        UniqueConstraint("period", "bucket_start", "dimension", "timezone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(16))
    bucket_start: Mapped[str] = mapped_column(String(10))  # local YYYY-MM-DD
    dimension: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(Float)
    row_count: Mapped[int] = mapped_column(Integer)
    # The row model's fields when stored: rows of another version are not read.
    row_schema: Mapped[str] = mapped_column(String(64))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


@event.listens_for(TicketHistory, "before_update")
@event.listens_for(TicketHistory, "before_delete")
def _history_is_append_only(*_: object) -> None:
    raise PermissionError("ticket_history is append-only")


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _audit_is_append_only(*_: object) -> None:
    raise PermissionError("audit_log is append-only")


def table_of(model: type[Base]) -> Table:
    """The model's Table (typed for SQLAlchemy Core statements)."""
    return cast(Table, model.__table__)
