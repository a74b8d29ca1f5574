"""Optional proof-of-work to join the queue (``HAVEN_JOIN_WORK`` bits; 0, the default, turns it off).

A visitor without a place is given a signed challenge; their browser must find a number such that
SHA-256("challenge:number") starts with that many zero bits, and bring it back to get a ticket. Each
challenge is single-use in a worker and expires after ``CHALLENGE_SECONDS``.

The trade-off, and why it is off by default: it makes every join cost the joiner about 2^bits hashes
(16 bits: some 65,000, a second or two on a phone) and costs Haven one hash to check, so a script
that grabs thousands of places pays thousands of times more than a person does. But it cannot tell a
person from a program that pays, it spends every honest visitor's battery, and it shuts out anyone
without JavaScript (and, since browsers offer SHA-256 to scripts only on secure pages, anyone
reaching Haven over plain HTTP other than on localhost). Turn it on when joins from scripts are
seen in the metrics (``haven_shield_joins_total`` climbing far faster than pages are read), not
before. A challenge used once per worker may be used again on another worker; with W workers a
solution buys at most W places, which still multiplies the script's cost by 1/W of a place each.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Final

from haven.shield.tokens import Refused, Signer

CHALLENGE_SECONDS: Final = 600.0


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


class Work:
    def __init__(self, signer: Signer, room: str, bits: int, now: Callable[[], float] = time.time) -> None:
        self.signer = signer
        self.room = room
        self.bits = bits
        self.now = now
        self._used: dict[str, float] = {}  # challenge id -> when it expires, oldest first
        self.solved = 0
        self.refused = 0

    def challenge(self) -> str:
        return self.signer.sign(("w", self.room, secrets.token_urlsafe(9), str(round(self.now() * 1000))))

    def check(self, answer: str) -> bool:
        """Whether ``answer`` ("challenge:number") is a fresh, unused challenge of ours, solved."""
        ok = self._check(answer)
        if ok:
            self.solved += 1
        else:
            self.refused += 1
        return ok

    def _check(self, answer: str) -> bool:
        challenge, _, number = answer.rpartition(":")
        if not number.isdigit() or len(number) > 12:
            return False
        try:
            kind, room, challenge_id, issued = self.signer.verify(challenge, 4)
        except Refused:
            return False
        now = self.now()
        if kind != "w" or room != self.room or not issued.isdigit():
            return False
        if not now - CHALLENGE_SECONDS <= int(issued) / 1000 <= now + 5:
            return False
        self._forget_expired(now)
        if challenge_id in self._used:
            return False
        digest = hashlib.sha256(f"{challenge}:{number}".encode()).digest()
        if leading_zero_bits(digest) < self.bits:
            return False
        self._used[challenge_id] = now + CHALLENGE_SECONDS
        return True

    def _forget_expired(self, now: float) -> None:
        for challenge_id in list(self._used):
            if self._used[challenge_id] > now:
                break
            del self._used[challenge_id]


def solve(challenge: str, bits: int) -> str:
    """What a browser does (for tests and tools): the answer to bring back."""
    number = 0
    while leading_zero_bits(hashlib.sha256(f"{challenge}:{number}".encode()).digest()) < bits:
        number += 1
    return f"{challenge}:{number}"
