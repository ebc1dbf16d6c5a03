"""`http.links` in the central config: the link key and lifetimes, read at start-up."""

from __future__ import annotations

import dataclasses
import logging
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient

from central.api.app import create_app
from central.api.deps import build_link_signer
from central.auth.links import (
    DEFAULT_MEDIA_TTL_S,
    DEFAULT_STREAM_TTL_S,
    MEDIA_TTL_ENV,
    SECRET_ENV,
    STREAM_TTL_ENV,
    LinkRefused,
    LinkSigner,
)
from central.config import (
    CentralConfigError,
    CentralSettings,
    HttpSettings,
    LinkSettings,
    load_settings,
)
from central.context import CentralContext
from harness.cli import main
from tests.central.api.conftest import START, Api
from tests.central.api.test_media_links import link_of, stored_snapshot
from tests.utils.tls import with_local_tls_files

FILE_SECRET = "f" * 64
ENV_SECRET = "e" * 32


def secret_file(tmp_path: Path, content: str = FILE_SECRET + "\n") -> Path:
    path = tmp_path / "link-secret.txt"
    path.write_text(content, encoding="utf-8")
    return path


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "central.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def signs_like(signer: LinkSigner, secret: bytes) -> bool:
    """Whether `signer` holds the key `secret` (its links pass a signer of it)."""
    query = parse_qs(urlsplit(signer.sign_media("/m", user_id=1, now=START).url).query)
    uid, exp, sig = (query[k][0] for k in ("uid", "exp", "sig"))
    try:
        LinkSigner(secret).verify_media("/m", uid=uid, exp=exp, sig=sig, now=START)
    except LinkRefused:
        return False
    return True


# -- the config --------------------------------------------------------------------


def test_the_link_settings_should_default_to_no_file_and_the_signer_lifetimes() -> None:
    links = CentralSettings().http.links
    assert links == LinkSettings(
        secret_file=None,
        media_ttl_s=DEFAULT_MEDIA_TTL_S,
        stream_ticket_ttl_s=DEFAULT_STREAM_TTL_S,
    )


def test_the_config_should_take_a_secret_file_and_lifetimes(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "http:\n"
        "  links:\n"
        "    secret_file: /run/secrets/link_secret\n"
        "    media_ttl_s: 120\n"
        "    stream_ticket_ttl_s: 30\n",
    )
    links = load_settings(config).http.links
    assert links.secret_file == Path("/run/secrets/link_secret")
    assert (links.media_ttl_s, links.stream_ticket_ttl_s) == (120, 30)


@pytest.mark.parametrize(
    ("links_yaml", "message"),
    [
        ("{media_ttl_s: 0}", "http.links.media_ttl_s: Input should be greater"),
        ("{media_ttl_s: 86401}", "http.links.media_ttl_s: Input should be less"),
        ("{media_ttl_s: 5m}", "http.links.media_ttl_s: Input should be a valid int"),
        ("{stream_ticket_ttl_s: -1}", "http.links.stream_ticket_ttl_s: Input should"),
        # the key itself is never written in the config
        ("{secret: abc}", "http.links.secret: Extra inputs are not permitted"),
    ],
)
def test_the_config_should_refuse_bad_link_settings(
    tmp_path: Path, links_yaml: str, message: str
) -> None:
    config = write_config(tmp_path, f"http:\n  links: {links_yaml}\n")
    with pytest.raises(CentralConfigError) as caught:
        load_settings(config)
    assert str(caught.value).startswith(f"{config}: ")
    assert message in str(caught.value)


def test_loading_the_config_should_not_read_the_secret_file(tmp_path: Path) -> None:
    # migrate, import-* and an ingest-only replica need no link secret
    config = write_config(tmp_path, "http: {links: {secret_file: /no/such/file}}\n")
    assert load_settings(config).http.links.secret_file == Path("/no/such/file")


