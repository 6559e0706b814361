"""Exit codes of a dev session (pure)."""

from __future__ import annotations

import signal


def exit_code(returncode: int, received: list[int]) -> int:
    """The task's exit code: the dev worker's, with a user's Ctrl+C counted as a normal end."""
    if returncode < 0:  # POSIX: killed by a signal
        returncode = 128 - returncode
    if received and received[0] == signal.SIGINT and returncode in (0, 128 + signal.SIGINT):
        return 0
    if received and returncode == 0 and received[0] != signal.SIGINT:
        return 128 + int(received[0])
    return returncode
