"""Test doubles for the Docker/Compose gateway, in the spirit of Invoke's `MockContext`.

`FakeGateway` records every argv it is given and answers from rules: a regular expression searched
in the argv joined by spaces, an outcome (exit code, stdout, stderr) or an ``effect`` computing one,
and optionally how many times the rule applies. The newest matching rule wins, so a test states the
usual world first and then the one answer that differs (`gw.on(r" stop worker$", 1, stderr=...)`).
`script(pattern, *outcomes)` answers the next matching commands in order. Unmatched commands get
``fallback`` (success, empty output), or fail the test with ``strict=True``; all are recorded.

`FakeStack` is a small Compose project on top of it (postgres, redis and one worker container)
whose worker follows the commands: `stop` exits it, `start`/`docker start`/`up -d` run it again,
`rm` removes it, so a handover's whole sequence can be scripted and its argv asserted.

`test_config(tmp_path, ...)` is an Invoke config for the tasks (state, .env and app folder in
``tmp_path``); `context(...)` a `Context` over it.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invoke.config import Config
from invoke.context import Context

from tasks.drivers import gateway as gateway_module
from tasks.drivers.gateway import Gateway
from tasks.drivers.process import Completed, Started

DATA = Path(__file__).parent / "unit" / "data" / "compose"
DOCKER_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"

Outcome = tuple[int, str, str]
Effect = Callable[[list[str]], "Outcome | None"]


@dataclass
class Rule:
    pattern: re.Pattern[str]
    outcome: Outcome
    times: int | None = None  # None: for ever
    effect: Effect | None = None
    used: int = 0

    def applies(self, command: str) -> bool:
        return (self.times is None or self.used < self.times) and self.pattern.search(command) is not None


class FakeGateway(Gateway):
    """Records argv, answers from scripted rules; never runs anything."""

    def __init__(self, *, compose_version: str = "2.30.0", on_path: bool = True, strict: bool = False):
        #: What an unmatched command gets; with ``strict`` it fails the test instead.
        self.fallback: Outcome = (0, "", "")
        self.strict = strict
        self.calls: list[list[str]] = []
        self.envs: list[dict[str, str] | None] = []  # the environment each call was given (None: inherited)
        self.rules: list[Rule] = []
        self.on_path = on_path
        self.compose_version = compose_version
        self.on(r"^docker compose version --short$", stdout=f"{compose_version}\n")

    def on(
        self,
        pattern: str,
        returncode: int = 0,
        stdout: str = "",
        stderr: str = "",
        *,
        times: int | None = None,
        effect: Effect | None = None,
    ) -> FakeGateway:
        """Answer commands matching ``pattern``; ``effect(argv)`` runs first and may return the outcome."""
        self.rules.append(Rule(re.compile(pattern), (returncode, stdout, stderr), times, effect))
        return self

    def script(self, pattern: str, *outcomes: Outcome) -> FakeGateway:
        """The next matching commands get ``outcomes`` in this order, then the older rules answer again."""
        for code, out, err in reversed(outcomes):
            self.on(pattern, code, out, err, times=1)
        return self

    def run(
        self,
        argv: list[str],
        *,
        capture: bool = False,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        started: Callable[[int], None] | None = None,
    ) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        self.envs.append(env)
        command = " ".join(argv)
        for rule in reversed(self.rules):
            if rule.applies(command):
                rule.used += 1
                outcome = rule.effect(argv) if rule.effect else None
                code, out, err = outcome or rule.outcome
                return Completed(argv, code, out, err)
        if self.strict:
            raise AssertionError(f"unexpected command: {command}")
        return Completed(argv, *self.fallback)

    def start(self, argv: list[str]) -> Started:
        """Answered by `run` at once, as the real command starts at once; `result()` returns it."""
        done = self.run(argv, capture=True)
        return Started(lambda: done)

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if self.on_path else None

    def popen(self, argv: list[str], **kwargs: Any) -> Any:
        raise AssertionError(f"FakeGateway cannot stream {argv}")

    # -- asserting -------------------------------------------------------------------------
    def commands(self, pattern: str = "") -> list[str]:
        """The commands run so far (argv joined by spaces), those matching ``pattern`` if given."""
        found = [" ".join(argv) for argv in self.calls]
        return [c for c in found if re.search(pattern, c)] if pattern else found

    def ran(self, pattern: str) -> bool:
        return bool(self.commands(pattern))

    def in_order(self, *patterns: str) -> bool:
        """Each pattern matched by a command, in this order (other commands may come between)."""
        commands = iter(self.commands())
        return all(any(re.search(p, c) for c in commands) for p in patterns)


# -- a small stack whose worker follows the commands ---------------------------------------
@dataclass
class Container:
    service: str
    state: str = "running"  # running, exited, restarting
    health: str = "healthy"  # healthy, unhealthy, starting, "" (no healthcheck)
    labels: dict[str, str] = field(default_factory=dict)


class FakeStack:
    """postgres, redis and a worker of the compose project ``project`` (the committed `ours` config)."""

    def __init__(
        self, gw: FakeGateway, *, project: str = "devstack", worker: str = "running", others: tuple[str, ...] = ()
    ):
        self.gw = gw
        self.project = project
        self.containers: dict[str, Container] = {
            "postgres": Container("postgres"),
            "redis": Container("redis"),
        }
        if worker != "absent":
            self.containers["worker"] = Container("worker", state=worker)
        for other in others:  # more running services (e.g. a second consumer of the worker's queue)
            self.containers[other] = Container(other)
        self.config = (DATA / "ours.v5.6.1.json").read_text(encoding="utf-8")
        self._files_rules()
        gw.on(r"^docker ps -a --filter label=com\.docker\.compose\.project=", effect=self._docker_ps)
        gw.on(r"^docker compose .*ps -a --format json", effect=self._compose_ps)

        gw.on(r"^docker inspect \S+$", effect=self._inspect)
        gw.on(r"^docker start \S+$", effect=self._docker_start)
        gw.on(r"^docker compose .* stop (--timeout \d+ )?worker( \S+)*$", effect=self._stop)
        gw.on(r"^docker compose .* start worker$", effect=self._compose_start)
        gw.on(r"^docker compose .* up -d (--build )?worker$", effect=self._up)
        gw.on(r"^docker compose .* restart worker$", effect=self._set("worker", "running"))
        gw.on(r"^docker compose .* rm --force worker$", effect=self._remove("worker"))
        gw.on(r"^docker compose .* logs ", stdout="worker-1  | a log line\n")
        gw.on(r"^docker compose .* down ", effect=self._down)
        gw.on(r"^docker compose .* up -d --wait", effect=self._up_all)

    def _files_rules(self) -> None:
        self.gw.on(r"^docker compose .*config --format json$", stdout=self.config)
        self.gw.on(r"^docker compose .*config --services$", stdout="postgres\nredis\nworker\n")

    def engine_down(self) -> None:
        """The engine stops answering. `compose config` and `compose version` still work: they read
        files, not the engine (as with a real stopped dockerd)."""
        self.gw.on(r"^docker", 1, stderr=DOCKER_DOWN)
        self.gw.on(r"^docker compose version --short$", stdout=f"{self.gw.compose_version}\n")
        self._files_rules()

    def name(self, service: str) -> str:
        return f"{self.project}-{service}-1"

    @property
    def worker(self) -> Container | None:
        return self.containers.get("worker")

    def _status(self, ct: Container) -> str:
        if ct.state == "running":
            return "Up 5 minutes" + (f" ({ct.health})" if ct.health else "")
        if ct.state == "restarting":
            return "Restarting (1) 2 seconds ago"
        return "Exited (0) 3 seconds ago"

    def _labels(self, ct: Container) -> str:
        labels = {
            "com.docker.compose.project": self.project,
            "com.docker.compose.service": ct.service,
            "com.docker.compose.oneoff": "False",
            **ct.labels,
        }
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def _docker_ps(self, argv: list[str]) -> Outcome:
        prefix = "label=com.docker.compose.service="
        wanted = next((a.removeprefix(prefix) for a in argv if a.startswith(prefix)), None)
        rows = [
            json.dumps(
                {
                    "Names": self.name(ct.service),
                    "State": ct.state,
                    "Status": self._status(ct),
                    "Labels": self._labels(ct),
                    "Ports": self._ports_column(ct.service) if ct.state == "running" else "",
                }
            )
            for ct in self.containers.values()
            if wanted is None or ct.service == wanted
        ]
        return 0, "".join(f"{row}\n" for row in rows), ""

    def _ports_column(self, service: str) -> str:
        """`docker ps`'s Ports column for the same ports `compose ps` shows (`127.0.0.1:5432->5432/tcp`)."""
        return ", ".join(
            f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}" for p in self._publishers(service)
        )

    def _compose_ps(self, argv: list[str]) -> Outcome:
        wanted = argv[-1] if argv[-1] in self.containers or argv[-1] == "worker" else None
        rows = [
            json.dumps(
                {
                    "Name": self.name(ct.service),
                    "Service": ct.service,
                    "State": ct.state,
                    "Health": ct.health if ct.state == "running" else "",
                    "Status": self._status(ct),
                    "Publishers": self._publishers(ct.service),
                }
            )
            for ct in self.containers.values()
            if wanted is None or ct.service == wanted
        ]
        return 0, "".join(f"{row}\n" for row in rows), ""

    def _publishers(self, service: str) -> list[dict[str, Any]]:
        """What `compose ps` shows a running container publish: its configuration's fixed ports."""
        from tasks.knowledge.stack_config import parse_config

        found = parse_config(json.loads(self.config)).service(service)
        return [
            {
                "URL": p.host_ip or "0.0.0.0",
                "TargetPort": p.target,
                "PublishedPort": p.published,
                "Protocol": p.protocol,
            }
            for p in (found.ports if found else ())
            if p.published
        ]

    def _inspect(self, argv: list[str]) -> Outcome:
        for ct in self.containers.values():
            if self.name(ct.service) == argv[-1]:
                state: dict[str, Any] = {
                    "Status": ct.state,
                    "Running": ct.state == "running",
                    "Restarting": ct.state == "restarting",
                    "ExitCode": 0,
                }
                if ct.health:
                    state["Health"] = {"Status": ct.health}
                details = {"Name": f"/{argv[-1]}", "State": state, "RestartCount": 0, "Config": {"Labels": ct.labels}}
                return 0, json.dumps([details]), ""
        return 1, "", f"Error: No such object: {argv[-1]}"

    def _stop(self, argv: list[str]) -> Outcome | None:
        """`compose stop [--timeout N] worker [more services]`: each exits."""
        for service in argv[argv.index("stop") + 1 :]:
            if service in self.containers:
                self.containers[service].state = "exited"
        return None

    def _set(self, service: str, state: str) -> Effect:
        def effect(argv: list[str]) -> Outcome | None:
            if service in self.containers:
                self.containers[service].state = state
            return None

        return effect

    def _remove(self, service: str) -> Effect:
        def effect(argv: list[str]) -> Outcome | None:
            self.containers.pop(service, None)
            return None

        return effect

    def _docker_start(self, argv: list[str]) -> Outcome:
        for ct in self.containers.values():
            if self.name(ct.service) == argv[-1]:
                ct.state = "running"
                return 0, f"{argv[-1]}\n", ""
        return 1, "", f"Error response from daemon: No such container: {argv[-1]}"

    def _compose_start(self, argv: list[str]) -> Outcome:
        if self.worker is None:
            return 1, "", 'service "worker" has no container to start'
        self.worker.state = "running"
        return 0, "", ""

    def _up(self, argv: list[str]) -> Outcome:
        if self.worker is None:
            self.containers["worker"] = Container("worker")
        assert self.worker is not None
        self.worker.state = "running"
        return 0, "", ""

    def _up_all(self, argv: list[str]) -> Outcome:
        self._up(argv)
        for ct in self.containers.values():
            ct.state = "running"
        return 0, "", ""

    def _down(self, argv: list[str]) -> Outcome:
        self.containers.clear()
        return 0, "", ""


