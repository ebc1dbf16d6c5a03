"""The `gridwatch` command line: every command is reachable and documents itself."""

from __future__ import annotations

import pytest

from harness.cli import COMMANDS, main


@pytest.mark.parametrize(
    "words", [[g] if s is None else [g, s] for g, s in COMMANDS], ids=str
)
def test_cli_given_command_help_should_print_usage_and_exit_zero(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0
    assert f"gridwatch {' '.join(words)}" in capsys.readouterr().out


def test_cli_given_unknown_command_should_fail_with_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["teleport"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_cli_given_log_level_before_command_should_still_find_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--log-level", "WARNING", "edge", "check-config", "--help"])
    assert "gridwatch edge check-config" in capsys.readouterr().out
