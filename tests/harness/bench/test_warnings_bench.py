"""`gridwatch bench warnings`: a small backtest, end to end through the CLI."""

from __future__ import annotations

import json

import pytest

from central.config import WarningSettings
from harness.bench.warnings import generate_history, run_backtest, score
from harness.cli import main


def test_a_small_backtest_should_detect_big_rises_and_few_false(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "bench",
            "warnings",
            "--series",
            "300",
            "--weeks",
            "8",
            "--seed",
            "2",
            "--json",
        ]
    )
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["rise_series"] + figures["control_series"] == 300
    assert figures["by_size"]["x10"]["rate"] >= 0.5
    assert figures["by_size"]["x10"]["delay_days_median"] <= 5
    assert figures["false_per_week_per_1000"] < 20
    assert set(figures["by_base_per_week"]) == {"<0.5", "0.5-2", "2-7", ">=7"}


def test_an_always_firing_detector_should_score_badly() -> None:
    """The scoring can fail: warnings every day on every series count as
    false on controls and as instant detections on rises."""
    history = generate_history(series=50, weeks=2, settings=WarningSettings(), seed=3)
    days = range(history.first_judged, history.counts.shape[1])
    opened = [(index, day) for index in range(50) for day in days]
    figures = score(history, opened, rise_days=28)
    assert figures["false_per_week_per_1000"] == pytest.approx(7000, rel=0.01)
    assert figures["detection_rate"] == 1.0


def test_a_stricter_alpha_should_not_raise_false_warnings() -> None:
    loose = run_backtest(series=300, weeks=6, seed=4)
    strict = run_backtest(
        series=300, weeks=6, seed=4, settings=WarningSettings(alpha=1e-6)
    )
    assert strict["false_warnings"] <= loose["false_warnings"]
    assert strict["detection_rate"] <= loose["detection_rate"]
