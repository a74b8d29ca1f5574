"""The real engines of a Haven cluster, started on hosts of ``bench.cluster.hosts``: PostgreSQL,
PgBouncer, Redis and Sentinel, HAProxy, nginx and Haven itself.

Each ``start_*`` writes its configuration into the folder it is given, starts the program on the
host, waits until it answers (or fails with the tail of its log) and returns a ``Service``: the host,
the port and the running ``Proc``. The network stops every one of them when it closes.

One module a concept: ``common`` (what they share), ``postgres`` (PostgreSQL and PgBouncer),
``sentinel`` (Redis and Sentinel), ``proxies`` (HAProxy and nginx) and ``haven``.
"""

from bench.cluster.engines.common import (
    DEPLOY,
    HAVEN_STARTUP_TIMEOUT,
    REPO_ROOT,
    STARTUP_TIMEOUT,
    SYSTEM_USER,
    EngineError,
    Service,
    http_status,
    wait_until,
)
from bench.cluster.engines.haven import Haven, export_static, migrate, start_haven
from bench.cluster.engines.postgres import (
    PgBouncer,
    Postgres,
    PostgresProtocol,
    create_database,
    postgres_binaries,
    psql,
    restart_postgres,
    start_pgbouncer,
    start_postgres,
)
from bench.cluster.engines.proxies import (
    HARNESS_MARK,
    HAProxy,
    Nginx,
    haproxy_server_states,
    render_haproxy_config,
    render_nginx_config,
    start_haproxy,
    start_nginx,
)
from bench.cluster.engines.sentinel import (
    Redis,
    RespValue,
    Sentinel,
    redis_command,
    redis_info,
    sentinel_master,
    sentinel_state,
    start_redis,
    start_sentinel,
    wait_for_sentinels,
)

__all__ = [
    "DEPLOY",
    "HARNESS_MARK",
    "HAVEN_STARTUP_TIMEOUT",
    "REPO_ROOT",
    "STARTUP_TIMEOUT",
    "SYSTEM_USER",
    "EngineError",
    "HAProxy",
    "Haven",
    "Nginx",
    "PgBouncer",
    "Postgres",
    "PostgresProtocol",
    "Redis",
    "RespValue",
    "Sentinel",
    "Service",
    "create_database",
    "export_static",
    "haproxy_server_states",
    "http_status",
    "migrate",
    "postgres_binaries",
    "psql",
    "redis_command",
    "redis_info",
    "render_haproxy_config",
    "render_nginx_config",
    "restart_postgres",
    "sentinel_master",
    "sentinel_state",
    "start_haproxy",
    "start_haven",
    "start_nginx",
    "start_pgbouncer",
    "start_postgres",
    "start_redis",
    "start_sentinel",
    "wait_for_sentinels",
    "wait_until",
]
