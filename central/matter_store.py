"""The matter list as versioned data: the stored versions (`matter_list_versions`),
the list in force at start, what a new text would change, and applying it.

Every version is kept with its YAML text, SHA-256, author, time and note; the
newest row is the list in force. At start the configured file (or the shipped
one) is stored as a new version only when its version string has never been
stored, so an edit made from the console survives restarts, and a deployment
brings a new list by shipping a file with a new version string.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from central.auth.audit import SYSTEM, AuditAction, record
from central.db.models import MatterListVersion, Ticket, TicketHistory
from central.matters import MatterList, MatterListError
from central.tickets.states import OPEN_STATES
from gridwatch.validation import validation_problems

log = logging.getLogger(__name__)

SHIPPED_SOURCE = "central/matters.yaml"
# The fields of a matter a diff names (its key is what identifies it).
MATTER_FIELDS = (
    "event_types",
    "category",
    "department",
    "time_limit_min",
    "priority",
    "review",
    "merge",
    "escalate_after_min",
    "camera_check",
)
MOVE_ACTION = "matter_moved"  # ticket_history action of a ticket moved to a matter
_MATTER_INDEX = re.compile(r"^matters\.(\d+)")


class MatterListRefused(ValueError):
    """A new matter list cannot be applied; `problems` says why, each naming
    the matter or field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class MatterVersionTaken(MatterListRefused):
    """The new text's version string is already stored."""


@dataclass(frozen=True, slots=True)
class MatterChange:
    key: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MatterDiff:
    """What a new matter list changes against the one in force."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[MatterChange, ...] = ()
    defaults_changed: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.defaults_changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [{"key": c.key, "fields": list(c.fields)} for c in self.changed],
            "defaults_changed": self.defaults_changed,
        }


def diff_matter_lists(old: MatterList, new: MatterList) -> MatterDiff:
    """Matters added, removed and changed (with the fields that changed), by key."""
    old_by_key = {m.key: m for m in old.matters}
    new_by_key = {m.key: m for m in new.matters}
    changed = []
    for key, matter in new_by_key.items():
        before = old_by_key.get(key)
        if before is None:
            continue
        fields = tuple(
            name
            for name in MATTER_FIELDS
            if getattr(before, name) != getattr(matter, name)
        )
        if fields:
            changed.append(MatterChange(key, fields))
    return MatterDiff(
        added=tuple(k for k in new_by_key if k not in old_by_key),
        removed=tuple(k for k in old_by_key if k not in new_by_key),
        changed=tuple(changed),
        defaults_changed=old.defaults != new.defaults,
    )


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_matter_text(text: str) -> MatterList:
    """The matter list in `text`.

    Raises:
        MatterListRefused: each problem names its matter by index and key,
            e.g. `matters.1 (abandoned_object).time_limit_min: ...`.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MatterListRefused([f"not valid YAML: {exc}"]) from None
    try:
        return MatterList.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, limit=20)
        raise MatterListRefused([_name_matter(p, data) for p in problems]) from None


def _name_matter(problem: str, data: Any) -> str:
    match = _MATTER_INDEX.match(problem)
    if not match or not isinstance(data, dict):
        return problem
    items = data.get("matters")
    index = int(match.group(1))
    if not isinstance(items, list) or index >= len(items):
        return problem
    key = items[index].get("key") if isinstance(items[index], dict) else None
    if not isinstance(key, str):
        return problem
    return f"{match.group(0)} ({key}){problem[match.end() :]}"


# -- stored versions ----------------------------------------------------------------


def newest_version(session: Session) -> MatterListVersion | None:
    return session.scalars(
        select(MatterListVersion).order_by(MatterListVersion.id.desc()).limit(1)
    ).first()


def _store(
    session: Session,
    *,
    text: str,
    matters: MatterList,
    by: str,
    note: str,
    now: datetime,
) -> MatterListVersion:
    row = MatterListVersion(
        version=matters.version,
        text=text,
        sha256=text_sha256(text),
        created_by=by,
        created_at=now,
        note=note,
    )
    session.add(row)
    session.flush()
    return row


