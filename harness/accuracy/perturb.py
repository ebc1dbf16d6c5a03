"""Camera conditions for `gridwatch eval --perturb`: frame-stream transforms.

Each perturbation turns a clip's timed frames into what a worse camera would
deliver: stronger H.264 compression, a lower resolution, low light with sensor
noise, a low and uneven frame rate, a shaking mast, bursts of lost frames. They
are deterministic (seeded per clip) so two runs see the same pixels. The
stream is either written to an MP4 for the RTSP simulator (`write_clip`, with
each frame's own time, so gaps and uneven rates survive) or fed in process.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """One frame of a clip: its time (clip seconds) and BGR pixels (H, W, 3)."""

    t_s: float
    image: Image


Transform = Callable[[Iterator[TimedFrame], np.random.Generator], Iterator[TimedFrame]]


@dataclass(frozen=True, slots=True)
class Perturbation:
    """A named camera condition.

    Attributes:
        name: Key for `--perturb`.
        description: What it does, with its figures.
        apply: The transform of a frame stream (gets a seeded generator).
    """

    name: str
    description: str
    apply: Transform


def read_clip(path: Path) -> Iterator[TimedFrame]:
    """Decode a clip (MP4, GIF, ...) with each frame's presentation time.

    Times start at 0 and come from the container (GIF frame durations and
    variable-rate MP4s are kept), not from a nominal frame rate.

    Raises:
        ValueError: The file holds no video stream.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        first: float | None = None
        rate = float(stream.average_rate or 10)
        for index, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else index / rate
            first = t if first is None else first
            yield TimedFrame(t - first, _bgr(frame))


def write_clip(frames: Iterator[TimedFrame], path: Path, *, crf: int = 18) -> int:
    """Write frames to an H.264 MP4 keeping each frame's time (variable rate).

    Returns:
        The number of frames written.

    Raises:
        ValueError: There were no frames.
    """
    written = 0
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": str(crf), "preset": "veryfast", "bf": "0", "g": "30"}
        last_pts = -1
        for item in frames:
            image = _even(item.image)
            if written == 0:
                stream.width, stream.height = image.shape[1], image.shape[0]
                stream.pix_fmt = "yuv420p"
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = max(round(item.t_s * 1000), last_pts + 1)
            frame.time_base = Fraction(1, 1000)
            last_pts = frame.pts
            container.mux(stream.encode(frame))
            written += 1
        if written == 0:
            raise ValueError(f"no frames to write to {path}")
        container.mux(stream.encode(None))
    return written


def _even(image: Image) -> Image:
    """Crop to even width and height (yuv420p needs them)."""
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h - h % 2, : w - w % 2])


# --- the conditions ---------------------------------------------------------

_CRF = 40  # x264: 23 is its default, 28 our clips'; 40 is a starved uplink


def h264(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    """Encode with x264 at CRF 40 (zero-latency, so frames come out in order)
    and decode again: blocking, smeared edges, lost texture."""
    del rng
    encoder: av.VideoCodecContext | None = None
    decoder = av.CodecContext.create("h264", "r")
    assert isinstance(decoder, av.VideoCodecContext)
    times: deque[float] = deque()
    for item in frames:
        image = _even(item.image)
        if encoder is None:
            encoder = _encoder(image.shape[1], image.shape[0])
        times.append(item.t_s)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(
            format="yuv420p"
        )
        for packet in encoder.encode(frame):
            yield from _decoded(decoder, packet, times)
    if encoder is not None:
        for packet in encoder.encode(None):
            yield from _decoded(decoder, packet, times)


def _encoder(width: int, height: int) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 1000)
    encoder.options = {"crf": str(_CRF), "preset": "veryfast", "tune": "zerolatency"}
    return encoder


def _decoded(
    decoder: av.VideoCodecContext, packet: av.Packet[Any], times: deque[float]
) -> Iterator[TimedFrame]:
    for frame in decoder.decode(packet):
        yield TimedFrame(times.popleft(), _bgr(frame))


def _bgr(frame: av.VideoFrame) -> Image:
    return np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)


