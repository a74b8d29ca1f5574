"""Small, careful primitives: signed cookie values, random tokens and their stored hashes, and
AES-GCM for the few fields Haven encrypts at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def client_address(behind_proxy: bool, forwarded_for: str, peer: str | None) -> str:
    """Who sent a request: behind our proxy, the last address of ``X-Forwarded-For`` (the one our
    proxy saw; earlier entries are whatever the client claimed); otherwise the connection's peer."""
    if behind_proxy and forwarded_for:
        return forwarded_for.split(",")[-1].strip()
    return peer or "unknown"


def forwarded_https(behind_proxy: bool, forwarded_proto: str | None) -> bool:
    """Whether our proxy received the request over TLS: the last entry of ``X-Forwarded-Proto``
    (the one our proxy set), in any case."""
    if not behind_proxy or not forwarded_proto:
        return False
    return forwarded_proto.split(",")[-1].strip().lower() == "https"


MAX_NEXT: Final = 512


def safe_next(raw: str | None) -> str:
    """Where to go on to after a step (signing in, a turn in the queue): a path of this site, or ""
    when ``raw`` is anything else. ``//host`` and ``/\\host`` name another site to a browser and are
    refused, and so are control characters and backslashes anywhere."""
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")) or len(raw) > MAX_NEXT:
        return ""
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in raw):
        return ""
    return raw


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What Haven stores instead of a token: a copy of the table gives nobody a working link."""
    return hashlib.sha256(token.encode()).hexdigest()


def _signature(value: str, key: str, purpose: str) -> str:
    mac = hmac.new(key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def sign(value: str, key: str, purpose: str) -> str:
    """``value.signature``; the purpose keeps a value signed for one cookie from passing as another."""
    return f"{value}.{_signature(value, key, purpose)}"


def unsign(signed: str | None, key: str, purpose: str) -> str | None:
    """The value, if the signature is ours for this purpose; None otherwise."""
    if not signed or "." not in signed:
        return None
    value, _, signature = signed.rpartition(".")
    # Bytes: a cookie may hold any character, and compare_digest refuses non-ASCII text.
    if not hmac.compare_digest(signature.encode(), _signature(value, key, purpose).encode()):
        return None
    return value


class Sealer:
    """Encrypts short text at rest (passport numbers) with AES-256-GCM and a random nonce."""

    def __init__(self, data_key: str) -> None:
        self._aead = AESGCM(base64.urlsafe_b64decode(data_key.encode()))

    def seal(self, text: str, purpose: bytes = b"haven:v1") -> bytes:
        """``purpose`` is bound to the text: what is sealed for one use does not open for another."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, text.encode(), purpose)

    def open(self, sealed: bytes, purpose: bytes = b"haven:v1") -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], purpose).decode()
        except InvalidTag:
            raise ValueError("sealed with another key, or damaged") from None
