"""GStreamer pieces of the RTSP replay: bindings, launch line, PTS fix-up probe."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from simulators.transcode import PreparedClip


def launch_line(clip: PreparedClip, *, loop: bool = True) -> str:
    """Return the gst-rtsp-server launch line that replays a cached clip.

    Args:
        clip: The prepared clip (Annex-B H.264 file and frame rate).
        loop: Re-read the file at its end (the default); False plays it once
            and ends the stream (EOS) after the last frame.

    Returns:
        A bin description with the payloader named ``pay0`` and the parser
        named ``parse`` (see `make_pts_probe`).
    """
    # Launch-syntax string quoting: escape backslashes and double quotes.
    location = str(clip.h264_path).replace("\\", "\\\\").replace('"', '\\"')
    caps = (
        "video/x-h264,stream-format=byte-stream,"
        f"framerate={clip.fps.numerator}/{clip.fps.denominator}"
    )
    if loop:
        # multifilesrc loop=true re-reads the file at its end; DTS runs on
        # across loops without a seek.
        source = f'multifilesrc location="{location}" loop=true caps="{caps}"'
    else:
        # multifilesrc never ends on a name without %d: filesrc reaches EOS.
        source = f'filesrc location="{location}" ! {caps}'
    return (
        f"( {source} "
        "! h264parse name=parse "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def make_pts_probe(gst: Any, speed: float = 1.0) -> Callable[[Any, Any], Any]:
    """Return a buffer pad probe that copies DTS into a missing PTS.

    Args:
        gst: The ``Gst`` module.
        speed: Replay rate: timestamps and durations are divided by it, so
            2.0 sends the clip in half its duration. (A faster frame rate in
            the parser's caps does not do it: h264parse keeps the stream's own
            timing.)

    Returns:
        A callback for ``Gst.Pad.add_probe(Gst.PadProbeType.BUFFER, ...)``.
    """
    # h264parse stamps only DTS on a raw byte-stream, and the payloader needs
    # PTS for RTP timestamps. Cached streams have no B-frames: PTS equals DTS.
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    pts_none = gst.CLOCK_TIME_NONE
    keep = gst.PadProbeReturn.OK

    def copy_dts_to_pts(_pad: Any, info: Any) -> Any:
        buffer = info.get_buffer()
        if buffer is None:
            return keep
        if buffer.pts == pts_none:
            buffer.pts = buffer.dts
        if speed != 1.0:
            for name in ("pts", "dts", "duration"):
                value = getattr(buffer, name)
                if value != pts_none:
                    setattr(buffer, name, int(value / speed))
        return keep

    return copy_dts_to_pts


@functools.cache
def load_gi() -> tuple[Any, Any, Any]:
    """Import and initialise GStreamer's bindings once.

    Returns:
        The ``GLib``, ``Gst`` and ``GstRtspServer`` modules.

    Raises:
        RuntimeError: PyGObject or the RTSP server typelib is missing.
    """
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        raise RuntimeError(
            "GStreamer RTSP server bindings missing: install PyGObject and "
            "gir1.2-gst-rtsp-server-1.0"
        ) from exc
    if not Gst.is_initialized():
        Gst.init(None)
    return GLib, Gst, GstRtspServer
