"""Test helper: a container config whose TLS files (under /tls/) are made here.

The docker configs name `/tls/ca.crt`, which exists only inside the containers;
config loading checks that TLS files exist, so tests load a copy whose `/tls/`
paths point at a CA made in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from central.pki import init_ca

CONTAINER_TLS_DIR = "/tls/"


def with_local_tls_files(config: Path, workdir: Path) -> Path:
    """A copy of `config` in `workdir` with `/tls/` paths moved to a folder
    holding a fresh `ca.crt`."""
    tls_dir = workdir / "tls"
    init_ca(tls_dir)
    text = config.read_text(encoding="utf-8")
    assert CONTAINER_TLS_DIR in text, f"{config} names no {CONTAINER_TLS_DIR} file"
    copy = workdir / config.name
    copy.write_text(text.replace(CONTAINER_TLS_DIR, f"{tls_dir}/"), encoding="utf-8")
    return copy
