"""Turns rule signals into contract `EventMessage`s with location and snapshot."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from edge.config import CameraConfig
from edge.events.geo import Locator
from edge.events.snapshot import Snapshotter
from edge.rules.base import AttributeValue, RuleSignal, label_mask
from edge.types import Detections, Frame
from gridwatch.contract import (
    ATTRIBUTE_KEY_MAX_CHARS,
    ATTRIBUTE_LIST_MAX,
    ATTRIBUTE_TEXT_MAX_CHARS,
    ATTRIBUTES_MAX,
    EventMessage,
    EventPhase,
    Media,
    ModelInfo,
)

logger = logging.getLogger(__name__)

PERSON_LABEL = "person"


def to_datetime(timestamp: float) -> datetime:
    """UNIX seconds -> timezone-aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, tz=UTC)


class EventBuilder:
    """Builds the event messages of one camera.

    The event id comes from the signal: it is minted once when the rule's episode
    starts and carried by its updates and its end, so retries and phases of one
    incident share it. Snapshots are made on start and update only.
    """

    def __init__(
        self,
        *,
        node_id: str,
        camera_id: str,
        model: ModelInfo,
        locator: Locator,
        snapshotter: Snapshotter | None = None,
    ) -> None:
        self.node_id = node_id
        self.camera_id = camera_id
        self.model = model
        self._locator = locator
        self._snapshotter = snapshotter

    @classmethod
    def from_camera(
        cls,
        camera: CameraConfig,
        *,
        node_id: str,
        model: ModelInfo,
        snapshotter: Snapshotter | None = None,
    ) -> EventBuilder:
        """Build for a camera config (raises ValueError on a degenerate homography)."""
        return cls(
            node_id=node_id,
            camera_id=camera.id,
            model=model,
            locator=Locator.from_camera(camera),
            snapshotter=snapshotter,
        )

    def build(
        self,
        signal: RuleSignal,
        *,
        frame: Frame | None = None,
        detections: Detections | None = None,
        labels: Sequence[str] = (),
    ) -> EventMessage:
        """Build the message for one signal.

        Args:
            signal: The rule decision.
            frame: The frame the signal was decided on; needed for a snapshot.
            detections: All tracked detections of that frame (for the privacy
                fallback that blurs people's heads when no face model loads).
            labels: Model label names indexed by `class_id`.

        Returns:
            A validated `EventMessage`.

        Raises:
            ValueError: The signal or frame belongs to another camera.
        """
        self._check_camera(signal, frame)
        ended = signal.phase is EventPhase.END
        return EventMessage(
            event_id=signal.event_id,
            type=signal.event_type,
            phase=signal.phase,
            node_id=self.node_id,
            camera_id=self.camera_id,
            started_at=to_datetime(signal.started_at),
            detected_at=to_datetime(signal.timestamp),
            ended_at=to_datetime(signal.timestamp) if ended else None,
            confidence=min(1.0, max(0.0, signal.confidence)),
            location=self._locator.locate(signal.box_norm),
            image_box=signal.box_norm,
            zone_id=signal.zone_id,
            attributes=_copy_attributes(signal),
            media=Media() if ended else self._media(signal, frame, detections, labels),
            model=self.model,
        )

    def _check_camera(self, signal: RuleSignal, frame: Frame | None) -> None:
        for what, camera_id in (
            ("signal", signal.camera_id),
            ("frame", frame.camera_id if frame is not None else self.camera_id),
        ):
            if camera_id != self.camera_id:
                raise ValueError(
                    f"{what} of camera {camera_id!r} given to the event builder "
                    f"of camera {self.camera_id!r}"
                )

    def _media(
        self,
        signal: RuleSignal,
        frame: Frame | None,
        detections: Detections | None,
        labels: Sequence[str],
    ) -> Media:
        if self._snapshotter is None or frame is None:
            return Media()
        try:
            snapshot = self._snapshotter.render(
                frame.image,
                boxes_xyxy=signal.involved.detections.xyxy,
                texts=signal.involved.box_labels,
                person_xyxy=person_boxes(detections, labels),
            )
        except ValueError:
            logger.exception(
                "camera %s: snapshot of event %s failed; sending it without media",
                self.camera_id,
                signal.event_id,
            )
            return Media()
        return Media(snapshot=snapshot.to_ref())


def person_boxes(
    detections: Detections | None, labels: Sequence[str]
) -> npt.NDArray[np.float32]:
    """(P, 4) pixel boxes of the detections labelled `person`."""
    if detections is None or len(detections) == 0:
        return np.zeros((0, 4), dtype=np.float32)
    return detections.xyxy[label_mask(detections.class_id, labels, (PERSON_LABEL,))]


def _copy_attributes(signal: RuleSignal) -> dict[str, AttributeValue]:
    """The signal's attributes within the contract's bounds: a rule's odd value
    (NaN, a very long id list) must cost that value, not the whole event."""
    attributes: dict[str, AttributeValue] = {}
    for key, value in list(signal.attributes.items())[:ATTRIBUTES_MAX]:
        if isinstance(value, float) and not math.isfinite(value):
            logger.warning(
                "camera %s: attribute %s=%s left out", signal.camera_id, key, value
            )
            continue
        if isinstance(value, str):
            value = value[:ATTRIBUTE_TEXT_MAX_CHARS]
        elif isinstance(value, list):
            value = [
                item[:ATTRIBUTE_TEXT_MAX_CHARS] for item in value[:ATTRIBUTE_LIST_MAX]
            ]
        attributes[key[:ATTRIBUTE_KEY_MAX_CHARS]] = value
    return attributes
