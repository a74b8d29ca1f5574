"""The locustfile's journeys run against a real Haven without a failure (Locust exits 1 on any): each
journey once in each language (``tests/surge/locust_once.py``), so none is left to Locust's draw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import start_server
from tests.surge.test_smoke import SERVER_ENV

pytestmark = pytest.mark.server
LOCUSTFILE = Path(__file__).resolve().parent / "locust_once.py"
ROOT = Path(__file__).resolve().parents[2]
# Each journey runs once in English and once in French (the locustfile is not imported here: Locust
# patches the whole process with gevent when it loads).
RUNS = 2


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
                "--tags",
                "once",
                "-u",
                "1",
                "-r",
                "1",
                "--only-summary",
                "--json-file",
                str(tmp_path / "run"),  # the final figures (the CSV files are written every second)
                "--stop-timeout",
                "30",
            ],
            env={**os.environ, "HAVEN_VAR_DIR": str(var_dir), "PYTHONPATH": str(ROOT), **SERVER_ENV},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    entries = json.loads((tmp_path / "run.json").read_text())
    requests = {entry["name"]: entry["num_requests"] for entry in entries}
    assert sum(entry["num_failures"] for entry in entries) == 0, entries
    assert "journey" not in requests  # no journey broke off with an exception
    # Each journey once in each language; a busy answer would only add requests.
    for name in ("home", "program page", "eligibility", "crs result", "sign up", "confirm email", "submit"):
        assert requests.get(name, 0) >= RUNS, (name, sorted(requests.items()))
