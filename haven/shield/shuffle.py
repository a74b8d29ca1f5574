"""The event shuffle: everyone who arrives before an announced opening is put in a random order,
drawn from a seed, so arriving early or scripting the first second gives no edge.

The order is a keyed permutation of ``1..size`` computed one place at a time (a four-round Feistel
network on the smallest even number of bits that covers ``size``, walking the cycle until the value
falls inside the range). Nothing is stored per visitor, any worker computes the same order, and
anyone given the seed and the size can recompute the whole draw and check it: ``haven room shuffle``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Final

ROUNDS: Final = 4


class Shuffle:
    def __init__(self, seed: str, size: int) -> None:
        if size < 0:
            raise ValueError("size must not be negative")
        self.size = size
        bits = max(2, (max(size, 1) - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._keys = [
            hmac.new(seed.encode(), f"haven shuffle {size} round {i}".encode(), hashlib.sha256).digest()
            for i in range(ROUNDS)
        ]

    def _round(self, key: bytes, value: int) -> int:
        digest = hmac.new(key, value.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") & self._mask

    def _encrypt(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for key in self._keys:
            left, right = right, left ^ self._round(key, right)
        return (left << self._half) | right

    def place(self, number: int) -> int:
        """Where ticket ``number`` (1-based, at most ``size``) stands after the draw (1-based)."""
        if not 1 <= number <= self.size:
            raise ValueError("number outside the pre-queue")
        value = self._encrypt(number - 1)
        while value >= self.size:  # cycle-walk back into range; the domain is < 4 × size
            value = self._encrypt(value)
        return value + 1

    def order(self) -> Iterator[int]:
        """Ticket numbers in the order they are admitted (for an audit; O(size))."""
        by_place = sorted(range(1, self.size + 1), key=self.place)
        return iter(by_place)
