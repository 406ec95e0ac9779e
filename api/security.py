"""Keyed hashes and tokens: what lets us match people without keeping what identifies them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32  # 256 bits


def keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, domain-separated by `purpose` so hashes of one kind of value
    can never be matched against another kind."""
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def new_token() -> tuple[str, str]:
    """A random URL-safe token and the hash we store in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain (unkeyed) SHA-256 is enough to make a
    # database leak useless for forging links.
    return hashlib.sha256(token.encode()).hexdigest()
