"""docker/compose.yaml and its configs: monitoring token, trusted proxy, models."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
    services: dict[str, Any] = compose["services"]
    return services


def _networks() -> dict[str, Any]:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))
    networks: dict[str, Any] = compose["networks"]
    return networks


def test_the_edge_healthcheck_should_probe_healthz_without_a_token() -> None:
    edge = _services()["edge"]
    probe = " ".join(edge["healthcheck"]["test"])
    assert "http://127.0.0.1:8081/healthz" in probe
    assert "Authorization" not in probe and "monitor-token" not in probe


def test_the_node_should_protect_metrics_with_a_token_the_setup_writes() -> None:
    node = yaml.safe_load((DOCKER / "node.compose.yaml").read_text("utf-8"))
    token_file = node["http"]["monitor_token_file"]
    assert token_file.startswith("/secrets/")
    setup = " ".join(_services()["central-setup"]["command"])
    # Written once, owner-only, never echoed.
    assert f"[ -s {token_file} ]" in setup and "umask 077" in setup
    assert f"> {token_file}" in setup
    assert "broker-secrets:/secrets:ro" in _services()["edge"]["volumes"]


def test_the_node_should_trust_the_deployment_ca_by_its_config() -> None:
    node = yaml.safe_load((DOCKER / "node.compose.yaml").read_text("utf-8"))
    assert node["central"]["url"].startswith("https://")
    assert node["central"]["ca_file"] == "/tls/ca.crt"
    assert "SSL_CERT_FILE" not in _services()["edge"].get("environment", {})


def test_central_should_trust_forwarded_addresses_from_the_proxy_only() -> None:
    services = _services()
    trusted = services["central"]["environment"]["FORWARDED_ALLOW_IPS"]
    proxy_address = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert trusted == proxy_address
    subnet = _networks()["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(proxy_address) in ipaddress.ip_network(subnet)
    # Every other service is on that network too, so none can take the address.
    assert all("networks" not in s for n, s in services.items() if n != "proxy")


def test_central_services_should_mount_the_models_read_only() -> None:
    services = _services()
    for name in ("central", "central-ingest"):
        service = services[name]
        models_dir = service["environment"]["GRIDWATCH_MODELS_DIR"]
        mounts = [v for v in service["volumes"] if v.split(":")[1] == models_dir]
        assert mounts == [f"../../shared/data/models:{models_dir}:ro"], name
