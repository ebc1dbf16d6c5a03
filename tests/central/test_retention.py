"""Retention per data class (`central/retention.py`): media expire and the API
says so, raw messages and reporters' contact data go, audit rows stay unless a
purge is configured, and the purge keeps the append-only protection whole."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from central import retention
from central.auth.audit import AuditAction
from central.auth.passwords import hash_password
from central.clock import ManualClock
from central.config import (
    CentralSettings,
    MediaSettings,
    RetentionSettings,
    SchedulerSettings,
)
from central.context import CentralContext, build_context
from central.db.models import (
    AuditEntry,
    EventMessageRow,
    MediaObject,
    MetaValue,
    Ticket,
)
from central.media import MediaStore
from central.retention import RetentionJob, apply_retention, purge_audit
from central.scheduler import DeadlineWatcher, audit_configuration
from tests.central.api.conftest import (
    PASSWORD,
    START,
    Api,
    add_ai_ticket,
    open_api,
    seed,
    tiny_jpeg,
)

KEEP_ALL = RetentionSettings(
    event_media_days=None,
    event_messages_days=None,
    citizen_contact_days=None,
    audit_days=None,
)


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def api(tmp_path: Path, password_hash: str) -> Iterator[Api]:
    with open_api(tmp_path, password_hash) as opened:
        yield opened


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def context(
    request: pytest.FixtureRequest, tmp_path: Path, password_hash: str
) -> Iterator[CentralContext]:
    """The tiny city on SQLite and on PostgreSQL, its clock at START."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/retention.db"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = CentralSettings(
        database_url=url, media=MediaSettings(dir=tmp_path / "media")
    )
    built = build_context(settings, clock=ManualClock(START))
    seed(built, password_hash, START)
    built.reload_reference_data()
    try:
        yield built
    finally:
        built.engine.dispose()


def advance(context: CentralContext, days: float) -> datetime:
    clock = context.clock
    assert isinstance(clock, ManualClock)
    return clock.advance(timedelta(days=days))


def count(context: CentralContext, model: Any) -> int:
    with context.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- media ------------------------------------------------------------------------


def upload_snapshot(api: Api, value: int, *, state: str) -> tuple[int, str]:
    """A ticket in `state` held by w1 whose event's snapshot is uploaded now."""
    jpeg = tiny_jpeg(value)
    event_id = f"evt-ret-{value:06d}"
    ticket_id = add_ai_ticket(
        api.context, state=state, assignee_id="w1", event_id=event_id
    )
    uploaded = api.put("node01", f"/api/v1/media/{event_id}/snapshot", content=jpeg)
    assert uploaded.status_code == 200, uploaded.text
    return ticket_id, hashlib.sha256(jpeg).hexdigest()


def made_before(context: CentralContext, shas: list[str], *, days: int) -> None:
    """Make media look stored `days` ago."""
    with context.sessions.begin() as session:
        session.execute(
            update(MediaObject)
            .where(MediaObject.sha256.in_(shas))
            .values(created_at=context.clock.now() - timedelta(days=days))
        )


def test_old_event_media_should_expire_and_the_api_should_say_so(api: Api) -> None:
    closed_id, old = upload_snapshot(api, 10, state="closed")
    _open_id, old_of_open = upload_snapshot(api, 20, state="dispatched")
    _, fresh = upload_snapshot(api, 30, state="closed")
    made_before(api.context, [old, old_of_open], days=91)
    media: MediaStore = cast(FastAPI, api.client.app).state.media
    settings = KEEP_ALL.model_copy(update={"event_media_days": 90})

    report = apply_retention(api.context, media, settings)

    assert report.media_expired == 1
    assert media.find(old) is None
    assert media.find(old_of_open) is not None  # an open ticket still shows it
    assert media.find(fresh) is not None
    with api.context.sessions() as session:
        row = session.get_one(MediaObject, old)
        assert row.expired_at == api.context.clock.now()
    for user in ("operator", "worker1"):
        for response in (
            api.get(user, f"/api/v1/media/{old}"),
            api.post(user, f"/api/v1/media/{old}/link"),
        ):
            assert response.status_code == 410, response.text
            assert "expired" in response.json()["detail"]
    page = api.get("operator", f"/api/v1/tickets/{closed_id}")
    assert page.status_code == 200  # the ticket page still opens
    assert page.json()["events"][0]["snapshot_url"] == f"/api/v1/media/{old}"
    assert api.get("worker2", f"/api/v1/media/{old}").status_code == 404  # not hers
    assert api.get("operator", f"/api/v1/media/{old_of_open}").status_code == 200
    assert apply_retention(api.context, media, settings).media_expired == 0


def test_media_without_a_setting_should_be_kept(api: Api) -> None:
    _, sha = upload_snapshot(api, 40, state="closed")
    made_before(api.context, [sha], days=3650)
    media: MediaStore = cast(FastAPI, api.client.app).state.media
    assert apply_retention(api.context, media, KEEP_ALL).media_expired == 0
    assert media.find(sha) is not None


