"""Haven itself: ``haven serve`` on a host, and ``haven export-static`` and ``haven migrate`` from the
machine's namespace."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.cluster.engines.common import (
    HAVEN_STARTUP_TIMEOUT,
    REPO_ROOT,
    EngineError,
    Service,
    _folder,
    http_status,
    wait_until,
)
from bench.cluster.hosts import Host


@dataclass
class Haven(Service):
    """``haven serve``."""


def _haven_environment(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its HAVEN_* settings, and ``env`` over it: Haven's settings
    come from ``env`` alone."""
    if "HAVEN_VAR_DIR" not in env:
        raise ValueError("give HAVEN_VAR_DIR: Haven would otherwise use the repository's var/")
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("HAVEN_")}
    return {**inherited, **env}


def _haven(*args: str) -> list[str]:
    return [sys.executable, "-m", "haven", *args]


def start_haven(host: Host, workdir: Path, env: Mapping[str, str], port: int = 8000) -> Haven:
    """``haven serve`` on ``host`` with the settings in ``env`` (HAVEN_WORKERS among them; HAVEN_VAR_DIR
    defaults to a folder in ``workdir``); HAVEN_HOST and HAVEN_PORT are the host's address and
    ``port``. Waits for ``/healthz``. The hosts of one cluster must share HAVEN_SECRET_KEY and
    HAVEN_DATA_KEY (and HAVEN_ADMIN_TOKEN), or each would make its own."""
    folder = _folder(workdir, host)
    environment = {
        **_haven_environment({"HAVEN_VAR_DIR": str(folder / "var"), **env}),
        "HAVEN_HOST": host.address,
        "HAVEN_PORT": str(port),
    }
    proc = host.spawn(_haven("serve"), env=environment, log=folder / "haven.log", cwd=REPO_ROOT)
    haven = Haven(host, port, proc, folder)
    health = f"http://{host.address}:{port}/healthz"
    wait_until(lambda: http_status(health) == 200, proc, f"Haven on {host.name}", HAVEN_STARTUP_TIMEOUT)
    return haven


def export_static(dest: Path, env: Mapping[str, str]) -> Path:
    """``haven export-static dest`` (from the machine's namespace): the files nginx serves."""
    _run_haven(["export-static", str(dest)], env)
    return dest


def migrate(env: Mapping[str, str]) -> None:
    """``haven migrate``: the database of ``env`` brought to the current schema. Point it at
    PostgreSQL itself rather than PgBouncer in transaction mode (a migration is one long session)."""
    _run_haven(["migrate"], env)


def _run_haven(args: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(
        _haven(*args), env=_haven_environment(env), cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise EngineError(f"haven {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
