"""PostgresServer: a real throw-away cluster, its databases, crashes and restarts."""

from __future__ import annotations

import os
import socket
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from harness.services.postgres import PostgresServer, find_postgres_bin


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PostgresServer]:
    """A cluster of its own for one test (may be stopped, killed, restarted)."""
    with PostgresServer(tmp_path / "pg") as running:
        yield running


def is_listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def insert_note(dsn: str, text: str) -> None:
    with psycopg.connect(dsn) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS note (text text NOT NULL)")
        connection.execute("INSERT INTO note (text) VALUES (%s)", (text,))


def read_notes(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as connection:
        return [row[0] for row in connection.execute("SELECT text FROM note")]


def test_find_postgres_bin_given_folder_without_binaries_should_name_apt_package(
    tmp_path: Path,
) -> None:
    (tmp_path / "initdb").write_text("#!/bin/sh\n")
    with pytest.raises(RuntimeError, match=r"apt-get install postgresql"):
        find_postgres_bin([tmp_path])


def test_postgres_server_given_missing_bin_dir_should_fail_clearly(
    tmp_path: Path,
) -> None:
    with pytest.raises(RuntimeError, match=r"initdb.*not found.*postgresql"):
        PostgresServer(tmp_path, bin_dir=tmp_path / "nowhere")


@pytest.mark.integration
def test_postgres_server_given_database_should_serve_psycopg_and_sqlalchemy(
    tmp_path: Path,
) -> None:
    server = PostgresServer(tmp_path / "pg")
    server.start()
    try:
        url = server.create_database("gridwatch")
        assert url == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/gridwatch"
        insert_note(server.dsn("gridwatch"), "hello")
        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT text FROM note")).all()
        finally:
            engine.dispose()
        assert [row.text for row in rows] == ["hello"]
    finally:
        server.stop()
    assert not server.is_running
    assert not is_listening(server.port)


@pytest.mark.integration
def test_postgres_server_given_two_databases_should_keep_them_apart(
    postgres_server: PostgresServer,
) -> None:
    names = [f"apart_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        postgres_server.create_database(name)
    try:
        insert_note(postgres_server.dsn(names[0]), "only in the first")
        with (
            psycopg.connect(postgres_server.dsn(names[1])) as connection,
            pytest.raises(psycopg.errors.UndefinedTable),
        ):
            connection.execute("SELECT text FROM note")
        assert read_notes(postgres_server.dsn(names[0])) == ["only in the first"]
    finally:
        for name in names:
            postgres_server.drop_database(name)


@pytest.mark.integration
def test_postgres_url_fixture_should_give_an_empty_database_of_its_own(
    postgres_url: str,
) -> None:
    engine = sa.create_engine(postgres_url)
    # Not disposed: the fixture's drop must cope with the pooled connection.
    with engine.begin() as connection:
        tables = connection.execute(
            sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ).scalar_one()
        connection.execute(sa.text("CREATE TABLE mine (id int PRIMARY KEY)"))
    assert tables == 0
    assert postgres_url.rsplit("/", 1)[1].startswith("test_")


@pytest.mark.integration
def test_drop_database_given_open_connection_should_drop_it(
    postgres_server: PostgresServer,
) -> None:
    postgres_server.create_database("busy")
    connection = psycopg.connect(postgres_server.dsn("busy"))
    try:
        postgres_server.drop_database("busy")
        postgres_server.drop_database("busy")  # gone already: no error
    finally:
        connection.close()
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(postgres_server.dsn("busy"))


@pytest.mark.integration
@pytest.mark.parametrize("name", ["", "1st", "a-b", "x; DROP", "a" * 64])
def test_create_database_given_unsafe_name_should_raise(
    postgres_server: PostgresServer, name: str
) -> None:
    with pytest.raises(ValueError, match="database name"):
        postgres_server.create_database(name)


@pytest.mark.integration
def test_stop_given_called_twice_or_before_start_should_be_a_no_op(
    tmp_path: Path,
) -> None:
    server = PostgresServer(tmp_path / "pg")
    server.stop()
    server.start()
    server.stop()
    server.stop()
    assert not server.is_running
    assert server.data_dir is None


@pytest.mark.integration
def test_stop_should_discard_the_cluster_but_keep_the_log(
    server: PostgresServer,
) -> None:
    data_dir = server.data_dir
    assert data_dir is not None and (data_dir / "PG_VERSION").is_file()
    server.stop()
    assert not data_dir.exists()
    assert "database system is shut down" in server.log_path.read_text()


@pytest.mark.integration
def test_restart_should_keep_data_and_port(server: PostgresServer) -> None:
    insert_note(server.dsn(), "before restart")
    port = server.port
    server.restart()
    assert server.port == port
    assert read_notes(server.dsn()) == ["before restart"]


@pytest.mark.integration
def test_kill_given_committed_rows_should_recover_them_on_start(
    server: PostgresServer,
) -> None:
    insert_note(server.dsn(), "committed")
    open_connection = psycopg.connect(server.dsn())  # a backend to kill as well
    server.kill()
    assert not server.is_running
    assert not is_listening(server.port)
    open_connection.close()
    server.start()
    assert read_notes(server.dsn()) == ["committed"]
    assert "automatic recovery in progress" in server.log_path.read_text()


@pytest.mark.integration
@pytest.mark.parametrize(("fast", "fsync"), [(False, "on"), (True, "off")])
def test_postgres_server_given_fast_flag_should_set_fsync(
    tmp_path: Path, fast: bool, fsync: str
) -> None:
    with (
        PostgresServer(tmp_path / "pg", fast=fast) as server,
        psycopg.connect(server.dsn()) as connection,
    ):
        settings: dict[str, str] = dict(
            connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('fsync', 'synchronous_commit', 'full_page_writes')"
            ).fetchall()
        )
    assert settings["fsync"] == fsync
    assert settings["full_page_writes"] == fsync
    assert settings["synchronous_commit"] == fsync


@pytest.mark.integration
def test_start_given_port_taken_should_fail_with_log_tail(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = PostgresServer(tmp_path / "pg", port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"exited early[\s\S]*bind"):
            server.start()
    assert not server.is_running
    assert server.data_dir is None  # the new cluster was deleted


@pytest.mark.integration
def test_start_given_already_running_should_raise(server: PostgresServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        server.start()


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster over")
def test_postgres_server_given_root_should_run_cluster_as_postgres_user(
    server: PostgresServer,
) -> None:
    data_dir = server.data_dir
    assert data_dir is not None
    assert data_dir.owner() == "postgres"
    # Outside the (root-only) pytest tmp dir, so the postgres user can reach it.
    assert not data_dir.is_relative_to(server.workdir)
    with psycopg.connect(server.dsn()) as connection:
        row = connection.execute("SELECT current_setting('data_directory')")
        assert row.fetchone() == (str(data_dir),)
    assert server.log_path.stat().st_mode & stat.S_IROTH
