"""Credentials for central: password hashing and opaque API bearer tokens."""

from central.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    WeakPasswordError,
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from central.auth.tokens import (
    TOKEN_PREFIX,
    constant_time_equals,
    new_token,
    token_digest,
    verify_token,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TOKEN_PREFIX",
    "WeakPasswordError",
    "check_password_strength",
    "constant_time_equals",
    "hash_password",
    "needs_rehash",
    "new_token",
    "token_digest",
    "verify_password",
    "verify_token",
]