# -- event messages and reporters ---------------------------------------------------


def add_message(context: CentralContext, key: str, received_at: datetime) -> None:
    with context.sessions.begin() as session:
        session.add(
            EventMessageRow(
                dedupe_key=key,
                event_id=key,
                phase="start",
                detected_at=received_at,
                received_at=received_at,
                payload={"event_id": key},
            )
        )


def test_old_event_messages_should_be_deleted(context: CentralContext) -> None:
    add_message(context, "old-1", START)
    add_message(context, "old-2", START + timedelta(hours=12))
    add_message(context, "new-1", START + timedelta(days=29))
    advance(context, 31)
    settings = KEEP_ALL.model_copy(update={"event_messages_days": 30})
    report = apply_retention(context, MediaStore(Path("/nonexistent")), settings)
    assert report.event_messages_deleted == 2
    with context.sessions() as session:
        left = set(session.scalars(select(EventMessageRow.dedupe_key)))
    assert left == {"new-1"}


def set_ticket(context: CentralContext, ticket_id: int, **values: Any) -> None:
    with context.sessions.begin() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))


def test_reporters_should_be_erased_once_their_tickets_have_ended_long_enough(
    context: CentralContext,
) -> None:
    tickets = {
        name: add_ai_ticket(context, state=state, event_id=None)
        for name, state in (
            ("closed_long_ago", "closed"),
            ("rejected_long_ago", "rejected"),
            ("closed_lately", "closed"),
            ("still_open", "dispatched"),
        )
    }
    for ticket_id in tickets.values():
        set_ticket(context, ticket_id, reporter="resident 13800000000")
    set_ticket(context, tickets["closed_long_ago"], closed_at=START)
    set_ticket(context, tickets["rejected_long_ago"], rejected_at=START)
    set_ticket(context, tickets["closed_lately"], closed_at=START + timedelta(days=300))
    advance(context, 366)
    settings = KEEP_ALL.model_copy(update={"citizen_contact_days": 365})

    report = apply_retention(context, MediaStore(Path("/nonexistent")), settings)

    assert report.reporters_erased == 2
    with context.sessions() as session:
        reporters = {
            name: session.get_one(Ticket, ticket_id).reporter
            for name, ticket_id in tickets.items()
        }
    assert reporters == {
        "closed_long_ago": None,
        "rejected_long_ago": None,
        "closed_lately": "resident 13800000000",
        "still_open": "resident 13800000000",
    }


# -- audit -----------------------------------------------------------------------------


def add_audit(context: CentralContext, at: datetime, action: str) -> None:
    with context.sessions.begin() as session:
        session.add(
            AuditEntry(at=at, actor="admin", action=action, target=None, detail={})
        )


def audit_actions(context: CentralContext) -> list[str]:
    with context.sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def assert_audit_is_append_only(context: CentralContext) -> None:
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            context.engine.begin() as conn,
        ):
            conn.execute(text(statement))


def test_audit_rows_should_be_kept_for_ever_by_default(
    context: CentralContext,
) -> None:
    assert RetentionSettings().audit_days is None
    add_audit(context, datetime(2001, 1, 1, tzinfo=UTC), "login")
    advance(context, 3650)
    report = apply_retention(
        context, MediaStore(Path("/nonexistent")), RetentionSettings()
    )
    assert report.audit_rows_purged == 0
    assert "login" in audit_actions(context)


def test_an_audit_purge_should_delete_old_rows_audit_itself_and_stay_protected(
    context: CentralContext,
) -> None:
    add_audit(context, START - timedelta(days=400), "old_one")
    add_audit(context, START - timedelta(days=200), "old_two")
    add_audit(context, START - timedelta(days=10), "recent")
    settings = KEEP_ALL.model_copy(update={"audit_days": 180})

    report = apply_retention(context, MediaStore(Path("/nonexistent")), settings)

    assert report.audit_rows_purged == 2
    assert audit_actions(context) == ["recent", AuditAction.AUDIT_PURGED.value]
    with context.sessions() as session:
        purge = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "audit_purged")
        ).one()
    assert purge.actor == "system"
    assert purge.detail["rows"] == 2
    assert_audit_is_append_only(context)


