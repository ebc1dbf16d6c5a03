"""Credentials for central: password hashing and opaque API bearer tokens."""

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
    "WeakPasswordError",
    "check_password_strength",
    "hash_password",
    "needs_rehash",
    "new_token",
    "token_digest",
    "verify_password",
]
