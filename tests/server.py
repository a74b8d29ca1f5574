"""Start a real Haven server process for tests that need real sockets (and stop it afterwards): the
launcher the overload benchmark uses too."""

from bench.servers import (
    RunningServer,
    free_port,
    kill,
    launch,
    migrate_for,
    pinned,
    private_redis,
    start_server,
    stop,
    wait_until_up,
)

__all__ = [
    "RunningServer",
    "free_port",
    "kill",
    "launch",
    "migrate_for",
    "pinned",
    "private_redis",
    "start_server",
    "stop",
    "wait_until_up",
]
