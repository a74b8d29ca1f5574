"""A Redis for the tests: ``HAVEN_TEST_REDIS`` when set, else a private ``redis-server`` per session.

Never the machine's shared Redis on 6379: the tests would read and delete other people's keys. A private
server keeps nothing on disk (``--save "" --appendonly no``) and dies with the session. Redis tests never
skip: without ``redis-server`` the run fails and says what to install.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.servers import answers_ping
from haven.shield.store.redis import RedisStore
from tests.server import free_port

STARTUP_TIMEOUT = 10.0


# These tests check behaviour, not speed: on a loaded machine, opening dozens of connections at once
# can take longer than the half second Haven allows in production before it calls Redis unreachable.
TEST_TIMEOUT = 5.0


def unique_prefix() -> str:
    """A key prefix no other test uses, so tests sharing one server never see each other's rooms
    (cheaper than FLUSHDB, and safe on a shared ``HAVEN_TEST_REDIS``)."""
    return f"haven-test:{secrets.token_hex(6)}:"


async def forget(store: RedisStore) -> None:
    """Delete the keys under ``store``'s prefix, so a shared ``HAVEN_TEST_REDIS`` does not fill up."""
    client = store._client
    async for key in client.scan_iter(match=f"{store.prefix}*", count=1000):
        await client.delete(key)


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: `make test` installs Debian's redis-server, "
            "or set HAVEN_TEST_REDIS to the URL of a Redis the tests may write to"
        )
    return found


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """The URL of a Redis that the tests may fill with keys of their own."""
    configured = os.environ.get("HAVEN_TEST_REDIS")
    if configured:
        yield configured
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="haven-redis-") as folder:
        log = Path(folder) / "redis.log"
        command = [
            redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", folder, "--logfile", str(log),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not answers_ping(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = log.read_text() if log.exists() else ""
                    raise RuntimeError(f"redis-server did not answer PING on port {port}:\n{output}")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