# -- configuration for the tasks -------------------------------------------------------------
def dev_command(code: str) -> str:
    """A real tiny Python child as the dev command (the interpreter running the tests)."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


#: A dev worker honouring the start gate: ready at once, then waits for the gate and ends.
GATED_CHILD = dev_command(
    "import os, pathlib, time\n"
    "pathlib.Path(os.environ['WORKER_READY_FILE']).write_text('ready')\n"
    "while not os.path.exists(os.environ['WORKER_START_GATE']): time.sleep(0.01)\n"
)
#: A dev worker that ends at once with code 0.
QUICK_CHILD = dev_command("pass")


def task_config(tmp_path: Path, *, dev: str = QUICK_CHILD, start_gate: bool = False, **sections: Any) -> Config:
    """An Invoke config for the tasks, everything they write kept in ``tmp_path``."""
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    env_file = tmp_path / ".env"
    if not env_file.exists():
        env_file.write_text("COMPOSE_PROJECT_NAME=devstack\n", encoding="utf-8")
    overrides: dict[str, Any] = {
        "compose": {"env_file": str(env_file), "env_example": str(tmp_path / ".env.example")},
        "state": {"dir": str(tmp_path / "state")},
        # The worker of the committed config (ours.v5.6.1.json): service `worker` behind profile `worker`.
        "worker": {"service": "worker", "profile": "worker"},
        # No address to check: the dev worker's environment needs no answering service here.
        "dev": {"host_port_vars": "", "url_vars": ""},
        "app": {
            "dir": str(app),
            "dev": dev,
            "build": "true",
            "install": "true",
            "start_gate": start_gate,
            "build_mode": "none",
        },
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return Config(overrides=overrides)


def context(tmp_path: Path, **kwargs: Any) -> Context:
    return Context(config=task_config(tmp_path, **kwargs))


@contextmanager
def installed(gw: FakeGateway) -> Iterator[FakeGateway]:
    """Every `Compose` built meanwhile (by the tasks themselves) uses ``gw``."""
    with gateway_module.use(gw):
        yield gw


def live_session(tmp_path: Path, gw: FakeGateway, *, worker_was_running: bool = True) -> Any:
    """A dev.worker session holding the lock (this process plays it): its SessionLock, to release."""
    from tasks.drivers import workers
    from tasks.drivers.compose import Compose
    from tasks.drivers.handover import SessionLock, new_record, state_dir, write_record

    directory = state_dir(Compose(workers.one(context(tmp_path), None), gateway=gw))
    write_record(directory, new_record(worker_was_running=worker_was_running))
    lock = SessionLock(directory)
    lock.acquire()
    return lock
