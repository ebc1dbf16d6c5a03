"""Password hashing: Argon2id hashes, verification, re-hash and the strength rule."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError

from central.auth import (
    MIN_PASSWORD_LENGTH,
    WeakPasswordError,
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)

GOOD = "correct horse battery staple"


def test_hash_password_should_give_salted_argon2id_hash_that_verifies() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$")
    assert GOOD not in first
    assert first != second  # a random salt each time
    assert verify_password(first, GOOD)
    assert verify_password(second, GOOD)


def test_verify_password_given_wrong_password_should_be_false() -> None:
    hashed = hash_password(GOOD)
    assert not verify_password(hashed, GOOD.upper())
    assert not verify_password(hashed, "")


@pytest.mark.parametrize("hashed", ["", "not a hash", "$argon2id$v=19$broken"])
def test_verify_password_given_malformed_hash_should_be_false(hashed: str) -> None:
    assert not verify_password(hashed, GOOD)


def test_hash_password_given_unicode_should_round_trip() -> None:
    plain = "pässwörd-密码-🔑"
    assert verify_password(hash_password(plain), plain)


@pytest.mark.parametrize(
    ("plain", "rule"),
    [("", "must not be empty"), ("short", "at least 8 characters")],
)
def test_hash_password_given_weak_password_should_name_the_rule(
    plain: str, rule: str
) -> None:
    with pytest.raises(WeakPasswordError, match=rule):
        hash_password(plain)


def test_weak_password_error_should_be_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least"):
        check_password_strength("x" * (MIN_PASSWORD_LENGTH - 1))


def test_check_password_strength_given_exactly_min_length_should_accept() -> None:
    check_password_strength("x" * MIN_PASSWORD_LENGTH)


def test_needs_rehash_given_current_defaults_should_be_false() -> None:
    assert not needs_rehash(hash_password(GOOD))


def test_needs_rehash_given_weaker_parameters_should_be_true() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD)
    assert verify_password(old, GOOD)  # still verifies with its own parameters
    assert needs_rehash(old)


def test_needs_rehash_given_malformed_hash_should_raise() -> None:
    with pytest.raises(InvalidHashError):
        needs_rehash("not a hash")
