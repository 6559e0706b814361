"""Every key of the project's Invoke configuration, declared once: section, default, kind, meaning.

Two kinds of keys:

- project keys (``PROJECT_KEYS``): one value for the project (``compose.files``, ``state.dir``...);
- per-worker keys: the fields of ``WorkerSettings``, each with its declaration in the field's
  metadata. They are the keys of a ``workers:`` entry, and of the ``worker:``/``app:`` sections
  that describe a single worker (loaded as a one-entry ``workers:`` list).

From these follow the defaults installed on the root collection (``DEFAULTS``), the checks and
conversions of ``settings.py``, and the generated documentation (docs/configuration.md) and JSON
Schema (docs/invoke.schema.json). Adding a per-worker setting is one field below plus its use
(``s.current.<field>``); then `python docs/generate.py` rewrites the two docs (a unit test says so).

Light on purpose: the root collection needs DEFAULTS on every call, ``inv --list`` included, so
this module imports nothing beyond what Invoke already loaded (``dataclasses``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

# Kinds of values (how settings.py reads them, what the schema says).
STR = "string"
PATH = "path"  # a string: a path relative to the project root unless absolute
BOOL = "boolean"
LIST = "list"  # a YAML list, or one string with items separated by commas
FILES = "files"  # a LIST whose string form is also separated like COMPOSE_FILE (os.pathsep)
CHOICE = "choice"  # one of `choices` ("" = derived, see the key's text)
MAPPING = "mapping"  # NAME: value, values turned into strings
DURATION = "duration"  # a Go-style duration (`60s`, `1m30s`), or `never`; read as seconds (None: never)

#: The `consume_within` value of a worker that consumes no queue (ready is its container's readiness).
NEVER = "never"

#: How a worker's app becomes what its container runs (see the `build_mode` key).
BUILD_MODES = ("host", "image", "none")


class Key:
    """One key of invoke.yaml: where it lives, its default, its kind and what it means."""

    __slots__ = ("attr", "choices", "default", "doc", "kind", "name", "section")

    def __init__(
        self,
        section: str,
        name: str,
        default: Any,
        doc: str,
        *,
        kind: str = STR,
        attr: str = "",
        choices: tuple[str, ...] = (),
    ) -> None:
        self.section = section  # the section of invoke.yaml (for a worker key: of the single-worker form)
        self.name = name  # the key inside its section (or a `workers:` entry)
        self.default = default  # as Invoke sees it (an INVOKE_* variable is cast to its type)
        self.doc = doc
        self.kind = kind
        self.attr = attr or name  # the attribute of Settings / WorkerSettings holding the value
        self.choices = choices

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"


PROJECT_KEYS: tuple[Key, ...] = (
    Key(
        "compose",
        "command",
        "",
        "The Compose command. Empty: `docker compose` (the v2 plugin), else a `docker-compose` binary.",
        attr="compose_command",
    ),
    Key(
        "compose",
        "files",
        "",
        "The compose files. Empty: what Compose itself reads (COMPOSE_FILE from the shell or `.env`, else "
        "its own lookup: `compose.yaml`, `compose.yml`, `docker-compose.yaml`, `docker-compose.yml` with the "
        "override file beside it). Given, they are passed with `-f`, which drops Compose's automatic "
        "override file: list it too. A list, or one string separated by commas or like COMPOSE_FILE.",
        kind=FILES,
        attr="compose_files",
    ),
    Key(
        "compose",
        "env_file",
        "",
        "The env file. Empty: the `.env` Compose itself reads (the project directory's, the first compose "
        "file's folder; with COMPOSE_FILE from the root `.env`, that one). Given (`.env` too), it is passed "
        "to Compose with `--env-file`: `inv adopt` sets it when listing the compose files with `-f` would "
        "make Compose read another `.env` than it does today.",
        kind=PATH,
        attr="env_file",
    ),
    Key("compose", "env_example", ".env.example", "The documented template of the env file.", kind=PATH),
    Key(
        "worker",
        "scheduler_var",
        "ENABLE_SCHEDULER",
        "The variable of a worker service's environment that turns the BullMQ scheduler on.",
        attr="scheduler_var",
    ),
    Key(
        "dev",
        "host_port_vars",
        "REDIS_HOST:REDIS_PORT,PGHOST:PGPORT",
        "Extra HOST_VAR:PORT_VAR pairs of the worker service's environment, for a port variable not named "
        "like its host (`X_HOST`/`X_PORT` pairs and every value naming a service are found anyway): the dev "
        "worker gets the address where that service's port is published. "
        '`"!NAME"` (quoted in YAML: a bare ! is a tag) excludes a variable.',
        kind=LIST,
        attr="host_port_vars",
    ),
    Key(
        "dev",
        "url_vars",
        "DATABASE_URL,REDIS_URL",
        "Extra variables holding URLs (`postgres://u:p@postgres:5432/db`; a URL whose host is a service is "
        "found anyway): the service's host and port are swapped the same way. "
        '`"!NAME"` (quoted in YAML: a bare ! is a tag) excludes a variable.',
        kind=LIST,
        attr="url_vars",
    ),
    Key(
        "prodlike",
        "file",
        "docker-compose.worker-prodlike.yml",
        "The override applied on top of the compose files by `inv prodlike.*` (caps and heap ratio live in `.env`).",
        attr="prodlike_file",
    ),
    Key(
        "state",
        "dir",
        ".devstack",
        "Handover records, locks, gate and ready files of `inv dev.worker`: `<dir>/<project>/<worker>/`.",
        kind=PATH,
        attr="state_dir",
    ),
)


def declared(
    section: str, default: Any, doc: str, *, key: str = "", kind: str = STR, choices: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A per-worker field's declaration, kept in its metadata (read back by ``WORKER_KEYS``): the
    section of the single-worker form, the default as configured, the meaning, the key when it is
    not the field's name, the kind of value."""
    return {"section": section, "key": key, "default": default, "doc": doc, "kind": kind, "choices": choices}


