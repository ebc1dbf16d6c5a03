"""The ultralytics peer of `bench density`: its command line, and how a trial's
answer is judged (the tool itself needs the AGPL bench venv, so a stand-in
interpreter answers here)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.bench.density_peer import (
    PeerPlan,
    judge_peer,
    peer_command,
    run_peer_trial,
)
from harness.bench.density_search import SustainBar
from harness.cli import main

URLS = [f"rtsp://127.0.0.1:8554/sub360-{i}" for i in range(4)]


def plan(python: Path = Path("/venv/bin/python"), **changes: object) -> PeerPlan:
    settings: dict[str, object] = {
        "python": python,
        "model": Path("var/models/m.onnx"),
        "stream_urls": URLS,
        "source_fps": 25.0,
        "analysis_fps": 5.0,
        "seconds": 4.0,
        "warmup_s": 1.0,
    }
    settings.update(changes)
    return PeerPlan(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source_fps", "analysis_fps", "stride"),
    [(25.0, 5.0, 5), (25.0, 10.0, 3), (25.0, 25.0, 1), (25.0, 30.0, 1), (30.0, 5.0, 6)],
)
def test_vid_stride_given_rates_should_analyse_at_most_the_asked_rate(
    source_fps: float, analysis_fps: float, stride: int
) -> None:
    assert plan(source_fps=source_fps, analysis_fps=analysis_fps).vid_stride == stride


def test_peer_command_should_run_the_tool_as_a_module_on_the_first_n_streams() -> None:
    command = peer_command(plan(), 2)
    module = "harness.bench.ultralytics_multistream"
    assert command[:3] == ["/venv/bin/python", "-m", module]
    assert command[-2:] == URLS[:2]
    assert command[command.index("--vid-stride") + 1] == "5"
    assert command[command.index("--model") + 1] == "var/models/m.onnx"
    assert "--rect" in command


def test_peer_command_given_the_square_should_ask_ultralytics_for_it() -> None:
    assert "--no-rect" in peer_command(plan(rect=False), 1)


@pytest.mark.parametrize("streams", [0, 5])
def test_peer_command_given_more_streams_than_urls_should_refuse(streams: int) -> None:
    with pytest.raises(ValueError, match=r"streams must be in 1\.\.4"):
        peer_command(plan(), streams)


def test_judge_peer_given_enough_frames_should_call_it_sustained() -> None:
    trial = judge_peer(plan(), 4, {"analysed_fps": 19.2, "cpu_percent": 80.0})
    assert trial.sustained
    assert trial.due_fps == 20.0
    assert trial.analysed_share == pytest.approx(0.96)


def test_judge_peer_given_too_few_frames_should_not_call_it_sustained() -> None:
    trial = judge_peer(plan(), 4, {"analysed_fps": 18.0})
    assert not trial.sustained
    assert trial.analysed_share == pytest.approx(0.9)


def test_judge_peer_should_use_the_plans_bar() -> None:
    lenient = plan(bar=SustainBar(min_analysed_share=0.8))
    assert judge_peer(lenient, 4, {"analysed_fps": 18.0}).sustained


def test_judge_peer_given_an_error_should_fail_the_trial_and_say_why() -> None:
    trial = judge_peer(plan(), 2, {"analysed_fps": 10.0, "error": "stream 1 died"})
    assert not trial.sustained
    assert trial.error == "stream 1 died"


def _stand_in(tmp_path: Path, body: str) -> Path:
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\n{body}\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return python


def test_run_peer_trial_should_read_the_tools_json(tmp_path: Path) -> None:
    python = _stand_in(
        tmp_path,
        "echo 'loading model' >&2\n"
        'echo \'{"analysed_fps": 10.1, "cpu_percent": 55.0, "batch_size": 2}\'',
    )
    trial = run_peer_trial(plan(python), 2)
    assert trial.sustained
    assert trial.analysed_fps == 10.1
    assert trial.batch_size == 2
    assert trial.error is None


def test_run_peer_trial_given_a_crash_should_report_its_last_words(
    tmp_path: Path,
) -> None:
    python = _stand_in(
        tmp_path, "echo 'Traceback' >&2\necho 'ImportError: no ultralytics' >&2\nexit 1"
    )
    trial = run_peer_trial(plan(python), 1)
    assert not trial.sustained
    assert trial.error is not None
    assert "exit 1" in trial.error
    assert "ImportError: no ultralytics" in trial.error


def test_run_peer_trial_given_a_hung_tool_should_give_up(tmp_path: Path) -> None:
    python = _stand_in(tmp_path, "sleep 5")
    trial = run_peer_trial(plan(python, timeout_s=0.3), 1)
    assert not trial.sustained
    assert trial.error == "no answer within 0.3 s"


def test_bench_density_given_a_peer_python_without_its_model_should_refuse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["bench", "density", "--ultralytics-python", "/venv/bin/python"])
    assert code == 2
    assert "--ultralytics-python and --ultralytics-model go together" in (
        capsys.readouterr().err
    )
