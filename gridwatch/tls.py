"""TLS for MQTT clients, one way for every part: the config section (`MqttTls`),
the checks on it, and the `ssl.SSLContext` every paho client is given."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import paho.mqtt.client as mqtt
from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from gridwatch.validation import StrictModel

MQTT_PORT = 1883
MQTT_TLS_PORT = 8883  # the IANA port of MQTT over TLS (secure-mqtt)


class TlsError(ValueError):
    """A TLS file that cannot be used (the message names the file and why)."""


def _readable_file(path: Path) -> Path:
    if not path.exists():
        raise PydanticCustomError("tls_file", "file not found: {path}", {"path": path})
    if not path.is_file():
        raise PydanticCustomError("tls_file", "not a file: {path}", {"path": path})
    if not os.access(path, os.R_OK):
        raise PydanticCustomError("tls_file", "cannot read {path}", {"path": path})
    return path


# A path that must name a readable file when the config is loaded.
ExistingFile = Annotated[Path, AfterValidator(_readable_file)]


class MqttTls(StrictModel):
    """How a client reaches the broker's TLS listener (port 8883 by convention).

    The broker's certificate must chain to `ca_file` and name the host the
    client connects to; with `cert_file` and `key_file` the client also shows a
    certificate of its own (for a broker that requires one).
    """

    ca_file: ExistingFile = Field(
        title="CA certificate file",
        description="PEM file of the CA(s) that sign the broker's certificate "
        "(`gridwatch central tls init` makes a private one); only these are "
        "trusted, not the system's CAs.",
    )
    cert_file: ExistingFile | None = Field(
        default=None,
        title="Client certificate file",
        description="PEM certificate of this client (with key_file), for a broker "
        "that asks for client certificates.",
    )
    key_file: ExistingFile | None = Field(
        default=None,
        title="Client key file",
        description="PEM private key of cert_file (owner-readable only).",
    )
    verify_hostname: bool = Field(
        default=True,
        title="Verify the broker's name",
        description="The broker's certificate must name the configured host. "
        "Turning it off lets anyone holding a certificate from the same CA "
        "pose as the broker.",
    )

    @model_validator(mode="after")
    def verify_files_load(self) -> MqttTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls needs both cert_file and key_file, or neither")
        client_context(self)  # a bad PEM fails now, naming the file
        return self


def client_context(tls: MqttTls) -> ssl.SSLContext:
    """A client context trusting only `tls.ca_file`: TLS 1.2 or later, the
    peer's certificate required and, unless turned off, its host name checked.

    Raises:
        TlsError: a file is not a usable PEM certificate or key (named).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(tls.ca_file))
    except (OSError, ssl.SSLError) as error:
        raise TlsError(
            f"ca_file {tls.ca_file}: not a PEM CA certificate ({error})"
        ) from None
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (OSError, ssl.SSLError) as error:
            raise TlsError(
                f"cert_file {tls.cert_file} / key_file {tls.key_file}: not a "
                f"matching PEM certificate and key ({error})"
            ) from None
    context.check_hostname = tls.verify_hostname
    return context


def apply_mqtt_tls(client: mqtt.Client, tls: MqttTls | None) -> None:
    """Make `client` connect over TLS as `tls` says; nothing when None.

    Raises:
        TlsError: a TLS file cannot be used.
    """
    if tls is not None:
        client.tls_set_context(client_context(tls))


def is_loopback_host(host: str) -> bool:
    """`host` is this machine (traffic to it never crosses a network)."""
    return host in ("localhost", "::1") or host.startswith("127.")


def with_default_mqtt_port(data: Any) -> Any:
    """Raw config `data` with `port` 8883 when it has `tls` and names no port
    (a `mode="before"` validator's body)."""
    if isinstance(data, dict) and data.get("tls") is not None and "port" not in data:
        return {**data, "port": MQTT_TLS_PORT}
    return data


def verify_mqtt_transport(
    *, host: str, tls: MqttTls | None, allow_plain: bool, section: str
) -> None:
    """Refuse plain MQTT to another machine unless `allow_plain` says so.

    Raises:
        ValueError: plain MQTT to a host that is not loopback (names `section`).
    """
    if tls is None and not allow_plain and not is_loopback_host(host):
        raise ValueError(
            f"{section}.host {host!r} is another machine and {section}.tls is not "
            "set: the login and every message would cross the network "
            f"unencrypted; set {section}.tls (port {MQTT_TLS_PORT}), or "
            f"{section}.allow_plain_mqtt: true"
        )


class MqttTransport(StrictModel):
    """Where a client reaches the broker and how: the fields and checks edge and
    central share. A subclass names its config section (`transport_section`)
    for the error messages."""

    transport_section: ClassVar[str] = "mqtt"

    host: str = "127.0.0.1"
    port: int = Field(default=MQTT_PORT, ge=1, le=65535)
    tls: MqttTls | None = Field(
        default=None,
        title="TLS",
        description="Connect over TLS (`ca_file`, optional `cert_file`/`key_file`, "
        f"`verify_hostname`); the port is then {MQTT_TLS_PORT} unless set.",
    )
    allow_plain_mqtt: bool = Field(
        default=False,
        description="Connect without TLS to a host that is not this machine (the "
        "login and every message cross the network unencrypted).",
    )

    @model_validator(mode="before")
    @classmethod
    def default_tls_port(cls, data: Any) -> Any:
        return with_default_mqtt_port(data)

    @model_validator(mode="after")
    def verify_transport(self) -> Self:
        verify_mqtt_transport(
            host=self.host,
            tls=self.tls,
            allow_plain=self.allow_plain_mqtt,
            section=self.transport_section,
        )
        return self


class HttpsServerTls(StrictModel):
    """Serve HTTPS with uvicorn's own TLS (central's pages and API, the edge
    node's health, metrics and snapshot pushes)."""

    cert_file: ExistingFile = Field(
        title="Certificate file",
        description="PEM server certificate naming the host clients use (from "
        "`gridwatch central tls issue`); intermediates may follow it.",
    )
    key_file: ExistingFile = Field(
        title="Key file", description="PEM private key of cert_file (owner-only)."
    )

    @model_validator(mode="after")
    def verify_pair_loads(self) -> HttpsServerTls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (OSError, ssl.SSLError) as error:
            raise ValueError(
                f"cert_file {self.cert_file} / key_file {self.key_file}: not a "
                f"matching PEM certificate and key ({error})"
            ) from None
        return self
