"""Settings that validate but are known to work worse than the measured ones.

A node config can be valid and still ask a rule to work outside what it was
measured at; these lines say so at start-up and in `gridwatch edge
check-config`, without refusing the config.
"""

from __future__ import annotations

from edge.config import NodeConfig
from edge.rules.fall import FallRuleConfig

# Falls were measured at 10 analysed fps through the RTSP stack (docs/edge.md).
# At 5 all five shared GMDCSA24 falls are found through it, but replayed from
# every frame a node may start on, two of them are missed from some.
FALL_MIN_FPS = 10.0


def config_advice(config: NodeConfig) -> list[str]:
    """One line per setting worth a second look, naming the camera."""
    lines = []
    for camera in config.cameras:
        has_fall = any(
            isinstance(rule, FallRuleConfig)
            for zone in camera.zones
            for rule in zone.rules
        )
        if has_fall and camera.analysis_fps < FALL_MIN_FPS:
            lines.append(
                f"camera {camera.id}: a fall rule at analysis_fps "
                f"{camera.analysis_fps:g}: falls were measured at "
                f"{FALL_MIN_FPS:g} analysed fps; below that short falls can be "
                "missed (docs/edge.md#falls)"
            )
    return lines
