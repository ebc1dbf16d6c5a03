"""How faces are found and obscured: the one home of the face-blur defaults.

A leaf module (no edge imports), so that both the node config (`media.face_score`,
`media.face_margin`) and the media code take their defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class FaceBlurSettings:
    """How faces are found and obscured.

    Attributes:
        score_threshold: YuNet score to blur a face, applied when the detector
            is loaded. Low on purpose: a blurred non-face costs nothing, a missed
            face leaks identity. Measured on the shared clips: at 0.3, no face
            is found again at 0.5 after JPEG (quality 40 to 85) or H.264
            compression; at 0.4 a few were.
        margin: Each face box grows by this fraction of its size per side.
        max_passes: Blur-and-look-again rounds; a frame with faces still found
            after the last one is obscured whole.
    """

    score_threshold: float = 0.3
    margin: float = 0.4
    max_passes: int = 4

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError(
                f"score_threshold must be in (0, 1), got {self.score_threshold}"
            )
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if self.max_passes < 1:
            raise ValueError(f"max_passes must be >= 1, got {self.max_passes}")


FACE_BLUR_DEFAULTS: Final = FaceBlurSettings()
