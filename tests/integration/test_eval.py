"""`gridwatch eval` end to end: real RTSP simulator, edge node, Mosquitto, model."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path

import pytest
import yaml

from edge.config import ModelConfig
from edge.infer.session import OnnxDetector
from edge.pose.movenet import PoseModels
from harness.accuracy.perturb import paste_still, read_clip
from harness.accuracy.perturb_run import replay_frames
from harness.accuracy.scenario import load_scenarios
from harness.cli import main

pytestmark = pytest.mark.integration

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios" / "people"
SHORT = (  # GIFs of 3-5 s
    "store_aisle_crowding.yaml",
    "worker_zone_intrusion.yaml",
    "corridor_two_walkers.yaml",  # faces in full view: the privacy check
)


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    """The short shipped scenarios and one file naming a rule nobody wrote."""
    folder = tmp_path / "scenarios"
    (folder / "people").mkdir(parents=True)
    for name in SHORT:
        shutil.copy(SHIPPED / name, folder / "people" / name)
    (folder / "falls").mkdir()
    (folder / "falls" / "future_rule.yaml").write_text(
        "clip: worker-zone-detection.gif\n"
        "camera: {zones: [{id: z, rules: [{type: levitation}]}]}\n",
        encoding="utf-8",
    )
    return folder


def test_eval_given_short_scenarios_should_score_them_and_flag_the_bad_file(
    scenarios: Path,
    videos_dir: Path,
    models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = tmp_path / "report" / "eval.md"
    report.parent.mkdir()

    code = main(
        [
            "eval", str(scenarios), "--media", str(videos_dir), "--json",
            "--models-dir", str(models_dir), "--report", str(report),
        ]
    )  # fmt: skip

    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 1, "the bad file must make the run fail"
    assert [e["scenario"] for e in out["errors"]] == ["falls/future_rule"]
    assert "unknown rule type 'levitation'" in out["errors"][0]["error"]

    rows = {row["name"]: row for row in out["scenarios"]}
    for name, clip_s in [
        ("people/store_aisle_crowding", 4.47),
        ("people/worker_zone_intrusion", 4.73),
        ("people/corridor_two_walkers", 2.91),
    ]:
        row = rows[name]
        assert row["status"] == "ok", row
        assert row["clip_s"] == pytest.approx(clip_s, abs=0.5)
        assert row["seconds"] > row["clip_s"] * 0.9
        assert row["expected"] == 1
        assert all(c["observed"] is not None for c in row["counts"]), row["counts"]
        assert row["fps_analysed"] > 1
        # progress: one line per scenario on stderr
        assert f"{name}: {row['events']} events, {row['matched']}/1 matched" in (
            captured.err
        )

    assert set(out["by_type"]) >= {"crowding", "intrusion"}
    for stats in out["by_type"].values():
        assert set(stats) >= {
            "tp", "fp", "fn", "precision", "recall", "f1",
            "latency_s_mean", "latency_s_p50",
        }  # fmt: skip
    assert out["overall"]["tp"] >= 1, out
    assert out["counts_checked"] == 11
    assert set(out["count_mae_by_label"]) == {"person"}
    # every start carried a snapshot (updates too); YuNet finds no face in any
    assert out["privacy"]["snapshots_checked"] >= sum(
        row["events"] for row in out["scenarios"] if row["status"] == "ok"
    )
    assert out["privacy"]["snapshots_checked"] >= 3
    assert out["privacy"]["faces_found"] == 0, out["privacy"]
    assert out["count_mae"] is not None and out["count_mae"] <= 1.0
    for item in out["false_alarms"]:
        assert item["image"].startswith("eval_files/"), item

    text = report.read_text(encoding="utf-8")
    assert "## By event type" in text and "falls/future_rule" in text


def test_eval_given_bottles_on_a_table_should_find_every_return_of_a_bottle(
    videos_dir: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`presence` of a detector label on real footage: three bottles there from
    the start and four put back by hand, each in its own slot zone; at speed 2."""
    scenario = SHIPPED.parent / "objects" / "bottles_on_table.yaml"

    code = main(
        [
            "eval", str(scenario), "--media", str(videos_dir), "--json",
            "--models-dir", str(models_dir), "--speed", "2",
        ]
    )  # fmt: skip

    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["errors"]
    presence = out["by_type"]["presence"]
    assert (presence["tp"], presence["fp"], presence["fn"]) == (7, 0, 0), out
    assert out["count_mae_by_label"] == {"bottle": 0.0}, out["scenarios"][0]["counts"]


