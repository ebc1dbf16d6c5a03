"""Raw onnxruntime throughput of a detector session: the ceiling of a pipeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.infer.session import OnnxDetector


@dataclass(frozen=True, slots=True)
class Ceiling:
    """Bare detector throughput.

    Attributes:
        fps: Images per second (wall clock), all sessions together.
        cpu_ms_per_image: CPU milliseconds this process spent per image: what
            an image costs whatever share of the machine the run got.
    """

    fps: float
    cpu_ms_per_image: float


def measure_ceiling(
    detectors: Sequence[OnnxDetector],
    *,
    batch: int,
    seconds: float,
    frame_wh: tuple[int, int] | None = None,
) -> float:
    """Images per second of bare `session.run` on a fixed batch (no pre/post).

    Every detector's session runs in its own thread at once, as the node's
    inference workers do. A model with a fixed batch of 1 runs image by image.
    The input is the square, or what the node feeds for frames of `frame_wh`
    (smaller when the model's input is fitted to the frame).
    """
    return measure_ceiling_cost(
        detectors, batch=batch, seconds=seconds, frame_wh=frame_wh
    ).fps


def measure_ceiling_cost(
    detectors: Sequence[OnnxDetector],
    *,
    batch: int,
    seconds: float,
    frame_wh: tuple[int, int] | None = None,
) -> Ceiling:
    """`measure_ceiling` with the CPU time per image (run it while nothing
    else runs in this process)."""
    counts = [0] * len(detectors)
    start = threading.Barrier(len(detectors) + 1)
    threads = [
        threading.Thread(
            target=_run_session,
            args=(d, batch, seconds, counts, i, start, frame_wh),
        )
        for i, d in enumerate(detectors)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    cpu_started = time.process_time()
    for thread in threads:
        thread.join()
    images = max(sum(counts), 1)
    return Ceiling(
        fps=round(sum(counts) / (time.perf_counter() - started), 2),
        cpu_ms_per_image=round(
            (time.process_time() - cpu_started) * 1000.0 / images, 3
        ),
    )


def _run_session(
    detector: OnnxDetector,
    batch: int,
    seconds: float,
    counts: list[int],
    index: int,
    start: threading.Barrier,
    frame_wh: tuple[int, int] | None,
) -> None:
    run_batch = batch if detector.input_batch_is_dynamic else 1
    model_input = detector.session.get_inputs()[0]
    # Symbolic spatial axes take the size the node feeds for such frames.
    size = detector.input_size_px
    width, height = (
        detector.adapter.input_wh_for([frame_wh]) if frame_wh else (size, size)
    )
    channels = model_input.shape[1]
    shape = [run_batch, channels if isinstance(channels, int) else 3, height, width]
    rng = np.random.default_rng(0)
    dtype = np.uint8 if "uint8" in model_input.type else np.float32
    tensor = rng.integers(0, 255, size=shape).astype(dtype)
    feed = {model_input.name: tensor}
    detector.session.run(None, feed)
    start.wait()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        detector.session.run(None, feed)
        counts[index] += run_batch
