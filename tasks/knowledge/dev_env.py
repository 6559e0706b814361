"""The dev worker's environment on the host (pure)."""

from __future__ import annotations


def dev_environment(values: dict[str, str], environ: dict[str, str], scheduler: bool) -> dict[str, str]:
    """The dev worker's environment: .env's values, the shell's, and host addresses of the published ports.

    Inside Compose the worker reaches `postgres`/`redis` by service name; on the host it uses the
    ports published on 127.0.0.1, read as Compose reads them (the shell over .env). A connection
    variable the shell sets itself (REDIS_HOST, PGPORT, ...) wins.
    """
    merged = {**values, **environ}
    host_side = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": merged.get("REDIS_HOST_PORT", "6379"),
        "PGHOST": "127.0.0.1",
        "PGPORT": merged.get("POSTGRES_HOST_PORT", "5432"),
        "PGUSER": merged.get("POSTGRES_USER", "devstack"),
        "PGPASSWORD": merged.get("POSTGRES_PASSWORD", "devstack"),
        "PGDATABASE": merged.get("POSTGRES_DB", "devstack"),
        "WORKER_NAME": "dev",
    }
    env = {**values, **host_side, **environ}
    if not scheduler:
        env["ENABLE_SCHEDULER"] = "false"
    return env
