"""The node's `broker.tls` section: validated when the config loads (files named
in each error), port 8883 by default, plain MQTT to another machine refused; and
the real publisher over a real Mosquitto's TLS listener."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from central.pki import init_ca, issue
from edge.config import BrokerConfig, ConfigError, parse_config
from edge.publish.mqtt import MqttPublisher
from edge.publish.options import MqttPublisherOptions
from edge.publish.outbox import Outbox
from gridwatch.contract import EventMessage, Topics
from tests.edge.publish.factories import build_event
from tests.utils.broker import MosquittoBroker, MqttCollector

TOPICS = Topics()
FAST = MqttPublisherOptions(reconnect_min_s=1, reconnect_max_s=1, stop_timeout_s=3)
MINIMAL: dict[str, Any] = {
    "node_id": "n1",
    "cameras": [
        {"id": "c1", "url": "rtsp://127.0.0.1/x", "location": {"lat": 1, "lon": 2}}
    ],
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a client certificate and key, and a file that is no certificate."""
    folder = tmp_path_factory.mktemp("pki")
    init_ca(folder)
    issue(folder, folder, "node", client=True)
    (folder / "junk.pem").write_text("not a certificate\n", encoding="utf-8")
    return folder


def _with_broker(**broker: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["broker"] = broker
    return data


def test_tls_given_only_a_ca_should_default_to_port_8883_and_check_names(
    pki: Path,
) -> None:
    config = parse_config(
        _with_broker(host="broker.example", tls={"ca_file": str(pki / "ca.crt")})
    )
    assert config.broker.port == 8883
    assert config.broker.tls is not None and config.broker.tls.verify_hostname


def test_tls_given_a_port_should_keep_it(pki: Path) -> None:
    broker = BrokerConfig.model_validate(
        {"port": 9883, "tls": {"ca_file": str(pki / "ca.crt")}}
    )
    assert broker.port == 9883


def test_no_tls_should_keep_port_1883_on_loopback() -> None:
    assert parse_config(MINIMAL).broker.port == 1883


@pytest.mark.parametrize(
    ("tls", "named"),
    [
        ({"ca_file": "{pki}/missing.crt"}, r"broker\.tls\.ca_file: file not found: "
         r".*missing\.crt"),
        ({"ca_file": "{pki}"}, r"broker\.tls\.ca_file: not a file"),
        ({"ca_file": "{pki}/junk.pem"}, r"ca_file .*junk\.pem: not a PEM CA"),
        ({"ca_file": "{pki}/ca.crt", "cert_file": "{pki}/node.crt"},
         "both cert_file and key_file"),
        ({"ca_file": "{pki}/ca.crt", "cert_file": "{pki}/node.crt",
          "key_file": "{pki}/gone.key"}, r"broker\.tls\.key_file: file not found"),
        ({"ca_file": "{pki}/ca.crt", "cert_file": "{pki}/node.crt",
          "key_file": "{pki}/ca.key"}, r"node\.crt / key_file .*ca\.key: not a match"),
        ({"ca_file": "{pki}/ca.crt", "verify": False}, r"broker\.tls\.verify"),
        ({}, r"broker\.tls\.ca_file"),
    ],
)  # fmt: skip
def test_tls_given_a_bad_value_should_raise_naming_the_file(
    pki: Path, tls: dict[str, Any], named: str
) -> None:
    filled = {k: v.format(pki=pki) if isinstance(v, str) else v for k, v in tls.items()}
    with pytest.raises(ConfigError, match=named):
        parse_config(_with_broker(tls=filled))


def test_tls_given_a_client_certificate_and_key_should_load(pki: Path) -> None:
    tls = {
        "ca_file": str(pki / "ca.crt"),
        "cert_file": str(pki / "node.crt"),
        "key_file": str(pki / "node.key"),
    }
    config = parse_config(_with_broker(tls=tls))
    assert config.broker.tls is not None
    assert config.broker.tls.cert_file == pki / "node.crt"


@pytest.mark.parametrize(
    ("broker", "is_valid"),
    [
        ({"host": "broker.example"}, False),
        ({"host": "10.0.0.5", "port": 1883}, False),
        ({"host": "broker.example", "allow_plain_mqtt": True}, True),
        ({"host": "localhost"}, True),
        ({"host": "127.0.0.1"}, True),
    ],
)
def test_plain_mqtt_given_another_host_should_need_allow_plain_mqtt(
    broker: dict[str, Any], is_valid: bool
) -> None:
    if is_valid:
        parse_config(_with_broker(**broker))
    else:
        with pytest.raises(ConfigError, match=r"broker\.tls is not set"):
            parse_config(_with_broker(**broker))


def _has_event(event: EventMessage) -> Any:
    return lambda messages: any(
        EventMessage.model_validate_json(m.payload).event_id == event.event_id
        for m in messages
    )


@pytest.mark.integration
def test_publisher_over_tls_should_deliver_events(
    mosquitto_tls: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-tls"
    broker = BrokerConfig.model_validate(mosquitto_tls.node_config(node))
    assert broker.tls is not None and broker.port == mosquitto_tls.tls_port
    event = build_event(node, 1)
    with (
        MqttCollector.for_broker(mosquitto_tls, TOPICS.events(node)) as sub,
        Outbox(tmp_path / "o.db", max_rows=100, node_id=node) as outbox,
    ):
        publisher = MqttPublisher(
            node_id=node, broker=broker, outbox=outbox, options=FAST
        )
        publisher.start()
        try:
            assert publisher.publish_event(event)
            sub.wait_for(_has_event(event))
        finally:
            publisher.stop()


@pytest.mark.integration
def test_publisher_given_another_ca_should_not_connect_and_say_why(
    mosquitto_tls: MosquittoBroker,
    pki: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = "n-wrong-ca"
    section = {**mosquitto_tls.node_config(node), "tls": {"ca_file": pki / "ca.crt"}}
    broker = BrokerConfig.model_validate(section)
    with (
        caplog.at_level(logging.WARNING, logger="edge.publish.mqtt"),
        Outbox(tmp_path / "o.db", max_rows=100, node_id=node) as outbox,
    ):
        publisher = MqttPublisher(
            node_id=node, broker=broker, outbox=outbox, options=FAST
        )
        publisher.start()
        try:
            assert publisher.publish_event(build_event(node, 1))
            assert not publisher.wait_until_connected(2.0)
            deadline = time.monotonic() + 5
            while "certificate verify failed" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.05)
            assert publisher.stats().outbox_depth == 1  # kept for a fixed config
        finally:
            publisher.stop()
