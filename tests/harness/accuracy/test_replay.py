"""The replay's pure parts: speed scaling, clip links, clip-time mapping."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.config import CameraConfig
from gridwatch.contract import (
    CameraHealth,
    CameraStatusMessage,
    EventMessage,
    EventPhase,
    EventType,
    Location,
    LocationSource,
    Media,
    ModelInfo,
    OccupancyMessage,
    SnapshotRef,
)
from harness.accuracy.collector import NodeMessages
from harness.accuracy.replay import (
    ReplaySettings,
    ReplayStack,
    ReplayTiming,
    ScenarioRun,
    scale_camera,
    to_run,
)
from harness.accuracy.scenario import LoadedScenario, Scenario
from simulators.clips import link_clips
from tests.harness.accuracy.factories import sample

T0 = 1_700_000_000.0


def camera(**extra: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "c",
            "url": "rtsp://h/c",
            "location": {"lat": 1.0, "lon": 2.0},
            "analysis_fps": 5,
            "zones": [
                {
                    "id": "z",
                    "rules": [
                        {"type": "occupancy"},
                        {"type": "crowding", "threshold": 3, "dwell_s": 4.0},
                        {"type": "intrusion", "min_s": 1, "clear_s": 2},
                    ],
                }
            ],
            **extra,
        }
    )


def test_scale_camera_given_speed_1_should_keep_everything() -> None:
    data = scale_camera(camera(), 1.0)

    assert CameraConfig.model_validate(data) == camera()


def test_scale_camera_given_speed_2_should_halve_rule_seconds_and_double_fps() -> None:
    data = scale_camera(camera(), 2.0)

    crowding = data["zones"][0]["rules"][1]
    intrusion = data["zones"][0]["rules"][2]
    assert data["analysis_fps"] == 10
    assert crowding["dwell_s"] == 2.0
    assert crowding["cooldown_s"] == 30.0
    assert crowding["threshold"] == 3  # not a duration
    assert intrusion["min_s"] == 0.5
    assert data["read_timeout_s"] == 5.0  # camera timeouts stay wall-clock
    CameraConfig.model_validate(data)


def test_scale_camera_given_fast_speed_should_cap_analysis_fps() -> None:
    assert scale_camera(camera(analysis_fps=20), 4.0)["analysis_fps"] == 60


def test_link_clips_given_subfolders_should_give_flat_unique_mounts(
    tmp_path: Path,
) -> None:
    media = tmp_path / "media"
    (media / "gmdcsa24").mkdir(parents=True)
    names = ("gmdcsa24/subject_1_fall_13.mp4", "walk.mp4", "walk.gif")
    for name in names:
        (media / name).write_bytes(b"x")
    clips = {name: media / name for name in names}

    mounts = link_clips(clips, tmp_path / "flat")

    assert mounts == {
        "gmdcsa24/subject_1_fall_13.mp4": "gmdcsa24__subject_1_fall_13",
        "walk.gif": "walk",
        "walk.mp4": "walk-2",
    }
    links = sorted(p.name for p in (tmp_path / "flat").iterdir())
    assert links == ["gmdcsa24__subject_1_fall_13.mp4", "walk-2.mp4", "walk.gif"]
    link = tmp_path / "flat" / "walk-2.mp4"
    assert link.resolve() == (media / "walk.mp4").resolve()


def event(
    phase: EventPhase, at: float, *, snapshot: bytes | None = None
) -> EventMessage:
    media = Media()
    if snapshot is not None:
        media = Media(
            snapshot=SnapshotRef(
                sha256=hashlib.sha256(snapshot).hexdigest(),
                bytes_b64=base64.b64encode(snapshot).decode(),
            )
        )
    return EventMessage(
        event_id="event-0001",
        type=EventType.INTRUSION,
        phase=phase,
        node_id="n",
        camera_id="c",
        started_at=datetime.fromtimestamp(at, UTC),
        detected_at=datetime.fromtimestamp(at, UTC),
        confidence=0.7,
        location=Location(lat=1, lon=2, source=LocationSource.CAMERA),
        image_box=(0.1, 0.2, 0.3, 0.4),
        zone_id="z",
        media=media,
        model=ModelInfo(name="m", version="1"),
    )


@pytest.mark.parametrize("speed", [1.0, 2.0])
def test_to_run_given_messages_should_map_start_events_to_clip_time(
    speed: float,
) -> None:
    messages = NodeMessages(
        events=[
            event(EventPhase.START, T0 + 3.0, snapshot=b"\xff\xd8jpeg"),
            event(EventPhase.UPDATE, T0 + 4.0),
            event(EventPhase.END, T0 + 5.0),
        ],
        occupancy=[
            OccupancyMessage(
                node_id="n",
                camera_id="c",
                at=datetime.fromtimestamp(T0 + 1.5, UTC),
                zones={"z": {"person": 2}},
            )
        ],
        camera_status=[
            CameraStatusMessage(
                node_id="n", camera_id="c", health=h, fps_in=10, fps_analysed=f
            )
            for h, f in [
                (CameraHealth.ONLINE, 4.0),
                (CameraHealth.ONLINE, 6.0),
                (CameraHealth.OFFLINE, 0.0),
            ]
        ],
        invalid=[("gw/v1/edge/n/events", "bad json")],
    )
    timing = ReplayTiming(seconds=10.0, clip_s=8.0, start_s=0.5)

    run = to_run(messages, started_at=T0, speed=speed, timing=timing)

    assert [(e.type, e.t_s) for e in run.events] == [("intrusion", 3.0 * speed)]
    assert run.events[0].snapshot_jpeg == b"\xff\xd8jpeg"
    assert run.events[0].image_box == (0.1, 0.2, 0.3, 0.4)
    assert [(s.t_s, s.zones) for s in run.occupancy] == [
        (1.5 * speed, {"z": {"person": 2}})
    ]
    assert run.messages == 3
    assert run.fps_analysed == pytest.approx(5.0)
    assert run.problems == ("invalid message on gw/v1/edge/n/events: bad json",)


def test_replay_timing_given_times_should_give_realtime_factor() -> None:
    assert ReplayTiming(seconds=10.0, clip_s=5.0, start_s=1.0).realtime_factor == 0.5
    assert ReplayTiming(seconds=10.0, clip_s=None, start_s=None).realtime_factor is None


def test_link_clips_given_a_kept_folder_should_point_links_at_the_new_files(
    tmp_path: Path,
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "walk.mp4").write_bytes(b"x")
    link_clips({"walk.mp4": old / "walk.mp4"}, tmp_path / "flat")
    (old / "walk.mp4").unlink()  # the earlier target is gone: a dangling link

    link_clips({"walk.mp4": new / "walk.mp4"}, tmp_path / "flat")

    assert (tmp_path / "flat" / "walk.mp4").resolve() == (new / "walk.mp4").resolve()


class _ScriptedStack(ReplayStack):
    """A replay stack whose single plays return prepared runs, in order."""

    def __init__(self, runs: list[ScenarioRun]) -> None:
        super().__init__(ReplaySettings(workdir=Path(".")), {})
        self.runs = runs
        self.node_ids: list[str] = []

    def _run_once(self, scenario: LoadedScenario, *, node_id: str) -> ScenarioRun:
        self.node_ids.append(node_id)
        return self.runs.pop(0)


def _run(*first_looks: float) -> ScenarioRun:
    return ScenarioRun(
        events=(),
        occupancy=tuple(sample(t, z={"person": 1}) for t in first_looks),
        messages=0,
        timing=ReplayTiming(seconds=5.0, clip_s=4.7, start_s=0.1),
        fps_analysed=5.0,
    )


def _scenario(*, counts: bool) -> LoadedScenario:
    expected = {"counts": [{"t": 1.0, "count": 1}]} if counts else {}
    return LoadedScenario(
        name="people/x",
        path=Path("x.yaml"),
        scenario=Scenario.model_validate(
            {"clip": "x.mp4", "camera": {}, "expected": expected}
        ),
        camera=camera(),
        clip_path=Path("x.mp4"),
    )


def test_run_given_a_count_left_unobserved_should_replay_once_and_say_why() -> None:
    stack = _ScriptedStack([_run(2.6, 3.0), _run(0.2, 1.0)])

    run = stack.run(_scenario(counts=True), node_id="eval-002")

    assert stack.node_ids == ["eval-002", "eval-002-r1"]
    assert run.first_look_s == 0.2
    assert run.replays == 1
    assert run.problems == (
        "the counts at t=1 s were unobserved (the first occupancy message at "
        "2.60 s; a count needs one within 1.0 s)",
    )


def test_run_given_two_runs_without_the_count_should_keep_the_second() -> None:
    stack = _ScriptedStack([_run(), _run(3.0)])

    run = stack.run(_scenario(counts=True), node_id="eval-001")

    assert stack.node_ids == ["eval-001", "eval-001-r1"]
    assert (run.replays, run.first_look_s) == (1, 3.0)
    assert run.problems == (
        "the counts at t=1 s were unobserved (no occupancy message at all; a "
        "count needs one within 1.0 s)",
    )


@pytest.mark.parametrize(
    ("counts", "looks"), [(True, (0.4,)), (False, ()), (False, (2.5,))]
)
def test_run_given_observed_or_no_counts_should_play_once(
    counts: bool, looks: tuple[float, ...]
) -> None:
    stack = _ScriptedStack([_run(*looks)])

    run = stack.run(_scenario(counts=counts), node_id="eval-001")

    assert stack.node_ids == ["eval-001"]
    assert (run.replays, run.problems) == (0, ())
