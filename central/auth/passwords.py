"""Password hashing with Argon2id (argon2-cffi), and the minimum-strength rule.

Hashes are PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) that carry
their own parameters, so stored hashes keep verifying when the defaults change;
`needs_rehash` says when to re-hash one on the next successful login.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8

# argon2-cffi's defaults: RFC 9106's low-memory profile (Argon2id, 64 MiB, t=3).
_HASHER = PasswordHasher()


class WeakPasswordError(ValueError):
    """A new password breaks the strength rule (the message names the rule)."""


def check_password_strength(plain: str) -> None:
    """Accept a new password or say which rule it breaks.

    Raises:
        WeakPasswordError: empty, or shorter than `MIN_PASSWORD_LENGTH` characters.
    """
    if not plain:
        raise WeakPasswordError("password must not be empty")
    if len(plain) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters long"
        )


def hash_password(plain: str) -> str:
    """The Argon2id hash (PHC string, random salt) of a new password, to store.

    Raises:
        WeakPasswordError: the password breaks the strength rule.
    """
    check_password_strength(plain)
    return _HASHER.hash(plain)


def verify_password(hashed: str, plain: str) -> bool:
    """Whether `plain` matches the stored `hashed`; False for a malformed hash."""
    try:
        return _HASHER.verify(hashed, plain)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether `hashed` was made with other parameters than today's defaults.

    Raises:
        argon2.exceptions.InvalidHashError: `hashed` is not an Argon2 hash.
    """
    return _HASHER.check_needs_rehash(hashed)
