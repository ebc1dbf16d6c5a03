"""Stream URLs and FFmpeg errors as they may appear in logs: without credentials."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import av


def redact_credentials(url: str) -> str:
    """The URL with any `user:password@` replaced by `***@`.

    Cameras are commonly addressed as `rtsp://user:password@host/...`; the
    password must not reach a log line, a status message or an error.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def ffmpeg_reason(error: Exception) -> str:
    """FFmpeg's message without the URL it may quote (credentials)."""
    if isinstance(error, av.FFmpegError) and error.strerror:
        return str(error.strerror)
    if type(error) is RuntimeError:  # PyAV's own words (hardware decoding)
        return str(error)
    return type(error).__name__
