"""The guardian of a dev session: a small detached process that gives the queue back if `inv dev.worker` is killed.

`inv dev.worker` starts it once its handover record is written:

    python -m tasks.drivers.handover.guardian <state dir> <session pid> <session start time> [<terminal fd>]

It waits for the session's process to end. A session that ended normally has removed its record (or
a new session holds the lock): the guardian just exits. A session killed at any phase (kill -9, a
crashed IDE, a closed console on Windows) leaves its record with the lock free: the guardian then
runs the one recovery there is (`restore.recover_stale`: the record is the single source of
truth), which stops a leftover dev worker gracefully (its grace period), waits for the dead
session's `docker compose stop` of the background worker if it still runs (recorded in the record
before it ran; waited for, not ended: the engine's stop goes on without its client, and a worker
started before it ends would be stopped by it), and restores the background worker as the record
says. The worker counts as restored only when its container runs and a BullMQ worker of that
container is connected to Redis again (`tasks/knowledge/guardian_checks.py`); a worker whose Redis
cannot be read, or that shows no BullMQ connection within `CONFIRM_S`, is taken on its container's
readiness, said in the log. Anything short of that is
retried (a container stopped again is started again) up to the grace period and a margin.

`DEVSTACK_GUARDIAN=0` starts none: a killed session is then recovered by the next command, as after
a power loss (when the guardian dies too). It needs the session's settings; they are pickled beside
the record (`guardian-<session pid>.pickle`, removed when the guardian ends), written by the
session. Output goes to `guardian.log` in the state folder.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ...drivers.compose import Compose
    from ...drivers.queue_consumers import Redis

SETTINGS = "guardian-{pid}.pickle"  # per session: a new session's file is never another guardian's
LOG = "guardian.log"


def spawn(compose: Compose, directory: Path, terminal: int | None = None) -> subprocess.Popen[bytes] | None:
    """Start the guardian for this process's session; None when it cannot start (then the next
    command recovers, as before). ``terminal``: the master of the dev command's pseudo-terminal; the
    guardian holds a copy, so a kill -9 of `inv` does not close it under the dev command, and reads
    it once `inv` is dead (`child_output.drain`) while it stops the dev worker."""
    from ...drivers.handover.record import process_started
    from ...drivers.process import detached

    if os.environ.get("DEVSTACK_GUARDIAN") == "0":
        return None  # recovery is then left to the next command (as after a power loss)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        me = os.getpid()
        (directory / SETTINGS.format(pid=me)).write_bytes(pickle.dumps(compose.settings))
        started = repr(process_started(me))
        # This module by its own name: `tasks...` from a checkout, the installed package's name otherwise.
        argv = [sys.executable, "-m", __name__, str(directory), str(me), started]
        if terminal is not None:
            argv.append(str(terminal))
        root = Path(__file__).resolve().parents[3]  # a checkout's root, where `tasks` is importable
        log = open(directory / LOG, "ab")  # noqa: SIM115 - handed to the child
        with log:
            return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
                argv,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                close_fds=True,
                pass_fds=() if terminal is None else (terminal,),
                **detached(),
            )
    except (OSError, pickle.PicklingError):
        return None


def wait_for_death(pid: int, started: float | None) -> None:
    """Until that exact process (pid and start time) is gone, or a zombie its parent has not reaped
    yet (its files, and so its lock, are already closed); polls every 20 ms."""
    import psutil

    from ...drivers.handover.record import process_alive

    while process_alive(pid, started):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.02)


def guard(directory: Path, pid: int, started: float | None, terminal: int | None = None) -> int:
    try:
        return _guard(directory, pid, started, terminal)
    finally:
        (directory / SETTINGS.format(pid=pid)).unlink(missing_ok=True)


def _guard(directory: Path, pid: int, started: float | None, terminal: int | None = None) -> int:
    from ...drivers.compose import Compose
    from ...drivers.handover.record import read_record
    from ...drivers.handover.restore import recover_stale
    from ...knowledge.durations import parse_duration
    from ...knowledge.failures import UserError

    wait_for_death(pid, started)
    record = read_record(directory)
    if record is None or record.pid != pid:
        return 0  # ended normally (or another session's record): nothing to do
    if terminal is not None:  # the dev command writes on while it finishes its jobs: read and discard
        import threading

        from ...drivers.child_output import drain

        threading.Thread(target=drain, args=(terminal,), name="dev-terminal", daemon=True).start()
    settings = pickle.loads((directory / SETTINGS.format(pid=pid)).read_bytes())
    compose = Compose(settings, require_env=False)
    grace = parse_duration(compose.env.get("WORKER_STOP_GRACE_PERIOD"), 30.0)
    print(f"[guardian] dev.worker session pid {pid} ended without cleaning up: recovering", flush=True)
    redis = RedisLookup(compose)  # found while the stops finish, for the check that the worker consumes
    deadline = time.monotonic() + 2 * grace + 20  # a dev worker's grace, then the background stop's
    while True:
        try:
            recover_stale(compose, confirm=lambda: serving(compose, redis))  # a no-op once the record is gone
            print("[guardian] done", flush=True)
            return 0
        except UserError as error:
            # e.g. the container was stopped again, or its worker has not connected to Redis in time
            if time.monotonic() > deadline:
                print(f"[guardian] giving up: {error.reason} (the next inv command retries)", flush=True)
                return 1
            print(f"[guardian] not yet: {error.reason}; retrying", flush=True)
            time.sleep(0.2)


class RedisLookup:
    """The worker's Redis as the dev worker would dial it from this machine, looked up in a thread."""

    def __init__(self, compose: Compose):
        import threading

        self.compose = compose
        self.found: Redis | None = None
        self.why = ""
        self.thread = threading.Thread(target=self._find, name="guardian-redis", daemon=True)
        self.thread.start()

    def _find(self) -> None:
        from ...drivers import dev_preflight, queue_consumers
        from ...knowledge.failures import UserError

        s = self.compose.settings
        try:
            env = dev_preflight.environment(self.compose, scheduler=False)
        except UserError as error:
            self.why = error.reason
            return
        endpoints = [(e.host, e.port) for e in env.endpoints]
        self.found = queue_consumers.find(env.env, s.host_port_vars, s.url_vars, endpoints)
        if self.found is None:
            self.why = "no Redis answers at the addresses of its environment"

    def get(self) -> Redis | None:
        self.thread.join()
        return self.found


