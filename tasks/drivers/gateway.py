"""The one door to Docker and Compose: every `docker` / `docker compose` command goes through a `Gateway`.

Drivers receive it (from the `Compose` they already hold: ``compose.gateway``, or as an argument), so
tests swap in a fake that records each argv and answers from a script (``tests/fakes.py``). The real
one runs the command with `tasks.drivers.process` (no shell). Host-app commands (npm, pnpm) do not
go through here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..drivers import process
from ..drivers.process import Completed, Started

__all__ = ["Completed", "Gateway", "Started", "default", "use"]


class Gateway:
    """Runs Docker and Compose command lines; never raises for a non-zero exit."""

    def run(
        self,
        argv: list[str],
        *,
        capture: bool = False,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        started: Callable[[int], None] | None = None,
    ) -> Completed:
        """Run ``argv``; with ``capture`` its output is returned instead of shown; ``started`` gets its
        pid as soon as it runs."""
        return process.run(argv, cwd=cwd, env=env, capture=capture, started=started)

    def start(self, argv: list[str]) -> Started:
        """Start ``argv`` now, captured, and return at once: `.result()` waits for its Completed. The
        command runs while the caller goes on (`worker.status` asks Docker two questions this way)."""
        return process.start(argv)

    def docker(self, *args: str, capture: bool = True) -> Completed:
        """`docker ARGS...`, captured unless told otherwise."""
        return self.run(["docker", *args], capture=capture)

    def which(self, program: str) -> str | None:
        """Where ``program`` is on PATH (None when absent)."""
        return shutil.which(program)

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        """A long-running command whose output is read while it runs (`docker stats`)."""
        return subprocess.Popen(process.resolve(argv), text=True, **kwargs)


class _Installed:
    gateway: Gateway | None = None


def default() -> Gateway:
    """The gateway a `Compose` gets when none is given: the real one, unless a test installed another."""
    if _Installed.gateway is None:
        _Installed.gateway = Gateway()
    return _Installed.gateway


@contextmanager
def use(gateway: Gateway) -> Iterator[Gateway]:
    """Make ``gateway`` the default for the duration (tests run the tasks with a fake this way)."""
    before = _Installed.gateway
    _Installed.gateway = gateway
    try:
        yield gateway
    finally:
        _Installed.gateway = before