def test_a_failed_audit_purge_should_roll_back_protection_included(
    context: CentralContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_audit(context, START - timedelta(days=400), "old_one")

    def broken(_connection: Any, _dialect: str) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(retention, "_restore_protection", broken)
    with Session(context.engine) as session, pytest.raises(RuntimeError):
        purge_audit(session, before=START, by="cli:test")
    assert audit_actions(context) == ["old_one"]  # nothing deleted, nothing recorded
    assert_audit_is_append_only(context)


# -- the job, its settings and their audit ---------------------------------------


def test_the_job_should_run_once_per_interval(
    context: CentralContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[datetime] = []

    def fake_apply(ctx: CentralContext, *_: Any) -> retention.RetentionReport:
        runs.append(ctx.clock.now())
        return retention.RetentionReport()

    monkeypatch.setattr(retention, "apply_retention", fake_apply)
    job = RetentionJob(context)
    assert job.run_if_due() is not None
    assert job.run_if_due() is None
    advance(context, 0.2)  # 4.8 h: under the 6 h default
    assert job.run_if_due() is None
    advance(context, 0.1)
    assert job.run_if_due() is not None
    assert len(runs) == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"audit_days": 30},
        {"event_messages_days": 1},
        {"event_media_days": 0},
        {"interval_h": 0},
        {"unknown_days": 3},
    ],
)
def test_retention_settings_given_bad_values_should_refuse(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RetentionSettings.model_validate(bad)


def test_retention_and_matter_list_changes_should_be_audited(
    context: CentralContext,
) -> None:
    audit_configuration(context)
    audit_configuration(context)  # unchanged: no second row
    changed = context.settings.retention.model_copy(update={"audit_days": 400})
    context.settings = context.settings.model_copy(update={"retention": changed})
    audit_configuration(context)
    with context.sessions() as session:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "config_changed")
                .order_by(AuditEntry.id)
            )
        )
        digests = {m.key for m in session.scalars(select(MetaValue))}
    assert [r.target for r in rows] == ["matter_list", "retention", "retention"]
    assert rows[0].detail["value"]["version"] == context.matters.version
    assert rows[2].detail["value"]["audit_days"] == 400
    assert rows[2].detail["previous_digest"] == rows[1].detail["digest"]
    assert {"config:matter_list", "config:retention"} <= digests


def test_a_replica_starting_at_the_same_time_should_not_fail_the_audit(
    context: CentralContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two replicas on a fresh database: the other one commits the first digest
    # between our read and our insert, and our insert hits the unique key.
    import central.scheduler as scheduler
    from central.auth.audit import record_config as real

    raced: list[str] = []

    def racing(session: Any, key: str, value: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(key)
            with context.sessions.begin() as other:  # the other replica wins
                real(other, key, value, **kwargs)
            # ...after we looked: our read still sees no digest.
            monkeypatch.setattr(session, "get", lambda *_a, **_k: None)
        return real(session, key, value, **kwargs)

    monkeypatch.setattr(scheduler, "record_config", racing)
    audit_configuration(context)

    with context.sessions() as session:
        targets = [
            r.target or ""
            for r in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "config_changed")
            )
        ]
    assert raced == ["matter_list"]
    assert sorted(targets) == ["matter_list", "retention"]  # each once


def test_the_scheduler_should_audit_its_settings_and_run_retention(
    context: CentralContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = threading.Event()

    def fake_apply(*_: Any) -> retention.RetentionReport:
        ran.set()
        return retention.RetentionReport()

    monkeypatch.setattr(retention, "apply_retention", fake_apply)
    context.settings = context.settings.model_copy(
        update={"scheduler": SchedulerSettings(interval_s=0.01)}
    )
    watcher = DeadlineWatcher(context)
    watcher.start()
    try:
        assert ran.wait(timeout=10), "the scheduler never ran retention"
    finally:
        watcher.stop()
    assert "config_changed" in audit_actions(context)


def test_media_rows_of_open_tickets_should_be_kept_on_either_database(
    context: CentralContext, tmp_path: Path
) -> None:
    def sha(n: int) -> str:
        return f"{n:064x}"

    open_id = add_ai_ticket(
        context, state="dispatched", event_id="evt-open", snapshot_sha256=sha(1)
    )
    closed_id = add_ai_ticket(
        context, state="closed", event_id="evt-closed", snapshot_sha256=sha(3)
    )
    set_ticket(context, open_id, resolution_photo_sha256=sha(2))
    set_ticket(context, closed_id, resolution_photo_sha256=sha(4))
    with context.sessions.begin() as session:
        for n, kind in ((1, "snapshot"), (2, "photo"), (3, "snapshot"), (4, "photo")):
            session.add(
                MediaObject(
                    sha256=sha(n),
                    kind=kind,
                    content_type="image/jpeg",
                    size=1,
                    uploaded_by="node01",
                    created_at=START - timedelta(days=400),
                )
            )
    settings = KEEP_ALL.model_copy(
        update={"event_media_days": 90, "resolution_photo_days": 90}
    )
    report = apply_retention(context, MediaStore(tmp_path / "none"), settings)
    assert report.media_expired == 2
    with context.sessions() as session:
        expired = set(
            session.scalars(
                select(MediaObject.sha256).where(MediaObject.expired_at.is_not(None))
            )
        )
    assert expired == {sha(3), sha(4)}
