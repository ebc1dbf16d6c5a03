"""Raw onnxruntime throughput of a detector session: the ceiling of a pipeline."""

from __future__ import annotations

import time

import numpy as np

from edge.infer.session import OnnxDetector


def measure_ceiling(detector: OnnxDetector, *, batch: int, seconds: float) -> float:
    """Images per second of bare `session.run` on a fixed batch (no pre/post).

    A model with a fixed batch of 1 is run image by image, as the node does.
    """
    run_batch = batch if detector.input_batch_is_dynamic else 1
    model_input = detector.session.get_inputs()[0]
    # Symbolic spatial axes (dynamic exports) take the size the node feeds.
    shape = [
        run_batch,
        *[
            d if isinstance(d, int) else detector.input_size_px
            for d in model_input.shape[1:]
        ],
    ]
    rng = np.random.default_rng(0)
    dtype = np.uint8 if "uint8" in model_input.type else np.float32
    tensor = rng.integers(0, 255, size=shape).astype(dtype)
    feed = {model_input.name: tensor}
    detector.session.run(None, feed)
    images = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        detector.session.run(None, feed)
        images += run_batch
    return round(images / (time.perf_counter() - started), 2)
