"""A synthetic city-year of cases for `gridwatch bench city`, as COPY text.

Tickets are spread over the year before `now` with a daytime peak (more by
day than at night), over grids with uneven weights (a few busy grids, many
quiet ones). Each ticket runs the closed loop as far as `now` allows:
created (AI tickets from a camera of their grid; below-threshold ones wait for
review, some of which are rejected as false positives) → dispatched to the
grid's full-time worker → accepted → resolved (some returned once and resolved
again) → closed; citizen tickets keep the reporter's rating. Every step writes
its history row; every AI ticket has its event. Rows come out in chunks of
PostgreSQL COPY text (tab-separated, `\\N` for null), ids assigned here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from central.matters import Matter
from central.tickets.states import TicketAction, TicketState

__all__ = [
    "TABLE_COLUMNS",
    "CityRefs",
    "CopyChunk",
    "TicketMix",
    "year_of_tickets",
]

NULL = "\\N"
YEAR_S = 365 * 86400
# Share of tickets each hour of the local day (Asia/Shanghai, UTC+8): a
# daytime peak, a quiet night.
_NIGHT_TO_NOON = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5.5)
_NOON_TO_NIGHT = (5, 5, 5.5, 5.5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5)
_HOURLY = np.array((*_NIGHT_TO_NOON, *_NOON_TO_NIGHT), dtype=float)
_EVENT_ATTRIBUTES = json.dumps({"count": 1})
_HOUR_EDGES_S = np.arange(25) * 3600.0
_LOCAL_OFFSET_S = 8 * 3600

TABLE_COLUMNS: dict[str, list[str]] = {
    "tickets": [
        "id",
        "source",
        "event_type",
        "matter_key",
        "matter_version",
        "category_code",
        "category_name",
        "department_code",
        "priority",
        "state",
        "review_reason",
        "title",
        "description",
        "grid_code",
        "lat",
        "lon",
        "confidence",
        "node_id",
        "camera_id",
        "assignee_id",
        "escalation_level",
        "overdue",
        "time_limit_min",
        "observations",
        "rework_count",
        "found_at",
        "created_at",
        "dispatched_at",
        "due_at",
        "accepted_at",
        "resolved_at",
        "closed_at",
        "rejected_at",
        "last_observed_at",
        "resolution_note",
        "reject_reason",
        "reporter",
        "version",
    ],
    "ticket_history": (
        [
            "id",
            "ticket_id",
            "at",
            "actor",
            "action",
            "from_state",
            "to_state",
            "assignee_id",
        ]
    ),
    "events": [
        "event_id",
        "type",
        "node_id",
        "camera_id",
        "phase",
        "started_at",
        "detected_at",
        "received_at",
        "confidence",
        "lat",
        "lon",
        "location_source",
        "grid_code",
        "attributes",
        "model_name",
        "model_version",
        "observations",
        "ticket_id",
    ],
    "citizen_reports": (
        [
            "id",
            "ticket_id",
            "channel",
            "created_at",
            "rating",
            "rated_at",
            "reopen_count",
        ]
    ),
}


@dataclass(frozen=True, slots=True)
class CityRefs:
    """What the generated rows refer to in the imported city."""

    grid_codes: Sequence[str]
    grid_lat: npt.NDArray[np.float64]
    grid_lon: npt.NDArray[np.float64]
    # Full-time worker of each grid (same order as grid_codes).
    grid_workers: Sequence[str]
    # Cameras: (node id, camera id, index into grid_codes).
    cameras: Sequence[tuple[str, str, int]]
    # Department code of each department kind the matters name.
    departments: dict[str, str]
    matters: Sequence[Matter]
    matter_version: str


@dataclass(frozen=True, slots=True)
class TicketMix:
    """Shares that shape the year (fractions of tickets)."""

    ai: float = 0.55
    citizen: float = 0.30
    ai_review: float = 0.35  # AI tickets an operator reviews first
    review_rejected: float = 0.30  # of those, rejected as false positives
    returned: float = 0.06  # resolutions returned once for rework
    rated: float = 0.70  # closed citizen tickets the reporter rates


@dataclass(frozen=True, slots=True)
class CopyChunk:
    """COPY text per table for one chunk of tickets."""

    tickets: int
    rows: dict[str, int]
    text: dict[str, str]


def _stamps(seconds: npt.NDArray[np.float64], base: datetime) -> list[str]:
    """UTC timestamps (seconds after `base`, NaN for null) as COPY text."""
    micro = np.nan_to_num(seconds, nan=0.0) * 1e6
    moments = np.datetime64(base.replace(tzinfo=None), "us") + micro.astype(
        "timedelta64[us]"
    )
    text = np.char.add(np.datetime_as_string(moments, unit="us"), "+00")
    stamps: list[str] = np.where(np.isnan(seconds), NULL, text).tolist()
    return stamps


def _null(value: object) -> str:
    return NULL if value is None else str(value)


class _Year:
    """Draws one chunk of tickets at a time, ids running on."""

    def __init__(
        self, refs: CityRefs, mix: TicketMix, now: datetime, total: int, seed: int
    ) -> None:
        self.refs = refs
        self.mix = mix
        self.now = now.astimezone(UTC)
        self.base = self.now - timedelta(seconds=YEAR_S)
        self.rng = np.random.default_rng(seed)
        grids = len(refs.grid_codes)
        # Uneven busyness: log-normal weights (a long tail of busy grids).
        weights = self.rng.lognormal(0.0, 1.0, grids)
        self.grid_p = weights / weights.sum()
        self.hour_cdf = np.concatenate(([0.0], np.cumsum(_HOURLY / _HOURLY.sum())))
        self.total = total
        self.history_id = 0
        self.report_id = 0
        self.ai_matters = [m for m in refs.matters if m.event_types]
        cams = np.array([c[2] for c in refs.cameras], dtype=np.int64)
        self.camera_grid = cams

    def created(self, first: int, count: int) -> npt.NDArray[np.float64]:
        """Seconds after `base` of tickets first..first+count, in time order.

        Ticket k sits at the fraction (k + jitter) / total of the year, which
        keeps every chunk after the one before; within its local day the
        fraction is warped through the hourly profile (more by day)."""
        phase = ((self.base.timestamp() + _LOCAL_OFFSET_S) % 86400) / 86400
        order = np.arange(first, first + count) + self.rng.random(count)
        days = phase + order * (365 / self.total)
        day = np.floor(days)
        local_s = np.interp(days - day, self.hour_cdf, _HOUR_EDGES_S)
        seconds = day * 86400 + local_s - phase * 86400
        clipped: npt.NDArray[np.float64] = np.clip(seconds, 0, YEAR_S - 1)
        return clipped


def year_of_tickets(
    refs: CityRefs,
    *,
    total: int,
    now: datetime,
    chunk: int = 50_000,
    seed: int = 17,
    mix: TicketMix | None = None,
) -> Iterator[CopyChunk]:
    """`total` tickets created in the year before `now`, in chunks of COPY text."""
    year = _Year(refs, mix or TicketMix(), now, total, seed)
    for first in range(0, total, chunk):
        yield _chunk(year, first, min(chunk, total - first))


def _exp(rng: np.random.Generator, mean_s: float, n: int) -> npt.NDArray[np.float64]:
    drawn: npt.NDArray[np.float64] = rng.exponential(mean_s, n)
    return drawn


def _chunk(year: _Year, first: int, n: int) -> CopyChunk:
    rng, refs, mix = year.rng, year.refs, year.mix
    now_s = YEAR_S
    created = year.created(first, n)
    kind = rng.random(n)
    is_ai = kind < mix.ai
    is_citizen = (kind >= mix.ai) & (kind < mix.ai + mix.citizen)
    grid = rng.choice(len(refs.grid_codes), size=n, p=year.grid_p)
    camera = rng.integers(0, len(refs.cameras), n) if refs.cameras else None
    if camera is not None:
        grid = np.where(is_ai, year.camera_grid[camera], grid)
    matter_index = np.where(
        is_ai,
        rng.integers(0, len(year.ai_matters), n),
        rng.integers(0, len(refs.matters), n),
    )
    matters = [
        (year.ai_matters if ai else refs.matters)[int(i)]
        for ai, i in zip(is_ai, matter_index, strict=True)
    ]
    limit_s = np.array([m.time_limit_min * 60.0 for m in matters])

    reviewed = is_ai & (rng.random(n) < mix.ai_review)
    rejected_in_review = reviewed & (rng.random(n) < mix.review_rejected)
    # Operators work through the queue in about two hours on average.
    decided = created + np.where(reviewed, _exp(rng, 7200, n), _exp(rng, 90, n))
    dispatched = np.where(rejected_in_review, np.nan, decided)
    rejected_at = np.where(rejected_in_review, decided, np.nan)
    due = dispatched + limit_s
    accepted = dispatched + _exp(rng, 900, n)
    resolved_first = accepted + _exp(rng, 1, n) * limit_s * 0.5
    returned = rng.random(n) < mix.returned
    returned_at = resolved_first + _exp(rng, 1800, n)
    reaccepted = returned_at + _exp(rng, 600, n)
    resolved = np.where(
        returned, reaccepted + _exp(rng, 1, n) * limit_s * 0.3, resolved_first
    )
    closed = resolved + _exp(rng, 3600, n)

    def by_now(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(values <= now_s, values, np.nan)

    dispatched, rejected_at = by_now(dispatched), by_now(rejected_at)
    accepted = by_now(np.where(np.isnan(dispatched), np.nan, accepted))
    returned_at = by_now(np.where(returned & ~np.isnan(accepted), returned_at, np.nan))
    reaccepted = by_now(np.where(np.isnan(returned_at), np.nan, reaccepted))
    first_resolve = by_now(np.where(np.isnan(accepted), np.nan, resolved_first))
    resolved = np.where(
        returned,
        by_now(np.where(np.isnan(reaccepted), np.nan, resolved)),
        first_resolve,
    )
    closed = by_now(np.where(np.isnan(resolved), np.nan, closed))
    # Returned and not resolved again yet: resolved_at keeps the first.
    resolved_col = np.where(np.isnan(resolved), first_resolve, resolved)
    overdue = ~np.isnan(due) & (np.where(np.isnan(closed), now_s, closed) > due)
    confidence = np.where(is_ai, np.round(0.3 + 0.69 * rng.random(n), 3), np.nan)
    lat = refs.grid_lat[grid] + (rng.random(n) - 0.5) * 0.002
    lon = refs.grid_lon[grid] + (rng.random(n) - 0.5) * 0.002

    cols = {
        name: _stamps(values, year.base)
        for name, values in (
            ("created", created),
            ("dispatched", dispatched),
            ("due", due),
            ("accepted", accepted),
            ("resolved", resolved_col),
            ("closed", closed),
            ("rejected", rejected_at),
            ("first_resolve", first_resolve),
            ("returned", returned_at),
            ("reaccepted", reaccepted),
        )
    }
    rated = is_citizen & ~np.isnan(closed) & (rng.random(n) < mix.rated)
    rating_draw = rng.random(n)

    tickets: list[str] = []
    history: list[str] = []
    events: list[str] = []
    reports: list[str] = []
    counts = {"tickets": n, "ticket_history": 0, "events": 0, "citizen_reports": 0}
    for i in range(n):
        ticket_id = first + i + 1
        matter = matters[i]
        ai = bool(is_ai[i])
        source = "ai" if ai else ("citizen" if is_citizen[i] else "patrol")
        event_type = next(iter(matter.event_types)) if ai else None
        grid_code = refs.grid_codes[grid[i]]
        worker = refs.grid_workers[grid[i]]
        c = {name: values[i] for name, values in cols.items()}
        state, steps = _walk(
            c,
            reviewed=bool(reviewed[i]),
            returned=bool(returned[i]),
            worker=worker,
        )
        node, cam = ("\\N", "\\N")
        if ai and camera is not None:
            node, cam = refs.cameras[int(camera[i])][:2]
        assignee = worker if c["dispatched"] != NULL else NULL
        category = matter.category
        tickets.append(
            "\t".join(
                (
                    str(ticket_id),
                    source,
                    _null(event_type),
                    matter.key,
                    refs.matter_version,
                    category.code,
                    category.name,
                    refs.departments.get(matter.department, NULL),
                    matter.priority.value,
                    state,
                    "low_confidence" if reviewed[i] else NULL,
                    f"{matter.key.replace('_', ' ').capitalize()} #{ticket_id}",
                    "",
                    grid_code,
                    f"{lat[i]:.6f}",
                    f"{lon[i]:.6f}",
                    NULL if np.isnan(confidence[i]) else f"{confidence[i]:.3f}",
                    node,
                    cam,
                    assignee,
                    "0",
                    "t" if overdue[i] else "f",
                    str(matter.time_limit_min),
                    "1",
                    str(int(returned[i] and c["returned"] != NULL)),
                    c["created"],
                    c["created"],
                    c["dispatched"],
                    c["due"],
                    c["accepted"],
                    c["resolved"],
                    c["closed"],
                    c["rejected"],
                    c["created"],
                    NULL if c["resolved"] == NULL else "handled",
                    NULL if c["rejected"] == NULL else "false positive",
                    NULL,
                    "1",
                )
            )
        )
        for at, actor, action, before, after in steps:
            year.history_id += 1
            history.append(
                f"{year.history_id}\t{ticket_id}\t{at}\t{actor}\t{action}\t"
                f"{before}\t{after}\t{worker if action == 'dispatch' else NULL}"
            )
        if ai:
            events.append(
                "\t".join(
                    (
                        f"{ticket_id:032x}",
                        event_type or "",
                        node,
                        cam,
                        "start",
                        c["created"],
                        c["created"],
                        c["created"],
                        f"{confidence[i]:.3f}",
                        f"{lat[i]:.6f}",
                        f"{lon[i]:.6f}",
                        "ground",
                        grid_code,
                        _EVENT_ATTRIBUTES,
                        "yolox_nano",
                        "1",
                        "1",
                        str(ticket_id),
                    )
                )
            )
        if is_citizen[i]:
            year.report_id += 1
            rating = NULL
            rated_at = NULL
            if rated[i]:
                rated_at = c["closed"]
                rating = (
                    "satisfied"
                    if rating_draw[i] < 0.7
                    else "basically_satisfied"
                    if rating_draw[i] < 0.9
                    else "dissatisfied"
                )
            reports.append(
                f"{year.report_id}\t{ticket_id}\tweb\t{c['created']}\t{rating}\t"
                f"{rated_at}\t0"
            )
    counts["ticket_history"] = len(history)
    counts["events"] = len(events)
    counts["citizen_reports"] = len(reports)
    return CopyChunk(
        tickets=n,
        rows=counts,
        text={
            "tickets": _lines(tickets),
            "ticket_history": _lines(history),
            "events": _lines(events),
            "citizen_reports": _lines(reports),
        },
    )


def _lines(rows: list[str]) -> str:
    return "\n".join(rows) + "\n" if rows else ""


_S = TicketState
_A = TicketAction


def _walk(
    c: dict[str, str], *, reviewed: bool, returned: bool, worker: str
) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """The ticket's state now and its history rows (at, actor, action, from, to)."""
    steps: list[tuple[str, str, str, str, str]] = [
        (c["created"], "system", _A.CREATE, NULL, _S.PENDING_REVIEW)
    ]
    state: str = _S.PENDING_REVIEW
    if c["rejected"] != NULL:
        steps.append((c["rejected"], "operator", _A.REJECT, state, _S.REJECTED))
        return _S.REJECTED, steps
    if c["dispatched"] == NULL:
        return state, steps
    action = _A.CONFIRM if reviewed else _A.DISPATCH
    actor = "operator" if reviewed else "system"
    steps.append((c["dispatched"], actor, action, state, _S.DISPATCHED))
    state = _S.DISPATCHED
    plan = [
        ("accepted", worker, _A.ACCEPT, _S.ACCEPTED),
        ("first_resolve", worker, _A.RESOLVE, _S.RESOLVED),
    ]
    if returned:
        plan += [
            ("returned", "operator", _A.RETURN, _S.RETURNED),
            ("reaccepted", worker, _A.ACCEPT, _S.ACCEPTED),
            ("resolved", worker, _A.RESOLVE, _S.RESOLVED),
        ]
    plan.append(("closed", "operator", _A.CLOSE, _S.CLOSED))
    for column, who, act, after in plan:
        if c[column] == NULL:
            break
        steps.append((c[column], who, act, state, after))
        state = after
    return state, steps
