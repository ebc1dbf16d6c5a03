"""Grid import from an uploaded GeoJSON file: what it would change (a preview that
writes nothing), then the import itself, audited with the file's SHA-256."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth.audit import AuditAction, record
from central.db.models import Area
from central.grids.geojson import GridFeature, GridFileError, parse_grid_collection
from central.importer import CHUNK, grid_area_rows, import_grids, parent_area_rows

# Columns an import writes, compared to tell an update from an unchanged row.
_COMPARED = ("level", "name", "parent_code", "geometry", "centroid_lat", "centroid_lon")
MAX_LISTED_CHANGES = 1000


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class AreaChange:
    """What importing the file does to one area (a grid or a level above it)."""

    code: str
    level: str
    name: str
    change: Change
    fields: tuple[str, ...] = ()  # the columns an update changes


@dataclass(frozen=True, slots=True)
class GridImportPlan:
    """The changes a file makes, counted per level and change; `refused` holds
    the file's problems (then nothing can be imported)."""

    sha256: str
    changes: tuple[AreaChange, ...] = ()
    refused: tuple[str, ...] = ()
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def can_apply(self) -> bool:
        return not self.refused


def parse_upload(content: bytes, *, source: str) -> list[GridFeature]:
    """The grids of an uploaded file (UTF-8 JSON, a byte-order mark allowed).

    Raises:
        GridFileError: not UTF-8 JSON, or any problem `parse_grid_collection`
            finds; the message names the file and each problem.
    """
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise GridFileError([f"not UTF-8 text: {exc}"], source=source) from exc
    except json.JSONDecodeError as exc:
        raise GridFileError([f"not valid JSON: {exc}"], source=source) from exc
    except RecursionError:
        raise GridFileError(["JSON nested too deeply"], source=source) from None
    return parse_grid_collection(document, source=source)


def plan_grid_import(
    session: Session, content: bytes, *, source: str
) -> GridImportPlan:
    """Compare the file's areas with the stored ones; reads only."""
    digest = hashlib.sha256(content).hexdigest()
    try:
        features = parse_upload(content, source=source)
    except GridFileError as exc:
        return GridImportPlan(sha256=digest, refused=tuple(exc.problems))
    return _plan(session, features, digest)


def _plan(
    session: Session, features: Sequence[GridFeature], digest: str
) -> GridImportPlan:
    rows = parent_area_rows(features) + grid_area_rows(features)
    stored = _stored_areas(session, [row["code"] for row in rows])
    changes = tuple(compare_area(row, stored.get(row["code"])) for row in rows)
    counts: dict[str, Counter[str]] = {}
    for item in changes:
        counts.setdefault(item.level, Counter())[item.change.value] += 1
    return GridImportPlan(
        sha256=digest,
        changes=changes,
        counts={
            level: {c.value: counted[c.value] for c in Change}
            for level, counted in counts.items()
        },
    )


def _stored_areas(session: Session, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    columns = [getattr(Area, name) for name in ("code", *_COMPARED)]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        for row in session.execute(select(*columns).where(Area.code.in_(chunk))):
            found[row.code] = {name: getattr(row, name) for name in _COMPARED}
    return found


def _as_stored(value: Any) -> Any:
    """A value as the JSON column gives it back (tuples become lists)."""
    return json.loads(json.dumps(value)) if isinstance(value, dict) else value


def compare_area(row: dict[str, Any], stored: dict[str, Any] | None) -> AreaChange:
    """What writing `row` (an `areas` row as the importer builds it) does to
    `stored` (the stored columns, or None when there is no such area)."""
    common = {"code": row["code"], "level": row["level"], "name": row["name"]}
    if stored is None:
        return AreaChange(**common, change=Change.CREATED)
    differing = tuple(
        name for name in _COMPARED if _as_stored(row[name]) != stored[name]
    )
    change = Change.UPDATED if differing else Change.UNCHANGED
    return AreaChange(**common, change=change, fields=differing)


def apply_grid_import(
    session: Session,
    content: bytes,
    *,
    source: str,
    actor: str,
    address: str | None,
) -> GridImportPlan:
    """Import the file's grids (flushed, not committed) and audit it
    (`grids_imported`, with the file's SHA-256 and the counts).

    Raises:
        GridFileError: the file has problems; nothing was written.
    """
    features = parse_upload(content, source=source)
    plan = _plan(session, features, hashlib.sha256(content).hexdigest())
    report = import_grids(session, features)
    record(
        session,
        actor,
        AuditAction.GRIDS_IMPORTED,
        source,
        address=address,
        detail={"sha256": plan.sha256, **report.as_dict(), "changes": plan.counts},
    )
    return plan
