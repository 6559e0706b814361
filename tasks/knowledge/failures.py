"""Turning what Docker and Compose print on failure into one actionable line (pure logic).

The texts differ by client version and OS, so each kind is matched on several substrings.
"""

from __future__ import annotations

import re
from enum import Enum

from invoke.exceptions import Exit


class UserError(Exit):
    """A problem the user can fix: printed by Invoke as one line on stderr, exit code 1, no traceback."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(f"error: {message}", code)
        self.reason = message  # without the prefix, to quote inside another line


class Failure(Enum):
    DAEMON_DOWN = "daemon-down"
    PERMISSION = "permission"
    UNKNOWN_SERVICE = "unknown-service"
    NO_CONTAINER = "no-container"
    NO_COMPOSE_FILE = "no-compose-file"
    UNKNOWN = "unknown"


_DAEMON_DOWN = (
    "cannot connect to the docker daemon",
    "failed to connect to the docker api",
    "error during connect",
    "is the docker daemon running",
    "docker_engine: the system cannot find the file specified",
    "dockerdesktoplinuxengine",
)
_UNKNOWN_SERVICE = re.compile(r"no such service:\s*(\S+)", re.IGNORECASE)


def classify(text: str) -> Failure:
    """Which known failure a Docker/Compose error text describes."""
    lowered = text.lower()
    # Permission first: Docker's text for it also says "while trying to connect to the docker API".
    if "permission denied" in lowered and ("docker" in lowered or ".sock" in lowered):
        return Failure.PERMISSION
    if any(p in lowered for p in _DAEMON_DOWN):
        return Failure.DAEMON_DOWN
    if _UNKNOWN_SERVICE.search(text):
        return Failure.UNKNOWN_SERVICE
    if "has no container to start" in lowered:
        return Failure.NO_CONTAINER
    if "no configuration file provided" in lowered:
        return Failure.NO_COMPOSE_FILE
    return Failure.UNKNOWN


def unknown_service_name(text: str) -> str | None:
    match = _UNKNOWN_SERVICE.search(text)
    return match.group(1) if match else None


def explain(failure: Failure, detail: str = "", docker_host: str | None = None) -> str:
    """One line telling the user what is wrong and what to do."""
    where = f" at {docker_host}" if docker_host else ""
    if failure is Failure.DAEMON_DOWN:
        return (
            f"the Docker daemon is not reachable{where}: start Docker Desktop (or `dockerd`), "
            "or check DOCKER_HOST / DOCKER_CONTEXT"
        )
    if failure is Failure.PERMISSION:
        return (
            f"permission denied talking to the Docker daemon{where}: add your user to the "
            "`docker` group (then log in again) or use a rootless/Desktop context"
        )
    if failure is Failure.UNKNOWN_SERVICE:
        name = unknown_service_name(detail) or "?"
        return (
            f"the compose file has no service {name!r}: check `worker.service` in invoke.yaml "
            "or the compose files in use (COMPOSE_FILE)"
        )
    if failure is Failure.NO_COMPOSE_FILE:
        return "no compose file found: run from the project or check COMPOSE_FILE / compose.files"
    # Compose prints progress first and the error last.
    last = next((line.strip() for line in reversed(detail.splitlines()) if line.strip()), "")
    return last or "the command failed"
