"""The one place that talks to Docker Compose: finding it, running it, reading its state."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from ..drivers import compose_binary, process
from ..drivers.gateway import Gateway, default
from ..knowledge import compose_cli, envfile
from ..knowledge.command_line import split_command
from ..knowledge.compose_cli import ContainerState
from ..knowledge.failures import Failure, UserError, classify, explain
from ..knowledge.settings import Settings


class Compose:
    """Compose for this project: resolved command, environment and files."""

    def __init__(self, settings: Settings, *, require_env: bool = True, gateway: Gateway | None = None):
        self.settings = settings
        #: The one door to Docker and Compose; drivers that hold this Compose use it for every command.
        self.gateway = gateway or default()
        root_env = settings.root / ".env"
        # `compose.env_file` left empty means "the .env Compose reads"; configured, it is passed with
        # --env-file (never silently another one).
        explicit_env = settings.env_file
        # COMPOSE_FILE may come from that .env: the one Compose reads before it knows the files.
        first_env = explicit_env or root_env
        root_values = envfile.read(first_env).values if _readable(first_env) else {}
        #: What Compose reads: files, project directory, .env (see compose_cli.resolve_project_files).
        self.project = compose_cli.resolve_project_files(
            settings.root, settings.compose_files, dict(os.environ), root_values, env_file=explicit_env
        )
        path = self.project.env_file
        example = self.env_example
        if _readable(path):
            self.dotenv = envfile.read(path)
            if require_env and self.dotenv.malformed:
                envfile.load(path, example)  # raises the one-line error
        elif require_env and example.is_file():
            self.dotenv = envfile.load(path, example)  # raises: .env missing, with how to create it
        else:
            # No .env and nothing documenting one: Compose needs none, neither do the tasks.
            self.dotenv = envfile.EnvFile(path)
        #: What Compose interpolates with: .env overlaid by the process environment.
        self.env = envfile.effective(self.dotenv)

    @property
    def env_path(self) -> Path:
        """The .env Compose reads (the project directory's, or `compose.env_file` when configured)."""
        return self.project.env_file

    @property
    def env_example(self) -> Path:
        """`compose.env_example` when configured (or the env file is), else the .env.example beside
        the .env Compose reads (the root's when there is none there)."""
        s = self.settings
        if s.env_example != s.root / ".env.example" or self.project.env_explicit:
            return s.env_example
        beside = self.project.env_file.parent / s.env_example.name
        return beside if beside.is_file() or not s.env_example.is_file() else s.env_example

    # -- finding Compose -------------------------------------------------------------------
    @cached_property
    def base(self) -> list[str]:
        """The Compose command: configured, else `docker compose`, else `docker-compose`."""
        candidates = (
            [split_command(self.settings.compose_command)]
            if self.settings.compose_command
            else [["docker", "compose"], ["docker-compose"]]
        )
        which = self.gateway.which
        if not self.settings.compose_command and not which("docker") and not which("docker-compose"):
            raise UserError("the Docker CLI (`docker`) was not found on PATH: install Docker Desktop or Docker Engine")
        found = compose_binary.find(candidates, self.cli_cache, self.gateway)
        if found is None:
            tried = " or ".join(f"`{' '.join(b)}`" for b in candidates)
            raise UserError(
                f"Docker Compose was not found ({tried} failed): install the Compose v2 plugin "
                f"(>= {compose_cli.format_version(compose_cli.MIN_VERSION)}) or set compose.command"
            )
        base, version = found
        if version < compose_cli.MIN_VERSION:
            raise UserError(
                f"Docker Compose {compose_cli.format_version(version)} is too old (`{' '.join(base)}`): "
                f"these tasks need {compose_cli.format_version(compose_cli.MIN_VERSION)} or newer"
            )
        self.version = version
        return base

    @property
    def worker_state_dir(self) -> Path:
        """`<state dir>/<project>/<worker>/`: the worker's own files (the handover record and lock, notes
        said once). A path only: nothing is created."""
        return self.settings.state_dir / self.project_name / (self.settings.worker_name or self.settings.service)

    @property
    def cli_cache(self) -> Path:
        return self.settings.state_dir / "compose-cli.json"

    # -- project facts ---------------------------------------------------------------------
    def files(self) -> list[str]:
        """Every compose file Compose reads, overrides included, in order (absolute paths): to pass
        with -f when adding a file, which drops Compose's own lookup and override."""
        return [str(path) for path in self.project.files]

    def explicit_files(self) -> list[str]:
        """Files to pass with -f: only when configured, so COMPOSE_FILE and the lookup keep working."""
        return self.files() if self.project.explicit else []

    def worker_image(self) -> str:
        """The worker image tag, as docker-compose.yml names it (WORKER_IMAGE, else its default)."""
        return self.env.get("WORKER_IMAGE") or self.settings.worker_image

    @cached_property
    def project_name(self) -> str:
        """The project name Compose resolved (`name` of `config --format json`, cached with it)."""
        from ..drivers import stack_facts  # imports this module

        return stack_facts.project_name(self)

    # -- running ---------------------------------------------------------------------------
    def argv(self, *args: str, files: list[str] | None = None, profiles: list[str] | tuple[str, ...] = ()) -> list[str]:
        chosen = self.explicit_files() if files is None else files
        # Compose reads the .env of the first -f file's folder, else its own choice: name the one in
        # use when it is configured, or when the files passed would make Compose read another.
        env = self.project.env_file
        other_dir = bool(chosen) and (self.settings.root / chosen[0]).parent != env.parent
        # A configured env file is always named, even when it is missing: Compose then refuses in one
        # line, rather than reading another .env (another project: a restore must never land there).
        named = self.project.env_explicit or (other_dir and _readable(env))
        global_args = ["--env-file", str(env)] if named else []
        return compose_cli.compose_argv([*self.base, *global_args], args, files=chosen, profiles=profiles)

    def run(
        self,
        *args: str,
        capture: bool = False,
        files: list[str] | None = None,
        profiles: list[str] | tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
        started: Callable[[int], None] | None = None,
    ) -> process.Completed:
        """Run a Compose command in the project root; never raises for a non-zero exit. ``started`` is
        told the command's pid as soon as it runs."""
        env = process.environ_with(extra_env) if extra_env else None
        return self.gateway.run(
            self.argv(*args, files=files, profiles=profiles),
            cwd=self.settings.root,
            capture=capture,
            env=env,
            started=started,
        )

    def check(
        self,
        *args: str,
        what: str,
        files: list[str] | None = None,
        profiles: list[str] | tuple[str, ...] = (),
        ok_codes: tuple[int, ...] = (0,),
        extra_env: dict[str, str] | None = None,
    ) -> process.Completed:
        """Run a streamed Compose command; on failure raise one line saying why and what to do."""
        result = self.run(*args, files=files, profiles=profiles, extra_env=extra_env)
        if result.returncode not in ok_codes:
            raise UserError(f"{what} failed: {self.diagnose(result)}")
        return result

    def capture(
        self, *args: str, what: str, files: list[str] | None = None, profiles: list[str] | tuple[str, ...] = ()
    ) -> process.Completed:
        result = self.run(*args, capture=True, files=files, profiles=profiles)
        if not result.ok:
            raise UserError(f"{what} failed: {self.diagnose(result)}")
        return result

    def diagnose(self, result: process.Completed) -> str:
        """Why a Compose command failed, in one line; asks the engine when the output says nothing."""
        compose_binary.forget(self.cli_cache)  # the next run checks the Compose binary afresh
        failure = classify(result.stderr)
        if failure is Failure.UNKNOWN:
            failure = self.engine_failure()
        if failure is Failure.UNKNOWN and not self.has_service(self.settings.service):
            return explain(Failure.UNKNOWN_SERVICE, f"no such service: {self.settings.service}")
        if failure is Failure.UNKNOWN:
            detail = explain(Failure.UNKNOWN, result.stderr) if result.stderr.strip() else ""
            return detail or f"exit code {result.returncode} (see Compose's output above)"
        return explain(failure, result.stderr, self.env.get("DOCKER_HOST"))

    def engine_failure(self) -> Failure:
        """DAEMON_DOWN or PERMISSION when the engine cannot be reached, else UNKNOWN."""
        from ..drivers import engine

        return engine.query(self.gateway)[1]

    def has_service(self, service: str) -> bool:
        result = self.run("config", "--services", capture=True, profiles=["*"])
        return not result.ok or service in result.stdout.split()

    def containers(self, service: str | None = None) -> list[ContainerState]:
        """A service's containers, or the project's (stopped ones included), straight from Docker by
        the labels Compose puts on them: the answer of `compose ps -a`, for a fifth of its time."""
        return self.ask_containers(service)()

    def ask_containers(self, service: str | None = None) -> Callable[[], list[ContainerState]]:
        """`containers()` asked now and answered later: `docker ps` runs while the caller goes on;
        calling the result waits for it (and raises as `containers()` does)."""
        _ = self.base  # the same checks as any Compose call (CLI there, Compose there and recent): cached
        started = self.gateway.start(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                f"label=com.docker.compose.project={self.project_name}",
                *(["--filter", f"label=com.docker.compose.service={service}"] if service else []),
                "--filter",
                "label=com.docker.compose.oneoff=False",
                "--format",
                "{{json .}}",
            ]
        )

        def answer() -> list[ContainerState]:
            result = started.result()
            if not result.ok:
                raise UserError(f"docker ps failed: {explain(classify(result.stderr), result.stderr)}")
            return compose_cli.parse_docker_ps(result.stdout)

        return answer

    def ps_running(self, service: str) -> bool:
        """Is a container of the service running? False also when Docker cannot be asked."""
        try:
            return any(ct.running for ct in self.ps(service))
        except UserError:
            return False

    def ps(self, service: str | None = None) -> list[ContainerState]:
        """All containers of the project (or one service), stopped ones included: one `ps` call."""
        args = ["ps", "-a", "--format", "json"] + ([service] if service else [])
        result = self.capture(*args, what="docker compose ps")
        return compose_cli.parse_ps(result.stdout)


def _readable(path: Path) -> bool:
    return path.is_file()
