"""Tests for edge/rules/pixels.py and the engine's pixel hook."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import CameraConfig
from edge.rules.base import Rule, RuleScope, RuleSignal, ZoneObservation
from edge.rules.engine import CameraRules, ZoneRules
from edge.rules.pixels import PIXELS_WIDTH_PX, PixelsCache, small_bgr, zone_mask
from edge.rules.rule_config import RuleConfigBase
from edge.types import Detections, Frame
from edge.zones import Zone
from tests.edge.rules.factories import LABELS, T0


@pytest.mark.parametrize(
    ("shape_hw", "expected_hw", "scale"),
    [
        ((432, 768), (180, 320), 320 / 768),
        ((100, 200), (100, 200), 1.0),  # never upscaled
        ((1080, 1920), (180, 320), 320 / 1920),
    ],
)
def test_small_bgr_given_frame_should_shrink_to_width(
    shape_hw: tuple[int, int], expected_hw: tuple[int, int], scale: float
) -> None:
    image = np.full((*shape_hw, 3), 100, dtype=np.uint8)
    small, got_scale = small_bgr(image, width_px=PIXELS_WIDTH_PX)
    assert small.shape == (*expected_hw, 3)
    assert got_scale == pytest.approx(scale)


@pytest.mark.parametrize(
    ("image", "width_px"),
    [(np.zeros((10, 10), dtype=np.uint8), 320), (np.zeros((10, 10, 3), np.uint8), 0)],
)
def test_small_bgr_given_bad_input_should_raise(
    image: npt.NDArray[np.uint8], width_px: int
) -> None:
    with pytest.raises(ValueError):
        small_bgr(image, width_px=width_px)


def test_zone_mask_given_left_half_should_cover_left_half() -> None:
    zone = Zone.from_points("left", [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])
    mask = zone_mask(zone, (10, 20))
    assert mask[:, :9].all()
    assert not mask[:, 12:].any()


def test_pixels_cache_given_no_frame_should_raise() -> None:
    zone = Zone.from_points("z", [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)])
    with pytest.raises(RuntimeError):
        PixelsCache().for_zone(zone, Detections.empty())


class _PixelProbeConfig(RuleConfigBase):
    type: Literal["pixel_probe_test"] = "pixel_probe_test"


class _BlindProbeConfig(RuleConfigBase):
    type: Literal["blind_probe_test"] = "blind_probe_test"


class _PixelProbe(Rule):
    type_key = "pixel_probe_test"
    config_class: ClassVar[type[RuleConfigBase]] = _PixelProbeConfig
    uses_pixels: ClassVar[bool] = True

    def __init__(self, scope: RuleScope) -> None:
        super().__init__(scope)
        self.seen: list[ZoneObservation] = []

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> Rule:
        return cls(scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        self.seen.append(obs)
        return []


class _BlindProbe(_PixelProbe):
    type_key = "blind_probe_test"
    config_class = _BlindProbeConfig
    uses_pixels: ClassVar[bool] = False


def _frame() -> Frame:
    image = np.zeros((240, 640, 3), dtype=np.uint8)
    return Frame(camera_id="cam-1", index=0, captured_at=T0, image=image)


def _engine(rule: Rule, points: Any = None) -> CameraRules:
    zone = Zone.from_points("z", points or [(0, 0), (1, 0), (1, 1), (0, 1)])
    return CameraRules("cam-1", [ZoneRules(zone=zone, rules=(rule,))])


def test_engine_given_pixel_rule_should_pass_small_frame_and_all_detections() -> None:
    rule = _PixelProbe(RuleScope("cam-1", "z", 0))
    engine = _engine(rule, [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])
    people = Detections.from_lists(
        [[10.0, 10.0, 30.0, 60.0], [500.0, 10.0, 520.0, 60.0]], class_id=[0, 0]
    )
    engine.update(_frame(), people, LABELS)
    obs = rule.seen[0]
    assert obs.pixels is not None
    assert obs.pixels.bgr.shape == (120, 320, 3)
    assert obs.pixels.scale == pytest.approx(0.5)
    assert (
        obs.pixels.zone_mask[:, :150].all() and not obs.pixels.zone_mask[:, 170:].any()
    )
    assert len(obs.detections) == 1  # the zone's
    assert len(obs.pixels.detections) == 2  # the whole frame's


def test_engine_given_no_pixel_rule_should_not_build_pixels() -> None:
    rule = _BlindProbe(RuleScope("cam-1", "z", 0))
    _engine(rule).update(_frame(), Detections.empty(), LABELS)
    assert rule.seen[0].pixels is None


def test_engine_from_config_given_littering_rule_should_give_it_pixels() -> None:
    camera = CameraConfig.model_validate(
        {
            "id": "cam-1",
            "url": "rtsp://example/1",
            "location": {"lat": 23.1, "lon": 113.3},
            "zones": [{"id": "floor", "rules": [{"type": "littering"}]}],
        }
    )
    engine = CameraRules.from_config(camera)
    result = engine.update(_frame(), Detections.empty(), LABELS)
    assert result.signals == ()
