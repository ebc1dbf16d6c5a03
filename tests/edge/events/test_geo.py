"""Tests for edge/events/geo.py."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import CameraConfig, GeoPoint, HomographyConfig
from edge.events.geo import GroundProjector, LocalTangentPlane, Locator
from gridwatch.contract import LocationSource

ORIGIN = (23.1291, 113.2644)  # Guangzhou
PLANE = LocalTangentPlane.at(*ORIGIN)
# A perspective view: ground metres (east, north) -> normalised image (x, y).
TRUE_H = np.array(
    [[0.02, 0.025, 0.5], [0.0, 0.01, 0.9], [0.0, 0.05, 1.0]]
)  # horizon y=0.2


def _to_image(east_north: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mapped = np.hstack([east_north, np.ones((len(east_north), 1))]) @ TRUE_H.T
    return np.asarray(mapped[:, :2] / mapped[:, 2:3], dtype=np.float64)


def _config(ground_m: list[tuple[float, float]]) -> HomographyConfig:
    ground = np.asarray(ground_m, dtype=np.float64)
    image = _to_image(ground)
    lat_lon = PLANE.to_lat_lon(ground)
    return HomographyConfig(
        image_points_norm=[(float(x), float(y)) for x, y in image],
        ground_points=[GeoPoint(lat=float(a), lon=float(b)) for a, b in lat_lon],
    )


def _metres_between(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    d = PLANE.to_metres(a.reshape(1, 2)) - PLANE.to_metres(b.reshape(1, 2))
    return float(np.hypot(*d[0]))


REFERENCE_M = [(-10.0, 5.0), (10.0, 5.0), (12.0, 30.0), (-12.0, 30.0)]
EXTRA_M = [*REFERENCE_M, (0.0, 15.0), (5.0, 20.0)]


@pytest.mark.parametrize("ground_m", [REFERENCE_M, EXTRA_M])
def test_ground_projector_given_reference_points_should_map_back_within_1m(
    ground_m: list[tuple[float, float]],
) -> None:
    config = _config(ground_m)
    projector = GroundProjector.from_config(config, camera_id="cam-1")
    image = np.asarray(config.image_points_norm)
    expected = np.asarray([(p.lat, p.lon) for p in config.ground_points])
    result = projector.to_ground(image)
    for got, want in zip(result, expected, strict=True):
        assert _metres_between(got, want) < 1.0


def test_ground_projector_given_image_midpoint_should_land_on_true_ground_point() -> (
    None
):
    projector = GroundProjector.from_config(_config(REFERENCE_M), camera_id="cam-1")
    image = _to_image(np.asarray(REFERENCE_M))
    midpoint_image = (image[0] + image[2]) / 2.0
    truth_m = np.linalg.solve(TRUE_H, np.append(midpoint_image, 1.0))
    truth = PLANE.to_lat_lon((truth_m[:2] / truth_m[2]).reshape(1, 2))[0]
    got = projector.to_ground(midpoint_image.reshape(1, 2))[0]
    assert _metres_between(got, truth) < 1.0
    # perspective: the image midpoint is nearer the camera than the ground midpoint
    assert 5.0 < PLANE.to_metres(got.reshape(1, 2))[0, 1] < 17.5


def test_ground_projector_given_point_above_horizon_should_return_nan() -> None:
    projector = GroundProjector.from_config(_config(REFERENCE_M), camera_id="cam-1")
    horizon_y = float(_to_image(np.array([[0.0, 1e7]]))[0, 1])
    result = projector.to_ground(np.array([[0.5, horizon_y - 0.05], [0.5, 0.0]]))
    assert np.isnan(result).all()


def test_ground_projector_given_collinear_points_should_raise() -> None:
    config = HomographyConfig(
        image_points_norm=[(0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.4, 0.4)],
        ground_points=[GeoPoint(lat=23.0 + i * 1e-4, lon=113.0) for i in range(4)],
    )
    with pytest.raises(ValueError, match=r"'cam-1'.*degenerate"):
        GroundProjector.from_config(config, camera_id="cam-1")


def test_local_tangent_plane_given_round_trip_should_be_identity() -> None:
    lat_lon = np.array([[23.13, 113.27], [23.12, 113.25]])
    back = PLANE.to_lat_lon(PLANE.to_metres(lat_lon))
    np.testing.assert_allclose(back, lat_lon, atol=1e-12)
    # one thousandth of a degree of latitude is about 110.7 m here
    assert PLANE.m_per_deg_lat / 1000 == pytest.approx(110.7, abs=0.2)
    assert PLANE.m_per_deg_lon / 1000 == pytest.approx(
        111.32 * math.cos(math.radians(ORIGIN[0])), abs=0.2
    )


def _camera(homography: HomographyConfig | None) -> CameraConfig:
    return CameraConfig(
        id="cam-1",
        url="rtsp://example/1",
        location=GeoPoint(lat=ORIGIN[0], lon=ORIGIN[1]),
        homography=homography,
    )


@pytest.mark.parametrize(
    ("calibrated", "box", "source"),
    [
        (False, (0.4, 0.5, 0.6, 0.8), LocationSource.CAMERA),
        (True, None, LocationSource.CAMERA),
        (True, (0.4, 0.5, 0.6, 0.8), LocationSource.GROUND),
        (True, (0.4, 0.0, 0.6, 0.01), LocationSource.CAMERA),  # above the horizon
    ],
)
def test_locator_given_box_should_pick_ground_or_camera(
    calibrated: bool,
    box: tuple[float, float, float, float] | None,
    source: LocationSource,
) -> None:
    locator = Locator.from_camera(_camera(_config(REFERENCE_M) if calibrated else None))
    location = locator.locate(box)
    assert location.source is source
    if source is LocationSource.CAMERA:
        assert (location.lat, location.lon) == ORIGIN
