"""Fixtures for the publish tests."""

from __future__ import annotations

# Until the root conftest lists `pytest_plugins = ["tests.utils.broker"]`.
from tests.utils.broker import mosquitto, mosquitto_session  # noqa: F401
