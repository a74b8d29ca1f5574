"""HAProxy and nginx, each run with its file from ``deploy/`` rewritten for the host it is on."""

from __future__ import annotations

import csv
import io
import os
import re
import resource
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.cluster.engines.common import (
    DEPLOY,
    EngineError,
    Service,
    _binary,
    _folder,
    http_status,
    wait_until,
)
from bench.cluster.hosts import Host


@dataclass
class HAProxy(Service):
    stats_port: int = 8404
    stats_socket: Path = Path()
    fall: int = 0
    rise: int = 0
    check_interval_ms: int = 0


@dataclass
class Nginx(Service):
    """nginx with deploy/nginx.conf."""


# HAProxy ------------------------------------------------------------------------------------------

HARNESS_MARK = re.compile(r"\s*# harness: ([a-z -]+)$")


def render_haproxy_config(
    haproxy_dir: Path,
    host: Host,
    servers: Sequence[tuple[str, str, int]],
    port: int,
    check_interval_ms: int,
    stats_port: int,
    busy_page: Path | None,
) -> str:
    """``deploy/haproxy.cfg`` with each line marked ``# harness: <what>`` rewritten for ``host``."""
    if not servers:
        raise ValueError("HAProxy needs at least one server")
    rewrite: dict[str, Callable[[str], list[str]]] = {
        "log": lambda line: ["    log stdout format raw local0 notice"],  # state changes, not traffic
        "drop": lambda line: [],  # chroot and user: the namespace is the isolation here
        "maxconn": lambda line: [re.sub(r"maxconn \d+", f"maxconn {_haproxy_maxconn(line)}", line)],
        "stats socket": lambda line: [f"    stats socket {haproxy_dir / 'admin.sock'} mode 600 level admin"],
        "bind": lambda line: [f"    bind {host.address}:{port}"],
        "stats bind": lambda line: [f"    bind {host.address}:{stats_port}"],
        "busy page": lambda line: [re.sub(r" file \S+", f" file {busy_page}", line)] if busy_page else [],
        "default-server": lambda line: [re.sub(r"\binter \S+", f"inter {check_interval_ms}ms", line)],
        "servers": lambda line: [f"    server {name} {address}:{at}" for name, address, at in servers],
    }
    seen: set[str] = set()
    out: list[str] = []
    for raw in (DEPLOY / "haproxy.cfg").read_text().splitlines():
        mark = HARNESS_MARK.search(raw)
        if mark is None:
            out.append(raw)
            continue
        what = mark.group(1).strip()
        if what not in rewrite:
            raise EngineError(f"deploy/haproxy.cfg marks a line '# harness: {what}' unknown to the harness")
        if what == "servers" and what in seen:
            continue  # the example's other servers: the first marked line stands for all of them
        seen.add(what)
        out.extend(rewrite[what](raw[: mark.start()].rstrip()))
    missing = set(rewrite) - seen
    if missing:
        raise EngineError(f"deploy/haproxy.cfg no longer marks {sorted(missing)} for the harness")
    return "\n".join(out) + "\n"


def start_haproxy(
    host: Host,
    workdir: Path,
    servers: Sequence[tuple[str, str, int]],
    port: int = 8080,
    check_interval_ms: int = 1000,
    *,
    stats_port: int = 8404,
    busy_page: Path | None = None,
) -> HAProxy:
    """HAProxy on ``host`` with ``deploy/haproxy.cfg``, balancing over ``servers`` (name, address,
    port), checking each every ``check_interval_ms``. ``busy_page`` is the export's 503.html, the
    body of HAProxy's own 502, 503 and 504 answers (without it, HAProxy's English pages)."""
    folder = _folder(workdir, host)
    text = render_haproxy_config(folder, host, servers, port, check_interval_ms, stats_port, busy_page)
    config = folder / "haproxy.cfg"
    config.write_text(text)
    binary = _binary("haproxy")
    check = host.run([binary, "-c", "-f", str(config)], check=False)
    if check.returncode != 0:
        raise EngineError(f"haproxy -c refused {config}:\n{check.stdout}")
    proc = host.spawn([binary, "-db", "-f", str(config)], log=folder / "haproxy.log", cwd=folder)
    fall, rise = (_server_option(text, name) for name in ("fall", "rise"))
    haproxy = HAProxy(
        host, port, proc, folder, stats_port, folder / "admin.sock", fall, rise, check_interval_ms
    )
    stats = f"http://{host.address}:{stats_port}/"
    wait_until(lambda: http_status(stats) == 200, proc, f"HAProxy on {host.name}")
    return haproxy


def _haproxy_maxconn(line: str) -> int:
    """The example's maxconn, or less where this process may not open two descriptors per connection
    (HAProxy refuses to start rather than run short of them)."""
    wanted = int(re.findall(r"maxconn (\d+)", line)[0])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, (hard - 100) // 2)


