"""The matter list from the API: staff read the list in force and its versions;
an admin checks a new text (problems or a diff, nothing written) and applies it
as a new version, audited, that new tickets follow at once and another replica
within a poll. The flows run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from central.context import build_context
from central.db.models import AuditEntry, MatterListVersion, Ticket, TicketHistory
from central.reference_watch import ReferenceWatch
from tests.central.api.conftest import Api, add_ai_ticket, open_api

CURRENT = "/api/v1/matter-list"
VERSIONS = "/api/v1/matter-list/versions"
CHECK = "/api/v1/matter-list/check"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def city(
    request: pytest.FixtureRequest, tmp_path: Path, password_hash: str
) -> Iterator[Api]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_api(tmp_path, password_hash, database_url=url) as opened:
        yield opened


@pytest.fixture(scope="module")
def quiet(
    tmp_path_factory: pytest.TempPathFactory, password_hash: str
) -> Iterator[Api]:
    """One tiny city for the tests that change nothing (reads and refusals)."""
    with open_api(tmp_path_factory.mktemp("matter-admin"), password_hash) as opened:
        yield opened


def in_force(api: Api) -> dict[str, Any]:
    response = api.get("operator", CURRENT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def edited(text: str, version: str, *replacements: tuple[str, str]) -> str:
    """`text` with a new version line and each (old, new) replaced once."""
    old_version = next(
        line for line in text.splitlines() if line.startswith("version:")
    )
    text = text.replace(old_version, f'version: "{version}"', 1)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


LITTERING_LIMIT = (
    "department: sanitation\n    time_limit_min: 120",
    "department: sanitation\n    time_limit_min: 45",
)


def version_rows(api: Api) -> int:
    with api.context.sessions() as session:
        return session.scalar(select(func.count()).select_from(MatterListVersion)) or 0


def audit_rows(api: Api) -> list[AuditEntry]:
    with api.context.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "matter_list_applied")
                .order_by(AuditEntry.id)
            )
        )


# -- reading ------------------------------------------------------------------------


def test_current_given_a_fresh_database_should_be_the_shipped_list_stored_once(
    quiet: Api,
) -> None:
    body = in_force(quiet)
    assert body["version"] == quiet.context.matters.version
    assert body["created_by"] == "system"
    assert body["note"] == "from central/matters.yaml"
    assert "matters:" in body["text"]
    littering = next(m for m in body["matters"] if m["key"] == "littering")
    assert littering["department"] == "sanitation"
    assert littering["time_limit_min"] == 120
    assert littering["merge_window_min"] == 30  # the default, in force
    listed = quiet.get("admin", VERSIONS)
    assert listed.json()["count"] == 1
    one = quiet.get("operator", f"{VERSIONS}/{body['id']}")
    assert one.status_code == 200 and one.json()["text"] == body["text"]


def test_one_version_given_an_unknown_id_should_answer_404(quiet: Api) -> None:
    response = quiet.get("admin", f"{VERSIONS}/999")
    assert response.status_code == 404
    assert "999" in response.json()["detail"]


def test_a_worker_should_not_read_the_matter_list_admin_view(quiet: Api) -> None:
    assert quiet.get("worker1", CURRENT).status_code == 403


# -- checking -----------------------------------------------------------------------


def test_check_given_a_bad_time_limit_should_name_the_matter_and_field(
    quiet: Api,
) -> None:
    text = edited(
        in_force(quiet)["text"],
        "2026.12-bad",
        ("time_limit_min: 120", "time_limit_min: -5"),
    )
    before = version_rows(quiet)
    response = quiet.post("admin", CHECK, json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["can_apply"] is False and body["diff"] is None
    assert body["problems"] == [
        "matters.0 (littering).time_limit_min: Input should be greater than 0"
    ]
    assert version_rows(quiet) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("matters: [", "not valid YAML"),
        ("version: x\nmatters: []\n", "matters: List should have at least 1 item"),
    ],
)
def test_check_given_broken_text_should_say_why(
    quiet: Api, text: str, expected: str
) -> None:
    body = quiet.post("admin", CHECK, json={"text": text}).json()
    assert body["can_apply"] is False
    assert any(expected in p for p in body["problems"]), body["problems"]


def test_check_given_a_changed_list_should_list_the_changes_and_write_nothing(
    quiet: Api,
) -> None:
    text = edited(
        in_force(quiet)["text"],
        "2026.12-1",
        LITTERING_LIMIT,
        ("department: emergency", "department: health"),
        ("  - key: presence\n", "  - key: presence_watch\n"),
    )
    audited = len(audit_rows(quiet))
    body = quiet.post("admin", CHECK, json={"text": text}).json()
    assert body["can_apply"] is True, body["problems"]
    assert body["version"] == "2026.12-1"
    assert body["diff"] == {
        "added": ["presence_watch"],
        "removed": ["presence"],
        "changed": [
            {"key": "littering", "fields": ["time_limit_min"]},
            {"key": "fall", "fields": ["department"]},
        ],
        "defaults_changed": False,
    }
    assert len(audit_rows(quiet)) == audited


def test_check_given_the_version_in_force_should_ask_for_a_new_one(
    quiet: Api,
) -> None:
    body = quiet.post("admin", CHECK, json={"text": in_force(quiet)["text"]}).json()
    assert body["can_apply"] is False
    assert "give the new list a new version string" in body["problems"][0]


def test_check_and_apply_given_an_operator_should_refuse(quiet: Api) -> None:
    text = edited(in_force(quiet)["text"], "2026.12-op", LITTERING_LIMIT)
    assert quiet.post("operator", CHECK, json={"text": text}).status_code == 403
    body = {"text": text, "version": "2026.12-op"}
    assert quiet.put("operator", CURRENT, json=body).status_code == 403
    assert version_rows(quiet) == 1


# -- applying -----------------------------------------------------------------------


def test_apply_given_a_new_time_limit_should_store_audit_and_rule_new_tickets(
    city: Api,
) -> None:
    old = in_force(city)
    text = edited(old["text"], "2026.12-1", LITTERING_LIMIT)
    response = city.put(
        "admin",
        CURRENT,
        json={"text": text, "version": "2026.12-1", "note": "faster pick-up"},
    )
    assert response.status_code == 200, response.text
    applied = response.json()
    assert applied["version"] == "2026.12-1" and applied["created_by"] == "admin"
    assert city.context.matters.version == "2026.12-1"

    ticket = city.create_ticket()  # littering
    assert ticket["time_limit_min"] == 45
    with city.context.sessions() as session:
        row = session.get(Ticket, ticket["id"])
        assert row is not None and row.matter_version == "2026.12-1"

    history = city.get("admin", VERSIONS).json()["data"]
    assert [(v["version"], v["note"]) for v in history] == [
        ("2026.12-1", "faster pick-up"),
        (old["version"], "from central/matters.yaml"),
    ]
    audit = audit_rows(city)[-1]
    assert audit.actor == "admin" and audit.target == "2026.12-1"
    assert audit.detail["sha256"] == applied["sha256"]
    assert audit.detail["previous"] == old["version"]
    assert audit.detail["diff"]["changed"] == [
        {"key": "littering", "fields": ["time_limit_min"]}
    ]


def test_apply_given_a_version_already_stored_should_answer_409(city: Api) -> None:
    text = in_force(city)["text"]
    version = city.context.matters.version
    response = city.put("admin", CURRENT, json={"text": text, "version": version})
    assert response.status_code == 409
    assert "already stored" in response.json()["detail"]


def test_apply_given_a_version_other_than_the_texts_should_refuse(
    quiet: Api,
) -> None:
    text = edited(in_force(quiet)["text"], "2026.12-a", LITTERING_LIMIT)
    response = quiet.put("admin", CURRENT, json={"text": text, "version": "2026.12-b"})
    assert response.status_code == 422
    assert "not '2026.12-b'" in response.json()["detail"]
    assert version_rows(quiet) == 1


def test_apply_given_a_removed_matter_with_open_tickets_should_ask_for_a_move(
    city: Api,
) -> None:
    ticket_id = add_ai_ticket(city.context, state="dispatched", assignee_id="w1")
    text = edited(
        in_force(city)["text"],
        "2026.12-2",
        ("  - key: littering\n", "  - key: rubbish\n"),
    )
    refused = city.put("admin", CURRENT, json={"text": text, "version": "2026.12-2"})
    assert refused.status_code == 422
    assert (
        "'littering' is removed but 1 open tickets use it" in refused.json()["detail"]
    )
    assert city.context.matters.version != "2026.12-2"

    check = city.post(
        "admin", CHECK, json={"text": text, "moves": {"littering": "rubbish"}}
    ).json()
    assert check["can_apply"] is True and check["moved_tickets"] == {"littering": 1}
    moved = city.put(
        "admin",
        CURRENT,
        json={"text": text, "version": "2026.12-2", "moves": {"littering": "rubbish"}},
    )
    assert moved.status_code == 200, moved.text
    with city.context.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.matter_key == "rubbish"
        notes = session.scalars(
            select(TicketHistory.note).where(
                TicketHistory.ticket_id == ticket_id,
                TicketHistory.action == "matter_moved",
            )
        ).all()
    assert notes == [
        "matter list 2026.12-2: matter littering removed, moved to rubbish"
    ]
    assert audit_rows(city)[-1].detail["moves"] == {"littering": "rubbish"}


def test_apply_given_a_move_to_an_unknown_matter_should_refuse(quiet: Api) -> None:
    text = edited(
        in_force(quiet)["text"],
        "2026.12-3",
        ("  - key: littering\n", "  - key: rubbish\n"),
    )
    body = quiet.post(
        "admin", CHECK, json={"text": text, "moves": {"littering": "nowhere"}}
    ).json()
    assert body["problems"] == ["move 'littering' to 'nowhere': no such matter"]


# -- other processes ----------------------------------------------------------------


def test_another_replica_and_a_restart_should_follow_the_applied_version(
    city: Api,
) -> None:
    other = build_context(city.context.settings, clock=city.clock)
    try:
        watch = ReferenceWatch(other, interval_s=60)
        assert watch.check_once() is False
        text = edited(in_force(city)["text"], "2026.12-4", LITTERING_LIMIT)
        put = city.put("admin", CURRENT, json={"text": text, "version": "2026.12-4"})
        assert put.status_code == 200, put.text
        assert other.matters.version != "2026.12-4"
        assert watch.check_once() is True
        assert other.matters.version == "2026.12-4"
        assert other.tickets.matters.by_key("littering").time_limit_min == 45
    finally:
        other.engine.dispose()
    restarted = build_context(city.context.settings, clock=city.clock)
    try:  # the shipped file's version is stored already: the stored list wins
        assert restarted.matters.version == "2026.12-4"
    finally:
        restarted.engine.dispose()
