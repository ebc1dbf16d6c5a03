"""Image-to-ground positions: a homography onto a local metric plane, then WGS84."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.config import CameraConfig, GeoPoint, HomographyConfig
from edge.rules.base import BoxNorm
from gridwatch.contract import Location, LocationSource

logger = logging.getLogger(__name__)

_WGS84_A_M = 6_378_137.0
_WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)
_RESIDUAL_WARN_M = 5.0


@dataclass(frozen=True, slots=True)
class LocalTangentPlane:
    """East/north metres around an origin (equirectangular on the WGS84 ellipsoid).

    Accurate to centimetres over the few hundred metres one camera sees.

    Attributes:
        lat0: Origin latitude, degrees.
        lon0: Origin longitude, degrees.
        m_per_deg_lat: Metres per degree of latitude at the origin.
        m_per_deg_lon: Metres per degree of longitude at the origin.
    """

    lat0: float
    lon0: float
    m_per_deg_lat: float
    m_per_deg_lon: float

    @classmethod
    def at(cls, lat: float, lon: float) -> LocalTangentPlane:
        sin_lat = math.sin(math.radians(lat))
        w = 1.0 - _WGS84_E2 * sin_lat * sin_lat
        meridional = _WGS84_A_M * (1.0 - _WGS84_E2) / w**1.5
        prime_vertical = _WGS84_A_M / math.sqrt(w)
        return cls(
            lat0=lat,
            lon0=lon,
            m_per_deg_lat=math.radians(1.0) * meridional,
            m_per_deg_lon=math.radians(1.0)
            * prime_vertical
            * math.cos(math.radians(lat)),
        )

    def to_metres(self, lat_lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(N, 2) latitude/longitude degrees -> (N, 2) east/north metres."""
        east = (lat_lon[:, 1] - self.lon0) * self.m_per_deg_lon
        north = (lat_lon[:, 0] - self.lat0) * self.m_per_deg_lat
        return np.stack([east, north], axis=1)

    def to_lat_lon(
        self, east_north: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """(N, 2) east/north metres -> (N, 2) latitude/longitude degrees."""
        lat = self.lat0 + east_north[:, 1] / self.m_per_deg_lat
        lon = self.lon0 + east_north[:, 0] / self.m_per_deg_lon
        return np.stack([lat, lon], axis=1)


@dataclass(frozen=True, slots=True, eq=False)
class GroundProjector:
    """Maps normalised image points on the ground plane to latitude/longitude.

    Attributes:
        plane: Local metric plane around the reference points.
        homography: (3, 3) float64, normalised image (x, y, 1) -> plane metres.
        horizon_sign: Sign of the homogeneous w at the reference points; points
            with the other sign lie above the horizon.
        max_range_m: Projections farther than this from the origin are rejected.
    """

    plane: LocalTangentPlane
    homography: npt.NDArray[np.float64]
    horizon_sign: float
    max_range_m: float = 2000.0

    @classmethod
    def from_config(
        cls, config: HomographyConfig, *, camera_id: str, max_range_m: float = 2000.0
    ) -> GroundProjector:
        """Fit the homography to the configured reference points.

        Raises:
            ValueError: The points are degenerate (e.g. three of them collinear).
        """
        image = np.asarray(config.image_points_norm, dtype=np.float64)
        lat_lon = np.asarray(
            [(p.lat, p.lon) for p in config.ground_points], dtype=np.float64
        )
        plane = LocalTangentPlane.at(*lat_lon.mean(axis=0))
        ground = plane.to_metres(lat_lon)
        matrix, _ = cv2.findHomography(image, ground, method=0)
        if (
            matrix is None
            or not np.all(np.isfinite(matrix))
            or abs(np.linalg.det(matrix)) < 1e-12
        ):
            raise ValueError(f"camera {camera_id!r}: homography points are degenerate")
        w = matrix[2, 0] * image[:, 0] + matrix[2, 1] * image[:, 1] + matrix[2, 2]
        projector = cls(
            plane=plane,
            homography=np.asarray(matrix, dtype=np.float64),
            horizon_sign=float(np.sign(np.median(w))),
            max_range_m=max_range_m,
        )
        residual = np.linalg.norm(projector._to_metres(image) - ground, axis=1).max()
        if residual > _RESIDUAL_WARN_M:
            logger.warning(
                "camera %s: homography reference points fit only within %.1f m",
                camera_id,
                residual,
            )
        return projector

    def to_ground(
        self, points_norm: npt.NDArray[np.floating]
    ) -> npt.NDArray[np.float64]:
        """Project normalised image points to the ground.

        Args:
            points_norm: (N, 2) normalised (x, y) image points.

        Returns:
            (N, 2) float64 latitude/longitude degrees; NaN rows for points above
            the horizon or beyond `max_range_m`.
        """
        metres = self._to_metres(np.asarray(points_norm, dtype=np.float64))
        too_far = ~(np.linalg.norm(metres, axis=1) <= self.max_range_m)
        metres[too_far] = np.nan
        return self.plane.to_lat_lon(metres)

    def _to_metres(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        homogeneous = np.hstack([points, np.ones((points.shape[0], 1))])
        mapped = homogeneous @ self.homography.T
        w = mapped[:, 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            metres = mapped[:, :2] / w
        metres[(np.sign(w[:, 0]) != self.horizon_sign)] = np.nan
        return metres


class Locator:
    """Where an event is: the ground under its box when calibrated, else the camera."""

    def __init__(
        self,
        *,
        camera_id: str,
        camera_location: GeoPoint,
        projector: GroundProjector | None,
    ) -> None:
        self.camera_id = camera_id
        self._camera = Location(
            lat=camera_location.lat,
            lon=camera_location.lon,
            source=LocationSource.CAMERA,
        )
        self._projector = projector

    @classmethod
    def from_camera(cls, camera: CameraConfig) -> Locator:
        """Build from a camera config (raises ValueError on a degenerate homography)."""
        projector = (
            GroundProjector.from_config(camera.homography, camera_id=camera.id)
            if camera.homography is not None
            else None
        )
        return cls(
            camera_id=camera.id, camera_location=camera.location, projector=projector
        )

    def locate(self, box_norm: BoxNorm | None) -> Location:
        """Ground position of the box's bottom-centre, or the camera's position.

        Args:
            box_norm: Normalised (x1, y1, x2, y2) box, or None.

        Returns:
            A `Location` with source "ground" or "camera".
        """
        if self._projector is None or box_norm is None:
            return self._camera
        anchor = np.array([[(box_norm[0] + box_norm[2]) / 2.0, box_norm[3]]])
        lat, lon = self._projector.to_ground(anchor)[0]
        if not (np.isfinite(lat) and np.isfinite(lon)):
            logger.debug(
                "camera %s: box %s not on the ground plane", self.camera_id, box_norm
            )
            return self._camera
        return Location(lat=float(lat), lon=float(lon), source=LocationSource.GROUND)
