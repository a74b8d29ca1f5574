"""PostgreSQL and PgBouncer in front of it: started, restarted the hard way, and asked SQL with
``psql``."""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.cluster.engines.common import (
    STARTUP_TIMEOUT,
    SYSTEM_USER,
    EngineError,
    Service,
    _binary,
    _folder,
    wait_until,
)
from bench.cluster.hosts import Host, Proc


@dataclass
class PostgresProtocol(Service):
    """PostgreSQL, or PgBouncer in front of it: both take the same URLs."""

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        """``driver`` "postgresql+asyncpg" makes it a HAVEN_DATABASE_URL."""
        return f"{driver}://{SYSTEM_USER}@{self.address}:{self.port}/{database}"


@dataclass
class Postgres(PostgresProtocol):
    restarts: list[float] = field(default_factory=list)  # seconds each restart took, until it answered


@dataclass
class PgBouncer(PostgresProtocol):
    pool_mode: str = "transaction"


# PostgreSQL ---------------------------------------------------------------------------------------


def postgres_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise EngineError("PostgreSQL is not installed (Debian: postgresql)")
    return Path(found[-1]).parent


def _postgres_ready(address: str, port: int) -> bool:
    ready = str(postgres_binaries() / "pg_isready")
    command = [ready, "-q", "-h", address, "-p", str(port), "-U", SYSTEM_USER, "-d", "postgres", "-t", "1"]
    return subprocess.run(command, check=False).returncode == 0


def start_postgres(host: Host, workdir: Path, port: int = 5432, *, max_connections: int = 200) -> Postgres:
    """PostgreSQL on ``host``, listening on its address only, trusting the network's subnet, with
    fsync and synchronous commits on: an acknowledged commit is on disk. The cluster is made on the
    first start (``initdb``) and reused after."""
    folder = _folder(workdir, host, SYSTEM_USER)
    data = folder / "data"
    binaries = postgres_binaries()
    if not data.exists():
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", SYSTEM_USER, "-A", "trust", "-E", "UTF8"]
        host.run(initdb, user=SYSTEM_USER, cwd=folder, timeout=120)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude '{folder / 'haven.conf'}'\n")
    settings = {
        "listen_addresses": f"'{host.address}'",
        "port": str(port),
        "unix_socket_directories": f"'{folder}'",
        "max_connections": str(max_connections),
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "logging_collector": "off",
        "log_destination": "'stderr'",
    }
    (folder / "haven.conf").write_text("".join(f"{name} = {value}\n" for name, value in settings.items()))
    rules = [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        f"host all all {host.network.subnet} trust",
    ]
    (data / "pg_hba.conf").write_text("\n".join(rules) + "\n")
    server = Postgres(host, port, _spawn_postgres(host, folder), folder)
    wait_until(lambda: _postgres_ready(host.address, port), server.proc, f"PostgreSQL on {host.name}")
    return server


def _spawn_postgres(host: Host, folder: Path) -> Proc:
    command = [str(postgres_binaries() / "postgres"), "-D", str(folder / "data")]
    # SIGINT is PostgreSQL's fast shutdown: SIGTERM (smart) would wait for every client to leave.
    log = folder / "postgres.log"
    return host.spawn(command, log=log, cwd=folder, user=SYSTEM_USER, stop_signal=signal.SIGINT)


def restart_postgres(server: Postgres, *, kill: bool = False, timeout: float = STARTUP_TIMEOUT) -> float:
    """An immediate restart: SIGQUIT to the postmaster (what ``pg_ctl restart -m immediate`` sends:
    no checkpoint, crash recovery from the WAL at start), or with ``kill`` SIGKILL to the postmaster
    and every backend. Returns the seconds from the signal until the server answers again."""
    started = time.monotonic()
    if kill:
        server.proc.kill(signal.SIGKILL)
    else:
        os.kill(server.proc.pid, signal.SIGQUIT)
    server.proc.wait(timeout)
    # A new postmaster refuses to start while a backend of the old one still holds the shared memory.
    _wait_group_gone(server.proc, timeout)
    server.proc = _spawn_postgres(server.host, server.workdir)
    ready = lambda: _postgres_ready(server.address, server.port)  # noqa: E731
    wait_until(ready, server.proc, f"PostgreSQL on {server.host.name}, restarted", timeout)
    took = time.monotonic() - started
    server.restarts.append(took)
    return took


