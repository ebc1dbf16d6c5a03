"""How the chaos bench files the edge child's lines (harness/bench/chaos_stack.py)."""

from __future__ import annotations

import io
from pathlib import Path

from harness.bench.chaos_count import PhaseLog
from harness.bench.chaos_edge import EdgeLoadConfig
from harness.bench.chaos_stack import EdgeChild


def test_edge_lines_given_each_kind_should_be_filed_into_the_current_phase(
    tmp_path: Path,
) -> None:
    config = EdgeLoadConfig(
        node_id="chaos-node", host="127.0.0.1", port=1883, password_file="pw",
        outbox="outbox.sqlite", points=[(23.1, 113.2)], rate=10.0, start_index=0,
    )  # fmt: skip
    child = EdgeChild(config, tmp_path)
    phase = PhaseLog("edge_disk_full")
    child.begin(phase)
    lines = (
        b"ready 0\n"
        b"ok 0 chaos-0000000-aa\n"
        b"ok 1 chaos-0000001-bb\n"
        b"refused 2\n"
        b"error 3 database or disk is full\n"
        b"unrouted 17\n"
        b"a stray line from a library\n"
        b"warning 99 not ours\n"
        b"\n"
        b"ok 4 chaos-0000004-cc\n"
    )
    child._read(io.BytesIO(lines))
    assert list(phase.published) == [
        "chaos-0000000-aa", "chaos-0000001-bb", "chaos-0000004-cc",
    ]  # fmt: skip
    assert (phase.refused, phase.not_stored, phase.unrouted) == (1, 1, 1)
    assert child.published_total == 3
    # a restart never reuses an index a lost line may have taken
    assert child.next_index == 4 + 10
