"""Defaults of the project's Invoke configuration (installed on the root collection).

A plain dict in a module of its own: the root collection needs it on every call, ``inv --list``
included, while the typed access in ``settings.py`` is loaded only by the tasks that run.
"""

from typing import Any

DEFAULTS: dict[str, Any] = {
    "compose": {
        # "" = auto-detect: `docker compose` (v2 plugin) first, then a `docker-compose` binary.
        "command": "",
        # "" = what Compose itself would use: COMPOSE_FILE (from the environment or .env), else
        # docker-compose.yml. Several files separated like COMPOSE_FILE (os.pathsep).
        "files": "",
        "env_file": ".env",
        "env_example": ".env.example",
    },
    "worker": {
        "service": "worker",
        "profile": "worker",
        # The worker image's tag when WORKER_IMAGE is not set (the default in docker-compose.yml).
        "image": "devstack-worker:local",
        # The variable of the worker service's environment that turns the BullMQ scheduler on.
        "scheduler_var": "ENABLE_SCHEDULER",
    },
    "dev": {
        # Variables of the worker service's environment that carry an address, as HOST:PORT pairs of
        # variable names: when the host variable names a compose service, the dev worker on the host
        # gets the address where that service's port is published instead.
        "host_port_vars": "REDIS_HOST:REDIS_PORT,PGHOST:PGPORT",
        # Variables holding URLs (postgres://u:p@postgres:5432/db): the service's host and port are
        # swapped the same way.
        "url_vars": "DATABASE_URL,REDIS_URL",
    },
    "app": {
        # Where the app's package manager commands run, relative to the project root.
        "dir": "apps/worker",
        # "" = from the package manager, recognised by the lock file (npm, pnpm, yarn classic or
        # berry) looked for from `dir` up to the project root: e.g. `pnpm --filter <package> dev`.
        "install": "",
        "build": "",
        "dev": "",
        # host: built on the host (`build`), the image packs dist/; image: the image's Dockerfile
        # builds it (`--build` rebuilds the image); none: no build step (tsx, ts-node).
        "build_mode": "host",
        # Does the dev command honour WORKER_START_GATE and WORKER_READY_FILE (see the README's
        # "start gate")? Then the dev worker starts while the background worker still serves the
        # queue and takes over the moment it has stopped; otherwise it starts after the stop.
        "start_gate": False,
        # The compiled entry point, relative to the project root, and the sources it is built from.
        "dist_main": "dist/apps/worker/main.js",
        "sources": "apps/worker/src",
    },
    # Several workers: a list of entries with the keys of WORKER_DEFAULTS (then `worker:` and `app:`
    # are not read). Empty: the one worker of `worker:` and `app:`.
    "workers": [],
    "prodlike": {
        # The override applied on top of the compose files; caps and heap ratio live in .env.
        "file": "docker-compose.worker-prodlike.yml",
    },
    "state": {
        # Handover records and locks of `inv dev.worker`, one sub-folder per compose project.
        "dir": ".devstack",
    },
}


#: The keys of one `workers:` entry and their defaults ("" = derived: service = name, install/build/dev
#: from the lock file, sources = <dir>/src, dist_main = <dir>/dist/main.js, build_mode = host when
#: dist_main is given, else none).
WORKER_DEFAULTS: dict[str, Any] = {
    "name": "",
    "service": "",
    "profile": "",
    "image": "",
    "dir": ".",
    "install": "",
    "build": "",
    "dev": "",
    "start_gate": False,
    "dist_main": "",
    "sources": "",
    "build_mode": "",
}
