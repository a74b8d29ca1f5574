"""Run nginx with ``deploy/nginx.conf`` in front of a Haven, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.server import free_port, stop, wait_until_up

DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed (make test installs it)")
    return found


def render_config(workdir: Path, site_dir: Path, port: int, upstream_port: int) -> Path:
    """deploy/nginx.conf with its addresses pointed here, wrapped in a minimal main config."""
    server = DEPLOY_CONF.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "root /srv/haven/site;": f"root {site_dir};",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "/var/cache/nginx/haven": str(workdir / "cache"),
    }
    for old, new in replacements.items():
        assert old in server, f"deploy/nginx.conf no longer contains {old!r}"
        server = server.replace(old, new)
    (workdir / "haven.conf").write_text(server)
    # As root, nginx's workers would drop to "nobody", who cannot read a private temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    main = f"""
{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/haven.conf;
}}
"""
    path = workdir / "nginx.conf"
    path.write_text(main)
    return path


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
