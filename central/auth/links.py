"""Short-lived signed credentials for URLs: media links and stream tickets.

`<img>`, `<video>` and `EventSource` cannot send an `Authorization` header, and
a bearer token in a URL ends up in proxy logs, browser history and `Referer`
headers. So the pages ask, with their header, for a credential that is narrow
and short-lived, and put that in the URL instead:

- a **media link** `{path}?uid=&exp=&sig=`: HMAC-SHA256 over the media path,
  the user id and the expiry (unix seconds); it opens that one file for that
  user until it expires (the route still checks the user may see it);
- a **stream ticket** `{uid}.{exp}.{nonce}.{sig}`: HMAC-SHA256 over the user
  id, the expiry and a random nonce; it opens that user's ticket stream once.

The key (at least 32 bytes; the same on every API replica, so that a link issued
by one is honoured by another) comes from `GRIDWATCH_LINK_SECRET`, else from the
configured secret file (`http.links.secret_file`); with neither, each process
draws a random one at start-up, which suits a single process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_ENV = "GRIDWATCH_LINK_SECRET"
MEDIA_TTL_ENV = "GRIDWATCH_MEDIA_LINK_TTL_S"
STREAM_TTL_ENV = "GRIDWATCH_STREAM_TICKET_TTL_S"
MIN_SECRET_BYTES = 32
DEFAULT_MEDIA_TTL_S = 300  # long enough to load and play a clip
DEFAULT_STREAM_TTL_S = 60  # only has to reach the EventSource request
MAX_TTL_S = 24 * 3600

_MEDIA_PURPOSE = b"gw.media-link/1"
_STREAM_PURPOSE = b"gw.stream-ticket/1"


class LinkRefused(ValueError):
    """A media link or stream ticket is not valid; the message says why."""


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """A URL carrying its own short-lived credential."""

    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StreamTicket:
    ticket: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unix(when: datetime) -> int:
    return int(when.timestamp())


def _from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _ttl(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be whole seconds, got {text!r}") from None
    if not 1 <= value <= MAX_TTL_S:
        raise ValueError(f"{name} must be 1..{MAX_TTL_S} seconds, got {value}")
    return value


def read_secret_file(path: Path) -> bytes:
    """The link secret kept in `path`: its content, surrounding whitespace stripped
    (so that `openssl rand -hex 32 > file` and an editor's newline both work).

    Raises:
        ValueError: the file cannot be read, or holds fewer than 32 bytes.
    """
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"link secret file {path}: cannot read it ({reason})") from exc
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"link secret file {path}: the secret must be at least "
            f"{MIN_SECRET_BYTES} bytes, got {len(secret)} "
            f"(make one with `openssl rand -hex 32 > {path}`)"
        )
    return secret


def _secret(environ: Mapping[str, str], secret_file: Path | None) -> bytes:
    """The key: the environment's, else the file's, else a random one."""
    configured = environ.get(SECRET_ENV)
    if configured:
        secret = configured.encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"{SECRET_ENV} must be at least {MIN_SECRET_BYTES} bytes, "
                f"got {len(secret)}"
            )
        if secret_file is not None:
            log.info(
                "%s is set: it is used, not the key in %s", SECRET_ENV, secret_file
            )
        return secret
    if secret_file is not None:
        return read_secret_file(secret_file)
    log.info(
        "neither %s nor a link secret file is set: media links and stream tickets "
        "are signed with a random per-process key (set one to share links between "
        "replicas)",
        SECRET_ENV,
    )
    return secrets.token_bytes(MIN_SECRET_BYTES)


class LinkSigner:
    """Signs and checks media links and stream tickets with one server key.

    Stream tickets are single-use within this process: a ticket that has opened
    a stream is refused afterwards (until it expires and is forgotten).
    """

    def __init__(
        self,
        secret: bytes,
        *,
        media_ttl_s: int = DEFAULT_MEDIA_TTL_S,
        stream_ttl_s: int = DEFAULT_STREAM_TTL_S,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the link secret must be at least {MIN_SECRET_BYTES} bytes, "
                f"got {len(secret)}"
            )
        for name, ttl in (("media_ttl_s", media_ttl_s), ("stream_ttl_s", stream_ttl_s)):
            if not 1 <= ttl <= MAX_TTL_S:
                raise ValueError(f"{name} must be 1..{MAX_TTL_S} seconds, got {ttl}")
        self._secret = secret
        self.media_ttl_s = media_ttl_s
        self.stream_ttl_s = stream_ttl_s
        self._spent: dict[str, int] = {}  # stream ticket nonce → its expiry
        self._lock = threading.Lock()

    @classmethod
    def from_sources(
        cls,
        *,
        secret_file: Path | None = None,
        media_ttl_s: int = DEFAULT_MEDIA_TTL_S,
        stream_ttl_s: int = DEFAULT_STREAM_TTL_S,
        environ: Mapping[str, str] | None = None,
    ) -> LinkSigner:
        """The signer of the configured key and lifetimes; the environment wins.

        The key is `GRIDWATCH_LINK_SECRET` when set, else the content of
        `secret_file` (not read when the variable is set), else a random
        per-process key. A lifetime is `GRIDWATCH_MEDIA_LINK_TTL_S` /
        `GRIDWATCH_STREAM_TICKET_TTL_S` when set, else the one given.

        Raises:
            ValueError: a secret shorter than 32 bytes, an unreadable secret
                file, or a bad lifetime; the message names the variable or file.
        """
        env = os.environ if environ is None else environ
        return cls(
            _secret(env, secret_file),
            media_ttl_s=_ttl(env, MEDIA_TTL_ENV, media_ttl_s),
            stream_ttl_s=_ttl(env, STREAM_TTL_ENV, stream_ttl_s),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LinkSigner:
        """The signer of the environment alone (`from_sources` with no file and the
        default lifetimes).

        Raises:
            ValueError: a secret shorter than 32 bytes, or a bad lifetime.
        """
        return cls.from_sources(environ=environ)

    def _sign(self, purpose: bytes, *parts: str) -> str:
        message = b"\n".join([purpose, *(p.encode("utf-8") for p in parts)])
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    # -- media links ---------------------------------------------------------------

    def sign_media(self, path: str, *, user_id: int, now: datetime) -> SignedUrl:
        """`path` with `uid`, `exp` and `sig` for `user_id`, valid `media_ttl_s`."""
        expires = _unix(now) + self.media_ttl_s
        sig = self._sign(_MEDIA_PURPOSE, path, str(user_id), str(expires))
        return SignedUrl(
            url=f"{path}?uid={user_id}&exp={expires}&sig={sig}",
            expires_at=_from_unix(expires),
        )

    def verify_media(
        self,
        path: str,
        *,
        uid: str | None,
        exp: str | None,
        sig: str | None,
        now: datetime,
    ) -> int:
        """The user id a media link for `path` was issued to.

        Raises:
            LinkRefused: a part is missing or malformed, the link has expired, or
                the signature is not the one for this path, user and expiry.
        """
        if not uid or not exp or not sig:
            raise LinkRefused("incomplete media link: it needs uid, exp and sig")
        if not uid.isdecimal() or not exp.isdecimal():
            raise LinkRefused("malformed media link: uid and exp must be numbers")
        expected = self._sign(_MEDIA_PURPOSE, path, uid, exp)
        # Compare before judging the expiry, so a forged link learns nothing more.
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise LinkRefused("media link signature is not valid for this media")
        if int(exp) <= _unix(now):
            raise LinkRefused(
                f"media link expired at {_from_unix(int(exp)).isoformat()}: "
                "ask for a new one"
            )
        return int(uid)

    # -- stream tickets ------------------------------------------------------------

    def issue_stream_ticket(self, *, user_id: int, now: datetime) -> StreamTicket:
        expires = _unix(now) + self.stream_ttl_s
        nonce = secrets.token_urlsafe(12)
        sig = self._sign(_STREAM_PURPOSE, str(user_id), str(expires), nonce)
        return StreamTicket(
            ticket=f"{user_id}.{expires}.{nonce}.{sig}",
            expires_at=_from_unix(expires),
        )

    def redeem_stream_ticket(self, ticket: str, *, now: datetime) -> int:
        """The user id of a stream ticket, which is spent by this call.

        Raises:
            LinkRefused: malformed, not signed by this server, expired or spent.
        """
        parts = ticket.split(".")
        if len(parts) != 4 or not parts[0].isdecimal() or not parts[1].isdecimal():
            raise LinkRefused("malformed stream ticket")
        uid, exp, nonce, sig = parts
        expected = self._sign(_STREAM_PURPOSE, uid, exp, nonce)
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise LinkRefused("stream ticket signature is not valid")
        now_s = _unix(now)
        if int(exp) <= now_s:
            raise LinkRefused(
                f"stream ticket expired at {_from_unix(int(exp)).isoformat()}: "
                "ask for a new one"
            )
        with self._lock:
            for old in [n for n, e in self._spent.items() if e <= now_s]:
                del self._spent[old]
            if nonce in self._spent:
                raise LinkRefused("stream ticket already used: ask for a new one")
            self._spent[nonce] = int(exp)
        return int(uid)
