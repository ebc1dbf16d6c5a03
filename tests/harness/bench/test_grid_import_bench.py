"""`gridwatch bench grid-import`: a small city through the admin API, end to end
through the CLI."""

from __future__ import annotations

import json

import pytest

from harness.cli import main


def test_a_small_city_should_preview_apply_and_preview_unchanged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["bench", "grid-import", "--grids", "40", "--json"])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["grids"] == 40
    assert figures["preview_new_grids"] == {"created": 40, "updated": 0, "unchanged": 0}
    assert figures["preview_unchanged_grids"]["unchanged"] == 40
    assert figures["preview_one_renamed_grids"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 39,
    }
    assert figures["apply_s"] > 0 and figures["file_mb"] > 0
