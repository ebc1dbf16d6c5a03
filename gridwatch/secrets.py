"""Reading and writing secrets (passwords, tokens) as every part keeps them: the
first line of a file, or an environment variable; written files are readable by
their owner only from the first byte. Messages name where, never the secret."""

from __future__ import annotations

import os
from pathlib import Path


class SecretError(ValueError):
    """A secret that cannot be read (the message names where it looked)."""


def read_secret_file(path: Path) -> str:
    """The first line of `path`, stripped.

    Raises:
        SecretError: the file cannot be read, or its first line is empty.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SecretError(f"{path}: {error.strerror}") from None
    secret = next(iter(text.splitlines()), "").strip()
    if not secret:
        raise SecretError(f"{path} is empty")
    return secret


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, mode 0600 from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(partial, 0o600)  # an older partial may have had other bits
    os.replace(partial, path)
