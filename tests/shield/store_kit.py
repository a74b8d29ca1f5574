"""A store that can be switched off, for the tests of what the room does without its shared store."""

from __future__ import annotations

from haven.shield.store import StoreUnavailable
from haven.shield.store.memory import MemoryStore


class Broken:
    """A ``MemoryStore`` behind a switch: while ``down``, every call raises ``StoreUnavailable``."""

    name = "broken"

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.down = False
        self.calls = 0  # calls that reached the store, answered or not

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)

        async def call(*args: object, **kwargs: object) -> object:
            self.calls += 1
            if self.down:
                raise StoreUnavailable("down")
            return await method(*args, **kwargs)

        return call
