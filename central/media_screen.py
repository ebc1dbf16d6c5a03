"""What screening media before it is stored means: the media kinds, the
refusals, and the screen's interface. Kept apart from the store
(`central/media.py`) and the face screen (`central/media_scrub.py`) so that
both import it and neither imports the other's module."""

from __future__ import annotations

from typing import Literal, Protocol

MediaKind = Literal["snapshot", "clip", "photo"]


class MediaRejected(ValueError):
    """The bytes are not an accepted format for their kind; the message says what."""


class MediaShowsFace(MediaRejected):
    """An edge node's snapshot or clip still shows a face: refused, never stored."""


class MediaCheckUnavailable(MediaRejected):
    """Media cannot be screened for faces (no face model), so none is stored."""


class MediaScreen(Protocol):
    """What screens media before it is stored (`central.media_scrub.MediaScrubber`)."""

    def screen(self, data: bytes, kind: MediaKind) -> bytes:
        """The bytes to store for `data` (raises MediaRejected to refuse it)."""
        ...
