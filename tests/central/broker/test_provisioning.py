"""Central provisions, rotates and revokes broker logins; a real Mosquitto follows
through its files and a reload signal, without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from central.broker.passwords import mosquitto_hash, verify
from central.config import load_settings
from central.context import build_context
from central.db.models import ApiToken, AuditEntry, User
from gridwatch.contract import Topics
from harness.cli import main
from harness.services.mosquitto import BrokerCredentials, MosquittoBroker
from tests.utils.broker import ProbeClient

TOPICS = Topics()


def test_mosquitto_hash_is_what_mosquitto_passwd_writes() -> None:
    salt = bytes(range(12))
    digest = mosquitto_hash("s3cret", salt=salt)
    assert digest.startswith("$7$101$AAECAwQFBgcICQoL$")
    assert verify("s3cret", digest) and not verify("other", digest)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "central.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path}/central.db",
                "broker_access": {
                    "dir": str(tmp_path / "access"),
                    "pid_file": str(tmp_path / "broker" / "mosquitto.pid"),
                },
            }
        )
    )
    return path


def _broker(args: list[str], config: Path) -> int:
    return main(["central", "broker", *args, "--config", str(config)])


def _login(path: Path, username: str) -> BrokerCredentials:
    return BrokerCredentials(username, path.read_text().strip())


def _connects(broker: MosquittoBroker, login: BrokerCredentials, want: bool) -> None:
    """Wait (the reload is asynchronous) until connecting goes as wanted."""
    deadline = time.monotonic() + 5
    while True:
        client = ProbeClient(broker, login)
        try:
            ok = client.connack is not None and not client.connack.is_failure
        finally:
            client.close()
        if ok is want or time.monotonic() > deadline:
            assert ok is want, f"{login.username}: connected={ok}"
            return
        time.sleep(0.1)


@pytest.mark.integration
def test_provision_rotate_and_revoke_a_node(tmp_path: Path, config: Path) -> None:
    secrets = tmp_path / "secrets"
    assert _broker(["write-files"], config) == 0  # an empty broker to start with
    broker = MosquittoBroker(tmp_path / "broker", access_dir=tmp_path / "access")
    with broker:
        pid = broker.pid
        assert (
            _broker(
                [
                    "add-node",
                    "node-x",
                    "--secret-out",
                    str(secrets / "node-x.secret"),
                    "--token-out",
                    str(secrets / "node-x.token"),
                ],
                config,
            )
            == 0
        )
        assert (secrets / "node-x.secret").stat().st_mode & 0o077 == 0
        node = _login(secrets / "node-x.secret", "node-x")
        _connects(broker, node, True)
        client = ProbeClient(broker, node)
        try:
            assert not client.publish(TOPICS.events("node-x"), b"{}").is_failure
            assert client.publish(TOPICS.events("node-y"), b"{}").is_failure
        finally:
            client.close()

        rotated = secrets / "node-x.rotated"
        assert _broker(["rotate", "node-x", "--secret-out", str(rotated)], config) == 0
        _connects(broker, node, False)
        _connects(broker, _login(rotated, "node-x"), True)

        assert _broker(["revoke", "node-x"], config) == 0
        _connects(broker, _login(rotated, "node-x"), False)
        assert broker.pid == pid  # never restarted

    context = build_context(load_settings(config))
    with context.sessions() as session:
        user = session.query(User).filter_by(username="node-x").one()
        assert session.query(ApiToken).filter_by(user_id=user.id).count() == 0
    context.engine.dispose()
    assert "node-x" not in (tmp_path / "access" / "passwd").read_text()


def test_logins_are_listed_never_printed_and_not_made_twice(
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
    secret = tmp_path / "c.secret"
    args = ["add", "central-1", "--role", "central", "--secret-out", str(secret)]
    assert _broker(args, config) == 0
    assert _broker(args, config) == 2
    first = secret.read_text()
    assert _broker([*args, "--if-missing"], config) == 0  # setup scripts re-run
    assert secret.read_text() == first
    assert _broker(["list"], config) == 0
    out, err = capsys.readouterr()
    assert "exists; rotate or revoke it" in err
    assert '"username": "central-1", "role": "central"' in out
    assert secret.read_text().strip() not in out + err
    acl = (tmp_path / "access" / "acl").read_text()
    assert "user central-1\ntopic read gw/v1/edge/+/events" in acl
    assert _broker(["revoke", "nobody"], config) == 2


def test_broker_login_changes_are_audited_as_the_cli_user(tmp_path: Path) -> None:
    config = tmp_path / "central.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path}/central.db",
                "broker_access": {"dir": str(tmp_path / "access")},
            }
        )
    )
    out = tmp_path / "secrets"
    node = ["--secret-out", str(out / "n.secret"), "--token-out", str(out / "n.tok")]
    assert _broker(["add-node", "node-a", *node], config) == 0
    assert _broker(["rotate", "node-a", "--secret-out", str(out / "r")], config) == 0
    assert _broker(["revoke", "node-a"], config) == 0
    context = build_context(load_settings(config))
    with context.sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    context.engine.dispose()
    assert [(r.action, r.target) for r in rows] == [
        ("broker_login_added", "node-a"),
        ("user_created", "node-a"),
        ("token_issued", "node-a"),
        ("broker_login_rotated", "node-a"),
        ("broker_login_revoked", "node-a"),
    ]
    assert all(r.actor.startswith("cli:") for r in rows)
    assert rows[-1].detail == {"api_tokens_revoked": 1}
    secret = (out / "n.secret").read_text().strip()
    assert all(secret not in str(r.detail) for r in rows)
