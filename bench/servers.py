"""Start Haven (and a throwaway Redis) as real processes on this machine, for experiments and tests
that need real sockets: the overload benchmark, the surge smoke run, the crash tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT = 30.0


@dataclass
class RunningServer:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(core: int) -> list[str]:
    """The prefix that runs a command on one core (none where ``taskset`` is missing)."""
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - our own http URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        if answers(url):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {STARTUP_TIMEOUT} s:\n{log.read_text()}")


def launch(var_dir: Path, port: int, prefix: Sequence[str] = (), **env: str) -> RunningServer:
    """``haven serve`` on ``port``, up and answering; its output is appended to var/server.log."""
    var_dir.mkdir(parents=True, exist_ok=True)
    log = var_dir / "server.log"
    environment = {
        **os.environ,
        "HAVEN_VAR_DIR": str(var_dir),
        "HAVEN_PORT": str(port),
        "HAVEN_HOST": "127.0.0.1",
        **env,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "haven", "serve"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so the whole group (Granian and its workers) can be stopped
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url + "/healthz", process, log)
    except RuntimeError:
        stop(process)
        raise
    return RunningServer(base_url, port, process, log)


@contextlib.contextmanager
def start_server(var_dir: Path, prefix: Sequence[str] = (), **env: str) -> Iterator[RunningServer]:
    """``haven serve`` on a free port; ``prefix`` runs it under another command (``taskset -c 0``)."""
    migrate_for(var_dir, **env)
    running = launch(var_dir, free_port(), prefix, **env)
    try:
        yield running
    finally:
        stop(running.process)


def migrate_for(var_dir: Path, **env: str) -> None:
    """Bring the server's database to the current schema, as `make serve` does."""
    environment = {**os.environ, "HAVEN_VAR_DIR": str(var_dir), **env}
    subprocess.run(
        [sys.executable, "-m", "haven", "migrate"], env=environment, check=True, capture_output=True
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the whole group: no shutdown, no flushing, as when a machine loses power."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def private_redis(prefix: Sequence[str] = ()) -> Iterator[str]:
    """A throwaway ``redis-server``: its own port, nothing written to disk, stopped at the end."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="haven-redis-") as folder:
        command = [
            *prefix, binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", folder, "--logfile", str(Path(folder) / "redis.log"),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while not answers_ping(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def answers_ping(port: int) -> bool:
    """A bare RESP PING, so that waiting for Redis needs no client library or event loop."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
