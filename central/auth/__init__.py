"""Credentials for central: passwords, API bearer tokens, short-lived signed links."""

from central.auth.links import LinkRefused, LinkSigner, SignedUrl, StreamTicket
from central.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    WeakPasswordError,
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from central.auth.tokens import TOKEN_PREFIX, new_token, token_digest

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TOKEN_PREFIX",
    "LinkRefused",
    "LinkSigner",
    "SignedUrl",
    "StreamTicket",
    "WeakPasswordError",
    "check_password_strength",
    "hash_password",
    "needs_rehash",
    "new_token",
    "token_digest",
    "verify_password",
]
