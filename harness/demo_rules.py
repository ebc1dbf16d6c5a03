"""The demo's clips and their edge rules, chosen to fire on the shared clips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CROWD_OF_TWO: dict[str, Any] = {
    "type": "crowding",
    "label": "person",
    "threshold": 2,
    "dwell_s": 2,
    "clear_s": 3,
    "cooldown_s": 20,
    "update_interval_s": 10,
}

# clip (file stem, the simulator's mount name) → zones and rules, chosen so that
# real events come within a minute.
DEMO_CLIP_RULES: dict[str, list[dict[str, Any]]] = {
    "one-by-one-person-detection": [
        {
            "id": "floor",
            "rules": [
                {"type": "occupancy", "labels": ["person"]},
                CROWD_OF_TWO,
            ],
        },
        {
            "id": "table",
            "polygon_norm": [[0.3, 0.35], [0.75, 0.35], [0.75, 0.9], [0.3, 0.9]],
            "rules": [
                {
                    "type": "intrusion",
                    "labels": ["person"],
                    "min_s": 2,
                    "cooldown_s": 20,
                }
            ],
        },
    ],
    "worker-zone-detection": [
        {
            "id": "marked-floor",
            "polygon_norm": [[0.2, 0.4], [0.8, 0.4], [0.8, 1.0], [0.2, 1.0]],
            "rules": [
                {"type": "occupancy", "labels": ["person"]},
                {
                    "type": "intrusion",
                    "labels": ["person"],
                    "min_s": 1,
                    "cooldown_s": 15,
                },
            ],
        },
    ],
    "store-aisle-detection": [
        {
            "id": "aisle",
            "rules": [
                {"type": "occupancy", "labels": ["person"]},
                CROWD_OF_TWO,
            ],
        },
    ],
    "car-detection": [
        {
            "id": "lot",
            "rules": [{"type": "occupancy", "labels": ["car", "truck", "person"]}],
        },
    ],
    # A staged fall (GMDCSA24): standing, then falling backwards and lying still;
    # the clip loops, the cool-down keeps it to one fall a minute.
    "subject_2_fall_13": [
        {
            "id": "room",
            "rules": [
                {"type": "occupancy", "labels": ["person"]},
                {"type": "fall", "down_s": 1.0, "cooldown_s": 60},
            ],
        },
    ],
}


@dataclass(frozen=True, slots=True)
class DemoClipSource:
    """Where a demo clip lives when it is not at the top of the media folder,
    and the analysis rate it needs when 5 fps is not enough."""

    path: str
    analysis_fps: float = 5.0


DEMO_CLIP_SOURCES: dict[str, DemoClipSource] = {
    # the pose stage follows a fall best at 10 analysed frames per second
    "subject_2_fall_13": DemoClipSource("gmdcsa24/subject_2_fall_13.mp4", 10.0),
}


def demo_analysis_fps(stem: str) -> float:
    source = DEMO_CLIP_SOURCES.get(stem)
    return source.analysis_fps if source else 5.0
