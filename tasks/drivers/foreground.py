"""Running the developer's worker in the foreground with signals forwarded (the process part of dev.worker).

Invoke does nothing on SIGTERM and turns Ctrl+C into exit 254, so this module runs the child itself.
POSIX: the child gets its own session, so only this process receives terminal signals; each one is
forwarded to the child's whole process group (npm -> tsx -> node), which is never left orphaned by a
normal exit path.
The first stop signal is forwarded as it came, except a hang-up (a closed terminal), which is passed
on as SIGTERM: nodemon and `node --watch` take SIGHUP as "restart". When the address the dev worker
dials Redis at is known (``redis_targets``), it goes first to the dev command's queue consumers only
(the processes connected to Redis, every fork, once each), and to the group once they have exited
(`tasks/drivers/consumer_stop.py`): a wrapper's force-kill or early death never reaches a job.
A person's second Ctrl+C (or SIGTERM) escalates to SIGTERM, a third to SIGKILL, each said in one
line. A dev command still running when the stop grace period (plus a margin) has passed since the
first stop request is escalated the same way by itself, also in one line each: nobody may be there
to press again (a closed terminal, an IDE's stop button), and a watcher can hang on its own stop
(`tsx watch` whose worker already died). Windows: Ctrl+C and console close reach the child from the
console itself; this process only waits (a killed console is then recovered by the next command from
the handover record).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .process import descendants, kill_all

if TYPE_CHECKING:
    from ..drivers.child_output import ChildOutput
    from ..knowledge.consumer_procs import Target
    from .consumer_stop import ConsumerStop

IS_WINDOWS = os.name == "nt"
#: Past the grace period, how long before the dev command gets SIGTERM, and as long again before SIGKILL.
ESCALATE_MARGIN_S = 5.0
#: The same margin when the dev worker's queue connection is already gone (it holds no job).
GONE_MARGIN_S = 2.0
#: How often the wait for the dev command looks at the clock (for the escalation above).
WAIT_POLL_S = 0.2

#: How often the wait looks at the consumers while they finish (they are stopped first).
STOP_POLL_S = 0.05

#: What signal.signal returns: a handler, SIG_DFL/SIG_IGN, or None for one not installed from Python.
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def forwarded_signals(signals: Any = signal) -> list[int]:
    """Signals that end a dev session: SIGHUP (closed terminal) exists only on POSIX, SIGBREAK
    (Ctrl+Break, and what a closed console sends) only on Windows."""
    names = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"]
    return [getattr(signals, name) for name in names if hasattr(signals, name)]


FORWARDED = forwarded_signals()


def say(message: str) -> None:
    """Print, ignoring a terminal that is already gone (SIGHUP): the restore must go on regardless."""
    try:
        print(f"[dev.worker] {message}", flush=True)
    except (OSError, ValueError):
        pass


class ForegroundChild:
    """The dev worker process, with this process's ending signals forwarded to it."""

    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        stop_grace: float = 30.0,
        escalate_margin: float = ESCALATE_MARGIN_S,
    ):
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.output: ChildOutput | None = None  # its terminal (set by start)
        self.received: list[int] = []
        self._presses = 0  # stop requests by a person (repeats by a second route not counted)
        self._last_press = -1.0
        self._previous: dict[int, Handler] = {}
        #: After the first stop request, how long the dev command may take before it is escalated (the
        #: worker's own grace period, which a runner honours before it kills the worker, plus a margin).
        self.stop_grace = stop_grace
        self.escalate_margin = escalate_margin
        self._stop_requested_at: float | None = None
        self._escalated = 0  # steps taken by the deadline: 1 = SIGTERM sent, 2 = killed
        #: Set while the dev worker's queue connection is known to be gone (a crash under a watcher that
        #: lives on): it holds no job, so a stop needs no grace period.
        self.worker_gone = False
        #: Where the dev worker dials Redis (set by the session; None: the group gets every signal).
        self.redis_targets: list[Target] | None = None
        self.consumer_stop: ConsumerStop | None = None

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        from ..knowledge.exit_codes import REPEAT_MIN_INTERVAL_S, escalation

        repeat = bool(self.received) and self.received[-1] == signum
        self.received.append(signum)
        now = _now()
        if repeat and self._presses and now - self._last_press < REPEAT_MIN_INTERVAL_S:
            return  # the same request by a second route (npm or a shell relaying it)
        if self.proc is None or (IS_WINDOWS and self.proc.poll() is not None):
            return  # (on POSIX its group may outlive it: npm's orphaned node still gets the escalation)
        if not IS_WINDOWS and self.proc.poll() is not None and not _group_exists(self.proc.pid):
            return  # the dev command is gone: nothing to escalate (the restore is under way)
        self._presses += 1
        self._last_press = now
        if self._stop_requested_at is None:
            self._stop_requested_at = now
        step = escalation(signum, self._presses)
        if step.line:
            say(step.line)
        if IS_WINDOWS:
            if self._presses == 1 and self.redis_targets is not None:
                say(
                    "Windows: the console's stop reaches every process of the dev command at once "
                    "(its queue consumers cannot be stopped first)"
                )
            if self._presses >= 3:
                self.proc.kill()  # TerminateProcess; the console delivered the earlier ones itself
            return
        if step.send and self._presses == 1:
            self._first_stop(step.send)
        elif step.send:
            if self.consumer_stop is not None:
                self.consumer_stop.abandon()  # a person escalated: the group signals as before
            self._signal_group(step.send)

    def _first_stop(self, signum: int) -> None:
        """The first stop request: to the queue consumers first where they can be found (POSIX)."""
        if self.redis_targets is None or self.proc is None:
            self._signal_group(signum)
            return
        if self.consumer_stop is not None and self.consumer_stop.state != "idle":
            if not self.consumer_stop.waiting:  # (the consumers already had their one signal)
                self._signal_group(signum)
            return
        if self.consumer_stop is None:
            from .consumer_stop import ConsumerStop

            self.consumer_stop = ConsumerStop(
                self.proc.pid,
                self.redis_targets,
                grace=0.0 if self.worker_gone else self.stop_grace,
                say=say,
                signal_group=self._signal_group,
            )
        self.consumer_stop.begin(signum)

    @property
    def unfinished_consumers(self) -> list[int]:
        """Consumers still running when what wraps them had to be signalled (past the grace period)."""
        return list(self.consumer_stop.unfinished) if self.consumer_stop is not None else []

    def _advance_stop(self) -> None:
        if self.consumer_stop is not None and self.consumer_stop.waiting:
            self.consumer_stop.advance()

    def _signal_group(self, signum: int) -> None:
        """``signum`` to the dev command's whole process group (POSIX); for SIGKILL its descendants too."""
        assert self.proc is not None
        killing = signum == getattr(signal, "SIGKILL", None)
        # A runner's worker sits in a process group of its own: it is listed before the group dies
        # (an orphan re-parented to init could no longer be found), and killed after the group, so
        # the runner cannot forward its own first signal to it in between.
        family = descendants(self.proc.pid) if killing else []
        try:
            os.killpg(self.proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        if killing:
            kill_all(family)

    def install_handlers(self) -> None:
        for signum in FORWARDED:
            self._previous[signum] = signal.signal(signum, self._forward)
        if hasattr(signal, "SIGPIPE"):
            # Output piped to a reader that goes away must not kill us before the restore.
            self._previous[signal.SIGPIPE] = signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def exited(self) -> bool:
        """Has the dev command's main process ended (its group may live on a little longer)?"""
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> None:
        """Ask the dev command to stop, as a closed terminal does (SIGTERM to its group; Windows: terminate)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if self._stop_requested_at is None:
            self._stop_requested_at = _now()
        if IS_WINDOWS:
            self.proc.terminate()
            return
        self._first_stop(signal.SIGTERM)

    def _escalate_if_overdue(self) -> None:
        """Past the grace period since the first stop request: SIGTERM once, then SIGKILL after the margin."""
        if self.proc is None or self._stop_requested_at is None:
            return
        grace = 0.0 if self.worker_gone else self.stop_grace
        margin = min(self.escalate_margin, GONE_MARGIN_S) if self.worker_gone else self.escalate_margin
        overdue = _now() - self._stop_requested_at - grace
        if self._escalated == 0 and overdue >= margin and self._presses < 2:
            self._escalated = 1
            if self.consumer_stop is not None:
                self.consumer_stop.abandon()
            why = "its worker is gone, no job to finish" if self.worker_gone else f"grace period {grace:g} s"
            after = grace + margin
            say(f"the dev command is still running {after:g} s after the stop request ({why}): sending SIGTERM")
            if not IS_WINDOWS:  # no graceful signal to send there: the kill below follows after the margin
                self._signal_group(signal.SIGTERM)
        elif self._escalated < 2 and overdue >= 2 * margin and self._presses < 3:
            self._escalated = 2
            say("the dev command is still running: killing it (SIGKILL)")
            if IS_WINDOWS:
                self.proc.kill()
            else:
                self._signal_group(signal.SIGKILL)

    def prepare_output(self) -> int | None:
        """The dev command's terminal, opened before it starts: the pty's master (None: not a pty)."""
        from ..drivers.child_output import ChildOutput

        if self.output is None:
            self.output = ChildOutput()
        return self.output.open()

    def start(self) -> subprocess.Popen[bytes]:
        """Start the dev command in a session of its own (POSIX), its output through a terminal inv owns
        (`tasks/drivers/child_output.py`: a pty when inv's stdout is a terminal, a pipe on Windows)."""
        self.prepare_output()
        assert self.output is not None
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, start_new_session=not IS_WINDOWS, **self.output.popen_kwargs()
            )
        except BaseException:
            self.output.close(drain=0)
            raise
        self.output.started(self.proc)
        return self.proc

    def wait(self, group_grace: float = 60.0) -> int:
        """The dev command's exit code, once every process it started is gone.

        npm exits before the node worker under it has finished its active job (its `sh` dies first
        on SIGTERM), so on POSIX we also wait for the child's process group to empty: the background
        worker must not come back while the dev worker still holds a job. After ``group_grace``
        seconds the remaining processes are killed.
        """
        assert self.proc is not None
        while True:
            waiting = self.consumer_stop is not None and self.consumer_stop.waiting
            try:
                returncode = self.proc.wait(timeout=STOP_POLL_S if waiting else WAIT_POLL_S)
                break
            except subprocess.TimeoutExpired:
                self._advance_stop()
                self._escalate_if_overdue()
            except KeyboardInterrupt:  # only if a handler was not installed
                continue
        if not IS_WINDOWS:
            # Its main process may end before the consumers (a runner whose worker exited): they are
            # waited for first (the grace period still bounds it), then what is left of the group.
            if self.consumer_stop is not None:
                self.consumer_stop.leader_exited()
            while self.consumer_stop is not None and self.consumer_stop.waiting:
                self._advance_stop()
                if self.consumer_stop.waiting:
                    time.sleep(STOP_POLL_S)
            wait_group_gone(self.proc.pid, group_grace)
        if self.output is not None:  # its group is gone: nobody writes to its terminal any more
            self.output.close()
        return returncode


def _now() -> float:
    return time.monotonic()


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait until no live process is left in a process group; SIGKILL the rest after ``timeout``.

    A zombie still counts as a member for ``killpg(pgid, 0)`` until its parent reaps it. An orphan's
    parent is init, and some inits reap late (this CI machine's: about every 2 s), so waiting for an
    empty group would hold the background worker back for nothing: a zombie holds no job. Members
    are therefore checked for being alive, not just present.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return True
        if not live_members(pgid):
            return True
        time.sleep(0.02)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return False


def live_members(pgid: int) -> list[int]:
    """Pids of the group's members that are not zombies (POSIX)."""
    import psutil

    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members
