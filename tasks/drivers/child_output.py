"""The dev command's terminal: a pseudo-terminal `inv` owns, so the dev command never writes to a dead one.

When the user's terminal closes, `inv` gets SIGHUP and its terminal is gone: every write to it fails
with EIO. A dev command that wrote there itself would see those errors (pnpm crashes on `write EIO`;
a worker whose `uncaughtException` handler logs with `console.error` loops on them). So on POSIX,
when `inv`'s own stdout is a terminal, the dev command's stdin, stdout and stderr are the slave of a
pseudo-terminal `inv` opens (colours and line buffering as in a terminal; the window size copied from
`inv`'s terminal, and again on SIGWINCH), and a thread copies the master to `inv`'s stdout. Once a
write there fails (the terminal is gone), the thread goes on reading and discards: the dev command
can write until it has stopped. The master stays open until the dev command's process group is gone
(`close`), since a closed master is a hang-up for whoever still holds the slave. The session's
guardian holds a copy of the master (opened before the dev command starts, `open`): if `inv` is
killed, the guardian reads and discards (`drain`) while it stops the dev command. What the user types
(a whole line: `inv`'s terminal stays in its normal mode) is passed on, e.g. nodemon's `rs`; the
slave does not echo it a second time.

When `inv`'s stdout is not a terminal (CI, a pipe, an IDE's console that is a pipe), the dev command
inherits it as before: there is no terminal to lose, and the app sees a pipe, as it would if it ran
there by itself (no colours forced on a log, no CRLF line ends in it).

Windows has no pseudo-terminals here: with a console, the dev command's stdout and stderr are a pipe
copied the same way (the app then sees a pipe: its colours are its own choice, as under any pipe); a
closed console still ends every process attached to it, and the next command recovers the session.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import threading
from typing import IO, Any

IS_WINDOWS = os.name == "nt"
#: How often the copy looks whether it was asked to finish (when the master has nothing to read).
POLL_S = 0.05
#: Once the dev command's group is gone, how long its last output may take to come through.
DRAIN_S = 2.0


def _fileno(stream: IO[Any] | None) -> int | None:
    try:
        return stream.fileno() if stream is not None else None
    except (OSError, ValueError, AttributeError):
        return None


class ChildOutput:
    """Where the dev command's output goes: ``popen_kwargs`` for its `Popen`, ``started`` once it runs,
    ``close`` once its process group is gone. ``mode`` is "pty", "pipe" or "inherit"."""

    def __init__(self, out: IO[Any] | None = None, inp: IO[Any] | None = None):
        import sys

        self.out_fd = _fileno(out if out is not None else sys.stdout)
        self.in_fd = _fileno(inp if inp is not None else sys.stdin)
        self.mode = mode_for(self.out_fd)
        self.terminal_gone = False  # a write to inv's stdout failed: output is discarded from then on
        self.discarded = 0  # bytes read after that (kept for a line in the log; never written)
        self.master: int | None = None
        self.slave: int | None = None
        self._finish = threading.Event()
        self._copier: threading.Thread | None = None
        self._previous: dict[int, Any] = {}

    # -- before the dev command starts --------------------------------------------------------
    def open(self) -> int | None:
        """Open the pseudo-terminal now (before the dev command starts): its master, or None when the
        output is not a pty. The session hands a copy of the master to its guardian, so that a kill -9
        of `inv` does not close it under the dev command (`tasks/drivers/handover/guardian.py`)."""
        if self.mode == "pty" and self.master is None:
            try:
                self.master, self.slave = os.openpty()
            except OSError:  # no pseudo-terminal left (a container without /dev/pts): as before
                self.mode = "inherit"
                return None
            _quiet_slave(self.slave)
            _copy_window_size(self.out_fd, self.master)
        return self.master

    def popen_kwargs(self) -> dict[str, Any]:
        if self.mode == "pty" and self.open() is not None:
            return {"stdin": self.slave, "stdout": self.slave, "stderr": self.slave}
        if self.mode == "pipe":
            return {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
        return {}

    # -- while it runs ----------------------------------------------------------------------
    def started(self, proc: subprocess.Popen[bytes]) -> None:
        """Start copying (and, in a pty, forwarding what the user types and window-size changes)."""
        if self.mode == "pty":
            assert self.master is not None and self.slave is not None
            os.close(self.slave)  # only the dev command holds it now: its end is the master's EIO
            self.slave = None
            self._copier = threading.Thread(target=self._copy, args=(self.master,), name="dev-output", daemon=True)
            self._copier.start()
            self._forward_input()
            self._follow_window_size()
        elif self.mode == "pipe" and proc.stdout is not None:
            self._copier = threading.Thread(
                target=self._copy, args=(proc.stdout.fileno(),), name="dev-output", daemon=True
            )
            self._copier.start()

    def _copy(self, source: int) -> None:
        _signals_to_the_main_thread()
        while True:
            if not IS_WINDOWS:  # a pipe on Windows cannot be polled: its read ends at EOF instead
                ready = select.select([source], [], [], POLL_S)[0]
                if not ready:
                    if self._finish.is_set():
                        return
                    continue
            try:
                data = os.read(source, 65536)
            except OSError as error:
                if error.errno == errno.EINTR:
                    continue
                return  # EIO: no process holds the slave any more
            if not data:
                return
            self._write(data)

    def _write(self, data: bytes) -> None:
        if self.terminal_gone or self.out_fd is None:
            self.discarded += len(data)
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.out_fd, view)
            except InterruptedError:
                continue
            except OSError:  # EIO after a hang-up (EPIPE for a pipe): nobody reads any more
                self.terminal_gone = True
                self.discarded += len(view)
                return
            view = view[written:]

    def _forward_input(self) -> None:
        """What the user types, to the dev command (a line at a time). Only when `inv` is the terminal's
        foreground job; SIGTTIN is ignored meanwhile, so a read after `bg` fails instead of stopping inv."""
        if self.in_fd is None or self.master is None or not os.isatty(self.in_fd):
            return
        try:
            if os.tcgetpgrp(self.in_fd) != os.getpgrp():
                return
        except OSError:
            return
        if hasattr(signal, "SIGTTIN"):
            self._previous[signal.SIGTTIN] = signal.signal(signal.SIGTTIN, signal.SIG_IGN)
        thread = threading.Thread(target=self._pass_input, args=(self.in_fd, self.master), daemon=True)
        thread.name = "dev-input"
        thread.start()

    def _pass_input(self, source: int, master: int) -> None:
        _signals_to_the_main_thread()
        while not self._finish.is_set():
            try:
                data = os.read(source, 4096)
            except OSError:
                return  # EIO: the terminal is gone (or inv went to the background)
            if not data or self._finish.is_set():
                return
            try:
                os.write(master, data)
            except OSError:
                return

    def _follow_window_size(self) -> None:
        if not hasattr(signal, "SIGWINCH") or threading.current_thread() is not threading.main_thread():
            return

        def resized(_signum: int, _frame: object) -> None:
            if self.master is not None:
                _copy_window_size(self.out_fd, self.master)

        self._previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, resized)

    # -- once its process group is gone ----------------------------------------------------------
    def close(self, drain: float = DRAIN_S) -> None:
        """The dev command's last output through, then the master closed (nobody holds the slave now)."""
        self._finish.set()
        if self._copier is not None:
            self._copier.join(drain)
        if self._copier is None or not self._copier.is_alive():
            for fd in (self.master, self.slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self.master = self.slave = None
        # (a copy still running after the drain: a process outside the group holds the slave; the
        # master then closes with inv, not under it)
        if threading.current_thread() is threading.main_thread():
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous.clear()


def mode_for(out_fd: int | None, *, windows: bool = IS_WINDOWS) -> str:
    """ "pty" when inv's stdout is a terminal (POSIX), "pipe" for a console (Windows), else "inherit"."""
    if out_fd is None:
        return "inherit"
    try:
        terminal = os.isatty(out_fd)
    except OSError:
        return "inherit"
    if not terminal:
        return "inherit"
    return "pipe" if windows else "pty"


def _signals_to_the_main_thread() -> None:
    """Block the stop signals in this helper thread, so the kernel delivers a Ctrl+C or a hang-up to
    the main thread, where Python runs the handler (one delivered to a thread blocked in `read` waits
    for the main thread to wake). Seen without it: the third Ctrl+C's SIGKILL lost its race with the
    runner re-raising SIGINT in 2 of 5 runs of the escalation test; with it, 5 of 5 passed."""
    if not hasattr(signal, "pthread_sigmask"):
        return
    names = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGWINCH", "SIGCHLD", "SIGTTIN", "SIGALRM")
    signal.pthread_sigmask(signal.SIG_BLOCK, {getattr(signal, name) for name in names if hasattr(signal, name)})


def _quiet_slave(slave: int) -> None:
    """No echo on the dev command's terminal: what the user types was echoed by inv's own already."""
    import termios

    try:
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    except termios.error:
        pass


def _copy_window_size(source: int | None, target: int) -> None:
    """The window size of inv's terminal onto the dev command's (TIOCSWINSZ on the master)."""
    import fcntl
    import termios

    if source is None:
        return
    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def drain(master: int) -> None:
    """Read and discard a dev command's terminal until nobody holds its slave (EIO) or it ends: what the
    guardian does with its copy of the master once `inv` is dead, so the dev command's writes neither
    fail (EIO on a closed master) nor block (a full pty buffer) while it finishes its jobs."""
    while True:
        try:
            data = os.read(master, 65536)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
