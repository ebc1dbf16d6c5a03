"""What every bench command prints, and how it refuses bad options."""

from __future__ import annotations

import json

import pytest

from harness.bench.report import run_unless_refused


def test_run_unless_refused_given_problems_should_not_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def run() -> dict[str, object]:
        raise AssertionError("ran despite the problems")

    assert run_unless_refused(["--a must be > 0", "--b too"], run, as_json=True) == 2
    captured = capsys.readouterr()
    assert captured.err == "--a must be > 0\n--b too\n"
    assert captured.out == ""


def test_run_unless_refused_given_no_problem_should_print_the_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_unless_refused([], lambda: {"streams": 3}, as_json=True) == 0
    assert json.loads(capsys.readouterr().out) == {"streams": 3}
