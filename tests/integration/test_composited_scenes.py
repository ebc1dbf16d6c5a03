"""Composited littering / abandoned-object scenes through the real detector,
tracker and rules, in process.

The scenes are built here from the shared real footage (see
`simulators/scenario/`): a real bottle dropped by the real worker of
worker-zone-detection.gif, and a real black bag put down and left (or picked
up again) by real visitors of one-by-one-person-detection.mp4. The objects are
composited; the people, their movements and the rooms are not.

Two of the outdoor scenes (issue 14) are here as well, on the warehouse floor's
empty plate: a plastic bag put down against a pillar by a pasted person who
stands over it (the pixel model first sees a fragment of it along the pillar's
edge), and a bag taken away from the same pillar (a ghost). The pasted people
are visitors cut out of the room's footage and moved along paths. The other 22
outdoor scenes run through `gridwatch sim scenario check` and `gridwatch eval`
(docs/eval.md): all of them here would add several minutes to the suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.config import ModelConfig
from edge.infer.session import OnnxDetector
from edge.pose.movenet import PoseModels
from harness.accuracy.scenario import load_scenario
from harness.accuracy.scene_check import SceneScore, replay
from simulators.scenario.command import build_scenes
from simulators.scenario.scenes import scene_by_name

pytestmark = pytest.mark.integration

SCENES = (
    "litter_bottle_worker",  # littering due
    "abandoned_black_bag_visit6",  # abandoned object due
    "neg_pickup_black_bag_visit2",  # put down, picked up again: nothing due
    "out_bag_pillar_owner_over",  # against a pillar, owner over it: littering
    "out_neg_ghost_pillar",  # taken away from the pillar (a ghost): nothing due
)


@pytest.fixture(scope="module")
def scores(
    videos_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SceneScore]]:
    out = tmp_path_factory.mktemp("composited")
    specs = [scene_by_name(name) for name in SCENES]
    build_scenes(specs, media_dir=videos_dir, out_dir=out, scenarios_dir=out / "yaml")
    detector = OnnxDetector.from_config(ModelConfig(), models_dir)
    yield {
        name: replay(
            load_scenario(out / "yaml" / f"{name}.yaml", name=name, media_dir=out),
            detector,
            PoseModels(models_dir=models_dir),
        )
        for name in SCENES
    }


@pytest.mark.parametrize("name", SCENES)
def test_composited_scene_should_raise_exactly_the_expected_events(
    scores: dict[str, SceneScore], name: str
) -> None:
    score = scores[name]
    assert score.matching.misses == (), [m.reason for m in score.matching.misses]
    assert score.matching.false_alarms == ()
    expected = len(score.matching.matches)
    assert expected == (0 if scene_by_name(name).kind == "negative" else 1)
