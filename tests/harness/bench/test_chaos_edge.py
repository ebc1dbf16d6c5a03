"""The chaos bench's edge load (harness/bench/chaos_edge.py): what it publishes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from harness.bench.chaos_edge import AUTO_TYPES, EdgeLoadConfig


def _config(points: list[tuple[float, float]]) -> EdgeLoadConfig:
    return EdgeLoadConfig(
        node_id="chaos-node", host="127.0.0.1", port=1883, password_file="pw",
        outbox="outbox.sqlite", points=points, rate=10.0, start_index=0,
    )  # fmt: skip


def test_event_given_indexes_should_never_repeat_a_grid_and_type() -> None:
    config = _config([(23.1, 113.2), (23.2, 113.3)])
    events = [config.event(i) for i in range(2 * len(AUTO_TYPES))]
    pairs = {(e.location.lat, e.location.lon, e.type) for e in events}
    assert len(pairs) == len(events)
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.node_id == "chaos-node" for e in events)
    assert events[0].event_id.startswith("chaos-0000000-")


def test_from_file_given_the_written_config_should_read_it_back(tmp_path: Path) -> None:
    config = _config([(23.1, 113.2)])
    path = tmp_path / "edge.json"
    path.write_text(json.dumps(asdict(config)), encoding="utf-8")
    assert EdgeLoadConfig.from_file(path) == config