def half_resolution(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    """Half the width and height (a sub-stream, or a camera twice as far)."""
    del rng
    for item in frames:
        h, w = item.image.shape[:2]
        small = cv2.resize(
            item.image, (max(2, w // 2), max(2, h // 2)), interpolation=cv2.INTER_AREA
        )
        yield TimedFrame(item.t_s, np.asarray(small, dtype=np.uint8))


_DARK_GAIN = 0.3  # a quarter to a third of the light
_DARK_GAMMA = 1.4
_NOISE_SIGMA = 7.0  # grey levels after the camera's gain: visible grain


def low_light(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    """Dusk: light down to ~30% (darker shadows), then sensor noise of σ 7
    grey levels, as a camera pushing its gain shows."""
    lut = np.clip(
        255.0 * _DARK_GAIN * (np.arange(256) / 255.0) ** _DARK_GAMMA, 0, 255
    ).astype(np.uint8)
    for item in frames:
        dark = cv2.LUT(item.image, lut).astype(np.float32)
        noise = rng.standard_normal(size=dark.shape[:2], dtype=np.float32)
        noisy = dark + (_NOISE_SIGMA * noise)[:, :, None]
        yield TimedFrame(item.t_s, np.clip(noisy, 0, 255).astype(np.uint8))


_UNEVEN_GAP_S = (0.1, 0.45)  # mean ~3.6 fps, from 10 down to 2.2


def uneven_fps(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    """A low and uneven frame rate: the next frame kept comes 0.1 to 0.45 s
    after the last (uniform; ~3.6 fps on average), as a congested uplink or an
    overloaded encoder delivers."""
    next_t = 0.0
    for item in frames:
        if item.t_s + 1e-6 >= next_t:
            next_t = item.t_s + float(rng.uniform(*_UNEVEN_GAP_S))
            yield item


_SHAKE_PX_FRAC = 0.01  # std of the sway, share of the frame width
_SHAKE_DEG = 0.4


def shake(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    """A mast in the wind: a smooth random sway (AR(1), std 1% of the width
    and 0.4°), re-drawn with reflected borders."""
    dx = dy = angle = 0.0
    keep = 0.8  # frame-to-frame memory of the sway
    fresh = math.sqrt(1.0 - keep * keep)
    for item in frames:
        h, w = item.image.shape[:2]
        dx = keep * dx + fresh * float(rng.normal()) * _SHAKE_PX_FRAC * w
        dy = keep * dy + fresh * float(rng.normal()) * _SHAKE_PX_FRAC * w
        angle = keep * angle + fresh * float(rng.normal()) * _SHAKE_DEG
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
        matrix[:, 2] += (dx, dy)
        moved = cv2.warpAffine(
            item.image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT
        )
        yield TimedFrame(item.t_s, np.asarray(moved, dtype=np.uint8))


DROP_BURST_S = 1.0
DROP_EVERY_S = 8.0
DROP_FIRST_S = 2.0


def drop_burst(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    """Every 8 s from 2 s on, 1 s of frames never arrives (a network hiccup)."""
    del rng
    for item in frames:
        phase = item.t_s - DROP_FIRST_S
        if phase >= 0 and phase % DROP_EVERY_S < DROP_BURST_S:
            continue
        yield item


def paste_still(
    frames: Iterator[TimedFrame], patch: Image, at_xy: tuple[int, int]
) -> Iterator[TimedFrame]:
    """Every frame with the same `patch` pasted at `at_xy` (top-left, pixels):
    a poster, statue or mannequin the detector may call a person.

    Raises:
        ValueError: The patch does not fit in the frame at `at_xy`.
    """
    x, y = at_xy
    ph, pw = patch.shape[:2]
    for item in frames:
        h, w = item.image.shape[:2]
        if x < 0 or y < 0 or x + pw > w or y + ph > h:
            raise ValueError(f"patch {pw}x{ph} at {at_xy} does not fit in {w}x{h}")
        image = item.image.copy()
        image[y : y + ph, x : x + pw] = patch
        yield TimedFrame(item.t_s, image)


def _none(
    frames: Iterator[TimedFrame], rng: np.random.Generator
) -> Iterator[TimedFrame]:
    del rng
    return frames


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in (
        Perturbation("none", "the clip as it is (baseline)", _none),
        Perturbation("h264", "re-encoded with x264 at CRF 40", h264),
        Perturbation("half_res", "half the width and height", half_resolution),
        Perturbation("low_light", "light ×0.3 (γ 1.4) and noise σ 7", low_light),
        Perturbation("uneven_fps", "frames 0.1–0.45 s apart (~3.6 fps)", uneven_fps),
        Perturbation("shake", "sway σ 1% of width, 0.4°", shake),
        Perturbation("drop_burst", "1 s of frames lost every 8 s from 2 s", drop_burst),
    )
}


def parse_perturbations(text: str) -> list[Perturbation]:
    """`all` or a comma-separated list of names, in the order given.

    Raises:
        ValueError: A name is unknown (the message lists the known ones).
    """
    names = list(PERTURBATIONS) if text.strip() == "all" else text.split(",")
    chosen = []
    for name in (n.strip() for n in names):
        if name not in PERTURBATIONS:
            known = ", ".join(PERTURBATIONS)
            raise ValueError(f"unknown perturbation {name!r} (known: {known}, all)")
        chosen.append(PERTURBATIONS[name])
    return chosen


def perturbed(path: Path, perturbation: Perturbation) -> Iterator[TimedFrame]:
    """The clip's frames under `perturbation`, seeded by clip and condition."""
    seed = zlib.crc32(f"{path.name}:{perturbation.name}".encode())
    return perturbation.apply(read_clip(path), np.random.default_rng(seed))
