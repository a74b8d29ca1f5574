"""Redis, its replicas and the Sentinels watching them, and the few questions the harness asks them
(through redis-py's client, one connection a question)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.cluster.engines.common import EngineError, Service, _binary, _folder, wait_until
from bench.cluster.hosts import Host

RespValue = str | int | None | list["RespValue"]


@dataclass
class Redis(Service):
    @property
    def url(self) -> str:
        return f"redis://{self.address}:{self.port}/0"


@dataclass
class Sentinel(Service):
    master_name: str = "haven"


@contextmanager
def _client(address: str, port: int, timeout: float, *, raw: bool = False) -> Iterator[redis.Redis]:
    """A client of the Redis or Sentinel at ``address``, closed after the block; what goes wrong in
    it is an ``EngineError``. One try (redis-py's default retries ten times): a check that fails is
    asked again by its caller. RESP2: in redis-py 8's default RESP3, ``SENTINEL master`` answers a
    map, not the list ``sentinel_state`` reads. ``raw``: replies as Redis sends them, without
    redis-py's readings of them (its ``SET`` answers True, not "OK")."""
    client = redis.Redis(
        address,
        port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
        decode_responses=True,
    )
    if raw:
        client.response_callbacks.clear()
    try:
        yield client
    except redis.ResponseError as error:
        raise EngineError(f"Redis answered an error: {error}") from error
    except redis.RedisError as error:
        raise EngineError(f"Redis at {address}:{port}: {error}") from error
    finally:
        client.close()


def redis_command(address: str, port: int, *args: str, timeout: float = 2.0) -> RespValue:
    """One command, and its reply as Redis sends it (enough for health checks and Sentinel
    questions)."""
    with _client(address, port, timeout, raw=True) as client:
        reply: RespValue = client.execute_command(*args)  # type: ignore[no-untyped-call]
    return reply


def _answers_ping(address: str, port: int) -> bool:
    try:
        with _client(address, port, 0.5) as client:
            return client.ping()
    except EngineError:
        return False


def redis_info(address: str, port: int, section: str = "replication") -> dict[str, str]:
    """``INFO section``, each value as Redis wrote it (redis-py's ``info`` would make numbers of
    some and dictionaries of others)."""
    reply = redis_command(address, port, "INFO", section)
    lines = reply.splitlines() if isinstance(reply, str) else []
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


def _serving(host: Host, port: int, folder: Path) -> list[str]:
    """The lines a Redis server and a Sentinel share: where they listen, in the foreground, their
    folder, the log on standard output."""
    return [
        f"bind {host.address}",
        f"port {port}",
        "protected-mode no",
        "daemonize no",
        f"dir {folder}",
        'logfile ""',
    ]


def start_redis(
    host: Host, workdir: Path, port: int = 6379, replica_of: tuple[str, int] | None = None
) -> Redis:
    """Redis on ``host``: nothing written to disk, reachable from the subnet; with ``replica_of``, a
    replica of that primary, waited for until its link to the primary is up. With nothing on disk,
    a killed primary must come back as a replica of the new one, never as a primary: its replicas
    would copy its emptiness."""
    folder = _folder(workdir, host)
    lines = [
        *_serving(host, port, folder),
        'save ""',
        "appendonly no",
        # A replica's first sync starts at once (by default the primary waits 5 s for more replicas).
        "repl-diskless-sync-delay 0",
        # What the primary and Sentinel are told this instance's address is (the same as the one
        # they see here, with no NAT between hosts, but said rather than guessed).
        f"replica-announce-ip {host.address}",
    ]
    if replica_of is not None:
        lines += [f"replicaof {replica_of[0]} {replica_of[1]}", "replica-read-only yes"]
    config = folder / "redis.conf"
    config.write_text("\n".join(lines) + "\n")
    proc = host.spawn([_binary("redis-server"), str(config)], log=folder / "redis.log", cwd=folder)
    server = Redis(host, port, proc, folder)
    wait_until(lambda: _answers_ping(host.address, port), proc, f"Redis on {host.name}")
    if replica_of is not None:
        linked = lambda: redis_info(host.address, port).get("master_link_status") == "up"  # noqa: E731
        wait_until(linked, proc, f"Redis replica on {host.name} (link to {replica_of[0]}:{replica_of[1]})")
    return server


def start_sentinel(
    host: Host,
    workdir: Path,
    port: int = 26379,
    master_name: str = "haven",
    *,
    master: tuple[str, int],
    quorum: int = 2,
    down_after_ms: int = 2000,
    failover_timeout_ms: int = 10000,
) -> Sentinel:
    """A Sentinel on ``host`` watching ``master``. Sentinel rewrites its configuration file as it
    learns (replicas, other Sentinels, a new primary): each one gets a file of its own."""
    folder = _folder(workdir, host)
    lines = [
        *_serving(host, port, folder),
        f"sentinel announce-ip {host.address}",  # the address the other Sentinels are told
        "sentinel resolve-hostnames no",
        f"sentinel monitor {master_name} {master[0]} {master[1]} {quorum}",
        f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
        f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
        f"sentinel parallel-syncs {master_name} 1",
    ]
    config = folder / "sentinel.conf"
    config.write_text("\n".join(lines) + "\n")
    proc = host.spawn([_binary("redis-sentinel"), str(config)], log=folder / "sentinel.log", cwd=folder)
    sentinel = Sentinel(host, port, proc, folder, master_name)
    wait_until(lambda: _answers_ping(host.address, port), proc, f"Sentinel on {host.name}")
    return sentinel


def sentinel_master(sentinel: Sentinel) -> tuple[str, int] | None:
    """Where this Sentinel says the primary is now (``SENTINEL get-master-addr-by-name``)."""
    with _client(sentinel.address, sentinel.port, 2.0) as client:
        found = client.sentinel_get_master_addr_by_name(sentinel.master_name, return_responses=True)
    return (str(found[0]), found[1]) if isinstance(found, tuple) else None


def sentinel_state(sentinel: Sentinel) -> dict[str, str]:
    """``SENTINEL master <name>``: flags, num-slaves, num-other-sentinels, and the rest."""
    reply = redis_command(sentinel.address, sentinel.port, "SENTINEL", "master", sentinel.master_name)
    items = [str(item) for item in reply] if isinstance(reply, list) else []
    return dict(zip(items[::2], items[1::2], strict=True))


def wait_for_sentinels(sentinels: Sequence[Sentinel], replicas: int, timeout: float = 30.0) -> None:
    """Wait until every Sentinel knows all the others and ``replicas`` replicas: before that, a
    failover could lack its quorum or have no replica to promote."""

    expected = {"num-other-sentinels": str(len(sentinels) - 1), "num-slaves": str(replicas)}

    def settled(sentinel: Sentinel) -> Callable[[], bool]:
        return lambda: expected.items() <= sentinel_state(sentinel).items()

    for sentinel in sentinels:
        wait_until(settled(sentinel), sentinel.proc, f"Sentinel on {sentinel.host.name} to settle", timeout)
