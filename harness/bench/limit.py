"""The honest limit of an edge node: what its cores could analyse if they did
nothing but decode the streams and run the detector."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


def limit_fps(*, cores: int, ceiling_fps: float, decode_cores: float) -> float:
    """Analysed frames per second left once the streams are decoded.

    Args:
        cores: Cores of the node.
        ceiling_fps: Bare detector throughput using all `cores` (images/s).
        decode_cores: Cores that decoding every stream keeps busy.

    Returns:
        `ceiling_fps` scaled by the share of the cores decoding leaves; 0
        when decoding alone takes them all.

    Raises:
        ValueError: a count or rate is not positive, or `decode_cores` < 0.
    """
    _check(cores=cores, ceiling_fps=ceiling_fps)
    if decode_cores < 0:
        raise ValueError(f"decode_cores must be >= 0, got {decode_cores}")
    spare = max(0.0, cores - decode_cores)
    return ceiling_fps * spare / cores


def limit_streams(
    *,
    cores: int,
    ceiling_fps: float,
    decode_cores_per_stream: float,
    analysis_fps: float,
) -> float:
    """Streams the cores could carry at `analysis_fps` each, decoding and
    inferring only.

    One stream costs its decoding plus `analysis_fps` images, each of which
    takes `cores / ceiling_fps` core-seconds.

    Raises:
        ValueError: a count or rate is not positive, or the decode cost < 0.
    """
    _check(cores=cores, ceiling_fps=ceiling_fps)
    if decode_cores_per_stream < 0:
        raise ValueError(
            f"decode_cores_per_stream must be >= 0, got {decode_cores_per_stream}"
        )
    if analysis_fps <= 0:
        raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
    per_stream = decode_cores_per_stream + analysis_fps * cores / ceiling_fps
    return cores / per_stream


def _check(*, cores: int, ceiling_fps: float) -> None:
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    if ceiling_fps <= 0:
        raise ValueError(f"ceiling_fps must be > 0, got {ceiling_fps}")
