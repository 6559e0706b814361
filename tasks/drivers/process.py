"""Running external commands as argument lists (no shell, so nothing a user types is interpreted).

Streamed commands inherit the terminal, so Compose keeps its progress display and colours; Ctrl+C
reaches the child directly (same process group) and we simply wait for it to finish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..knowledge.failures import UserError

if TYPE_CHECKING:
    import psutil

#: Exit status of a command ended by Ctrl+C (128 + SIGINT).
INTERRUPTED = 130


@dataclass
class Completed:
    argv: list[str]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def resolve(argv: list[str]) -> list[str]:
    """Find the program on PATH (``npm`` is ``npm.cmd`` on Windows); one clear error if absent."""
    program = shutil.which(argv[0])
    if program is None:
        raise UserError(f"`{argv[0]}` was not found on PATH: install it or fix PATH")
    return [program, *argv[1:]]


def run(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    capture: bool = False,
    started: Callable[[int], None] | None = None,
) -> Completed:
    """Run ``argv``; with ``capture`` its output is returned instead of shown. ``started`` is told the
    command's pid as soon as it runs (the handover records the pid of its `compose stop`).

    Never raises for a non-zero exit: callers decide what a failure means.
    """
    if capture and started is None:
        return start(argv, cwd=cwd, env=env).result()
    argv = resolve(argv)
    if capture and started is not None:
        return _run_outliving(argv, cwd, env, started)
    with subprocess.Popen(argv, cwd=cwd, env=env) as streamed:
        if started is not None:
            started(streamed.pid)
        while True:
            try:
                return Completed(argv, streamed.wait())
            except KeyboardInterrupt:
                # The child got the same SIGINT from the terminal; let it end on its own terms.
                continue


class Started:
    """A captured command started in the background; `result()` waits for it and returns its
    Completed (the same one on every call). Several run side by side with no thread."""

    def __init__(self, finish: Callable[[], Completed]):
        self._finish = finish
        self._done: Completed | None = None

    def result(self) -> Completed:
        if self._done is None:
            self._done = self._finish()
        return self._done


def start(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Started:
    """Start ``argv`` now, captured, and return at once (`run(argv, capture=True)` is this, waited for).
    Its own session on POSIX: a Ctrl+C meant for a foreground dev worker must not cut a restore short."""
    argv = resolve(argv)
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=os.name != "nt",
    )

    def finish() -> Completed:
        with proc:
            try:
                out, err = proc.communicate()
            except BaseException:  # as subprocess.run does: in a session of its own, no Ctrl+C reaches it
                proc.kill()
                raise
        return Completed(argv, proc.returncode, out, err)

    return Started(finish)


def _run_outliving(
    argv: list[str], cwd: Path | None, env: dict[str, str] | None, started: Callable[[int], None]
) -> Completed:
    """A captured command that must finish even if this process is killed meanwhile (the handover's
    `compose stop`: its guardian waits for it). Its output goes to temporary files, not pipes: on a
    pipe whose reader was killed, Compose dies of SIGPIPE at its next line while the engine's stop
    goes on, and nothing could tell when that stop is over."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=os.name != "nt"
        ) as proc:
            try:
                started(proc.pid)
                returncode = proc.wait()
            except BaseException:  # as subprocess.run does
                proc.kill()
                raise
        texts = []
        for file in (out, err):
            file.seek(0)
            texts.append(file.read().decode("utf-8", "replace"))
    return Completed(argv, returncode, texts[0], texts[1])


def detached() -> dict[str, object]:
    """`subprocess.Popen` arguments for a helper that must outlive the terminal and ignore its signals:
    a session of its own on POSIX; detached from the console on Windows, in a process group of its own
    (a Ctrl+C or a closed console then reaches it no more than a closed terminal does on POSIX)."""
    if os.name == "nt":
        return {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


def environ_with(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def running(proc: psutil.Process) -> bool:
    """Still running: neither gone nor a zombie (a zombie holds no job and no connection)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(procs: list[psutil.Process], timeout: float, poll: float = 0.02) -> list[psutil.Process]:
    """Wait until none of ``procs`` runs; those still running after ``timeout``.

    Unlike `psutil.wait_procs`, a zombie counts as gone: the exit of a process whose parent died is
    reaped by init, and some inits reap late (this CI machine's: about every 2 s), which would hold a
    restore back for nothing."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        alive = [proc for proc in procs if running(proc)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(poll)


def family(pid: int) -> list[psutil.Process]:
    """``pid`` and every process started under it (empty when it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def descendants(pid: int) -> list[psutil.Process]:
    """Every process started under ``pid`` (empty when it is gone)."""
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def kill_all(procs: list[psutil.Process]) -> None:
    """SIGKILL each process still alive (psutil checks a pid was not reused before it signals)."""
    import psutil

    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
