"""Secrets: the first line of a file, written readable by the owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gridwatch.secrets import SecretError, read_secret_file, write_private


def test_write_private_is_owner_only_and_read_back_by_its_first_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "node.secret"
    write_private(path, "s3cret-value\nignored second line\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_secret_file(path) == "s3cret-value"
    write_private(path, "rotated\n")  # replaces it, still owner-only
    assert read_secret_file(path) == "rotated"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["node.secret"]


@pytest.mark.parametrize("content", [None, "", "\n  \nsecond"])
def test_read_secret_file_names_the_file_never_a_secret(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "missing.secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SecretError, match=str(path)):
        read_secret_file(path)
