"""TLS at central: `gridwatch central tls` makes a CA and certificates that verify;
`mqtt.tls` and `http.tls` are checked when the config loads; and a real edge
publisher's event crosses a real Mosquitto's TLS listener into central, which
pushes the ticket back over TLS and serves HTTPS."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from central.clock import ManualClock
from central.config import (
    CentralConfigError,
    CentralSettings,
    HttpSettings,
    MediaSettings,
    MqttSettings,
    load_settings,
)
from central.pki import PkiError, init_ca, issue
from central.server import CentralService
from edge.config import BrokerConfig
from edge.publish.mqtt import MqttPublisher
from edge.publish.options import MqttPublisherOptions
from edge.publish.outbox import Outbox
from gridwatch.contract import TicketNotice, Topics
from harness.cli import main
from tests.central.conftest import (
    GRID_1,
    GRID_1_WORKER,
    WEDNESDAY_10_LOCAL,
    grid_centre,
    make_event,
)
from tests.utils.broker import MosquittoBroker, MqttCollector


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA with a server certificate for 127.0.0.1/localhost ("central")."""
    folder = tmp_path_factory.mktemp("pki")
    init_ca(folder)
    issue(folder, folder, "central", hostnames=["127.0.0.1", "localhost"])
    (folder / "junk.pem").write_text("junk\n", encoding="utf-8")
    return folder


# -- the command -----------------------------------------------------------------


def test_tls_command_should_make_a_ca_and_certificates_that_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir, out = tmp_path / "ca", tmp_path / "out"
    assert main(["central", "tls", "init", "--ca-dir", str(ca_dir)]) == 0
    server = ["central", "tls", "issue", "broker", "--ca-dir", str(ca_dir)]
    assert main([*server, "--out", str(out), "--host", "broker"]) == 0
    first_key = (out / "broker.key").read_bytes()
    # Issuing again is the rotation: a new key and certificate, same files.
    assert main([*server, "--out", str(out), "--host", "broker", "--host", "::1"]) == 0
    assert (out / "broker.key").read_bytes() != first_key
    client = ["central", "tls", "issue", "node-01", "--ca-dir", str(ca_dir)]
    assert main([*client, "--out", str(out), "--client"]) == 0
    assert main(["central", "tls", "show", str(out / "broker.crt")]) == 0

    ca = _load(ca_dir / "ca.crt")
    broker, node = _load(out / "broker.crt"), _load(out / "node-01.crt")
    broker.verify_directly_issued_by(ca)
    node.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == ["broker"]
    usage = node.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for key in (ca_dir / "ca.key", out / "broker.key", out / "node-01.key"):
        assert key.stat().st_mode & 0o777 == 0o600
    output = capsys.readouterr()
    assert "broker, names broker, ::1" in output.out
    assert "PRIVATE KEY" not in output.out + output.err


def test_tls_init_given_an_existing_ca_should_refuse_unless_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = ["central", "tls", "init", "--ca-dir", str(tmp_path)]
    assert main(init) == 0
    first = (tmp_path / "ca.crt").read_bytes()
    assert main(init) == 2
    assert "ca.key exists" in capsys.readouterr().err
    assert (tmp_path / "ca.crt").read_bytes() == first
    assert main([*init, "--replace"]) == 0
    assert (tmp_path / "ca.crt").read_bytes() != first


@pytest.mark.parametrize(
    ("name", "hosts", "client", "message"),
    [
        ("broker", [], False, "needs at least one --host"),
        ("broker", ["bad host!"], False, "neither a DNS name nor an IP"),
        ("../escape", ["broker"], False, "certificate name"),
        ("node", [], True, None),
    ],
)
def test_issue_given_bad_input_should_raise(
    pki: Path,
    tmp_path: Path,
    name: str,
    hosts: list[str],
    client: bool,
    message: str | None,
) -> None:
    if message is None:
        assert issue(pki, tmp_path, name, hostnames=hosts, client=client).key.exists()
    else:
        with pytest.raises(PkiError, match=message):
            issue(pki, tmp_path, name, hostnames=hosts, client=client)


def test_issue_given_no_ca_should_say_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="tls init"):
        issue(tmp_path, tmp_path, "broker", hostnames=["broker"])


def test_issue_should_not_outlive_the_ca(tmp_path: Path) -> None:
    init_ca(tmp_path, days=30)
    cert = _load(issue(tmp_path, tmp_path, "b", hostnames=["b"], days=400).cert)
    ca = _load(tmp_path / "ca.crt")
    assert cert.not_valid_after_utc <= ca.not_valid_after_utc
    assert cert.not_valid_before_utc <= dt.datetime.now(dt.UTC)


