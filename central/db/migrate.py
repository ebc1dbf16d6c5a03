"""Apply Alembic migrations from code (`gridwatch central migrate`, tests, the demo)."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "central.db:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Bring the database schema to `revision` (the newest by default)."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.getEffectiveLevel() < logging.WARNING:
        alembic_log.setLevel(logging.WARNING)  # its per-step INFO lines are noise here
    if isinstance(engine_or_url, str):
        command.upgrade(alembic_config(engine_or_url), revision)
        return
    config = alembic_config(engine_or_url.url.render_as_string(hide_password=False))
    with engine_or_url.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
