"""Test helpers: one real PostgreSQL cluster per run and a fresh database per test.

Use the fixtures with `pytest_plugins = ["tests.utils.postgres"]` in conftest.py.
`PostgresServer` itself lives in `harness.services.postgres` (the demo and the
benchmarks start it too) and is re-exported here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from harness.services.postgres import PostgresServer

__all__ = ["PostgresServer", "postgres_server", "postgres_url"]


@pytest.fixture(scope="session")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PostgresServer]:
    """One cluster shared by the whole run (fsync on); tests must not stop it."""
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database of this test's own; dropped after.

    Dropping closes connections the test left open (e.g. an undisposed engine).
    """
    name = f"test_{uuid.uuid4().hex}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)
