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


@contextlib.contextmanager
def start_server(var_dir: Path, prefix: Sequence[str] = (), **env: str) -> Iterator[RunningServer]:
    """``haven serve`` on a free port; ``prefix`` runs it under another command (``taskset -c 0``)."""
    port = free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    log = var_dir / "server.log"
    environment = {
        **os.environ,
        "HAVEN_VAR_DIR": str(var_dir),
        "HAVEN_PORT": str(port),
        "HAVEN_HOST": "127.0.0.1",
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "haven", "serve"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so the whole group (Granian and its workers) can be stopped
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(base_url + "/healthz", process, log)
        yield RunningServer(base_url, port, process, log)
    finally:
        stop(process)


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