# -- settings --------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "central.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_mqtt_tls_given_only_a_ca_should_default_to_port_8883(
    pki: Path, tmp_path: Path
) -> None:
    path = _config(tmp_path, f"mqtt: {{host: broker, tls: {{ca_file: {pki}/ca.crt}}}}")
    mqtt = load_settings(path).mqtt
    assert mqtt.port == 8883
    assert mqtt.tls is not None and mqtt.tls.verify_hostname


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mqtt: {tls: {ca_file: '{pki}/gone.crt'}}",
         r"mqtt\.tls\.ca_file: file not found: .*gone\.crt"),
        ("mqtt: {tls: {ca_file: '{pki}/junk.pem'}}", r"junk\.pem: not a PEM CA"),
        ("mqtt: {host: broker}", r"mqtt\.tls is not set"),
        ("http: {tls: {cert_file: '{pki}/central.crt', key_file: '{pki}/nope.key'}}",
         r"http\.tls\.key_file: file not found: .*nope\.key"),
        ("http: {tls: {cert_file: '{pki}/central.crt', key_file: '{pki}/ca.key'}}",
         r"central\.crt / key_file .*ca\.key: not a matching"),
        ("http: {tls: {cert_file: '{pki}/central.crt'}}", r"http\.tls\.key_file"),
    ],
)  # fmt: skip
def test_settings_given_bad_tls_should_raise_naming_the_file(
    pki: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = _config(tmp_path, text.replace("{pki}", str(pki)))
    with pytest.raises(CentralConfigError, match=message):
        load_settings(path)


def test_plain_mqtt_to_another_host_needs_allow_plain_mqtt(tmp_path: Path) -> None:
    path = _config(tmp_path, "mqtt: {host: broker, allow_plain_mqtt: true}")
    assert load_settings(path).mqtt.port == 1883


def test_central_run_given_another_broker_host_without_tls_should_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/central.db"
    args = ["central", "run", "--database-url", url, "--mqtt-host", "broker.example"]
    assert main(args) == 2
    assert "mqtt.tls is not set" in capsys.readouterr().err


# -- end to end ------------------------------------------------------------------


def _edge_publisher(
    broker: MosquittoBroker, node: str, outbox: Outbox
) -> MqttPublisher:
    config = BrokerConfig.model_validate(broker.node_config(node))
    assert config.tls is not None  # the real edge client, over TLS
    return MqttPublisher(
        node_id=node,
        broker=config,
        outbox=outbox,
        options=MqttPublisherOptions(reconnect_min_s=1, reconnect_max_s=1),
    )


def _import_city(url: str, city: tuple[Path, Path]) -> None:
    assert main(["central", "import-grids", str(city[0]), "--database-url", url]) == 0
    assert main(["central", "import-city", str(city[1]), "--database-url", url]) == 0


@pytest.mark.integration
def test_an_edge_event_becomes_a_ticket_over_tls_end_to_end(
    tmp_path: Path,
    pki: Path,
    mosquitto_tls: MosquittoBroker,
    demo_city: tuple[Path, Path],
) -> None:
    url = f"sqlite:///{tmp_path}/central.db"
    _import_city(url, demo_city)
    mqtt: dict[str, Any] = {**mosquitto_tls.central_config(), "client_id": "c-tls"}
    settings = CentralSettings(
        database_url=url,
        mqtt=MqttSettings.model_validate(mqtt),
        http=HttpSettings.model_validate(
            {
                "port": 0,
                "tls": {
                    "cert_file": pki / "central.crt",
                    "key_file": pki / "central.key",
                },
            }
        ),
        media=MediaSettings(dir=tmp_path / "media"),
    )
    assert (
        settings.mqtt.tls is not None and settings.mqtt.port == mosquitto_tls.tls_port
    )
    service = CentralService(settings, clock=ManualClock(WEDNESDAY_10_LOCAL))
    worker_topic = Topics().worker_tickets(GRID_1_WORKER)
    with (
        service,
        MqttCollector.for_broker(mosquitto_tls, worker_topic) as terminal,
        Outbox(tmp_path / "outbox.db", max_rows=100, node_id="node-01") as outbox,
    ):
        assert service.mqtt.is_connected
        event = make_event(*grid_centre(service.context, GRID_1), node="node-01")
        publisher = _edge_publisher(mosquitto_tls, "node-01", outbox)
        publisher.start()
        try:
            assert publisher.publish_event(event)
            [message] = terminal.wait_for(lambda m: len(m) >= 1, timeout_s=15)
        finally:
            publisher.stop()
        notice = TicketNotice.model_validate_json(message.payload)
        assert notice.event_ids == [event.event_id]
        assert notice.grid_code == GRID_1 and notice.action == "dispatched"

        https = f"https://127.0.0.1:{service.http_port}"
        trusted = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        assert httpx.get(f"{https}/healthz", verify=trusted).status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{https}/healthz")  # the system's CAs never signed it
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{service.http_port}/healthz", timeout=5)


# -- the compose deployment --------------------------------------------------------


def test_compose_should_use_tls_for_the_broker_and_central() -> None:
    docker = Path(__file__).resolve().parents[2] / "docker"
    services = yaml.safe_load((docker / "compose.yaml").read_text("utf-8"))["services"]
    assert services["broker"]["ports"] == ["8883:8883"]
    assert "ports" not in services["central"]  # reached through the proxy only
    assert services["proxy"]["ports"] == ["8443:8443"]
    # The node trusts the CA by its config, not by SSL_CERT_FILE.
    assert "SSL_CERT_FILE" not in services["edge"]["environment"]
    # Only the one-shot setup mounts the CA's key.
    holders = [
        name
        for name, service in services.items()
        if any(str(v).startswith("tls-ca:") for v in service.get("volumes", []))
    ]
    assert holders == ["central-setup"]
    listeners = [
        line
        for line in (docker / "mosquitto.conf").read_text("utf-8").splitlines()
        if line.startswith("listener")
    ]
    assert listeners == ["listener 8883 0.0.0.0"]
    node = yaml.safe_load((docker / "node.compose.yaml").read_text("utf-8"))
    assert node["central"]["url"].startswith("https://")
    assert node["central"]["ca_file"] == "/tls/ca.crt"
    assert node["broker"]["tls"] == {"ca_file": "/tls/ca.crt"}
    central = yaml.safe_load((docker / "central.compose.yaml").read_text("utf-8"))
    assert central["mqtt"]["tls"] == {"ca_file": "/tls/ca.crt"}
