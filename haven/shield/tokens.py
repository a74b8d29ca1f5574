"""Tickets and passes: small signed cookies that only Haven can mint.

A **ticket** is a place in the queue: the room, the ticket number, when it was issued and the wait
predicted then (so the room can measure its ETA error when the ticket is reached). A **pass** lets its
holder through to the application until it expires; activity renews it.

Both are ``kind.room.fields….key-id.mac`` in URL-safe text (times in whole milliseconds),
signed with HMAC-SHA256. Keys are derived from ``HAVEN_SECRET_KEY`` (and from
``HAVEN_SHIELD_OLD_KEYS`` while keys rotate): the first key signs, every key verifies, and the key id
in the cookie says which to try, so a rotation never sends a waiting crowd back to the end of the
queue. A cookie that fails any check is refused with a reason the shield counts: ``malformed``,
``forged`` (bad signature or unknown key), ``foreign`` (another room or the other kind) or
``expired``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

MAC_BYTES: Final = 16  # 128-bit tags: forging one is out of reach, and cookies stay short
Refusal = Literal["malformed", "forged", "foreign", "expired"]


@dataclass(frozen=True)
class Ticket:
    room: str
    number: int
    issued: float  # wall-clock seconds
    predicted: float  # seconds of wait predicted at issue (-1: unknown, as before an event start)


@dataclass(frozen=True)
class Pass:
    room: str
    pass_id: str  # random; counts active passes in the store
    issued: float
    expires: float


class Refused(ValueError):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason)
        self.reason: Refusal = reason


def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"haven shield tokens v1", hashlib.sha256).digest()


def _ms(seconds: float) -> str:
    """Times travel as whole milliseconds: no dot, which separates the fields."""
    return str(round(seconds * 1000))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Signs with the newest key, verifies with any of them."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed")
        self._keys: dict[str, bytes] = {}
        for secret in secrets:
            key = _derive(secret)
            self._keys.setdefault(_b64(hashlib.sha256(key).digest()[:3]), key)
        self._current = next(iter(self._keys))

    def _mac(self, key: bytes, text: str) -> str:
        return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest()[:MAC_BYTES])

    def sign(self, fields: Sequence[str]) -> str:
        text = ".".join((*fields, self._current))
        return f"{text}.{self._mac(self._keys[self._current], text)}"

    def verify(self, token: str, count: int) -> list[str]:
        """The ``count`` fields of a token signed by one of our keys; ``Refused`` otherwise."""
        if len(token) > 256 or not token.isascii():
            raise Refused("malformed")
        parts = token.split(".")
        if len(parts) != count + 2:
            raise Refused("malformed")
        key = self._keys.get(parts[-2])
        text = token.rsplit(".", 1)[0]
        if key is None or not hmac.compare_digest(self._mac(key, text), parts[-1]):
            raise Refused("forged")
        return parts[:count]

    # Tickets and passes -----------------------------------------------------------------------

    def ticket(self, ticket: Ticket) -> str:
        return self.sign(
            ("t", ticket.room, str(ticket.number), _ms(ticket.issued), str(round(ticket.predicted)))
        )

    def read_ticket(self, token: str, room: str, now: float, lifetime: float) -> Ticket:
        kind, token_room, number, issued, predicted = self.verify(token, 5)
        if kind != "t" or token_room != room:
            raise Refused("foreign")
        try:
            ticket = Ticket(room, int(number), int(issued) / 1000, float(int(predicted)))
        except ValueError:
            raise Refused("malformed") from None
        if ticket.issued + lifetime < now:
            raise Refused("expired")
        return ticket

    def pass_(self, granted: Pass) -> str:
        return self.sign(("p", granted.room, granted.pass_id, _ms(granted.issued), _ms(granted.expires)))

    def read_pass(self, token: str, room: str, now: float) -> Pass:
        kind, token_room, pass_id, issued, expires = self.verify(token, 5)
        if kind != "p" or token_room != room:
            raise Refused("foreign")
        try:
            granted = Pass(room, pass_id, int(issued) / 1000, int(expires) / 1000)
        except ValueError:
            raise Refused("malformed") from None
        if granted.expires <= now:
            raise Refused("expired")
        return granted