def _server_option(config: str, name: str) -> int:
    found = re.search(rf"^\s*default-server .*\b{name} (\d+)", config, re.MULTILINE)
    if found is None:
        raise EngineError(f"deploy/haproxy.cfg has no '{name}' on its default-server line")
    return int(found.group(1))


def haproxy_server_states(haproxy: HAProxy, backend: str = "haven") -> dict[str, str]:
    """Each server of ``backend`` and its state as HAProxy's stats say it (``show stat`` on the stats
    socket): "UP", "DOWN", "UP 1/2" (up, one check failed), "DOWN 1/2" (down, one check passed),
    "MAINT", "no check"."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(str(haproxy.stats_socket))
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    rows = csv.DictReader(io.StringIO(b"".join(chunks).decode().lstrip("# ")))
    return {
        row["svname"]: row["status"]
        for row in rows
        if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")
    }


# nginx --------------------------------------------------------------------------------------------


def render_nginx_config(
    nginx_dir: Path,
    address: str,
    static_dir: Path,
    upstream: tuple[str, int],
    port: int,
    connections: int,
    real_ip_from: Sequence[str] = (),
) -> Path:
    """``deploy/nginx.conf`` inside an ``http {}`` block of a main configuration of our own, every path
    in ``nginx_dir``. The include file names its listen address, export folder, upstream and cache
    folder for a real machine: those four are replaced here (the file itself is left as deployed)."""
    site = (DEPLOY / "nginx.conf").read_text()
    replacements = {
        "listen 80;": f"listen {address}:{port};",
        "root /srv/haven/site;": f"root {static_dir};",
        "server 127.0.0.1:8000;": f"server {upstream[0]}:{upstream[1]};",
        "/var/cache/nginx/haven": str(nginx_dir / "cache"),
    }
    for old, new in replacements.items():
        if old not in site:
            raise EngineError(f"deploy/nginx.conf no longer contains {old!r}")
        site = site.replace(old, new)
    (nginx_dir / "haven.conf").write_text(site)
    mime_types = _nginx_conf_dir() / "mime.types"
    # As root, nginx's workers would drop to "nobody", who cannot read the harness's folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    real_ip = "".join(f"    set_real_ip_from {address};\n" for address in real_ip_from)
    if real_ip:
        real_ip += "    real_ip_header X-Forwarded-For;\n"
    main = f"""{user}worker_processes 1;
daemon off;
pid {nginx_dir / "nginx.pid"};
error_log {nginx_dir / "error.log"} warn;
events {{ worker_connections {connections}; }}
http {{
    include {mime_types};
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {nginx_dir / "body"};
    proxy_temp_path {nginx_dir / "proxy"};
    fastcgi_temp_path {nginx_dir / "fastcgi"};
    uwsgi_temp_path {nginx_dir / "uwsgi"};
    scgi_temp_path {nginx_dir / "scgi"};
{real_ip}    include {nginx_dir / "haven.conf"};
}}
"""
    path = nginx_dir / "nginx.conf"
    path.write_text(main)
    return path


def _nginx_conf_dir() -> Path:
    """Where this nginx was built to find its configuration (mime.types lives there)."""
    built = subprocess.run([_binary("nginx"), "-V"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"--conf-path=(\S+)", built)
    if found is None:
        raise EngineError("nginx -V names no --conf-path")
    return Path(found.group(1)).parent


def start_nginx(
    host: Host,
    workdir: Path,
    static_dir: Path,
    upstream: tuple[str, int],
    port: int = 80,
    *,
    worker_connections: int = 8192,
    real_ip_from: Sequence[str] = (),
) -> Nginx:
    """nginx on ``host`` serving Haven's static export from ``static_dir`` and passing the rest
    (with the room's state cached for a second) to ``upstream``, HAProxy or a Haven.

    ``real_ip_from``: addresses whose ``X-Forwarded-For`` nginx believes (its realip module), as it
    would a CDN's. The load generator is one machine playing a crowd: it says in that header which
    visitor each request is from, so that per-client limits count visitors, not the generator."""
    folder = _folder(workdir, host)
    config = render_nginx_config(
        folder, host.address, static_dir, upstream, port, worker_connections, real_ip_from
    )
    binary = _binary("nginx")
    check = host.run([binary, "-t", "-c", str(config)], check=False)  # -t binds: on the host
    if check.returncode != 0:
        raise EngineError(f"nginx -t refused {config}:\n{check.stdout}")
    proc = host.spawn([binary, "-c", str(config)], log=folder / "nginx.log", cwd=folder)
    nginx = Nginx(host, port, proc, folder)
    front = f"http://{host.address}:{port}/"
    wait_until(lambda: http_status(front) is not None, proc, f"nginx on {host.name}")
    return nginx
