"""A new rule is one plug-in module plus one matter-list entry: a toy rule written
in a temporary module runs through the edge's node config, analysis path and event
builder, and central's ingest turns its event into a dispatched ticket."""

from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from central.clock import ManualClock
from central.db.models import Ticket
from central.ingest.processor import EventProcessor, InboundMessage
from edge.config import load_config
from edge.events.builder import EventBuilder
from edge.pipeline.camera import CameraAnalysis, TrackedRulesAnalyser
from edge.pose.movenet import PoseModels
from edge.types import Detections, Frame
from gridwatch.contract import EventMessage, EventPhase, EventType, ModelInfo, Topics
from tests.central.conftest import (
    GRID_1,
    GRID_1_WORKER,
    WEDNESDAY_10_LOCAL,
    grid_centre,
    make_context,
)

PLUGIN_MODULE = "gw_toy_graffiti_rules"
PLUGIN_SOURCE = '''
"""Toy rule: a `graffiti` event whenever a person is in the zone."""

from __future__ import annotations

from typing import Literal

from edge.rules import (
    Episode,
    Involved,
    Rule,
    RuleConfigBase,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
)


class GraffitiRuleConfig(RuleConfigBase):
    type: Literal["graffiti"] = "graffiti"
    labels: list[str] = ["person"]


class GraffitiRule(Rule):
    type_key = "graffiti"
    config_class = GraffitiRuleConfig
    event_type = "graffiti"

    def __init__(self, config: GraffitiRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self._labels = config.labels
        self._episode = Episode(
            scope=scope,
            event_type=self.event_type,
            rule_type=self.type_key,
            cooldown_s=0.0,
        )

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> GraffitiRule:
        return cls(expect_config(config, GraffitiRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        mask = obs.mask_for(self._labels)
        if mask.any() and self._episode.can_start(obs.timestamp):
            involved = Involved.from_observation(obs, mask)
            count = int(mask.sum())
            return [self._episode.start(obs.timestamp, involved, {"count": count})]
        return []
'''
GRAFFITI_MATTER = """
  - key: graffiti_on_walls
    event_types:
      graffiti: {label: Graffiti, title: Graffiti on a wall}
    category: {code: "0112", class: 市容环境, subclass: 乱涂乱画}
    department: urban_management
    time_limit_min: 240
"""
SHIPPED_MATTERS = resources.files("central").joinpath("matters.yaml").read_text("utf-8")
LABELS = ("person", "bicycle", "car")


def write_node_config(folder: Path, *, lat: float, lon: float) -> Path:
    """A node with one camera on the wall and the toy rule in its only zone."""
    config = {
        "plugins": [PLUGIN_MODULE],
        "node_id": "node-07",
        "cameras": [
            {
                "id": "wall-cam",
                "url": "rtsp://127.0.0.1:8554/wall",
                "location": {"lat": lat, "lon": lon},
                "zones": [{"id": "wall", "rules": [{"type": "graffiti"}]}],
            }
        ],
    }
    path = folder / "node.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def edge_events(node_config: Path, models_dir: Path) -> list[EventMessage]:
    """Events of the node's analysis path on frames of one person at the wall."""
    config = load_config(node_config)
    [camera] = config.cameras
    analyser = TrackedRulesAnalyser(
        CameraAnalysis.from_camera(
            camera, labels=LABELS, pose_models=PoseModels(models_dir=models_dir)
        ),
        EventBuilder.from_camera(
            camera,
            node_id=config.node_id,
            model=ModelInfo(name=config.model.name, version="test"),
        ),
    )
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    person = Detections.from_lists(
        [[300.0, 150.0, 360.0, 330.0]], confidence=[0.9], class_id=[0]
    )
    start = WEDNESDAY_10_LOCAL.timestamp()
    events = []
    for index in range(10):
        frame = Frame(
            camera_id=camera.id, index=index, captured_at=start + index / 5, image=image
        )
        events += [build() for build in analyser.analyse(frame, person).events]
    return events


def test_a_toy_rule_plug_in_and_one_matter_entry_become_a_dispatched_ticket(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_city: tuple[Path, Path],
    clock: ManualClock,
) -> None:
    # Nothing in the repository knows the type: the module and matter list below do.
    assert "graffiti" not in set(EventType)
    assert "graffiti" not in SHIPPED_MATTERS
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(
        textwrap.dedent(PLUGIN_SOURCE), encoding="utf-8"
    )
    matter_list = tmp_path / "matters.yaml"
    matter_list.write_text(SHIPPED_MATTERS + GRAFFITI_MATTER, encoding="utf-8")
    context, _ = make_context(
        f"sqlite:///{tmp_path}/central.db",
        demo_city,
        clock,
        tmp_path / "media",
        matter_list=matter_list,
    )
    try:
        lat, lon = grid_centre(context, GRID_1)
        events = edge_events(write_node_config(tmp_path, lat=lat, lon=lon), tmp_path)

        [event] = events
        assert (event.type, event.phase, event.zone_id) == (
            "graffiti",
            EventPhase.START,
            "wall",
        )
        assert event.attributes["count"] == 1
        wire = InboundMessage(Topics().events("node-07"), event.to_json().encode())
        result = EventProcessor(context).process([wire])

        assert (result.accepted, result.tickets_created) == (1, 1)
        assert result.deadletters == []
        with context.sessions() as session:
            [ticket] = session.scalars(select(Ticket)).all()
        assert (ticket.state, ticket.event_type, ticket.matter_key) == (
            "dispatched",
            "graffiti",
            "graffiti_on_walls",
        )
        assert (ticket.grid_code, ticket.assignee_id) == (GRID_1, GRID_1_WORKER)
        assert ticket.category_code == "0112"
        assert ticket.title == "Graffiti on a wall (wall-cam)"
        [(notice, recipients)] = result.notices
        assert (notice.title, notice.action, recipients) == (
            ticket.title,
            "dispatched",
            [GRID_1_WORKER],
        )
        assert notice.event_ids == [event.event_id]
    finally:
        context.engine.dispose()
