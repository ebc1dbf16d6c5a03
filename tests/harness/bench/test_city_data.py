"""The city-year generator of `bench city`: COPY rows that tell a consistent
closed loop (no database needed)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from central.matters import load_matter_list
from harness.bench.city_data import NULL, TABLE_COLUMNS, CityRefs, year_of_tickets

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
GRIDS = ["440106001001001", "440106001001002", "440106001002001"]


def refs() -> CityRefs:
    matters = load_matter_list()
    return CityRefs(
        grid_codes=GRIDS,
        grid_lat=np.array([23.1, 23.11, 23.12]),
        grid_lon=np.array([113.3, 113.31, 113.32]),
        grid_workers=["w1", "w2", "w3"],
        cameras=[("node-01", "cam-001", 0), ("node-01", "cam-002", 2)],
        departments={"sanitation": "D02", "public_security": "D03"},
        matters=matters.matters,
        matter_version=matters.version,
    )


def rows(total: int = 3000, chunk: int = 1000) -> dict[str, list[dict[str, str]]]:
    tables: dict[str, list[dict[str, str]]] = defaultdict(list)
    for part in year_of_tickets(refs(), total=total, now=NOW, chunk=chunk):
        assert part.tickets <= chunk
        for table, text in part.text.items():
            lines = text.splitlines()
            assert len(lines) == part.rows[table]
            for line in lines:
                fields = line.split("\t")
                assert len(fields) == len(TABLE_COLUMNS[table]), table
                tables[table].append(
                    dict(zip(TABLE_COLUMNS[table], fields, strict=True))
                )
    return tables


@pytest.fixture(scope="module")
def year() -> dict[str, list[dict[str, str]]]:
    return rows()


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_tickets_given_a_total_should_run_over_the_year_in_time_order(
    year: dict[str, list[dict[str, str]]],
) -> None:
    tickets = year["tickets"]
    assert [int(t["id"]) for t in tickets] == list(range(1, 3001))
    created = [stamp(t["created_at"]) for t in tickets]
    assert created == sorted(created)
    assert NOW - timedelta(days=365) <= created[0] < created[-1] <= NOW
    assert {t["grid_code"] for t in tickets} <= set(GRIDS)
    sources = {t["source"] for t in tickets}
    assert sources == {"ai", "citizen", "patrol"}


def test_states_given_the_timestamps_should_agree(
    year: dict[str, list[dict[str, str]]],
) -> None:
    states: dict[str, int] = defaultdict(int)
    for t in year["tickets"]:
        state = t["state"]
        states[state] += 1
        if state == "rejected":
            assert t["rejected_at"] != NULL and t["dispatched_at"] == NULL
        if state == "pending_review":
            assert t["dispatched_at"] == NULL
        if t["dispatched_at"] != NULL:
            assert t["assignee_id"] != NULL and t["due_at"] != NULL
            assert stamp(t["dispatched_at"]) >= stamp(t["created_at"])
        if state == "closed":
            assert stamp(t["closed_at"]) >= stamp(t["resolved_at"])
            assert stamp(t["closed_at"]) <= NOW
        if t["overdue"] == "t":
            due = stamp(t["due_at"])
            done = stamp(t["closed_at"]) if t["closed_at"] != NULL else NOW
            assert done > due
    # A year of cases is mostly closed; some rejected, a few still open.
    assert states["closed"] > 0.8 * len(year["tickets"])
    assert states["rejected"] > 0
    assert states.keys() <= {
        "pending_review",
        "dispatched",
        "accepted",
        "resolved",
        "returned",
        "closed",
        "rejected",
    }


def test_history_given_each_ticket_should_walk_to_its_state(
    year: dict[str, list[dict[str, str]]],
) -> None:
    walked: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in year["ticket_history"]:
        walked[row["ticket_id"]].append(row)
    ids = [int(h["id"]) for h in year["ticket_history"]]
    assert ids == list(range(1, len(ids) + 1))
    returns = 0
    for t in year["tickets"]:
        steps = walked[t["id"]]
        assert steps[0]["action"] == "create"
        assert steps[-1]["to_state"] == t["state"]
        for before, after in itertools.pairwise(steps):
            assert after["from_state"] == before["to_state"]
            assert stamp(after["at"]) >= stamp(before["at"])
        returns += sum(s["action"] == "return" for s in steps)
        assert int(t["rework_count"]) == sum(s["action"] == "return" for s in steps)
    assert returns > 0


def test_events_and_ratings_given_sources_should_follow_them(
    year: dict[str, list[dict[str, str]]],
) -> None:
    by_id = {t["id"]: t for t in year["tickets"]}
    ai = {i for i, t in by_id.items() if t["source"] == "ai"}
    assert {e["ticket_id"] for e in year["events"]} == ai
    for event in year["events"]:
        ticket = by_id[event["ticket_id"]]
        assert (event["node_id"], event["grid_code"]) == (
            "node-01",
            ticket["grid_code"],
        )
    reports = year["citizen_reports"]
    assert {r["ticket_id"] for r in reports} == {
        i for i, t in by_id.items() if t["source"] == "citizen"
    }
    rated = [r for r in reports if r["rating"] != NULL]
    assert rated and all(by_id[r["ticket_id"]]["state"] == "closed" for r in rated)
    assert {r["rating"] for r in rated} == {
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
    }


def test_year_given_the_same_seed_should_repeat() -> None:
    first = next(year_of_tickets(refs(), total=200, now=NOW, seed=3))
    again = next(year_of_tickets(refs(), total=200, now=NOW, seed=3))
    other = next(year_of_tickets(refs(), total=200, now=NOW, seed=4))
    assert first.text == again.text
    assert first.text["tickets"] != other.text["tickets"]
