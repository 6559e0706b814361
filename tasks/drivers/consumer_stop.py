"""Stopping a dev command by its queue consumers first (POSIX), for `inv dev.worker`'s foreground child.

On the first stop request the processes of the dev command that hold a connection to the queue's
Redis (`tasks/knowledge/consumer_procs.py`) get the stop signal, each exactly once, every fork
included; what wraps them (npm, pnpm, `sh -c`, `tsx watch`, nodemon, concurrently, a cluster primary
holding no connection) gets nothing yet, so no watcher's force-kill, restart or early death reaches a
process holding a job. The foreground child calls ``advance()`` while it waits: consumers that appear
meanwhile (a primary forking again) are signalled too, once each; once every consumer has exited, or
the grace period has passed, the dev command's process group gets the signal, as it did before this
existed. Where no consumer can be found (none connected yet, connections unreadable) that is said in
one line and the group gets the signal at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from ..knowledge.consumer_procs import StopPlan, Target, describe, targets_text
from ..knowledge.exit_codes import signal_name
from . import consumer_procs

#: While consumers finish: how often the ones signalled are looked at (cheap), and how often the whole
#: tree is read again for new ones (a process table and every process's connections).
STOP_POLL_S = 0.05
SCAN_INTERVAL_S = 0.5
#: Once its consumers have exited, what wraps them (a runner whose worker ended) ends by itself within
#: milliseconds: it gets the signal only if still running this long after (else it would be stopped a
#: second time, and say so, while it was ending).
WRAPPER_EXIT_S = 0.5


class ConsumerStop:
    def __init__(
        self,
        root: int,
        targets: Sequence[Target],
        *,
        grace: float,
        say: Callable[[str], None],
        signal_group: Callable[[int], None],
        find: Callable[[int, Sequence[Target]], StopPlan | None] | None = None,
        kill: Callable[[int, int], None] | None = None,
        alive: Callable[[int, float | None], bool] | None = None,
        created: Callable[[int], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.root = root
        self.targets = list(targets)
        self.grace = grace
        self.say = say
        self.signal_group = signal_group
        self.find = find or consumer_procs.find
        self.kill = kill or os.kill
        self.alive = alive or consumer_procs.alive
        self.created = created or consumer_procs.created
        self.clock = clock
        self.signum = 0
        self.state = "idle"  # "waiting" (consumers signalled), "done" (the group has had the signal)
        self.signalled: dict[int, float | None] = {}  # pid -> its start time
        self.names: dict[int, str] = {}
        self.started = 0.0
        self._next_scan = 0.0
        #: Consumers still running when the group had to be signalled (the grace period ran out).
        self.unfinished: list[int] = []
        #: When the last consumer was seen gone (None: not yet).
        self._gone_at: float | None = None

    @property
    def waiting(self) -> bool:
        return self.state == "waiting"

    def begin(self, signum: int) -> None:
        """The first stop request: ``signum`` to each consumer, or to the group where none is found."""
        if self.state != "idle":
            return
        self.signum = signum
        self.started = self.clock()
        found = self.find(self.root, self.targets) if self.targets else None
        if found is None or not found.consumers:
            if not self.targets:
                why = "the address it dials Redis at is not known"
            elif found is None:
                why = "its processes' connections cannot be read"
            else:
                why = f"none of its processes is connected to Redis at {targets_text(self.targets)}"
            self.say(f"no queue consumer found in the dev command ({why}): sending {signal_name(signum)} to all of it")
            self.state = "done"
            self.signal_group(signum)
            return
        self.names.update(found.names)
        self._signal(found.consumers)
        wraps = ""
        if found.wrappers:
            verb, ends = ("wraps", "it ends") if len(found.wrappers) == 1 else ("wrap", "they end")
            wraps = f"; then {describe(found.wrappers, found.names)}, which {verb} them, unless {ends} with them"
        self.say(
            f"stopping the dev worker's queue consumers first ({describe(found.consumers, found.names)}: "
            f"{signal_name(signum)}, {'once each' if len(found.consumers) > 1 else 'once'}){wraps}"
        )
        self.state = "waiting"

    def _signal(self, pids: Sequence[int]) -> None:
        for pid in pids:
            if pid in self.signalled:
                continue
            self.signalled[pid] = self.created(pid)
            try:
                self.kill(pid, self.signum)
            except (ProcessLookupError, PermissionError):
                pass

    def advance(self) -> None:
        """While waiting: signal new consumers; when all have exited (or the grace is over), the group."""
        if self.state != "waiting":
            return
        now = self.clock()
        if now < self._next_scan and now - self.started < self.grace and self._running():
            return  # (a new consumer is looked for every SCAN_INTERVAL_S, and once more before the end)
        self._next_scan = now + SCAN_INTERVAL_S
        found = self.find(self.root, self.targets)
        new = [pid for pid in (found.consumers if found else []) if pid not in self.signalled]
        if found is not None:
            self.names.update(found.names)
        if new:
            what = describe(new, self.names)
            self.say(f"a new queue consumer appeared ({what}): {signal_name(self.signum)} to it too")
            self._signal(new)
        running = self._running()
        if not running:
            if self._gone_at is None:
                self._gone_at = now
            if now - self._gone_at >= WRAPPER_EXIT_S:
                self.finish()  # what wraps them did not end with them
        elif now - self.started >= self.grace:
            self.unfinished = running
            self.say(
                f"the dev worker's queue consumers ({describe(running, self.names)}) are still running "
                f"{self.grace:g} s after the stop request: sending {signal_name(self.signum)} to the whole dev command"
            )
            self.finish()

    def _running(self) -> list[int]:
        return [pid for pid, started in self.signalled.items() if self.alive(pid, started)]

    def leader_exited(self) -> None:
        """The dev command's main process has ended: once its consumers have too, nothing is left to
        signal but stragglers, which the wait for its process group handles."""
        if self.state == "waiting" and not self._running():
            self.state = "done"

    def finish(self) -> None:
        """The signal to the group (what wraps the consumers), once."""
        if self.state != "waiting":
            return
        self.state = "done"
        self.signal_group(self.signum)

    def abandon(self) -> None:
        """A person escalated (a second Ctrl+C): the group signals as before take over."""
        self.state = "done"
