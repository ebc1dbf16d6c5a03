"""Opaque API bearer tokens: shown to the user once, only their digest is stored.

A token is `gw_` followed by 32 random bytes in URL-safe base64 (256 bits), so a
fast unsalted SHA-256 is enough to store it: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "gw_"
TOKEN_BYTES = 32
# Longest lifetime of a person's token unless `http.max_token_ttl_h` says otherwise.
DEFAULT_MAX_TOKEN_TTL_H = 30 * 24.0
TOKEN_ID_CHARS = 16


def new_token() -> tuple[str, str]:
    """A fresh token and its digest: (shown once to the user, stored in the DB)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    """SHA-256 of the token as 64 lowercase hex characters (what the DB stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(digest: str) -> str:
    """The public id of a stored token: `TOKEN_ID_CHARS` hex characters of SHA-256
    over its digest.

    Lists and revocations name a token by it, so that neither the token nor the
    digest it is checked against is ever shown; it needs no column of its own.
    """
    return hashlib.sha256(f"gw-token-id:{digest}".encode()).hexdigest()[:TOKEN_ID_CHARS]
