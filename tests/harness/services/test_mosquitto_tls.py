"""The broker's TLS listener against a real Mosquitto: only clients that trust its
CA and reach it by a name its certificate carries get through, logins still
count, plaintext is refused, and a new certificate takes effect on reload."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.pki import init_ca
from gridwatch.contract import Topics
from gridwatch.tls import MqttTls, client_context
from harness.services.mosquitto import (
    BrokerCredentials,
    BrokerEndpoint,
    MosquittoBroker,
)
from tests.utils.broker import MqttCollector, ProbeClient

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _tls_endpoint(broker: MosquittoBroker, tls: MqttTls) -> BrokerEndpoint:
    assert broker.tls_port is not None
    return BrokerEndpoint(broker.host, broker.tls_port, tls)


def _peer_certificate(broker: MosquittoBroker) -> bytes:
    tls = broker.client_tls
    assert tls is not None and broker.tls_port is not None
    context = client_context(tls)
    with (
        socket.create_connection((broker.host, broker.tls_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=broker.host) as wrapped,
    ):
        peer = wrapped.getpeercert(binary_form=True)
    assert peer is not None
    return peer


def test_a_client_with_the_ca_and_a_login_connects_and_publishes(
    mosquitto_tls: MosquittoBroker,
) -> None:
    node = ProbeClient(mosquitto_tls, mosquitto_tls.node("node-a"))
    try:
        with MqttCollector.for_broker(mosquitto_tls, TOPICS.events("node-a")) as sub:
            puback = node.publish(TOPICS.events("node-a"), b'{"over": "tls"}')
            received = sub.wait_for(lambda m: len(m) >= 1)
    finally:
        node.close()
    assert node.connack is not None and not node.connack.is_failure
    assert not puback.is_failure
    assert [m.payload for m in received] == [b'{"over": "tls"}']


def test_a_wrong_password_over_tls_is_still_refused(
    mosquitto_tls: MosquittoBroker,
) -> None:
    mosquitto_tls.node("node-a")
    wrong = ProbeClient(mosquitto_tls, BrokerCredentials("node-a", "not-it"))
    try:
        assert wrong.connack is not None and wrong.connack.is_failure
    finally:
        wrong.close()


def test_a_client_without_the_ca_is_refused(mosquitto_tls: MosquittoBroker) -> None:
    assert mosquitto_tls.tls_port is not None
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    login = mosquitto_tls.observer()
    client.username_pw_set(login.username, login.password)
    client.tls_set()  # the system's CAs only: they never signed this broker
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        client.connect(mosquitto_tls.host, mosquitto_tls.tls_port)


def test_a_client_trusting_another_ca_is_refused(
    mosquitto_tls: MosquittoBroker, tmp_path: Path
) -> None:
    other_ca = init_ca(tmp_path / "other-ca").cert
    endpoint = _tls_endpoint(mosquitto_tls, MqttTls(ca_file=other_ca))
    with pytest.raises(ssl.SSLCertVerificationError):
        ProbeClient(mosquitto_tls, mosquitto_tls.observer(), endpoint=endpoint)


def test_a_certificate_for_another_host_name_is_refused(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker", tls=True, tls_names=["elsewhere"])
    with broker:
        login = broker.observer()
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            ProbeClient(broker, login)
        # Only with the check turned off (documented as unsafe) does it pass.
        assert broker.ca_file is not None
        unchecked = MqttTls(ca_file=broker.ca_file, verify_hostname=False)
        probe = ProbeClient(broker, login, endpoint=_tls_endpoint(broker, unchecked))
        try:
            assert probe.connack is not None and not probe.connack.is_failure
        finally:
            probe.close()


def test_plain_mqtt_to_the_tls_port_is_refused(
    mosquitto_tls: MosquittoBroker,
) -> None:
    assert mosquitto_tls.tls_port is not None
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    login = mosquitto_tls.observer()
    client.username_pw_set(login.username, login.password)
    connacks: list[ReasonCode] = []
    cut = threading.Event()

    def on_connect(
        c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: Properties | None
    ) -> None:
        connacks.append(rc)

    def on_disconnect(
        c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: Properties | None
    ) -> None:
        cut.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.connect(mosquitto_tls.host, mosquitto_tls.tls_port)
    client.loop_start()
    try:
        assert cut.wait(5), "the broker kept a plaintext connection open"
    finally:
        client.loop_stop()
    assert connacks == []


def test_a_tls_only_broker_has_no_plaintext_listener(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker", tls=True, plaintext=False)
    with broker:
        with pytest.raises(OSError):
            socket.create_connection((broker.host, broker.port), timeout=1).close()
        probe = ProbeClient(broker, broker.observer())
        probe.close()
        assert probe.connack is not None and not probe.connack.is_failure


def test_a_reissued_certificate_is_served_after_a_reload(
    mosquitto_tls: MosquittoBroker,
) -> None:
    before = _peer_certificate(mosquitto_tls)
    mosquitto_tls.issue_server_cert(["127.0.0.1", "localhost"])
    assert _peer_certificate(mosquitto_tls) == before  # not before the reload
    mosquitto_tls.reload()
    assert _peer_certificate(mosquitto_tls) != before
    assert mosquitto_tls.is_running


def test_a_broker_without_any_listener_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plaintext or a TLS listener"):
        MosquittoBroker(tmp_path / "broker", plaintext=False)