# Read-only by convention (changed only through dataclasses.replace): `frozen=True` and the generated
# __repr__ would triple what creating this class costs every `inv` call, `inv --list` included.
@dataclass(repr=False)
class WorkerSettings:
    """One background worker service and the app it runs: a `workers:` entry, or `worker:` + `app:`.

    The values are resolved (derived defaults filled in, paths against the project root); the
    declaration of each field gives its key, its default as configured, and its meaning.
    """

    name: str = field(
        metadata=declared(
            "worker", "", "What you type: `inv worker.up <name>`, `inv dev.worker <name>`. Empty: the service."
        )
    )
    service: str = field(
        metadata=declared("worker", "", "The worker's compose service. Empty: the name; with neither, `worker`.")
    )
    profile: str = field(
        metadata=declared(
            "worker", "", "The compose profile the service is in (`--profile` for `down`...). Empty: none."
        )
    )
    image: str = field(
        metadata=declared(
            "worker",
            "",
            "The worker image's tag when Compose cannot tell (`docker compose config` failed). Empty: none.",
        )
    )
    consume_within: float | None = field(
        metadata=declared(
            "worker",
            "60s",
            "Without a healthcheck, a started worker is ready once its container consumes a queue (a "
            "BullMQ/Bull worker connection from the container's address in `CLIENT LIST` of the Redis its "
            "environment points at); one that runs this long without consuming fails `worker.up`, `stack.up` "
            "and the end of a dev session, with its last log lines. With a healthcheck, `worker.up` waits for "
            "healthy, and the end of a dev session for healthy or consuming, whichever comes first. `never`: "
            "the worker consumes no queue, ready is its container's readiness (healthy, else up 2 s).",
            kind=DURATION,
        )
    )
    app_dir: Path = field(
        metadata=declared("app", ".", "The app's folder: where its package manager commands run.", key="dir", kind=PATH)
    )
    app_install: str = field(
        metadata=declared(
            "app",
            "",
            "The app's install command. Empty: from the lock file found from `dir` up to the root "
            "(npm, pnpm, yarn classic or berry, with the workspace filter for a member).",
            key="install",
        )
    )
    app_build: str = field(
        metadata=declared("app", "", "The app's build command. Empty: from the lock file.", key="build")
    )
    app_dev: str = field(
        metadata=declared(
            "app",
            "",
            "The dev command `inv dev.worker` runs on the host. Empty: from the lock file (`<pm> run dev`), "
            "or the worker's own script when the package has one (`dev:<name>` or `<name>:dev` for the "
            "worker's or service's name, `dev:worker`, `worker:dev`).",
            key="dev",
        )
    )
    app_start_gate: bool = field(
        metadata=declared(
            "app",
            False,
            "Does the dev command honour WORKER_START_GATE and WORKER_READY_FILE? Then the dev worker "
            "starts while the background worker still serves the queue and takes over the moment it "
            "stopped; otherwise it starts after the stop.",
            key="start_gate",
            kind=BOOL,
        )
    )
    app_redis_relay: bool = field(
        metadata=declared(
            "app",
            True,
            "Without the start gate: may `inv dev.worker` give the dev worker its Redis through a relay that "
            "holds the connections until the background worker has stopped? Then the dev worker starts and "
            "connects while the background worker still serves; otherwise it starts after the stop. Used "
            "where the worker service's variables carry Redis's port (a URL, `host:port`, or X_HOST with "
            "X_PORT set).",
            key="redis_relay",
            kind=BOOL,
        )
    )
    dist_main: Path = field(
        metadata=declared("app", "", "The compiled entry point. Empty: `<dir>/dist/main.js`.", kind=PATH)
    )
    app_sources: Path = field(
        metadata=declared(
            "app", "", "The sources `dist_main` is built from. Empty: `<dir>/src`.", key="sources", kind=PATH
        )
    )
    build_mode: str = field(
        metadata=declared(
            "app",
            "",
            "`host`: built on the host (`build`), the image packs `dist/` (its freshness is checked); "
            "`image`: the Dockerfile builds the app (`--build` rebuilds the image); `none`: no build step "
            "(tsx, ts-node). Empty: `host` when `dist_main` is set, else `none`.",
            kind=CHOICE,
            choices=BUILD_MODES,
        )
    )
    dev_env: dict[str, str] = field(
        metadata=declared(
            "app",
            {},
            "Variables for the dev worker only (e.g. `NODE_ENV: development`): on top of the service's "
            "environment as Compose resolves it; your shell's variables still win. Values become strings.",
            kind=MAPPING,
        )
    )

    caps_from: str = field(
        metadata=declared(
            "prodlike",
            "",
            "Where production's caps for this worker are: `path#container` of a Compose file (`deploy.resources`), "
            "Kubernetes manifests (a rendered Helm chart too), an ECS task definition or a Cloud Foundry manifest, "
            "relative to the project root; `#container` picks the service, container, app or process type (default: "
            "the worker's service name, or the file's only one). `inv prodlike.*` plans with its CPU and memory "
            "limits unless a flag or PRODLIKE_CPUS / PRODLIKE_MEMORY say otherwise; `inv adopt` sets it when it "
            "finds one. Empty: none.",
        )
    )

    def __repr__(self) -> str:
        return f"WorkerSettings({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in fields(self))})"


#: The per-worker keys, in declaration order.
WORKER_KEYS: tuple[Key, ...] = tuple(
    Key(
        f.metadata["section"],
        f.metadata["key"] or f.name,
        f.metadata["default"],
        f.metadata["doc"],
        kind=f.metadata["kind"],
        attr=f.name,
        choices=f.metadata["choices"],
    )
    for f in fields(WorkerSettings)
)

#: Sections of invoke.yaml that are ours (their keys are checked); Invoke's own (run, tasks...) are not.
SECTIONS = ("compose", "worker", "dev", "app", "prodlike", "state")


def _defaults() -> dict[str, Any]:
    sections: dict[str, Any] = {name: {} for name in SECTIONS}
    for key in (*PROJECT_KEYS, *WORKER_KEYS):
        sections[key.section][key.name] = dict(key.default) if isinstance(key.default, dict) else key.default
    sections["workers"] = []  # several workers: entries with the per-worker keys (then worker:/app: are not read)
    return sections


#: Installed on the root collection (Invoke merges only the collections from the root to the task).
DEFAULTS: dict[str, Any] = _defaults()
