"""A short surge against a real Haven process: election night played in seconds, with the waiting
room letting people in at a fixed rate so that a queue forms. Asserts behaviour, never speed:
journeys of every kind complete, people queue and are let in, every confirmed submission is stored
once, and the report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import start_server
from tests.shield.test_served import haven_room

pytestmark = pytest.mark.server

SERVER_ENV = {
    "HAVEN_LOG_LEVEL": "warning",
    "HAVEN_ARGON2_TIME_COST": "1",  # behaviour, not cost: bench/ measures the real hash
    "HAVEN_ARGON2_MEMORY_KIB": "8",
    "HAVEN_RATE_PER_ADDRESS": "1000000",  # every simulated visitor comes from 127.0.0.1
    "HAVEN_RATE_PER_VISITOR": "1000000",
    "HAVEN_JOINS_PER_ADDRESS": "1000000",
}


def test_election_night_in_seconds_against_a_real_server(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    out = tmp_path / "report"
    with start_server(var_dir, **SERVER_ENV) as server:
        haven_room(server, var_dir, "rate", "3", **SERVER_ENV)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "haven",
                "surge",
                "--target",
                server.base_url,
                "--shape",
                "election-night",
                "--base",
                "1",
                "--multiple",
                "5",
                "--speed",
                "1320",
                "--mix",
                "reader=2,checker=1,applicant=2",
                "--think",
                "0.05",
                "--patience",
                "120",
                "--drain",
                "60",
                "--seed",
                "11",
                "--out",
                str(out),
            ],
            env={**os.environ, "HAVEN_VAR_DIR": str(var_dir), **SERVER_ENV},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "report in" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shape"]["name"] == "election-night"
    assert 15 <= summary["arrivals"]["started"] <= 80  # about 38 expected
    for kind in ("reader", "checker", "applicant"):
        assert summary["journeys"][kind]["outcomes"].get("completed", 0) >= 1, summary["journeys"]
    assert summary["queue"]["queued"] >= 1
    assert summary["queue"]["admitted_from_queue"] >= 1
    records = summary["queue_records"]
    assert len(records) == summary["queue"]["queued"]
    assert all(row[2] >= 1 for row in records)  # each person's ticket number was read
    assert summary["requests"]["timeouts"] == 0
    durability = summary["durability"]
    assert durability["ok"] is True
    assert durability["confirmed"] == summary["journeys"]["applicant"]["outcomes"]["completed"]
    assert len(summary["series"]) >= 10
    page = (out / "report.html").read_text()
    for name in ("traffic.png", "latency.png", "goodput.png", "waits.png"):
        assert (out / name).stat().st_size > 1000
        assert f"src='{name}' alt=" in page
    assert "This run is flagged" not in page or summary["generator"]["flagged"]
