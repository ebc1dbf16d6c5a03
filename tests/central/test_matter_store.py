"""The matter list as versioned data: the diff between two lists, problems named
by matter, and which list a process starts with (the file seeds an empty table;
a file's new version string is adopted; otherwise the newest stored version)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from central.db.migrate import upgrade
from central.db.models import AuditEntry, MatterListVersion
from central.db.session import make_engine, make_session_factory
from central.matter_store import (
    MatterChange,
    MatterDiff,
    MatterListEdit,
    MatterListRefused,
    apply_edit,
    diff_matter_lists,
    matter_list_in_force,
    parse_matter_text,
    text_sha256,
)
from central.matters import MatterListError

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
SHIPPED = resources.files("central").joinpath("matters.yaml").read_text("utf-8")
HEAD = 'version: "v1"\nmatters:\n'
LITTER = (
    "  - key: litter\n"
    "    event_types: [littering]\n"
    "    category: {code: '0102', class: A, subclass: B}\n"
    "    department: sanitation\n"
    "    time_limit_min: 120\n"
)
FALL = (
    "  - key: fall\n"
    "    category: {code: '0601', class: C, subclass: D}\n"
    "    department: emergency\n"
    "    time_limit_min: 15\n"
)


def listed(text: str) -> MatterDiff:
    return diff_matter_lists(
        parse_matter_text(HEAD + LITTER + FALL), parse_matter_text(text)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + LITTER + FALL, MatterDiff()),
        (HEAD + LITTER, MatterDiff(removed=("fall",))),
        (
            HEAD + LITTER + FALL + FALL.replace("key: fall", "key: slip"),
            MatterDiff(added=("slip",)),
        ),
        (
            HEAD + LITTER.replace("120", "45") + FALL,
            MatterDiff(changed=(MatterChange("litter", ("time_limit_min",)),)),
        ),
        (
            HEAD
            + LITTER.replace("sanitation", "parks")
            + "    review: {mode: review}\n    merge: {distance_m: 5, window_min: 5}\n"
            + "    camera_check: close\n"
            + FALL,
            MatterDiff(
                changed=(
                    MatterChange(
                        "litter", ("department", "review", "merge", "camera_check")
                    ),
                )
            ),
        ),
        (
            'version: "v1"\ndefaults: {escalate_after_min: [0, 5]}\nmatters:\n'
            + LITTER
            + FALL,
            MatterDiff(defaults_changed=True),
        ),
    ],
)
def test_diff_given_two_lists_should_name_added_removed_and_changed_fields(
    text: str, expected: MatterDiff
) -> None:
    diff = listed(text)
    assert diff == expected
    assert diff.is_empty is (expected == MatterDiff())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + LITTER + FALL, None),
        (
            HEAD + LITTER + FALL.replace("15", "0"),
            "matters.1 (fall).time_limit_min: Input should be greater than 0",
        ),
        (
            HEAD + LITTER.replace("    department: sanitation\n", ""),
            "matters.0 (litter).department: Field required",
        ),
        (HEAD + LITTER + LITTER, "matter key 'litter' appears twice"),
        (HEAD + "  - 7\n", "matters.0: Input should be a valid dictionary"),
        ("version: [", "not valid YAML"),
        ("just words", "Input should be a valid dictionary"),
        (
            'version: "' + "x" * 33 + '"\nmatters:\n' + LITTER,
            "version: String should have at most 32 characters",
        ),
    ],
)
def test_parse_given_bad_text_should_name_the_matter_and_field(
    text: str, expected: str | None
) -> None:
    raises: AbstractContextManager[object] = (
        nullcontext() if expected is None else pytest.raises(MatterListRefused)
    )
    with raises as caught:
        parse_matter_text(text)
    if expected is not None:
        assert isinstance(caught, pytest.ExceptionInfo)
        assert expected in str(caught.value)


# -- which list a process starts with -----------------------------------------------


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path}/c.db")
    upgrade(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.scalars(select(MatterListVersion).order_by(MatterListVersion.id))
        return [(r.version, r.created_by, r.note) for r in rows]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matters.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_start_given_an_empty_table_should_store_the_shipped_list_once(
    sessions: sessionmaker[Session],
) -> None:
    first = matter_list_in_force(sessions, None, now=NOW)
    again = matter_list_in_force(sessions, None, now=NOW)
    assert first == again
    assert stored(sessions) == [(first.version, "system", "from central/matters.yaml")]
    with sessions() as session:
        row = session.scalars(select(MatterListVersion)).one()
    assert row.sha256 == text_sha256(SHIPPED)
    assert applied_audits(sessions) == []  # seeding changes nothing


def applied_audits(sessions: sessionmaker[Session]) -> list[AuditEntry]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == "matter_list_applied")
            )
        )


def test_start_given_a_file_with_a_new_version_should_adopt_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    matter_list_in_force(sessions, write(tmp_path, HEAD + LITTER), now=NOW)
    path = write(tmp_path, HEAD.replace("v1", "v2") + LITTER + FALL)
    adopted = matter_list_in_force(sessions, path, now=NOW)
    assert adopted.version == "v2"
    assert [v for v, _, _ in stored(sessions)] == ["v1", "v2"]
    (audit,) = applied_audits(sessions)
    assert audit.actor == "system" and audit.target == "v2"
    assert audit.detail["previous"] == "v1"
    assert audit.detail["diff"]["added"] == ["fall"]


def test_start_given_a_console_edit_should_keep_it_over_the_older_file(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, HEAD + LITTER)
    seeded = matter_list_in_force(sessions, path, now=NOW)
    edit = MatterListEdit(text=HEAD.replace("v1", "v2") + LITTER + FALL, note="why")
    with sessions.begin() as session:
        apply_edit(
            session, current=seeded, edit=edit, by="admin", address=None, now=NOW
        )
    assert matter_list_in_force(sessions, path, now=NOW).version == "v2"


def test_start_given_a_file_edited_without_a_new_version_should_warn_and_keep_stored(
    sessions: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    matter_list_in_force(sessions, write(tmp_path, HEAD + LITTER), now=NOW)
    path = write(tmp_path, HEAD + LITTER.replace("120", "60"))
    with caplog.at_level(logging.WARNING, logger="central.matter_store"):
        kept = matter_list_in_force(sessions, path, now=NOW)
    assert kept.by_key("litter").time_limit_min == 120
    assert "give the file a new version string" in caplog.text


def test_start_given_an_invalid_file_should_refuse_naming_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, HEAD + LITTER.replace("120", "-1"))
    with pytest.raises(MatterListError, match=r"matters\.0 \(litter\)\.time_limit_min"):
        matter_list_in_force(sessions, path, now=NOW)
    assert stored(sessions) == []
