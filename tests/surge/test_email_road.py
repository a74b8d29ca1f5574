"""The surge visitor's email road against a real Haven process: people in the queue leave an
address, stop polling, find the email in the mail folder, follow its link and finish their journey;
the run's record counts them. Asserts behaviour, never speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import start_server
from tests.shield.test_served import haven_room
from tests.surge.test_smoke import SERVER_ENV

pytestmark = pytest.mark.server

ROAD_ENV = {**SERVER_ENV, "HAVEN_TURN_MAILS_PER_CLIENT": "1000000"}  # every visitor is 127.0.0.1


def test_visitors_who_leave_an_address_come_back_through_the_link(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    out = tmp_path / "report"
    with start_server(var_dir, **ROAD_ENV) as server:
        haven_room(server, var_dir, "rate", "1", **ROAD_ENV)  # a queue forms and moves slowly
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "haven",
                "surge",
                "--target",
                server.base_url,
                "--shape",
                "constant",
                "--base",
                "2",
                "--multiple",
                "1",
                "--duration",
                "6",
                "--mix",
                "applicant=1",
                "--think",
                "0.05",
                "--patience",
                "120",
                "--drain",
                "90",
                "--leave-email",
                "1",
                "--seed",
                "13",
                "--out",
                str(out),
            ],
            env={**os.environ, "HAVEN_VAR_DIR": str(var_dir), **ROAD_ENV},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "email road:" in done.stdout, done.stdout
    summary = json.loads((out / "summary.json").read_text())
    road = summary["email_road"]
    assert road["left_address"] >= 1, summary["queue"]
    assert road["got_mail"] == road["left_address"]
    assert road["in_through_link"] == road["left_address"]
    assert road["turn_to_mail_seconds"]["measured"] >= 1
    assert isinstance(road["turn_to_mail_seconds"]["median"], float)
    applicant = summary["journeys"]["applicant"]["outcomes"]
    assert applicant.get("completed", 0) == summary["arrivals"]["started"], applicant
    assert summary["eta"]["measured"] == 0  # the email road's waits are not the page's ETA
    assert "Email road: left an address" in (out / "report.html").read_text()
