"""The streamed CSV of a report: chunks of lines that add up to `to_csv`."""

from __future__ import annotations

from central.performance import FalsePositiveRow, iter_csv, to_csv


def row(n: int) -> FalsePositiveRow:
    return FalsePositiveRow(
        key=f"node-{n}/cam-1",
        node_id=f"node-{n}",
        camera_id="cam-1",
        name=None,
        ai_tickets=n + 1,
        rejected=1,
        confirmed=n,
        pending=0,
        rate=1 / (n + 1),
    )


def test_iter_csv_given_many_rows_should_chunk_them_into_the_same_text() -> None:
    rows = [row(n) for n in range(25)]
    chunks = list(iter_csv(rows, lines_per_chunk=10))
    # header + 25 lines = 26 lines: 10, 10, 6
    assert [chunk.count("\r\n") for chunk in chunks] == [10, 10, 6]
    assert "".join(chunks) == to_csv(rows)
    assert chunks[0].startswith("key,node_id,camera_id,name,ai_tickets")


def test_iter_csv_given_no_rows_should_give_the_header_or_nothing() -> None:
    assert list(iter_csv([], FalsePositiveRow)) == [to_csv([], FalsePositiveRow)]
    assert list(iter_csv([])) == []
    # A generator is read once, its first row naming the columns.
    assert "".join(iter_csv(row(n) for n in range(3))) == to_csv(
        [row(0), row(1), row(2)]
    )
