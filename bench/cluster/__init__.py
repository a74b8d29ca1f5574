"""Haven on many hosts on one machine: network namespaces as hosts (``hosts``) and the real engines
started on them, PostgreSQL, PgBouncer, Redis and Sentinel, HAProxy, nginx and Haven (``engines``)."""
