"""Opaque bearer tokens: format, stored digest, constant-time checks."""

from __future__ import annotations

import hashlib
import re

from central.auth import (
    TOKEN_PREFIX,
    constant_time_equals,
    new_token,
    token_digest,
    verify_token,
)


def test_new_token_should_give_prefixed_urlsafe_token_and_its_sha256_digest() -> None:
    token, digest = new_token()
    assert token.startswith(TOKEN_PREFIX) and TOKEN_PREFIX == "gw_"
    assert re.fullmatch(r"gw_[A-Za-z0-9_-]{43}", token)  # 32 bytes, base64url
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token not in digest


def test_new_token_should_never_repeat() -> None:
    tokens = {new_token()[0] for _ in range(1000)}
    assert len(tokens) == 1000


def test_token_digest_should_be_deterministic() -> None:
    token, digest = new_token()
    assert token_digest(token) == digest == token_digest(token)


def test_verify_token_given_right_and_wrong_token_should_tell_apart() -> None:
    token, digest = new_token()
    other, _ = new_token()
    assert verify_token(token, digest)
    assert not verify_token(other, digest)
    assert not verify_token(token[:-1], digest)
    assert not verify_token("", digest)
    assert not verify_token(token, digest.upper())


def test_constant_time_equals_should_compare_any_strings() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
    assert constant_time_equals("", "")
    assert constant_time_equals("ключ-🔑", "ключ-🔑")  # non-ASCII is fine
    assert not constant_time_equals("ключ", "ключ-🔑")
