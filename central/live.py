"""What the edge reports live and central does not store: the latest zone occupancy
per camera and each edge node's online/offline state (retained on the broker, so a
restarted central learns it again at once)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from gridwatch.contract import NodeStatusMessage, OccupancyMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Occupancy:
    at: datetime
    zones: dict[str, dict[str, int]]


class LiveState:
    """Latest occupancy by (node, camera) and node status by node; thread-safe."""

    def __init__(self) -> None:
        self._occupancy: dict[tuple[str, str], Occupancy] = {}
        self._nodes: dict[str, NodeStatusMessage] = {}
        self._lock = threading.Lock()

    def record_occupancy(self, topic: str, payload: bytes) -> None:
        try:
            message = OccupancyMessage.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed occupancy on %s: %s", topic, exc.errors()[:2])
            return
        with self._lock:
            key = (message.node_id, message.camera_id)
            known = self._occupancy.get(key)
            if known is None or known.at <= message.at:
                self._occupancy[key] = Occupancy(message.at, message.zones)

    def record_node_status(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            message = NodeStatusMessage.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed node status on %s: %s", topic, exc.errors()[:2])
            return
        with self._lock:
            self._nodes[message.node_id] = message

    def occupancy(self, node_id: str, camera_id: str) -> Occupancy | None:
        with self._lock:
            return self._occupancy.get((node_id, camera_id))

    def nodes(self) -> list[NodeStatusMessage]:
        with self._lock:
            return sorted(self._nodes.values(), key=lambda n: n.node_id)
