"""Start a real Haven server process for tests that need real sockets (and stop it afterwards)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

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


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
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
