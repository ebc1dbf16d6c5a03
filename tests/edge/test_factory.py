"""How many inference workers a node runs, and with how many threads each."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config import parse_config
from edge.factory import MAX_AUTO_WORKERS, inference_plan

CAMERA = {"id": "c", "url": "rtsp://x/y", "location": {"lat": 1, "lon": 2}}


def _config(**extra: Any) -> Any:
    return parse_config({"node_id": "n", "cameras": [CAMERA], **extra})


@pytest.mark.parametrize(
    ("cores", "batch", "model", "expected_workers", "expected_threads"),
    [
        (2, {}, {}, 2, 1),
        (1, {}, {}, 1, 1),
        (64, {}, {}, MAX_AUTO_WORKERS, 1),
        (8, {}, {"intra_op_threads": 2}, 4, 2),
        (8, {"workers": 3}, {}, 3, 0),
        (8, {"workers": 1}, {"intra_op_threads": 8}, 1, 8),
    ],
)
def test_inference_plan_given_cpu_should_use_cores_or_the_config(
    monkeypatch: pytest.MonkeyPatch,
    cores: int,
    batch: dict[str, int],
    model: dict[str, int],
    expected_workers: int,
    expected_threads: int,
) -> None:
    monkeypatch.setattr("edge.factory.os.cpu_count", lambda: cores)
    workers, model_config = inference_plan(_config(batch=batch, model=model))
    assert (workers, model_config.intra_op_threads) == (
        expected_workers,
        expected_threads,
    )


def test_inference_plan_given_gpu_provider_should_use_one_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "edge.factory.select_providers",
        lambda requested: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    workers, _ = inference_plan(_config())
    assert workers == 1
