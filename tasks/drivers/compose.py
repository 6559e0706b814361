"""The one place that talks to Docker Compose: finding it, running it, reading its state."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from tasks.drivers import compose_binary, engine, process
from tasks.drivers.gateway import Gateway, default
from tasks.knowledge import compose_cli, envfile
from tasks.knowledge.command_line import split_command
from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.failures import Failure, UserError, classify, explain
from tasks.knowledge.settings import Settings


class Compose:
    """Compose for this project: resolved command, environment and files."""

    def __init__(self, settings: Settings, *, require_env: bool = True, gateway: Gateway | None = None):
        self.settings = settings
        #: The one door to Docker and Compose; drivers that hold this Compose use it for every command.
        self.gateway = gateway or default()
        if require_env:
            self.dotenv = envfile.load(settings.env_file, settings.env_example)
        elif settings.env_file.is_file():
            self.dotenv = envfile.read(settings.env_file)
        else:
            self.dotenv = envfile.EnvFile(settings.env_file)
        #: What Compose interpolates with: .env overlaid by the process environment.
        self.env = envfile.effective(self.dotenv)

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
        return list(self.settings.compose_files) or compose_cli.compose_files(self.env, "")

    def explicit_files(self) -> list[str]:
        """Files to pass with -f: only when configured, so COMPOSE_FILE keeps working otherwise."""
        return list(self.settings.compose_files)

    def worker_image(self) -> str:
        """The worker image tag, as docker-compose.yml names it (WORKER_IMAGE, else its default)."""
        return self.env.get("WORKER_IMAGE") or self.settings.worker_image

    @cached_property
    def project_name(self) -> str:
        """As Compose decides it: COMPOSE_PROJECT_NAME, the file's top-level `name`, the folder."""
        name = self.env.get("COMPOSE_PROJECT_NAME")
        if not name:
            import yaml  # only needed when no COMPOSE_PROJECT_NAME is set

            first = self.settings.root / self.files()[0]
            try:
                name = (yaml.safe_load(first.read_text(encoding="utf-8")) or {}).get("name")
            except (OSError, yaml.YAMLError):
                name = None
        return compose_cli.normalize_project_name(str(name or self.settings.root.name))

    # -- running ---------------------------------------------------------------------------
    def argv(self, *args: str, files: list[str] | None = None, profiles: list[str] | tuple[str, ...] = ()) -> list[str]:
        # Compose reads <project>/.env by itself; another configured env file must be named to it.
        default_env = self.settings.env_file == self.settings.root / ".env"
        global_args = [] if default_env else ["--env-file", str(self.settings.env_file)]
        return compose_cli.compose_argv(
            [*self.base, *global_args], args, files=self.explicit_files() if files is None else files, profiles=profiles
        )

    def run(
        self,
        *args: str,
        capture: bool = False,
        files: list[str] | None = None,
        profiles: list[str] | tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> process.Completed:
        """Run a Compose command in the project root; never raises for a non-zero exit."""
        env = process.environ_with(extra_env) if extra_env else None
        return self.gateway.run(
            self.argv(*args, files=files, profiles=profiles), cwd=self.settings.root, capture=capture, env=env
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
        return engine.query(self.gateway)[1]

    def has_service(self, service: str) -> bool:
        result = self.run("config", "--services", capture=True, profiles=["*"])
        return not result.ok or service in result.stdout.split()

    def containers(self, service: str | None = None) -> list[ContainerState]:
        """A service's containers, or the project's (stopped ones included), straight from Docker by
        the labels Compose puts on them: the answer of `compose ps -a`, for a fifth of its time."""
        _ = self.base  # the same checks as any Compose call (CLI there, Compose there and recent): cached
        result = self.gateway.run(
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
            ],
            capture=True,
        )
        if not result.ok:
            raise UserError(f"docker ps failed: {explain(classify(result.stderr), result.stderr)}")
        return compose_cli.parse_docker_ps(result.stdout)

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