#: How long a started background worker may take to show its BullMQ connection in Redis; past it a
#: running container is taken on its readiness (said in the log).
CONFIRM_S = 15.0
CONFIRM_POLL_S = 0.05


def serving(compose: Compose, redis: RedisLookup, timeout: float = CONFIRM_S) -> str | None:
    """None once the restored container runs and consumes (or runs, where Redis cannot be read or shows
    no BullMQ worker of it within ``timeout``: said in the log); else why not (it is not running: the
    restore is then tried again)."""
    from ...drivers import engine, queue_consumers
    from ...knowledge.failures import UserError
    from ...knowledge.guardian_checks import served

    service = compose.settings.service
    found = redis.get()
    end = time.monotonic() + timeout
    while True:
        running, ips = False, set()
        try:
            mine = compose.containers(service)
            details = engine.inspect(compose.gateway, mine[0].name) if mine else {}
        except UserError:
            details = {}
        if details:
            running = (details.get("State") or {}).get("Status") == "running"
            networks = (details.get("NetworkSettings") or {}).get("Networks") or {}
            ips = {n.get("IPAddress") for n in networks.values() if n.get("IPAddress")}
        consumers = queue_consumers.snapshot(found)
        verdict = served(running, consumers, ips, waited=timeout if time.monotonic() > end else None)
        if verdict.restored:
            why = f" ({redis.why})" if consumers is None and redis.why else ""
            print(f"[guardian] {verdict.detail}{why}", flush=True)
            return None
        if not running:
            return verdict.detail  # stopped again: the restore is tried again
        time.sleep(CONFIRM_POLL_S)


class Stamped:
    """The log's lines, each with the time it was written (the log answers "when was it back")."""

    def __init__(self, out: TextIO):
        self.out, self.fresh = out, True

    def write(self, text: str) -> int:
        from datetime import datetime

        for part in text.splitlines(keepends=True):
            if self.fresh:
                self.out.write(datetime.now().strftime("%H:%M:%S.%f")[:-3] + " ")
            self.out.write(part)
            self.fresh = part.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def main(argv: list[str]) -> int:
    sys.stdout = Stamped(sys.stdout)
    directory, pid, started = Path(argv[0]), int(argv[1]), argv[2]
    terminal = int(argv[3]) if len(argv) > 3 else None
    return guard(directory, pid, None if started == "None" else float(started), terminal)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
