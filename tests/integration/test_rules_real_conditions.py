"""Rules on real footage under conditions nobody arranged (issue 14): real video,
yolox_nano, ByteTrack, MoveNet and the rules, in process (no RTSP, no waiting).

- A fall seen at an uneven ~3.6 fps (`uneven_fps`): GMDCSA24 subject 1 comes to
  rest at 1.6 s in a box just short of the lying shape and is first read as
  lying at 3.7 s; the fall is measured up to the rest, so it is found. The
  everyday-activity clip (eating on a bed) under the same condition stays quiet.
- The real car-park footage seen from above (cars at the picture's edges,
  the camera's exposure swinging): a littering rule that fires on any object,
  owner or not, raises nothing on it, because changes cut by the picture's edge
  are fragments, judged on nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.config import ModelConfig
from edge.infer.session import OnnxDetector
from edge.pose.movenet import PoseModels
from harness.accuracy.perturb import parse_perturbations, perturbed
from harness.accuracy.perturb_run import replay_frames
from harness.accuracy.scenario import load_scenario
from harness.accuracy.scene_check import replay

pytestmark = pytest.mark.integration

FALLS = Path(__file__).resolve().parents[2] / "scenarios" / "falls"


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> OnnxDetector:
    return OnnxDetector.from_config(ModelConfig(), models_dir)


@pytest.mark.parametrize(
    ("name", "falls"),
    [("subject_1_fall_13", 1), ("subject_2_adl_23", 0)],
    ids=["fall_read_lying_late", "eating_on_a_bed"],
)
def test_fall_given_uneven_frame_rate_should_find_the_fall_and_only_it(
    videos_dir: Path, models_dir: Path, detector: OnnxDetector, name: str, falls: int
) -> None:
    scenario = load_scenario(FALLS / f"{name}.yaml", name=name, media_dir=videos_dir)
    (uneven,) = parse_perturbations("uneven_fps")

    outcome = replay_frames(
        scenario,
        perturbed(scenario.clip_path, uneven),
        detector=detector,
        pose_models=PoseModels(models_dir=models_dir),
    )

    assert outcome.problems == (), outcome.problems
    tally = outcome.by_type.get("fall")
    assert (tally.tp if tally else 0) == falls
    assert outcome.frames < 40  # ~3.6 fps: the condition really thinned the clip


def test_littering_on_the_real_car_park_should_raise_nothing(
    videos_dir: Path, models_dir: Path, detector: OnnxDetector, tmp_path: Path
) -> None:
    # No person in the clip, so no owner: require_owner off makes every
    # confirmed object fire, and the picture's edges are where it changes.
    document = {
        "clip": "car-detection.mp4",
        "camera": {
            "analysis_fps": 5,
            "zones": [
                {
                    "id": "lot",
                    "rules": [
                        {
                            "type": "littering",
                            "require_owner": False,
                            "static_s": 3.0,
                            "owner_away_s": 0.0,
                        }
                    ],
                }
            ],
        },
        "expected": {"events": []},
    }
    path = tmp_path / "car_park_littering.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    scenario = load_scenario(path, name="car_park_littering", media_dir=videos_dir)

    score = replay(scenario, detector, PoseModels(models_dir=models_dir))

    assert score.frames > 100
    assert [(e.type, e.t_s) for e in score.events] == []
