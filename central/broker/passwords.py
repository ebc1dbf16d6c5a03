"""Mosquitto 2's password-file hash (PBKDF2-SHA512), so central can write the file
without the `mosquitto_passwd` binary on its machine."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes (`$7$101$...`)
_SALT_BYTES = 12


def new_secret() -> str:
    """A fresh broker password (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """`$7$101$<salt>$<hash>` as `mosquitto_passwd` writes it."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return (
        f"$7${_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def verify(password: str, stored: str) -> bool:
    """Whether `password` matches a `$7$` hash (for tests and checks)."""
    try:
        _, kind, iterations, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    salt = base64.b64decode(salt_b64)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    return hmac.compare_digest(base64.b64encode(digest).decode(), digest_b64)
