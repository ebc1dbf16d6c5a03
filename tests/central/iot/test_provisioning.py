"""`gridwatch central broker add --role iot_gateway`: one login per gateway, and
an ACL that lets it write only its own readings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from central.broker.acl import BrokerIdentity, BrokerRole
from harness.cli import main


def test_gateway_login_given_the_cli_should_write_an_acl_for_its_own_topic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "central.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path}/central.db",
                "broker_access": {"dir": str(tmp_path / "access")},
            }
        )
    )
    secret = tmp_path / "gw.secret"
    args = ["central", "broker", "add", "gw-7", "--role", "iot_gateway"]
    assert main([*args, "--secret-out", str(secret), "--config", str(config)]) == 0
    acl = (tmp_path / "access" / "acl").read_text()
    assert "user gw-7\ntopic write gw/v1/iot/gw-7/#\n" in acl
    assert main(["central", "broker", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert '"username": "gw-7", "role": "iot_gateway", "subject": "gw-7"' in out
    assert secret.read_text().strip() not in out


@pytest.mark.parametrize(
    ("role", "granted", "refused"),
    [
        (BrokerRole.IOT_GATEWAY, "topic write p/iot/gw-1/#", "p/edge/"),
        (BrokerRole.CENTRAL, "topic read p/iot/+/readings", "topic write p/iot"),
        (BrokerRole.SIMULATOR, "topic readwrite p/iot/#", None),
        (BrokerRole.EDGE_NODE, "topic write p/edge/gw-1/#", "p/iot/"),
    ],
)
def test_grants_given_a_role_should_cover_readings_as_designed(
    role: BrokerRole, granted: str, refused: str | None
) -> None:
    grants = BrokerIdentity("gw-1", role, "gw-1").grants("p")
    assert granted in grants
    if refused is not None:
        assert not any(refused in line for line in grants), grants


def test_gateway_identity_given_no_subject_should_raise() -> None:
    with pytest.raises(ValueError, match="needs a subject"):
        BrokerIdentity("gw-1", BrokerRole.IOT_GATEWAY)
