"""Run nginx with ``deploy/nginx.conf`` in front of a Haven, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.cluster.engines import render_nginx_config
from tests.server import free_port, stop, wait_until_up


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed (make test installs it)")
    return found


def render_config(workdir: Path, site_dir: Path, port: int, upstream_port: int) -> Path:
    """deploy/nginx.conf with its addresses pointed here, wrapped in a minimal main config (the
    cluster harness's, on this machine's own address)."""
    return render_nginx_config(workdir, "127.0.0.1", site_dir, ("127.0.0.1", upstream_port), port, 4096)


@dataclass
class RunningNginx:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def start_nginx(
    workdir: Path, site_dir: Path, upstream_port: int, prefix: Sequence[str] = ()
) -> Iterator[RunningNginx]:
    """nginx in the foreground; ``prefix`` runs it under another command (``taskset -c 0``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = render_config(workdir, site_dir, port, upstream_port)
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-c", str(config)], capture_output=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(check.stderr.decode())
    log = workdir / "stdout.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*prefix, binary, "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(base_url + "/robots.txt", process, workdir / "error.log")
        yield RunningNginx(base_url, port, process)
    finally:
        stop(process)
