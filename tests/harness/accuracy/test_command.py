"""`gridwatch eval` front end: arguments, exit codes, error rows (no pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.accuracy.command import progress_line
from harness.accuracy.match import match_events
from harness.accuracy.replay import ReplayTiming, ScenarioRun
from harness.accuracy.results import ScenarioResult, failed
from harness.cli import build_parser, main
from tests.harness.accuracy.factories import expected, raised


def write_bad(folder: Path, name: str, document: object) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def test_eval_given_only_bad_files_should_report_errors_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenarios = tmp_path / "scenarios"
    write_bad(scenarios, "falls/new_rule.yaml", {
        "clip": "a.mp4",
        "camera": {"zones": [{"id": "z", "rules": [{"type": "teleport"}]}]},
    })  # fmt: skip
    write_bad(scenarios, "people/typo.yaml", {"clip": "a.mp4", "camra": {}})

    code = main(["eval", str(scenarios), "--media", str(tmp_path), "--json"])

    out = json.loads(capsys.readouterr().out)
    assert code == 1
    errors = {e["scenario"]: e["error"] for e in out["errors"]}
    assert set(errors) == {"falls/new_rule", "people/typo"}
    assert "unknown rule type 'teleport'" in errors["falls/new_rule"]
    assert "new_rule.yaml" in errors["falls/new_rule"]
    assert "camra: Extra inputs are not permitted" in errors["people/typo"]
    assert out["by_type"] == {}
    assert out["count_mae"] is None
    assert [s["status"] for s in out["scenarios"]] == ["error", "error"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "{tmp}/nope", "--media", "{tmp}"], "scenarios folder not found"),
        (["eval", "{tmp}", "--media", "{tmp}/nope"], "media folder not found"),
        (["eval", "{tmp}", "--media", "{tmp}"], "no scenario in"),
        (
            ["eval", "{tmp}", "--media", "{tmp}", "--node-config", "{tmp}/x.yaml"],
            "cannot read node config",
        ),
    ],
)
def test_eval_given_unusable_arguments_should_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main([a.format(tmp=tmp_path) for a in argv])

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "s", "--speed", "0"],
        ["eval", "s", "--speed", "-1"],
        ["eval", "s", "--fail-under-f1", "1.5"],
    ],
)
def test_eval_parser_given_out_of_range_option_should_refuse(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(argv).parse_args(argv)


def test_eval_parser_given_options_should_parse_them() -> None:
    argv = ["eval", "scn", "more", "--media", "m", "--json", "--report", "r.html"]
    argv += ["--speed", "2", "--only", "people/*", "--fail-under-f1", "0.8"]

    args = build_parser(argv).parse_args(argv)

    assert (args.scenarios, args.media, args.report) == (
        [Path("scn"), Path("more")],
        Path("m"),
        Path("r.html"),
    )
    assert (args.json, args.speed, args.only, args.fail_under_f1) == (
        True,
        2.0,
        "people/*",
        0.8,
    )


def test_progress_line_given_results_should_name_events_and_matches() -> None:
    ok = ScenarioResult(
        name="people/x",
        path=Path("x.yaml"),
        run=ScenarioRun(
            events=(raised("fall", 1.0), raised("fall", 9.0)),
            occupancy=(),
            messages=2,
            timing=ReplayTiming(seconds=10.0, clip_s=8.0, start_s=1.0),
            fps_analysed=5.0,
        ),
        matching=match_events(
            [expected("fall", 0, 2), expected("fall", 3, 4)],
            [raised("fall", 1.0), raised("fall", 9.0)],
        ),
    )

    assert progress_line(ok) == (
        "people/x: 2 events, 1/2 matched, 1 false alarms, 10.0 s (0.80x real time)"
    )
    assert progress_line(failed("f", Path("f.yaml"), "boom")) == "f: error: boom"
