"""The dev command's terminal (tasks/drivers/child_output.py), with real pseudo-terminals: one pair stands
for the user's terminal (inv's stdout is its slave; closing its master is closing the window), the
other is the one ChildOutput opens for the dev command."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tasks.drivers.child_output import ChildOutput, mode_for

posix = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def test_the_mode_follows_where_inv_writes():
    read, write = os.pipe()
    try:
        assert mode_for(write, windows=False) == "inherit"  # CI, a pipe: as before
        assert mode_for(write, windows=True) == "inherit"
        assert mode_for(None) == "inherit"
    finally:
        os.close(read)
        os.close(write)


@posix
def test_a_terminal_gives_a_pty_on_posix_and_a_pipe_on_windows():
    master, slave = os.openpty()
    try:
        assert mode_for(slave, windows=False) == "pty"
        assert mode_for(slave, windows=True) == "pipe"
    finally:
        os.close(master)
        os.close(slave)


class UserTerminal:
    """The terminal inv runs in: its master is the window (read what is shown; close it)."""

    def __init__(self, rows: int = 40, cols: int = 100):
        import fcntl
        import struct
        import termios

        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = os.fdopen(self.slave, "wb", buffering=0, closefd=False)
        self.shown = b""

    def read(self, until: bytes, timeout: float = 10) -> bytes:
        import select

        deadline = time.monotonic() + timeout
        while until not in self.shown and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.shown += os.read(self.master, 4096)
                except OSError:
                    break
        return self.shown

    def close_window(self) -> None:
        os.close(self.master)

    def close(self) -> None:
        self.out.close()
        os.close(self.slave)


def run(code: str, terminal: UserTerminal) -> tuple[ChildOutput, subprocess.Popen[bytes]]:
    output = ChildOutput(out=terminal.out, inp=terminal.out)
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, **output.popen_kwargs())
    output.started(proc)
    return output, proc


@posix
def test_the_dev_command_sees_a_terminal_of_the_users_size_and_its_output_is_shown():
    terminal = UserTerminal(rows=40, cols=100)
    try:
        code = "import os, sys; print('tty', sys.stdout.isatty(), sys.stderr.isatty(), os.get_terminal_size())"
        output, proc = run(code, terminal)
        assert output.mode == "pty"
        assert proc.wait(10) == 0
        output.close()
        shown = terminal.read(b"columns=100, lines=40)")
        assert b"tty True True os.terminal_size(columns=100, lines=40)" in shown
        assert not output.terminal_gone and output.master is None  # closed once the command is gone
    finally:
        terminal.close()


@posix
def test_after_the_window_closes_the_dev_command_writes_on_and_nothing_fails():
    """What a closed window did to a dev command writing to it (EIO on every write: pnpm's crash, a
    console.error loop) cannot happen: its writes keep succeeding, inv discards them."""
    terminal = UserTerminal()
    try:
        code = (
            "import sys, time\n"
            "print('started', flush=True)\n"
            "time.sleep(0.5)\n"
            "for i in range(200):\n"
            "    print('line', i, flush=True)\n"
            "    print('err', i, file=sys.stderr, flush=True)\n"
            "    time.sleep(0.005)\n"
        )
        output, proc = run(code, terminal)
        terminal.read(b"started")
        terminal.close_window()  # the user's terminal is gone: inv's own writes fail from now on
        assert proc.wait(20) == 0  # no write of the dev command failed
        output.close()
        assert output.terminal_gone and output.discarded > 0
    finally:
        terminal.close()


@posix
def test_what_is_typed_reaches_the_dev_command_without_a_second_echo():
    """inv passes a typed line on to the master (only as the terminal's foreground job, which this test
    process is not: the line is written to the master as inv would)."""
    terminal = UserTerminal()
    try:
        code = "import sys; line = sys.stdin.readline(); print('got', repr(line), flush=True)"
        output, proc = run(code, terminal)
        assert output.master is not None
        os.write(output.master, b"rs\n")  # nodemon's `rs`, a whole line as inv's terminal gives it
        assert proc.wait(10) == 0
        output.close()
        shown = terminal.read(b"got 'rs\\n'")
        assert b"got 'rs\\n'" in shown
        assert shown.count(b"rs") == 1  # not echoed back by the dev command's terminal
    finally:
        terminal.close()


@posix
def test_without_a_pseudo_terminal_left_the_dev_command_inherits_as_before(monkeypatch):
    terminal = UserTerminal()
    try:

        def no_pty() -> tuple[int, int]:
            raise OSError(24, "out of pseudo-terminals")

        monkeypatch.setattr(os, "openpty", no_pty)
        output = ChildOutput(out=terminal.out, inp=terminal.out)
        assert output.mode == "pty"
        assert output.popen_kwargs() == {} and output.mode == "inherit"
        output.close()
    finally:
        terminal.close()
