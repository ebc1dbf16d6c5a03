"""How faces are found and obscured: the node's face-blur defaults.

The settings live with the shared face blur (`models/faces.py`), which central
uses too; this module names them for the node config (`media.face_score`,
`media.face_margin`).
"""

from __future__ import annotations

from models.faces import FACE_BLUR_DEFAULTS, FaceBlurSettings

__all__ = ["FACE_BLUR_DEFAULTS", "FaceBlurSettings"]