def _wait_group_gone(proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _group_members(proc.pid):
        if time.monotonic() > deadline:
            raise EngineError(f"processes {_group_members(proc.pid)} of PostgreSQL's group will not exit")
        time.sleep(0.02)


def _group_members(group: int) -> list[int]:
    """The live processes of a process group (zombies left out: they hold nothing)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == group and state != "Z":
            members.append(int(entry.name))
    return members


def psql(server: PostgresProtocol, sql: str, database: str = "postgres") -> str:
    """Run SQL with ``psql`` from the machine's namespace, on PostgreSQL or through PgBouncer (whose
    admin console is the database "pgbouncer"); its output, unaligned, without headers."""
    quiet = ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    where = ["-h", server.address, "-p", str(server.port), "-U", SYSTEM_USER, "-d", database]
    command = [str(postgres_binaries() / "psql"), *quiet, *where, "-c", sql]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise EngineError(f"psql failed: {done.stderr.strip()}")
    return done.stdout.strip()


def create_database(server: Postgres, name: str) -> str:
    """A new, empty database; its URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"database name {name!r}: lower-case letters, digits and underscores")
    psql(server, f'CREATE DATABASE "{name}"')
    return server.url(name)


# PgBouncer ----------------------------------------------------------------------------------------


def start_pgbouncer(
    host: Host,
    workdir: Path,
    postgres_address: str,
    port: int = 6432,
    pool_mode: str = "transaction",
    *,
    postgres_port: int = 5432,
    max_client_conn: int = 2000,
    default_pool_size: int = 20,
) -> PgBouncer:
    """PgBouncer on ``host`` in front of the PostgreSQL at ``postgres_address``, every database
    passed through, clients trusted (as PostgreSQL trusts the subnet)."""
    if pool_mode not in ("session", "transaction", "statement"):
        raise ValueError(f"pool_mode {pool_mode!r}")
    folder = _folder(workdir, host, SYSTEM_USER)
    (folder / "userlist.txt").write_text(f'"{SYSTEM_USER}" ""\n')  # trust still looks the name up here
    settings = {
        "listen_addr": host.address,
        "listen_port": str(port),
        "unix_socket_dir": "",  # TCP only
        "auth_type": "trust",
        "auth_file": str(folder / "userlist.txt"),
        "admin_users": SYSTEM_USER,
        "pool_mode": pool_mode,
        # Each Haven worker's SQLAlchemy pool opens up to 20 (10 + 10 overflow): three hosts of eight
        # workers are 480 clients, and the rest is headroom for restarts and checks.
        "max_client_conn": str(max_client_conn),
        # Server connections per database and user: PostgreSQL sees this many, whatever the clients.
        "default_pool_size": str(default_pool_size),
        # Only session pooling runs it unless server_reset_query_always is set; empty says so.
        "server_reset_query": "",
        # After PostgreSQL restarts, try again within a second (the default waits 15 s).
        "server_login_retry": "1",
        "server_connect_timeout": "5",
        # A client waiting longer than this for a server connection gets an error, not a hang.
        "query_wait_timeout": "30",
        "log_connections": "0",
        "log_disconnections": "0",
        # asyncpg's startup packet holds only user, database and client_encoding (and whatever
        # server_settings the caller adds), all of which PgBouncer knows: ignore_startup_parameters
        # (extra_float_digits, which JDBC sends) is not needed.
    }
    config = f"[databases]\n* = host={postgres_address} port={postgres_port}\n\n[pgbouncer]\n"
    config += "".join(f"{name} = {value}\n" for name, value in settings.items())
    (folder / "pgbouncer.ini").write_text(config)
    binary = _binary("pgbouncer")
    log = folder / "pgbouncer.log"
    proc = host.spawn([binary, str(folder / "pgbouncer.ini")], log=log, cwd=folder, user=SYSTEM_USER)
    bouncer = PgBouncer(host, port, proc, folder, pool_mode)
    wait_until(lambda: _postgres_ready(host.address, port), proc, f"PgBouncer on {host.name}")
    return bouncer
