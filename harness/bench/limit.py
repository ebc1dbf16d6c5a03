"""The honest limit of an edge node: what its cores could analyse if they did
nothing but decode the streams and run the detector.

Both costs are CPU time measured in the same run (bare `session.run` per
image, decoding per second of stream), so the limit does not depend on how
much of a shared machine the run happened to get; the node's own figures do.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


def limit_fps(
    *, cores: int, infer_cpu_ms_per_image: float, decode_cpu_ms_per_s: float
) -> float:
    """Analysed frames per second the cores could reach besides the decoding.

    Args:
        cores: Cores of the node.
        infer_cpu_ms_per_image: CPU ms of one bare detector run per image.
        decode_cpu_ms_per_s: CPU ms per second that decoding every stream takes.

    Returns:
        The CPU time left after decoding divided by the cost of an image; 0
        when decoding alone takes every core.

    Raises:
        ValueError: `cores` < 1, the image cost not positive, the decode cost < 0.
    """
    _check(cores=cores, infer_cpu_ms_per_image=infer_cpu_ms_per_image)
    if decode_cpu_ms_per_s < 0:
        raise ValueError(f"decode_cpu_ms_per_s must be >= 0, got {decode_cpu_ms_per_s}")
    spare_ms = max(0.0, cores * 1000.0 - decode_cpu_ms_per_s)
    return spare_ms / infer_cpu_ms_per_image


def limit_streams(
    *,
    cores: int,
    infer_cpu_ms_per_image: float,
    decode_cpu_ms_per_stream_s: float,
    analysis_fps: float,
) -> float:
    """Streams the cores could carry at `analysis_fps` each, decoding and
    inferring only.

    Raises:
        ValueError: `cores` < 1, a cost or rate not positive (decode cost < 0).
    """
    _check(cores=cores, infer_cpu_ms_per_image=infer_cpu_ms_per_image)
    if decode_cpu_ms_per_stream_s < 0:
        raise ValueError(
            f"decode_cpu_ms_per_stream_s must be >= 0, got {decode_cpu_ms_per_stream_s}"
        )
    if analysis_fps <= 0:
        raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
    per_stream_ms = decode_cpu_ms_per_stream_s + analysis_fps * infer_cpu_ms_per_image
    return cores * 1000.0 / per_stream_ms


def useful_cpu_share(
    *,
    analysed_fps: float,
    infer_cpu_ms_per_image: float,
    decode_cpu_ms_per_s: float,
    node_cpu_percent: float,
) -> float | None:
    """Share of the node's CPU time that the decoding and the bare detector
    runs it did would have needed: its ratio to the limit per CPU-second,
    which a busy shared machine does not distort. None when the node used no CPU.
    """
    node_ms = node_cpu_percent * 10.0
    if node_ms <= 0:
        return None
    return (analysed_fps * infer_cpu_ms_per_image + decode_cpu_ms_per_s) / node_ms


def _check(*, cores: int, infer_cpu_ms_per_image: float) -> None:
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    if infer_cpu_ms_per_image <= 0:
        raise ValueError(
            f"infer_cpu_ms_per_image must be > 0, got {infer_cpu_ms_per_image}"
        )
