"""Summary JSON, the text table and the Markdown/HTML report, on synthetic results."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from harness.accuracy.match import ObservedEvent, check_counts, match_events
from harness.accuracy.replay import ReplayTiming, ScenarioRun
from harness.accuracy.report import format_text, write_report
from harness.accuracy.results import EvalSummary, ScenarioResult, evaluate, failed
from harness.accuracy.scenario import LoadedScenario, load_scenario
from tests.harness.accuracy.factories import count, expected, raised, sample

JPEG = b"\xff\xd8\xff\xe0 a snapshot \xff\xd9"


@pytest.fixture
def scenario(tmp_path: Path) -> LoadedScenario:
    """A scenario on a 2 s synthetic clip (20 grey frames at 10 fps)."""
    media = tmp_path / "media"
    media.mkdir()
    writer = cv2.VideoWriter(
        str(media / "grey.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48)
    )
    for _ in range(20):
        writer.write(np.full((48, 64, 3), 128, dtype=np.uint8))
    writer.release()
    document = {
        "clip": "grey.avi",
        "camera": {
            "zones": [
                {
                    "id": "floor",
                    "polygon_norm": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]],
                    "rules": [{"type": "occupancy"}, {"type": "intrusion"}],
                }
            ]
        },
        "expected": {
            "events": [
                {"type": "intrusion", "window": [0.2, 0.8], "region": [0, 0, 0.5, 1]},
                {"type": "intrusion", "window": [1.0, 1.5], "note": "second"},
            ],
            "counts": [{"t": 1.0, "zone": "floor", "count": 2}],
        },
        "composited": "a grey card",
    }
    path = tmp_path / "scenarios" / "grey.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_scenario(path, name="grey", media_dir=media)


def run_of(scenario: LoadedScenario) -> ScenarioRun:
    return ScenarioRun(
        events=(
            raised("intrusion", 0.5, box=(0.1, 0.1, 0.4, 0.9)),
            ObservedEvent(
                event_id="late",
                type="intrusion",
                t_s=1.8,
                image_box=(0.6, 0.1, 0.9, 0.9),
                zone_id="floor",
                confidence=0.61,
                snapshot_jpeg=JPEG,
            ),
        ),
        occupancy=(sample(0.9, floor={"person": 1}),),
        messages=3,
        timing=ReplayTiming(seconds=4.0, clip_s=2.0, start_s=0.3),
        fps_analysed=5.0,
    )


@pytest.fixture
def summary(scenario: LoadedScenario) -> EvalSummary:
    ok = evaluate(scenario, run_of(scenario))
    bad = failed("falls/x", Path("falls/x.yaml"), "camera.zones.0.rules.0: unknown")
    return EvalSummary(results=(ok, bad), speed=1.0, seconds=9.0, startup_s=1.0)


def test_evaluate_given_run_should_match_and_check_counts(
    summary: EvalSummary,
) -> None:
    ok = summary.results[0]

    assert ok.is_ok
    assert len(ok.matching.matches) == 1
    assert [m.expected.note for m in ok.matching.misses] == ["second"]
    assert [e.event_id for e in ok.matching.false_alarms] == ["late"]
    assert [c.abs_error for c in ok.counts] == [1]


def test_summary_to_dict_should_have_the_documented_fields(
    summary: EvalSummary,
) -> None:
    data = summary.to_dict({"grey#fa-late": "report_files/false-alarm-001.jpg"})

    assert set(data) >= {
        "scenarios", "by_type", "count_mae", "misses", "false_alarms", "errors",
    }  # fmt: skip
    assert data["by_type"]["intrusion"] == {
        "tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5,
        "latency_s_mean": 0.3, "latency_s_p50": 0.3, "latency_s_max": 0.3,
    }  # fmt: skip
    assert data["count_mae"] == 1.0
    assert data["count_bias"] == -1.0  # counted 1 for 2
    assert data["count_bias_by_label"] == {"person": -1.0}
    assert data["scenarios"][0]["count_bias"] == -1.0
    assert data["misses"] == [
        {
            "scenario": "grey",
            "type": "intrusion",
            "window": [1.0, 1.5],
            "region": None,
            "reason": "nearest intrusion event at 1.8 s, 0.3 s after the window",
            "nearest_s": 1.8,
            "note": "second",
        }
    ]
    assert data["false_alarms"][0]["image"] == "report_files/false-alarm-001.jpg"
    assert data["false_alarms"][0]["t_s"] == 1.8
    assert data["errors"] == [
        {
            "scenario": "falls/x",
            "file": "falls/x.yaml",
            "error": "camera.zones.0.rules.0: unknown",
        }
    ]
    rows = {row["name"]: row for row in data["scenarios"]}
    assert rows["grey"]["status"] == "ok"
    assert rows["grey"]["realtime_factor"] == 0.5
    assert rows["grey"]["composited"] == "a grey card"
    assert rows["falls/x"] == {
        "name": "falls/x",
        "file": "falls/x.yaml",
        "clip": "",
        "status": "error",
        "error": "camera.zones.0.rules.0: unknown",
    }


def test_summary_f1_below_given_floor_should_list_types(summary: EvalSummary) -> None:
    assert summary.f1_below(0.6) == ["intrusion"]
    assert summary.f1_below(0.5) == []


def test_format_text_should_list_tables_misses_alarms_and_errors(
    summary: EvalSummary,
) -> None:
    text = format_text(summary)

    assert "grey" in text and "intrusion" in text
    assert "misses:\n  grey: intrusion expected in [1, 1.5] s" in text
    assert "false alarms:\n  grey: intrusion at 1.8 s (zone floor" in text
    assert "errors:\n  falls/x: camera.zones.0.rules.0: unknown" in text
    assert "count MAE: 1.00, bias -1.00 over 1 checks" in text


@pytest.mark.parametrize("name", ["report.md", "report.html"])
def test_write_report_should_save_snapshots_and_link_them(
    tmp_path: Path, summary: EvalSummary, scenario: LoadedScenario, name: str
) -> None:
    path = tmp_path / "out" / name
    path.parent.mkdir()

    images = write_report(summary, path, scenarios={"grey": scenario}, models_dir=None)

    files = path.parent / f"{path.stem}_files"
    assert images == {
        "grey#fa-late": f"{files.name}/false-alarm-001.jpg",
        "grey#miss-1": f"{files.name}/miss-001.jpg",
        "grey#timeline": f"{files.name}/timeline-001.svg",
    }
    assert (files / "false-alarm-001.jpg").read_bytes() == JPEG
    assert (files / "timeline-001.svg").read_text().startswith("<svg")
    miss = cv2.imdecode(
        np.frombuffer((files / "miss-001.jpg").read_bytes(), np.uint8), cv2.IMREAD_COLOR
    )
    assert miss is not None and miss.shape[:2] == (48, 64)
    text = path.read_text(encoding="utf-8")
    for image in images.values():
        assert image in text
    assert "a grey card" in text
    assert "camera.zones.0.rules.0: unknown" in text
    if name.endswith(".html"):
        assert text.startswith("<!doctype html>")
        assert f'<img src="{files.name}/miss-001.jpg"' in text
    else:
        assert text.startswith("# gridwatch eval")
        assert f"]({files.name}/false-alarm-001.jpg)" in text


def test_write_report_given_no_misses_should_say_none(tmp_path: Path) -> None:
    result = ScenarioResult(
        name="empty",
        path=Path("empty.yaml"),
        matching=match_events([expected("fall", 0, 1)], [raised("fall", 0.5)]),
        counts=tuple(
            check_counts([count(1.0, 0)], [sample(1.0, z={"person": 0})], max_gap_s=1)
        ),
    )
    path = tmp_path / "r.md"

    assert (
        write_report(
            EvalSummary(results=(result,)), path, scenarios={}, models_dir=None
        )
        == {}
    ), "no run, so no timeline either"
    assert "## Misses\n\nNone." in path.read_text(encoding="utf-8")
