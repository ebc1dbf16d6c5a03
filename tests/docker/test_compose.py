"""docker/compose.yaml and its configs: monitoring token, trusted proxy, models,
and central's database role (run on the PostgreSQL fixture)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.errors import InsufficientPrivilege
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError

from central.auth.audit import SYSTEM, AuditAction, record
from central.config import CentralSettings, MediaSettings
from central.context import build_context
from harness.cli import main

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


def _central_url() -> URL:
    central = yaml.safe_load((DOCKER / "central.compose.yaml").read_text("utf-8"))
    return make_url(central["database_url"])


def test_central_should_run_as_a_role_that_does_not_own_the_schema() -> None:
    services = _services()
    owner = services["db"]["environment"]["POSTGRES_USER"]
    app = _central_url()
    assert app.username != owner
    init = (DOCKER / "db-init.sql").read_text("utf-8")
    assert f"CREATE ROLE {app.username} LOGIN PASSWORD '{app.password}'" in init
    assert (
        "./db-init.sql:/docker-entrypoint-initdb.d/10-app-role.sql:ro"
        in (services["db"]["volumes"])
    )
    setup = " ".join(services["central-setup"]["command"])
    migrate = setup[setup.index("gridwatch central migrate") :].split("&&")[0]
    assert f"--database-url postgresql+psycopg://{owner}:" in migrate
    assert f"--grant-app-role {app.username}" in migrate


def test_the_compose_database_recipe_should_keep_audit_log_from_central(
    postgres_url: str, tmp_path: Path
) -> None:
    """db-init.sql, then central-setup's migrate as the owner, then central with
    central.compose.yaml's role: central works but cannot empty audit_log."""
    app = _central_url()
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app.username}
        )
        if not exists:  # roles are per cluster: another test may have made it
            connection.execute(text((DOCKER / "db-init.sql").read_text("utf-8")))
    admin.dispose()
    migrate = ["central", "migrate", "--database-url", postgres_url]
    assert main([*migrate, "--grant-app-role", str(app.username)]) == 0
    fixture = make_url(postgres_url)
    app_url = fixture.set(username=app.username, password=app.password)
    settings = CentralSettings(
        database_url=app_url.render_as_string(hide_password=False),
        media=MediaSettings(dir=tmp_path / "media"),
    )
    context = build_context(settings)
    try:
        with context.sessions.begin() as session:
            record(session, SYSTEM, AuditAction.CONFIG_CHANGED, "compose")
        with context.engine.connect() as connection:
            with pytest.raises(ProgrammingError) as raised:
                connection.execute(text("TRUNCATE audit_log"))
            assert isinstance(raised.value.orig, InsufficientPrivilege)
    finally:
        context.engine.dispose()
