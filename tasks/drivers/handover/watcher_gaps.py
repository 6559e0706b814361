"""The queue while a watcher waits: given back to the background worker, taken again on reconnect.

Under nodemon or `tsx watch` a dev worker that crashes (or exits by itself) leaves its watcher
alive, waiting for a change: the dev session goes on, and without more the queue would be unserved
until the developer edits a file or presses Ctrl+C. Through the Redis relay it need not be: the
relay sees the dev worker's last connection end (``idle``), and Redis confirms no worker of this
machine consumes any more. Then the relay holds new connections again and the background worker is
started (with the services that stepped aside with it: `restore.give_back_all`); when the watcher
brings the dev worker back, its first connection waits at the relay, the background worker (and
those services) is stopped (it finishes its job) and the relay forwards: never two workers at once.

A restart on a change also ends the dev worker's connections for a moment; the queue is not handed
back for that: only once the dev command's process tree is smaller than while it consumed (the
worker process is gone, not replaced) for ``confirm`` seconds, or the relay has been idle for
``fallback`` seconds whatever the tree (a slow restart; nothing is lost either way, the relay holds
the new worker until the background worker has stopped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ...drivers.queue_consumers import ConsumerWatch
from ...drivers.redis_relay import RelayProcess
from ...knowledge.failures import UserError
from ...knowledge.naming import background
from ...knowledge.queue_owners import and_aside

#: The dev worker must have been gone this long (its process gone too) before the queue is handed back.
CONFIRM_S = 0.1
#: ... or its connections gone this long, whatever its processes.
FALLBACK_S = 5.0
POLL_S = 0.05


class Child(Protocol):
    """What this needs of the dev command (tasks.drivers.foreground.ForegroundChild)."""

    worker_gone: bool

    @property
    def pid(self) -> int | None: ...

    @property
    def received(self) -> list[int]: ...

    def exited(self) -> bool: ...


def process_count(pid: int | None) -> int:
    """The dev command and its live descendants (a zombie holds nothing)."""
    import psutil

    if pid is None:
        return 0
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    count = 0
    for process in family:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                count += 1
        except psutil.Error:
            continue
    return count


class WatcherGaps:
    """Runs beside `inv dev.worker`'s wait for the dev command (a thread); ``stop()`` before the
    session gives the background worker back, and read ``background_back`` then."""

    def __init__(
        self,
        relay: RelayProcess,
        consumers: ConsumerWatch,
        child: Child,
        *,
        give_back: Callable[[], str | None],
        take: Callable[[], None],
        say: Callable[[str], None],
        service: str,
        aside: Sequence[str] = (),
        confirm: float = CONFIRM_S,
        fallback: float = FALLBACK_S,
    ):
        self.relay, self.consumers, self.child = relay, consumers, child
        self.give_back, self.take, self.say, self.service = give_back, take, say, service
        #: Services that stepped aside with the background worker: given back and taken with it.
        self.aside = list(aside)
        self.confirm, self.fallback = confirm, fallback
        self.host_ip = consumers.own_ip()
        self.baseline = process_count(child.pid)  # the dev command's tree while its worker consumes
        #: The background worker has the queue again (the dev worker is gone, its watcher waits).
        self.background_back = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dev-worker-watcher-gaps", daemon=True)

    def start(self) -> WatcherGaps:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Let a step under way (a start or a stop of the background worker) finish, then end."""
        self.stopped.set()
        self.thread.join()

    def _ending(self) -> bool:
        return self.stopped.is_set() or bool(self.child.received) or self.child.exited()

    def _run(self) -> None:
        while not self._ending():
            if not self._worker_went_away():
                return
            self.child.worker_gone = True  # no connection, no job held: a stop needs no grace period
            self.relay.hold()  # from now on a new dev worker connection waits for the background worker's stop
            if self._ending():
                return
            who = f"{background(self.service)}{and_aside(self.aside)}"
            self.say(
                f"the dev worker has left the queue (its Redis connections ended; the dev command lives on): the "
                f"{who} {'take' if self.aside else 'takes'} it meanwhile and "
                f"{'hand' if self.aside else 'hands'} it back when the dev worker reconnects"
            )
            problem = self.give_back()
            self.background_back = problem is None
            self.say(f"{who} back" if problem is None else f"warning: {problem}")
            if not self._await_reconnect():
                return
            self.say("the dev worker reconnected (held at the relay)")
            try:
                self.take()
            except UserError as error:
                self.say(f"{error.reason}; the dev worker stays held at the relay: Ctrl+C ends the session")
                return
            self.background_back = False
            self.relay.open()
            self.child.worker_gone = False
            self.say("dev worker consuming again")

    def _worker_went_away(self) -> bool:
        """Wait until the dev worker is gone from the queue (True), or the session ends (False)."""
        idle_since: float | None = None
        while not self._ending():
            time.sleep(POLL_S)
            if not self.relay.idle.is_set():
                idle_since = None
                continue
            now = time.monotonic()
            idle_since = idle_since or now
            idle_for = now - idle_since
            shrunk = process_count(self.child.pid) < self.baseline
            if (idle_for >= self.confirm and shrunk) or idle_for >= self.fallback:
                # Redis has the last word: no worker of this machine consumes (one dialling around the
                # relay would still be there).
                if not self.host_ip or not self.consumers.new_from(self.host_ip):
                    return True
                idle_since = None
        return False

    def _await_reconnect(self) -> bool:
        while not self.relay.connected.wait(POLL_S):
            if self._ending():
                return False
        return not self.stopped.is_set()
