"""The user-facing jobs run for real: the demo, the edge benchmark, `edge run`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.cli import main
from harness.services import MosquittoBroker

pytestmark = pytest.mark.integration


def test_bench_edge_given_two_streams_should_print_the_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["--log-level", "WARNING", "bench", "edge", "--streams", "2", "--seconds", "4",
         "--warmup-s", "2", "--ceiling-s", "1", "--json"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    required = {
        "streams", "decoded_fps", "analysed_fps", "batch_size", "ceiling_fps",
        "ratio", "latency_ms_p50", "latency_ms_p95", "cpu_percent",
        "limit_fps", "ratio_to_limit", "decode_cpu_ms_per_stream_s",
    }  # fmt: skip
    assert required <= set(figures)
    assert figures["streams"] == 2
    assert 0 < figures["analysed_fps"] <= figures["decoded_fps"] + 1
    assert figures["ceiling_fps"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["analysed_fps"] / figures["ceiling_fps"], abs=0.01
    )
    # decoding takes its share of the cores: the limit is below bare inference
    assert figures["decode_cpu_ms_per_stream_s"] > 0
    bare_fps = figures["cores"] * 1000 / figures["infer_cpu_ms_per_image"]
    assert 0 < figures["limit_fps"] < bare_fps
    assert 0 < figures["cpu_ratio_to_limit"] <= 1.5
    assert figures["ratio_to_limit"] == pytest.approx(
        figures["analysed_fps"] / figures["limit_fps"], abs=0.01
    )


def test_demo_check_should_turn_real_events_into_dispatched_tickets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["--log-level", "WARNING", "demo", "--check", "--seconds", "40",
         "--port", "0"]
    )  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    assert summary["cameras"] == 5
    assert summary["events"] >= 1
    # the staged fall on cam-005 goes through the pose stage and the fall rule
    assert summary["events_by_type_phase"].get("fall:start", 0) >= 1, summary
    assert summary["tickets"] >= summary["dispatched"] >= 1
    assert summary["worker_notices"] >= 1
    assert 0 < summary["first_ticket_s"] < 40
    # the city's sensors (a replayed rain event and fire alarm) raise events too
    assert summary["sensor_events"] >= 1, summary
    assert summary["warnings"] >= 0
    checks = summary["camera_verified"]
    assert checks["requested"] == sum(
        checks[state] for state in ("gone", "present", "cannot_verify", "pending")
    )


def test_demo_given_ctrl_c_should_serve_the_pages_then_stop_every_part(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "--log-level", "WARNING", "demo",
         "--cameras", "1", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    console_url = None
    banner: list[str] = []
    deadline = time.monotonic() + 60
    while console_url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        banner.append(line)
        if "operator console" in line:
            console_url = line.split()[2]
    assert console_url, "".join(banner)
    page = httpx.get(console_url, timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text
    assert "login: operator / gridwatch-demo" in "".join(banner)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["cameras"] == 1
    assert (tmp_path / "central.db").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(console_url, timeout=2)


def test_demo_given_no_broker_binary_should_say_how_to_get_one(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("GRIDWATCH_MOSQUITTO", str(tmp_path / "no-such-mosquitto"))
    assert main(["demo", "--cameras", "0", "--seconds", "1", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "demo: could not start: mosquitto not found" in err
    assert "apt-get install mosquitto" in err


def test_demo_given_too_many_cameras_should_refuse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--cameras", "9"]) == 2
    assert "--cameras must be 0..5" in capsys.readouterr().err


def test_edge_run_given_config_should_serve_health_and_stop_cleanly_on_sigterm(
    tmp_path: Path, mosquitto: MosquittoBroker, videos_dir: Path, models_dir: Path
) -> None:
    monitor_token = "cli-node-monitor-token-0123456789"
    monitor_file = tmp_path / "monitor-token"
    monitor_file.write_text(monitor_token + "\n")
    config = tmp_path / "node.yaml"
    config.write_text(
        f"""
node_id: cli-node
broker: {{port: {mosquitto.port}}}
http: {{port: 0, monitor_token_file: {monitor_file}}}
outbox: {{path: {tmp_path / "outbox.sqlite"}}}
models_dir: {models_dir}
cameras:
  - id: lobby
    kind: file
    loop: true
    url: {videos_dir / "one-by-one-person-detection.mp4"}
    location: {{lat: 23.1, lon: 113.2}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "edge", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "running" in line, line
        health_url = line.split("health ")[1].split(",")[0]
        deadline = time.monotonic() + 20
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            # Anonymous callers get only the status; the details need the token.
            health = httpx.get(
                health_url,
                headers={"Authorization": f"Bearer {monitor_token}"},
                timeout=5,
            ).json()
            if health["cameras"]["lobby"]["health"] == "online":  # type: ignore[index]
                break
            time.sleep(0.3)
        assert health["cameras"]["lobby"]["health"] == "online"  # type: ignore[index]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_edge_run_given_a_missing_token_file_should_name_it_without_a_traceback(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "node.yaml"
    config.write_text(
        f"""
node_id: n1
models_dir: {models_dir}
central: {{url: "http://127.0.0.1:9", token_file: {tmp_path / "no-token"}}}
outbox: {{path: {tmp_path / "outbox.sqlite"}}}
cameras:
  - {{id: c1, url: "rtsp://127.0.0.1:9/x", location: {{lat: 23.1, lon: 113.3}}}}
"""
    )
    assert main(["edge", "run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "edge run: central.token_file" in err
    assert "no-token" in err
    assert "Traceback" not in err
