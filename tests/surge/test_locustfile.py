"""The locustfile runs its journeys against a real Haven without a failure (Locust exits 1 on any)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import start_server
from tests.surge.test_smoke import SERVER_ENV

pytestmark = pytest.mark.server
LOCUSTFILE = Path(__file__).resolve().parents[2] / "bench" / "locustfile.py"


def test_the_locust_journeys_run_without_failures(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    with start_server(var_dir, **SERVER_ENV) as server:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--host",
                server.base_url,
                "-u",
                "3",
                "-r",
                "3",
                "-t",
                "25s",
                "--only-summary",
                "--csv",
                str(tmp_path / "run"),
                "--stop-timeout",
                "30",
            ],
            env={**os.environ, "HAVEN_VAR_DIR": str(var_dir), **SERVER_ENV},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    for name in ("home", "eligibility", "sign up", "submit"):
        assert int(rows[name]["Request Count"]) >= 1, sorted(rows)
    assert int(rows["Aggregated"]["Failure Count"]) == 0