def open_tickets_by_matter(session: Session, keys: tuple[str, ...]) -> dict[str, int]:
    """How many open tickets each of `keys` has (keys without any left out)."""
    if not keys:
        return {}
    rows = session.execute(
        select(Ticket.matter_key, func.count())
        .where(
            Ticket.matter_key.in_(keys),
            Ticket.state.in_([s.value for s in OPEN_STATES]),
        )
        .group_by(Ticket.matter_key)
    ).all()
    return {key: int(count) for key, count in rows}


# -- start-up -----------------------------------------------------------------------


def file_text(path: Path | None) -> tuple[str, str]:
    """The text of the matter list file (the shipped one when None) and its name.

    Raises:
        MatterListError: the file cannot be read.
    """
    if path is None:
        shipped = resources.files("central").joinpath("matters.yaml")
        return shipped.read_text("utf-8"), SHIPPED_SOURCE
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise MatterListError(f"cannot read matter list {path}: {exc}") from exc


def matter_list_in_force(
    sessions: sessionmaker[Session], path: Path | None, *, now: datetime
) -> MatterList:
    """The matter list to run with: the file's when its version string is new
    (stored first, audited), else the newest stored version.

    Raises:
        MatterListError: the file cannot be read or is invalid.
    """
    text, source = file_text(path)
    try:
        from_file = parse_matter_text(text)
    except MatterListRefused as exc:
        raise MatterListError(f"{source}: {exc}") from None
    for attempt in (1, 2):
        try:
            with sessions.begin() as session:
                return _adopt_or_newest(session, text, from_file, source, now)
        except IntegrityError:
            # Two replicas starting together with a new file both insert it;
            # the loser reads the winner's row on its second try.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _adopt_or_newest(
    session: Session, text: str, from_file: MatterList, source: str, now: datetime
) -> MatterList:
    stored = session.scalars(
        select(MatterListVersion).where(MatterListVersion.version == from_file.version)
    ).first()
    if stored is None:
        current = newest_version(session)
        before = parse_stored(current) if current else None
        row = _store(
            session,
            text=text,
            matters=from_file,
            by=SYSTEM,
            note=f"from {source}",
            now=now,
        )
        if before is not None:  # the first version (seeding) changes nothing
            _audit(
                session, row, before=before, after=from_file, by=SYSTEM, address=None
            )
        log.info("matter list %s stored from %s", from_file.version, source)
        return from_file
    if stored.sha256 != text_sha256(text):
        log.warning(
            "matter list %s: version %s is stored with another text; the stored "
            "versions win (give the file a new version string to apply it)",
            source,
            from_file.version,
        )
    newest = newest_version(session)
    assert newest is not None  # `stored` is a row
    return parse_stored(newest)


def parse_stored(row: MatterListVersion) -> MatterList:
    """The matter list of a stored version.

    Raises:
        MatterListError: the stored text no longer validates (naming the version).
    """
    try:
        return parse_matter_text(row.text)
    except MatterListRefused as exc:
        raise MatterListError(f"stored matter list {row.version}: {exc}") from None


# -- applying a new version ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatterListEdit:
    """A new matter list text from an admin.

    `moves` maps each removed matter whose open tickets must go somewhere to
    the matter (of the new list) they move to.
    """

    text: str
    note: str = ""
    moves: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MatterListCheck:
    """What applying an edit would do, or why it cannot be applied."""

    matters: MatterList | None
    diff: MatterDiff | None
    problems: tuple[str, ...]
    moved_tickets: Mapping[str, int]
    version_taken: bool = False

    @property
    def can_apply(self) -> bool:
        return not self.problems