def test_the_compose_config_should_read_the_compose_secret(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    compose = yaml.safe_load((root / "docker/compose.yaml").read_text("utf-8"))
    assert compose["secrets"]["link_secret"] == {"file": "./link-secret.txt"}
    assert "link_secret" in compose["services"]["central"]["secrets"]
    # Its TLS files exist in the container; a CA made here stands in.
    config = with_local_tls_files(root / "docker/central.compose.yaml", tmp_path)
    settings = load_settings(config)
    assert settings.http.links.secret_file == Path("/run/secrets/link_secret")


# -- the signer made from it -------------------------------------------------------


def test_the_signer_should_use_the_secret_file_stripped(tmp_path: Path) -> None:
    path = secret_file(tmp_path, f"  {FILE_SECRET}\n\n")
    signer = build_link_signer(
        LinkSettings(secret_file=path, media_ttl_s=120, stream_ticket_ttl_s=30),
        environ={},
    )
    assert signs_like(signer, FILE_SECRET.encode())
    assert (signer.media_ttl_s, signer.stream_ttl_s) == (120, 30)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.txt", r"cannot read it \(No such file or directory\)"),
        (lambda d: d, r"cannot read it \(Is a directory\)"),
        (
            lambda d: secret_file(d, "short-secret\n"),
            "the secret must be at least 32 bytes, got 12 "
            r"\(make one with `openssl rand -hex 32 > ",
        ),
        (lambda d: secret_file(d, " \n"), "at least 32 bytes, got 0"),
    ],
    ids=["missing", "directory", "short", "blank"],
)
def test_an_unusable_secret_file_should_be_named(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(CentralConfigError, match=reason) as caught:
        build_link_signer(LinkSettings(secret_file=path), environ={})
    assert str(caught.value).startswith(f"http.links: link secret file {path}: ")


def test_the_environment_should_win_over_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = LinkSettings(secret_file=secret_file(tmp_path), media_ttl_s=120)
    environ = {SECRET_ENV: ENV_SECRET, MEDIA_TTL_ENV: "600"}
    with caplog.at_level(logging.INFO, logger="central.auth.links"):
        signer = build_link_signer(settings, environ=environ)
    assert signs_like(signer, ENV_SECRET.encode())
    assert not signs_like(signer, FILE_SECRET.encode())
    assert signer.media_ttl_s == 600
    assert f"{SECRET_ENV} is set: it is used, not the key in" in caplog.text
    # the file is not even read when the variable wins
    gone = LinkSettings(secret_file=tmp_path / "missing.txt")
    assert signs_like(build_link_signer(gone, environ=environ), ENV_SECRET.encode())


def test_a_bad_environment_should_fail_as_a_config_error() -> None:
    with pytest.raises(CentralConfigError, match=f"{SECRET_ENV} must be at least 32"):
        build_link_signer(LinkSettings(), environ={SECRET_ENV: "short"})
    with pytest.raises(CentralConfigError, match=f"{STREAM_TTL_ENV} must be 1.."):
        build_link_signer(LinkSettings(), environ={STREAM_TTL_ENV: "0"})


def test_neither_should_give_a_random_key_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="central.auth.links"):
        one = build_link_signer(LinkSettings(), environ={})
    two = build_link_signer(LinkSettings(), environ={})
    url = one.sign_media("/m", user_id=1, now=START).url
    assert url != two.sign_media("/m", user_id=1, now=START).url  # only the key differs
    assert "random per-process key" in caplog.text


# -- apps built from the config ----------------------------------------------------


def with_links(context: CentralContext, links: LinkSettings) -> CentralContext:
    """The same database and services under settings with other `http.links`."""
    http = HttpSettings(links=links)
    settings = context.settings.model_copy(update={"http": http})
    return dataclasses.replace(context, settings=settings)


def test_replicas_sharing_a_secret_file_should_honour_each_others_links(
    api: Api, tmp_path: Path
) -> None:
    links = LinkSettings(secret_file=secret_file(tmp_path))
    sha = stored_snapshot(api)
    with TestClient(create_app(with_links(api.context, links))) as first:
        url = link_of(dataclasses.replace(api, client=first), "operator", sha)
    with TestClient(create_app(with_links(api.context, links))) as second:
        response = second.get(url)
    assert response.status_code == 200, response.text
    # a replica with its own random key refuses it
    with TestClient(create_app(with_links(api.context, LinkSettings()))) as alone:
        assert alone.get(url).status_code == 403


def test_the_app_should_fail_at_start_on_a_bad_secret_file(
    api: Api, tmp_path: Path
) -> None:
    bad = LinkSettings(secret_file=secret_file(tmp_path, "too-short"))
    with pytest.raises(CentralConfigError, match="at least 32 bytes, got 9"):
        create_app(with_links(api.context, bad))
    # a signer given to the app is used as it is (tests, embedding)
    given = LinkSigner(b"g" * 32, media_ttl_s=42)
    app = create_app(with_links(api.context, bad), link_signer=given)
    assert app.state.link_signer is given


@pytest.fixture
def _signal_handlers() -> Iterator[None]:
    # `central run` installs its own SIGINT/SIGTERM handlers; give pytest its own back
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.usefixtures("_signal_handlers")
def test_central_run_should_stop_at_once_on_a_missing_secret_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-secret.txt"
    config = write_config(
        tmp_path,
        f"database_url: sqlite:///{tmp_path}/c.db\n"
        "mqtt: {port: 1}\n"  # never reached: the secret is read first
        f"http: {{links: {{secret_file: {missing}}}}}\n",
    )
    assert main(["central", "run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"central run: http.links: link secret file {missing}: ")
    assert "No such file or directory" in err
    assert not (tmp_path / "c.db").exists()  # before the database is opened
