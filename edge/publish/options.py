"""Settings of the MQTT publisher: tuning options, client id, broker password."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edge.config import BrokerConfig
from gridwatch.secrets import SecretError, read_secret_file


@dataclass(frozen=True, slots=True)
class MqttPublisherOptions:
    """Tuning of `MqttPublisher`; the defaults suit production.

    Attributes:
        in_flight_window: Most events sent and not yet acknowledged.
        session_expiry_s: How long the broker keeps the session after a disconnect.
        reconnect_min_s: First reconnect delay; doubles up to `reconnect_max_s`.
        reconnect_max_s: Longest reconnect delay.
        stop_timeout_s: How long `stop` waits for in-flight PUBACKs and `offline`.
    """

    in_flight_window: int = 16
    session_expiry_s: int = 86_400
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    stop_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.in_flight_window < 1:
            raise ValueError(
                f"in_flight_window must be >= 1, got {self.in_flight_window}"
            )
        if self.session_expiry_s < 0:
            raise ValueError(
                f"session_expiry_s must be >= 0, got {self.session_expiry_s}"
            )
        if not 1 <= self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError(
                f"need 1 <= reconnect_min_s ({self.reconnect_min_s}) <= "
                f"reconnect_max_s ({self.reconnect_max_s})"
            )
        if self.stop_timeout_s < 0:
            raise ValueError(f"stop_timeout_s must be >= 0, got {self.stop_timeout_s}")


def client_id_for(node_id: str) -> str:
    """The fixed MQTT client id of a node (fixed so its session persists)."""
    return f"gw-edge-{node_id}"


def read_password(broker: BrokerConfig) -> str | None:
    """The broker password: from the variable `password_env`, else the first line
    of `password_file`; None when neither is set.

    Raises:
        ValueError: `password_env` names a variable that is not set, or
            `password_file` cannot be read or is empty.
    """
    if broker.password_env is not None:
        password = os.environ.get(broker.password_env)
        if password is None:
            raise ValueError(
                f"broker password variable {broker.password_env!r} is not set"
            )
        return password
    if broker.password_file is None:
        return None
    try:
        return read_secret_file(broker.password_file)
    except SecretError as error:
        raise ValueError(f"broker password file {error}") from None
