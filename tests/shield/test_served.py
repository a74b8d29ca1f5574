"""The shield in a real server, steered with ``haven room``: on the embedded default (one worker,
the room in memory) and with Redis and two workers sharing one room."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.server import RunningServer, start_server

pytestmark = pytest.mark.server
SIGN_UP = "/en/account/sign-up"


def haven_room(server: RunningServer, var_dir: Path, *args: str, **env: str) -> dict[str, object]:
    """``haven room …`` against the server, as an operator would run it."""
    environment = {**os.environ, "HAVEN_VAR_DIR": str(var_dir), **env}
    done = subprocess.run(
        [sys.executable, "-m", "haven", "room", "--url", server.base_url, *args],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def fresh_visit(server: RunningServer, cookies: httpx.Cookies | None = None) -> httpx.Response:
    """One request on a new connection (so that, with two workers, either may answer it)."""
    with httpx.Client(base_url=server.base_url, cookies=cookies, timeout=10) as client:
        answer = client.get(SIGN_UP)
        if cookies is not None:
            cookies.update(client.cookies)
        return answer


def poll(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Ask again until ``condition`` holds (each check is a request to the server); ``within`` only
    guards against a server that never gets there."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)  # between two checks, not a wait for anything


def every_worker_says(server: RunningServer, queueing: bool, looks: int = 10) -> bool:
    """Whether ``looks`` fresh looks in a row at the waiting page find the room queueing newcomers
    (503) or letting them in (200). A HEAD takes no place, and each look is a new connection, so
    that any worker may answer it."""
    wanted = 503 if queueing else 200
    for _ in range(looks):
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            if client.head("/en/waiting-room").status_code != wanted:
                return False
    return True


def place(answer: httpx.Response) -> int:
    found = re.search(r"Your place in the queue: ([0-9,]+)", answer.text)
    assert found, answer.text[:300]
    return int(found.group(1))


@pytest.mark.parametrize("setup", ["embedded", "redis-two-workers"])
def test_the_shield_queues_admits_and_recovers_in_a_real_server(
    setup: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"HAVEN_LOG_LEVEL": "warning"}
    if setup != "embedded":
        env |= {
            "HAVEN_REDIS_URL": request.getfixturevalue("redis_url"),
            "HAVEN_WORKERS": "2",
            "HAVEN_ROOM": f"test-{secrets.token_hex(4)}",
        }
    var_dir = tmp_path / "var"
    with start_server(var_dir, **env) as server:
        admitted = httpx.Cookies()
        assert fresh_visit(server, admitted).status_code == 200  # idle: straight in
        assert "haven_pass" in admitted

        status = haven_room(server, var_dir, "pause", **env)
        assert status["mode"] == "paused"
        # Each worker reads the room at its next tick: wait until they all queue newcomers.
        poll(lambda: every_worker_says(server, queueing=True), "the workers never saw the room paused")
        first, second = httpx.Cookies(), httpx.Cookies()
        assert place(fresh_visit(server, first)) == 1
        assert place(fresh_visit(server, second)) == 2
        for _ in range(6):  # whichever worker answers, the places hold
            assert place(fresh_visit(server, second)) == 2
        assert fresh_visit(server, admitted).status_code == 200  # people already in stay in

        haven_room(server, var_dir, "rate", "20", **env)
        poll(lambda: fresh_visit(server, first).status_code == 200, "the line never moved")
        assert "haven_pass" in first

        status = haven_room(server, var_dir, "resume", **env)
        assert status["mode"] == "auto"
        poll(lambda: every_worker_says(server, queueing=False), "the room never switched itself off")
        assert fresh_visit(server, httpx.Cookies()).status_code == 200  # drained: no queue again
        status = haven_room(server, var_dir, "status", **env)
        assert status["store"] == ("memory" if setup == "embedded" else "redis")
        assert status["queueing"] is False
