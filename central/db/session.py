"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_URL = "sqlite:///var/central/central.db"


def make_engine(
    url: str,
    *,
    echo: bool = False,
    connect_timeout_s: int = 10,
    statement_timeout_s: float = 120.0,
) -> Engine:
    """An engine tuned for central's workload on either backend.

    SQLite runs in WAL mode with foreign keys on and a busy timeout, so the API,
    the ingest and the scheduler threads can share one file; `synchronous=FULL`
    because ingest acknowledges the broker once a batch is committed, and only
    FULL makes a commit survive a power cut in WAL mode. PostgreSQL connections
    have a connect and a statement time-out.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        statement_ms = round(statement_timeout_s * 1000)
        connect_args = {
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_ms}",
        }
    return create_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
