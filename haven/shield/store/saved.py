"""The in-memory line across a clean restart: written to ``HAVEN_VAR_DIR/room.json`` when the shield
stops, read back (and the file deleted) when it starts.

With the default store the line lives in one process. Without this, a deploy would start a new line
while people's ticket cookies still name places in the old one. Only a clean shutdown writes the
file, and reading it back deletes it: after a crash (no clean shutdown) the room starts empty, never
with an older line than the one that was lost. A Redis room is never written here: it is shared
already and outlives any worker.

Fail-open on purpose: a file that cannot be read back is set aside (``room.json.bad``) and the room
starts empty, as every restart did before; a file that cannot be written is logged. Neither stops
the portal from starting or stopping.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import reprlib
from pathlib import Path
from typing import Final

from haven.shield.store.memory import MemoryStore

logger = logging.getLogger("haven.shield")

FILE_NAME: Final = "room.json"
VERSION: Final = 1  # of the file's format; a file of another version is set aside, not guessed at


class SavedRoom:
    """Where ``store``'s rooms are kept between two runs: ``folder``/room.json."""

    def __init__(self, store: MemoryStore, folder: Path) -> None:
        self.store = store
        self.path = folder / FILE_NAME

    def restore(self, now: float) -> bool:
        """Read back the line a clean shutdown wrote, then delete the file; True when one was read.
        No file: False (a fresh room). A file that does not read back: logged, set aside, False."""
        try:
            data = json.loads(self.path.read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not an object")
            version, saved_at = data.get("version"), data.get("saved_at")
            if isinstance(version, bool) or version != VERSION:
                raise ValueError(f"format version {reprlib.repr(version)}, not {VERSION}")
            if isinstance(saved_at, bool) or not isinstance(saved_at, int | float):
                raise ValueError(f"saved_at {reprlib.repr(saved_at)} is not a time")
            self.store.restore(data.get("rooms"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError, RecursionError) as error:  # bad UTF-8 and bad JSON are ValueErrors
            bad = self.path.with_name(self.path.name + ".bad")
            logger.warning(
                "the waiting room saved in %s cannot be read back (%s): kept as %s; the room starts empty",
                self.path,
                error,
                bad.name,
            )
            with contextlib.suppress(OSError):
                os.replace(self.path, bad)
            return False
        try:
            self.path.unlink()
        except OSError as error:
            logger.warning("cannot delete %s (%s): a crash would bring this line back", self.path, error)
        logger.warning("waiting room restored from %s (saved %.0f s ago)", self.path, now - saved_at)
        return True

    def save(self, now: float) -> bool:
        """Write every room to the file, atomically (a reader finds the old file or the new one,
        whole) and readable by the owner only (it names accounts). False, logged, when it cannot."""
        data = {"version": VERSION, "saved_at": now, "rooms": self.store.snapshot()}
        try:
            payload = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            write_atomically(self.path, payload.encode())
        except (OSError, ValueError) as error:
            logger.error(
                "cannot save the waiting room to %s (%s): it starts empty next time", self.path, error
            )
            return False
        logger.warning("waiting room saved to %s for the next start", self.path)
        return True


def write_atomically(path: Path, payload: bytes) -> None:
    """``payload`` into ``path`` (mode 0600): written aside, flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.unlink(missing_ok=True)  # left by a crash: O_EXCL below, so its mode is ours
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(draft, path)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself reaches the disk
    finally:
        os.close(folder)
