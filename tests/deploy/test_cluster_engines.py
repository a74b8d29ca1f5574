"""bench/cluster/engines: the real engines on namespace hosts, and the failures the cluster bench
counts on them to handle: PostgreSQL through PgBouncer in transaction mode (and its immediate
restart), a Sentinel failover when the Redis primary is killed, HAProxy taking a dead host out, and
nginx with deploy/nginx.conf in front of HAProxy with deploy/haproxy.cfg in front of Haven. Needs
root; each test has a network prefix and a subnet of its own."""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path

import asyncpg
import pytest

from bench.cluster.engines import (
    create_database,
    export_static,
    haproxy_server_states,
    migrate,
    psql,
    redis_command,
    redis_info,
    restart_postgres,
    sentinel_master,
    start_haproxy,
    start_haven,
    start_nginx,
    start_pgbouncer,
    start_postgres,
    start_redis,
    start_sentinel,
    wait_for_sentinels,
)
from bench.cluster.hosts import Network
from tests.deploy import kit


@pytest.fixture
def workspace() -> Iterator[Path]:
    with kit.workspace() as folder:
        yield folder


def get(url: str) -> tuple[int, Message, bytes]:
    """Status, headers and body of a GET, an error status included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own http URL
            return int(answer.status), answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.headers, error.read()


def eventually(condition: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until ``condition`` held; fails after ``within`` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"{what} did not happen within {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


async def submit_through(url: str, count: int) -> list[int]:
    """``count`` clients each commit one submission; what each then counts."""
    # No statement cache: in transaction mode the next statement may run on another server connection.
    clients = [await asyncpg.connect(url, statement_cache_size=0) for _ in range(count)]
    try:
        await clients[0].execute("CREATE TABLE IF NOT EXISTS submissions (reference text PRIMARY KEY)")
        for number, client in enumerate(clients):
            async with client.transaction():
                await client.execute("INSERT INTO submissions VALUES ($1)", f"HV-{number}")
        return [await client.fetchval("SELECT count(*) FROM submissions") for client in clients]
    finally:
        for client in clients:
            await client.close()


async def count_through(url: str) -> int:
    client = await asyncpg.connect(url, statement_cache_size=0)
    try:
        found: int = await client.fetchval("SELECT count(*) FROM submissions")
        return found
    finally:
        await client.close()


def test_postgres_answers_through_pgbouncer_and_keeps_commits_across_an_immediate_restart(
    workspace: Path,
) -> None:
    with Network(prefix="hve1", subnet="198.18.21.0/24", delay_ms=0) as network:
        database, pool = network.add_host("db"), network.add_host("pool")
        postgres = start_postgres(database, workspace / "pg")
        assert psql(postgres, "SHOW fsync") == "on"
        assert psql(postgres, "SHOW synchronous_commit") == "on"
        assert psql(postgres, "SHOW listen_addresses") == database.address
        create_database(postgres, "haven")
        bouncer = start_pgbouncer(pool, workspace / "pgbouncer", postgres.address)

        assert asyncio.run(submit_through(bouncer.url("haven"), 3)) == [3, 3, 3]
        pools = psql(bouncer, "SHOW POOLS", database="pgbouncer")
        assert any(
            line.startswith("haven|postgres|") and line.endswith("|transaction") for line in pools.split()
        )

        took = restart_postgres(postgres, kill=True)  # SIGKILL to the postmaster and every backend
        assert took < 30
        assert postgres.restarts == [took]
        assert asyncio.run(count_through(bouncer.url("haven"))) == 3
        took = restart_postgres(postgres)  # SIGQUIT: pg_ctl's immediate mode
        assert asyncio.run(count_through(bouncer.url("haven"))) == 3
        assert len(postgres.restarts) == 2


def test_a_sentinel_promotes_the_replica_soon_after_the_primary_is_killed(workspace: Path) -> None:
    with Network(prefix="hve2", subnet="198.18.22.0/24", delay_ms=0) as network:
        primary = start_redis(network.add_host("redis1"), workspace / "redis1")
        replica = start_redis(network.add_host("redis2"), workspace / "redis2", replica_of=primary.endpoint)
        sentinels = [
            start_sentinel(
                network.add_host(f"sentinel{n}"),
                workspace / f"sentinel{n}",
                master=primary.endpoint,
                quorum=2,
            )
            for n in (1, 2, 3)
        ]
        wait_for_sentinels(sentinels, replicas=1)
        assert {sentinel_master(sentinel) for sentinel in sentinels} == {primary.endpoint}
        assert redis_command(*primary.endpoint, "SET", "ticket", "42") == "OK"
        assert redis_command(*primary.endpoint, "WAIT", "1", "2000") == 1  # the replica has it

        primary.proc.kill()  # SIGKILL

        def promoted() -> bool:
            return {sentinel_master(sentinel) for sentinel in sentinels} == {replica.endpoint}

        eventually(promoted, within=2.0 + 5.0, what="a promotion")  # down-after-milliseconds + a few s

        assert redis_info(*replica.endpoint)["role"] == "master"
        assert redis_command(*replica.endpoint, "GET", "ticket") == "42"
        # Each Sentinel rewrote its own file with the new primary.
        for sentinel in sentinels:
            written = (sentinel.workdir / "sentinel.conf").read_text()
            assert f"sentinel monitor haven {replica.address} {replica.port} 2" in written


def test_haproxy_marks_a_killed_server_down_and_sends_the_requests_to_the_other(workspace: Path) -> None:
    with Network(prefix="hve3", subnet="198.18.23.0/24", delay_ms=0) as network:
        servers = {}
        for name in ("app1", "app2"):
            host, folder = network.add_host(name), workspace / name
            folder.mkdir()
            (folder / "readyz").write_text("ready\n")
            (folder / "whoami").write_text(name)
            command = [sys.executable, "-m", "http.server", "--bind", host.address, "8000", "-d", str(folder)]
            servers[name] = host.spawn(command, log=folder / "log")
        busy = workspace / "503.html"
        busy.write_text("<!DOCTYPE html><title>Busy / Occupé</title>")
        haproxy = start_haproxy(
            network.add_host("lb"),
            workspace / "lb",
            [(name, network.hosts[name].address, 8000) for name in servers],
            check_interval_ms=1000,
            busy_page=busy,
        )

        def states() -> dict[str, str]:
            return haproxy_server_states(haproxy)

        eventually(lambda: states() == {"app1": "UP", "app2": "UP"}, within=10, what="both servers UP")
        assert {get(haproxy.base_url + "/whoami")[2] for _ in range(10)} == {b"app1", b"app2"}

        servers["app1"].kill()
        started = time.monotonic()
        # Once it is gone, its port refuses connections: a retry on the other server, never an error.
        # (A connection it had already taken would fail, with a 502 carrying the busy page.)
        servers["app1"].wait(5)
        answers = []
        while not states()["app1"].startswith("DOWN"):
            assert time.monotonic() - started < haproxy.check_interval_ms * haproxy.fall / 1000 + 1
            status, _headers, body = get(haproxy.base_url + "/whoami")
            answers.append((status, body))
        assert answers
        assert set(answers) == {(200, b"app2")}  # retried on the other server: no request failed

        servers["app2"].kill()
        eventually(lambda: states()["app2"].startswith("DOWN"), within=5, what="app2 DOWN")
        status, headers, body = get(haproxy.base_url + "/en/apply")
        assert (status, headers["retry-after"], body) == (503, "30", busy.read_bytes())


@pytest.mark.server
def test_nginx_serves_the_export_and_passes_the_rest_through_haproxy_to_haven(workspace: Path) -> None:
    env = {
        "HAVEN_VAR_DIR": str(workspace / "var"),
        "HAVEN_SECRET_KEY": "cluster-test-secret-key-that-is-long-enough",
        "HAVEN_BEHIND_PROXY": "true",
        "HAVEN_WORKERS": "1",
    }
    migrate(env)
    site = export_static(workspace / "site", env)
    with Network(prefix="hve4", subnet="198.18.24.0/24", delay_ms=0) as network:
        app, lb = network.add_host("app"), network.add_host("lb")
        haven = start_haven(app, workspace / "app", env)
        haproxy = start_haproxy(
            lb, workspace / "haproxy", [("app", app.address, haven.port)], busy_page=site / "503.html"
        )
        nginx = start_nginx(lb, workspace / "nginx", site, upstream=haproxy.endpoint)
        eventually(lambda: haproxy_server_states(haproxy) == {"app": "UP"}, within=10, what="Haven UP")

        status, headers, body = get(nginx.base_url + "/")
        assert (status, headers["x-served-by"]) == (200, None)  # from the export
        assert body == (site / "index.html").read_bytes()
        status, headers, _body = get(nginx.base_url + "/healthz")
        assert (status, headers["x-served-by"]) == (200, "haven")
        state = nginx.base_url + "/api/v1/waiting-room/state"
        assert [get(state)[1]["x-cache-status"] for _ in range(2)] == ["MISS", "HIT"]

        haven.proc.terminate()
        eventually(lambda: haproxy_server_states(haproxy)["app"].startswith("DOWN"), within=5, what="DOWN")
        status, headers, body = get(nginx.base_url + "/en/account")
        assert (status, headers["retry-after"], body) == (503, "30", (site / "503.html").read_bytes())
        status, headers, _body = get(state)  # the last copy, while no Haven answers
        assert (status, headers["x-cache-status"]) in {(200, "STALE"), (200, "UPDATING")}
