"""Opaque bearer tokens: format and stored digest."""

from __future__ import annotations

import hashlib
import re

from central.auth import TOKEN_PREFIX, new_token, token_digest


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