def test_eval_given_perturb_in_process_should_score_each_condition(
    videos_dir: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--perturb` in process: every condition replays every scenario, with
    P/R/F1 per event type and the counts' MAE and bias per condition."""
    scenario = SHIPPED / "worker_zone_intrusion.yaml"

    code = main(
        [
            "eval", str(scenario), "--media", str(videos_dir), "--json",
            "--models-dir", str(models_dir), "--in-process",
            "--perturb", "none,half_res,drop_burst",
        ]
    )  # fmt: skip

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["mode"] == "in_process"
    rows = {row["name"]: row for row in out["perturbations"]}
    assert list(rows) == ["none", "half_res", "drop_burst"]
    assert rows["none"]["by_type"]["intrusion"]["f1"] == 1.0, rows["none"]
    for row in rows.values():
        assert set(row["by_type"]["intrusion"]) >= {"precision", "recall", "f1"}
        assert row["counts_checked"] == 4
        assert row["count_bias"] is not None
    # the worker crosses at ~2.2 s; the burst drops 2.0-3.0 s, so the
    # intrusion (min_s 1) is seen late or not at all, never early
    assert rows["drop_burst"]["by_type"]["intrusion"]["fp"] == 0


def test_eval_given_perturb_through_the_stack_should_serve_perturbed_clips(
    videos_dir: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--perturb` through RTSP: the perturbed clip (an MP4 with the frames'
    own times) is what the simulator serves and the node analyses."""
    scenario = SHIPPED / "store_aisle_crowding.yaml"

    code = main(
        [
            "eval", str(scenario), "--media", str(videos_dir), "--json",
            "--models-dir", str(models_dir), "--perturb", "h264",
        ]
    )  # fmt: skip

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    (row,) = out["perturbations"]
    assert out["mode"] == "stack" and row["name"] == "h264"
    assert row["counts_checked"] == 4, row
    assert not [p for p in row["problems"] if "error" in p], row["problems"]
    assert row["by_type"]["crowding"]["tp"] + row["by_type"]["crowding"]["fn"] == 1


def test_eval_given_object_filter_should_reach_the_node(
    tmp_path: Path,
    videos_dir: Path,
    models_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A scenario's `camera.objects.filters` is the node's: a mask over the
    aisle's floor drops every shopper before tracking, so nothing is counted
    and the crowd is missed."""
    document = yaml.safe_load((SHIPPED / "store_aisle_crowding.yaml").read_text())
    document["camera"]["objects"] = {
        "filters": {"person": {"masks_norm": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}}
    }
    path = tmp_path / "masked.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")

    code = main(
        [
            "eval", str(path), "--media", str(videos_dir), "--json",
            "--models-dir", str(models_dir),
        ]
    )  # fmt: skip

    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["errors"]
    counts = out["scenarios"][0]["counts"]
    assert counts and all(c["observed"] == 0 for c in counts), counts
    assert out["by_type"]["crowding"]["fn"] == 1
    assert out["count_bias"] < 0


def test_eval_given_sampling_should_find_the_fall_from_every_start_frame(
    videos_dir: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--sampling 5`: subject_1_fall_13 (30 fps) from each of its six start
    frames at 5 fps; one of them used to miss the fall (the rule needed a
    lying reading on the very frame at down_s)."""
    scenario = SHIPPED.parent / "falls" / "subject_1_fall_13.yaml"

    code = main(
        [
            "eval", str(scenario), "--media", str(videos_dir), "--json",
            "--models-dir", str(models_dir), "--sampling", "5",
        ]
    )  # fmt: skip

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    (row,) = out["sampling"]
    assert row["runs"] == 6
    fall = row["by_type"]["fall"]
    assert (fall["tp"], fall["fp"], fall["fn"]) == (6, 0, 0), row["problems"]


def test_occupancy_given_a_still_person_shaped_patch_should_stop_counting_it(
    videos_dir: Path, models_dir: Path
) -> None:
    """A visitor's crop pasted still into the room (a poster the detector calls a
    person) inflates the count until it has been inert for `inert_after_s`;
    the real visitor, standing at the table, is counted throughout."""
    loaded = load_scenarios(SHIPPED / "one_by_one.yaml", media_dir=videos_dir)
    (scenario,) = loaded.scenarios
    frame = next(f for f in read_clip(scenario.clip_path) if f.t_s >= 33.0).image
    poster = frame[12:377, 383:550].copy()  # the visitor at the table, 33 s
    detector = OnnxDetector.from_config(ModelConfig(intra_op_threads=1), models_dir)

    def counts(inert_after_s: float) -> list[int | None]:
        zones = [
            zone.model_copy(
                update={
                    "rules": [
                        rule.model_copy(update={"inert_after_s": inert_after_s})
                        if rule.type == "occupancy"
                        else rule
                        for rule in zone.rules
                    ]
                }
            )
            for zone in scenario.camera.zones
        ]
        camera = scenario.camera.model_copy(update={"zones": zones})
        frames = itertools.takewhile(
            lambda f: f.t_s < 22.0,
            paste_still(read_clip(scenario.clip_path), poster, (20, 40)),
        )
        outcome = replay_frames(
            dataclasses.replace(scenario, camera=camera),
            frames,
            detector=detector,
            pose_models=PoseModels(models_dir=models_dir),
        )
        return [c.observed for c in outcome.counts if c.expected.t < 22.0]

    # truth at 3, 13 and 21.3 s: 0, 1, 0
    assert counts(0) == [1, 2, 1]  # the poster counts as a person throughout
    assert counts(10) == [1, 1, 0]  # left out from ~10 s on; the visitor stays
