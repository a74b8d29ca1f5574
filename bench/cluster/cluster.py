"""Haven on many hosts: a load balancer, app hosts, Redis with Sentinels and PostgreSQL behind
PgBouncer, each on a host of its own (a network namespace, ``hosts.py``), started with the real
engines (``engines/``), and the faults the harness inflicts on them.

::

    lb:      nginx :80 (the static export, the room state cached 1 s) -> HAProxy :8080
    appN:    Haven :8000 (HAVEN_BEHIND_PROXY, Redis through the Sentinels, PostgreSQL through PgBouncer)
    redis1:  Redis primary, a Sentinel        redis2: Redis replica, a Sentinel
    pg:      PostgreSQL :5432, PgBouncer :6432 (transaction mode)
    (the third Sentinel runs on lb)

Every server process is pinned to core 0 (``SERVER_CORES``) and the harness, with the load
generator, to core 1, as the other benchmarks do.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cluster import engines
from bench.cluster.hosts import Host, Network

REPO = Path(__file__).resolve().parents[2]
SERVER_CORES = "0"
HARNESS_CORES = "1"
MASTER = "haven"
APP_PORT = 8000
DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes: a throwaway cluster's key


@dataclass(frozen=True)
class Layout:
    app_hosts: int = 3
    workers: int = 1  # HAVEN_WORKERS on each app host
    sentinels: int = 3
    delay_ms: float = 1.0  # netem delay on every host's link
    check_interval_ms: int = 1000  # HAProxy's health checks
    down_after_ms: int = 2000  # Sentinel's down-after-milliseconds
    prefix: str = "hvc"
    subnet: str = "198.18.0.0/24"

    @property
    def quorum(self) -> int:
        return self.sentinels // 2 + 1


@dataclass
class Cluster:
    """The running cluster. ``start`` builds it on ``network``; the network's close stops it all."""

    network: Network
    layout: Layout
    workdir: Path
    apps: list[Host] = field(default_factory=list)
    app_procs: dict[str, engines.Haven] = field(default_factory=dict)
    redis_hosts: list[Host] = field(default_factory=list)
    redis_servers: dict[str, engines.Redis] = field(default_factory=dict)  # by host name
    sentinels: list[engines.Sentinel] = field(default_factory=list)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    # Building ------------------------------------------------------------------------------------

    def start(self) -> None:
        net, work = self.network, self.workdir
        self.pg_host = net.add_host("pg")
        self.lb = net.add_host("lb")
        self.redis_hosts = [net.add_host("redis1"), net.add_host("redis2")]
        self.apps = [net.add_host(f"app{n + 1}") for n in range(self.layout.app_hosts)]

        self.postgres = engines.start_postgres(self.pg_host, work / "pg")
        engines.create_database(self.postgres, "haven")
        self.pgbouncer = engines.start_pgbouncer(
            self.pg_host, work / "pgbouncer", self.postgres.address, postgres_port=self.postgres.port
        )
        self.direct_url = f"postgresql://postgres@{self.postgres.address}:{self.postgres.port}/haven"
        self.pooled_url = f"postgresql://postgres@{self.pgbouncer.address}:{self.pgbouncer.port}/haven"
        self.migrate()

        primary_host, replica_host = self.redis_hosts
        primary = engines.start_redis(primary_host, work / "redis1")
        self.redis_servers = {
            primary_host.name: primary,
            replica_host.name: engines.start_redis(
                replica_host, work / "redis2", replica_of=(primary.address, primary.port)
            ),
        }
        sentinel_hosts = [*self.redis_hosts, self.lb, *self.apps][: self.layout.sentinels]
        self.sentinels = [
            engines.start_sentinel(
                host,
                work / f"sentinel-{host.name}",
                master_name=MASTER,
                master=(primary.address, primary.port),
                quorum=self.layout.quorum,
                down_after_ms=self.layout.down_after_ms,
            )
            for host in sentinel_hosts
        ]
        engines.wait_for_sentinels(self.sentinels, replicas=1)

        for host in self.apps:
            self.start_app(host)
        self.site = work / "site"
        engines.export_static(self.site, self.app_env(self.apps[0]))
        self.haproxy = engines.start_haproxy(
            self.lb,
            work / "haproxy",
            [(host.name, host.address, APP_PORT) for host in self.apps],
            check_interval_ms=self.layout.check_interval_ms,
            busy_page=self.site / "503.html",
        )
        self.nginx = engines.start_nginx(
            self.lb,
            work / "nginx",
            self.site,
            upstream=(self.lb.address, self.haproxy.port),
            real_ip_from=[self.network.gateway],  # the load generator, playing many visitors
        )
        self.pin()

    @property
    def target(self) -> str:
        return f"http://{self.lb.address}:{self.nginx.port}"

    def sentinel_addresses(self) -> list[str]:
        return [f"{s.address}:{s.port}" for s in self.sentinels]

    def app_env(self, host: Host) -> dict[str, str]:
        """Haven's settings on ``host``: every app host shares the keys, the database and the room."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("HAVEN_")}
        env.update(
            HAVEN_HOST=host.address,
            HAVEN_PORT=str(APP_PORT),
            HAVEN_WORKERS=str(self.layout.workers),
            HAVEN_BEHIND_PROXY="true",
            HAVEN_PUBLIC_URL=f"http://{self.lb.address}",
            HAVEN_VAR_DIR=str(self.workdir / "var" / host.name),
            HAVEN_MAIL_DIR=str(self.mail_dir),
            HAVEN_DATABASE_URL=self.pooled_url,
            HAVEN_DATABASE_PGBOUNCER="true",
            HAVEN_REDIS_SENTINELS=",".join(self.sentinel_addresses()),
            HAVEN_REDIS_MASTER=MASTER,
            HAVEN_SECRET_KEY=self.secret,
            HAVEN_DATA_KEY=DATA_KEY,
            HAVEN_ADMIN_TOKEN=self.admin_token,
            HAVEN_LOG_LEVEL="warning",
        )
        return env

    @property
    def mail_dir(self) -> Path:
        return self.workdir / "mail"

    def migrate(self) -> None:
        engines.migrate(
            {
                "HAVEN_DATABASE_URL": self.direct_url,
                "HAVEN_VAR_DIR": str(self.workdir / "var" / "migrate"),
                "HAVEN_SECRET_KEY": self.secret,
                "HAVEN_DATA_KEY": DATA_KEY,
            }
        )

    def pin(self) -> None:
        """Every process of every host on the server cores (children started later inherit it)."""
        for host in self.network.hosts.values():
            for pid in host.pids():
                subprocess.run(
                    ["taskset", "-a", "-c", "-p", SERVER_CORES, str(pid)], capture_output=True, check=False
                )

    # Faults ----------------------------------------------------------------------------------------

    def start_app(self, host: Host) -> engines.Haven:
        haven = engines.start_haven(host, self.workdir / host.name, self.app_env(host), port=APP_PORT)
        self.app_procs[host.name] = haven
        return haven

    def kill_app(self, host: Host) -> None:
        self.app_procs[host.name].proc.kill()

    def server_states(self) -> dict[str, str]:
        return engines.haproxy_server_states(self.haproxy)

    def primary(self) -> tuple[str, int]:
        """Where the Sentinels say the primary is (the first that answers)."""
        for sentinel in self.sentinels:
            with contextlib.suppress(OSError, engines.EngineError):
                found = engines.sentinel_master(sentinel)
                if found is not None:
                    return found
        raise RuntimeError("no Sentinel answered")

    def redis_host(self, address: str) -> Host:
        return next(host for host in self.redis_hosts if host.address == address)

    def kill_redis(self, host: Host) -> None:
        self.redis_servers[host.name].proc.kill()

    def restart_redis_as_replica(self, host: Host, primary: tuple[str, int]) -> None:
        self.redis_servers[host.name] = engines.start_redis(
            host, self.workdir / f"{host.name}-again-{int(time.time())}", replica_of=primary
        )
        self.pin()

    def restart_postgres(self) -> None:
        engines.restart_postgres(self.postgres)
        self.pin()

    def steer_room(self, action: str | None, **fields: object) -> dict[str, Any]:
        """An operator's order to the room (``POST /admin/api/room`` on the first app host), or with
        no action its status (``GET``, what ``haven room status`` shows)."""
        body = json.dumps({"action": action, **fields}).encode() if action is not None else None
        request = urllib.request.Request(
            f"http://{self.apps[0].address}:{APP_PORT}/admin/api/room",
            data=body,
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - http, our host
            return dict(json.loads(answer.read()))

    # Readings --------------------------------------------------------------------------------------

    def store_degraded(self, host: Host) -> bool | None:
        """Whether any worker on ``host`` runs a room of its own (None: the host does not answer)."""
        try:
            with urllib.request.urlopen(f"http://{host.address}:{APP_PORT}/metrics", timeout=1) as answer:
                text = answer.read().decode()
        except OSError:
            return None
        values = re.findall(r"^haven_shield_store_degraded(?:\{[^}]*\})? ([0-9.]+)$", text, re.MULTILINE)
        return any(float(value) > 0 for value in values) if values else None


def cpu_seconds(hosts: list[Host]) -> float:
    """CPU time (user + system) of every process now running on ``hosts``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for host in hosts:
        for pid in host.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
    return total / tick
