"""How a camera's stream is opened with PyAV: transport and timeouts.

A network stream's reads are bounded by FFmpeg's own socket timeout, not by
PyAV's read timeout. PyAV checks its timeout in FFmpeg's interrupt callback,
which takes the GIL each time FFmpeg waits on the network: with dozens of
cameras, thousands of times a second, each one waiting behind the analysis
threads' Python (measured: a Python thread beside 40 RTSP readers ran 8 %
faster without it, docs/benchmarks.md). Opening keeps PyAV's timeout, which
bounds the whole handshake rather than each socket call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_RTSP_SCHEMES = frozenset({"rtsp", "rtsps"})
_MICROSECONDS = 1_000_000


def stream_open_arguments(
    url: str, *, is_file: bool, open_timeout_s: float, read_timeout_s: float
) -> dict[str, Any]:
    """Keyword arguments for `av.open(url, **arguments)`.

    Args:
        url: The stream's URL or file path.
        is_file: A local file: no transport, no read timeout.
        open_timeout_s: Longest wait to open the stream (PyAV's timeout).
        read_timeout_s: Longest wait on one socket read or write before the
            read fails (FFmpeg's `timeout` for RTSP, `rw_timeout` otherwise).
    """
    if is_file:
        return {"options": {}, "timeout": (open_timeout_s, None)}
    read_us = str(max(1, round(read_timeout_s * _MICROSECONDS)))
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in _RTSP_SCHEMES:
        options = {"rtsp_transport": "tcp", "timeout": read_us}
    else:
        options = {"rw_timeout": read_us}
    return {"options": options, "timeout": (open_timeout_s, None)}