def check_edit(
    session: Session, *, current: MatterList, edit: MatterListEdit
) -> MatterListCheck:
    """Validate `edit` against the list in force and the open tickets."""
    try:
        new = parse_matter_text(edit.text)
    except MatterListRefused as exc:
        return MatterListCheck(None, None, tuple(exc.problems), {})
    diff = diff_matter_lists(current, new)
    problems: list[str] = []
    taken = session.scalar(
        select(MatterListVersion.id).where(MatterListVersion.version == new.version)
    )
    if taken is not None:
        problems.append(
            f"version {new.version!r} is already stored: give the new list a new "
            "version string"
        )
    new_keys = {m.key for m in new.matters}
    for old_key, new_key in edit.moves.items():
        if old_key not in diff.removed:
            problems.append(f"move {old_key!r}: the new list does not remove it")
        if new_key not in new_keys:
            problems.append(f"move {old_key!r} to {new_key!r}: no such matter")
    in_use = open_tickets_by_matter(session, diff.removed)
    for key, count in in_use.items():
        if key not in edit.moves:
            problems.append(
                f"matter {key!r} is removed but {count} open tickets use it: "
                "keep it, or move its tickets to another matter"
            )
    moved = {k: n for k, n in in_use.items() if k in edit.moves}
    return MatterListCheck(
        new, diff, tuple(problems), moved, version_taken=taken is not None
    )


def apply_edit(
    session: Session,
    *,
    current: MatterList,
    edit: MatterListEdit,
    by: str,
    address: str | None,
    now: datetime,
) -> tuple[MatterListVersion, MatterList, MatterDiff]:
    """Store `edit` as the newest version, move the open tickets of removed
    matters and audit it (flushed; the caller commits).

    Raises:
        MatterVersionTaken: the version string is stored already.
        MatterListRefused: the text is invalid, or removes a matter open
            tickets use without moving them.
    """
    check = check_edit(session, current=current, edit=edit)
    if check.matters is None or check.diff is None or not check.can_apply:
        refused = MatterVersionTaken if check.version_taken else MatterListRefused
        raise refused(list(check.problems))
    row = _store(
        session, text=edit.text, matters=check.matters, by=by, note=edit.note, now=now
    )
    for old_key, count in check.moved_tickets.items():
        _move_open_tickets(
            session, old_key, edit.moves[old_key], row.version, by=by, now=now
        )
        log.info(
            "%d open tickets moved from %s to %s", count, old_key, edit.moves[old_key]
        )
    _audit(
        session,
        row,
        before=current,
        after=check.matters,
        by=by,
        address=address,
        moves=dict(edit.moves),
    )
    return row, check.matters, check.diff


def _move_open_tickets(
    session: Session,
    old_key: str,
    new_key: str,
    version: str,
    *,
    by: str,
    now: datetime,
) -> None:
    open_states = [s.value for s in OPEN_STATES]
    rows = session.execute(
        select(Ticket.id, Ticket.state).where(
            Ticket.matter_key == old_key, Ticket.state.in_(open_states)
        )
    ).all()
    if not rows:
        return
    session.execute(
        update(Ticket)
        .where(Ticket.id.in_([r.id for r in rows]))
        .values(matter_key=new_key, version=Ticket.version + 1)
    )
    note = f"matter list {version}: matter {old_key} removed, moved to {new_key}"
    session.execute(
        insert(TicketHistory),
        [
            {
                "ticket_id": r.id,
                "at": now,
                "actor": by[:64],
                "action": MOVE_ACTION,
                "from_state": r.state,
                "to_state": r.state,
                "note": note,
            }
            for r in rows
        ],
    )


def _audit(
    session: Session,
    row: MatterListVersion,
    *,
    before: MatterList,
    after: MatterList,
    by: str,
    address: str | None,
    moves: dict[str, str] | None = None,
) -> None:
    record(
        session,
        by,
        AuditAction.MATTER_LIST_APPLIED,
        row.version,
        address,
        detail={
            "version": row.version,
            "sha256": row.sha256,
            "previous": before.version,
            "diff": diff_matter_lists(before, after).as_dict(),
            "moves": moves or {},
            "note": row.note,
        },
    )
