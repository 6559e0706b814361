"""A command run in a real pseudo-terminal, ended the ways a person ends it (POSIX only: `pty`).

`pty.fork()` makes the child a session leader with the terminal as its controlling terminal, so:
- writing Ctrl+C (``\\x03``) to the master is typed Ctrl+C: the tty driver sends SIGINT to the
  terminal's foreground process group, not to one pid;
- closing the master is a closed terminal window: the session leader gets SIGHUP;
- SIGTERM to the child's pid is an IDE's stop button or `kill`.
A reader thread drains the master so the child never blocks on a full terminal buffer. It never
blocks in `read()` and it is the one that closes the master: a close while another thread is blocked
reading the same descriptor only takes effect (the hang-up) when that read returns, i.e. at the
child's next output, which during a long job can be seconds after the "window was closed".
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from pathlib import Path


class TerminalSession:
    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path):
        import pty  # POSIX only; imported here so collecting the tests works everywhere

        self.log = log
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the command
            try:
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd: int | None = fd
        self.returncode: int | None = None
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        fd = self.fd
        assert fd is not None
        try:
            self._drain(fd)
        finally:
            self.fd = None
            os.close(fd)  # here, with no read in flight: the hang-up happens now

    def _drain(self, fd: int) -> None:
        while not self._closing.is_set():
            if not select.select([fd], [], [], 0.02)[0]:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: every process holding the terminal has ended
                return
            if not data:
                return
            with self._lock:
                self._chunks.append(data)
            with self.log.open("ab") as out:
                out.write(data)

    @property
    def output(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_output(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear (exit {self.returncode}):\n{self.output}")
            time.sleep(0.05)

    # -- the ways a person ends it ---------------------------------------------------------
    def ctrl_c(self) -> None:
        assert self.fd is not None
        os.write(self.fd, b"\x03")

    def close_terminal(self) -> None:
        """The window closed: the master is closed at once (by the reader, see the module's note)."""
        self._closing.set()
        self._reader.join()

    def sigterm(self) -> None:
        os.kill(self.pid, signal.SIGTERM)

    # -- the end ---------------------------------------------------------------------------
    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError(f"the command did not end in {timeout} s:\n{self.output}")
            time.sleep(0.05)
        self._reader.join(timeout=2)
        assert self.returncode is not None
        return self.returncode
