"""The demo's edge rules per clip: zones and rules that fire on the shared clips."""

from __future__ import annotations

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

# clip (file stem) → zones and rules, chosen so that real events come within a minute.
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
}
