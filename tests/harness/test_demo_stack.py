"""The demo's edge node config: the monitoring token goes by file, never inline."""

from __future__ import annotations

from pathlib import Path

from edge.http import read_monitor_token
from harness.demo_stack import DemoCamera, edge_config

CAMERA = DemoCamera(
    node_id="node-01",
    camera_id="cam-01",
    name="lobby",
    clip="one-by-one-person-detection.mp4",
    lat=23.1,
    lon=113.2,
)
URLS = {"one-by-one-person-detection": "rtsp://127.0.0.1:8554/one"}


def test_edge_config_given_a_monitor_token_file_should_protect_metrics_with_it(
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "edge.monitor-token"
    token_file.write_text("demo-monitor-token-0123456789\n")
    config = edge_config(
        [CAMERA],
        broker={},
        urls=URLS,
        workdir=tmp_path,
        models_dir=None,
        monitor_token_file=token_file,
    )
    assert config.http.monitor_token_file == token_file
    assert read_monitor_token(config.http) == "demo-monitor-token-0123456789"
    assert "demo-monitor-token" not in config.model_dump_json()


def test_edge_config_given_no_monitor_token_should_leave_metrics_refused(
    tmp_path: Path,
) -> None:
    config = edge_config(
        [CAMERA], broker={}, urls=URLS, workdir=tmp_path, models_dir=None
    )
    assert read_monitor_token(config.http) is None
