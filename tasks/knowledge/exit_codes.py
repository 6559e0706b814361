"""Exit codes of a dev session, and how a stop request escalates (pure)."""

from __future__ import annotations

import signal
from dataclasses import dataclass


def exit_code(returncode: int, received: list[int]) -> int:
    """The task's exit code: the dev worker's, with a user's Ctrl+C counted as a normal end.

    A closed terminal (SIGHUP) is passed to the dev command as SIGTERM (see ``first_stop``); whatever
    the dev command returns then (143 for that SIGTERM, 1 for concurrently, Node's abort or crash in
    exit()), the session ends as the hang-up it was: 129, as a shell shows it, for every dev command
    (its own code is in the `dev worker exited` line of the log).
    """
    if returncode < 0:  # POSIX: killed by a signal
        returncode = 128 - returncode
    first = received[0] if received else None
    if first == signal.SIGINT and returncode in (0, 128 + signal.SIGINT):
        return 0
    sighup = getattr(signal, "SIGHUP", None)
    if first is not None and first == sighup:
        return 128 + int(first)
    if first is not None and returncode == 0 and first != signal.SIGINT:
        return 128 + int(first)
    return returncode


def describe_exit(returncode: int) -> str:
    """How a shell would tell the dev command's end: `exited (code 130)`, `was killed by SIGKILL (code 137)`.

    Popen's raw return code is negative for a process ended by a signal (-2, -9); nobody reads those.
    """
    if returncode >= 0:
        return f"exited (code {returncode})"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    verb = "was killed by" if name == "SIGKILL" else "ended by"
    return f"{verb} {name} (code {128 + number})"


def signal_name(signum: int) -> str:
    if signum == signal.SIGINT:
        return "Ctrl+C"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


#: The same stop signal again sooner than this is the same request arriving by a second route (npm or
#: a shell relaying what the terminal already sent), not a person pressing again.
REPEAT_MIN_INTERVAL_S = 0.1


@dataclass(frozen=True)
class StopStep:
    send: int  # the signal for the dev command's process group (0: nothing)
    line: str  # what to say ("" for the first, ordinary stop)


def first_stop(signum: int) -> int:
    """What the dev command gets for the first stop signal.

    A closed terminal (SIGHUP) means "stop" to a person, but "restart" to nodemon and `node --watch`
    (nodemon then starts the worker again and a job taken meanwhile is cut by the final SIGKILL).
    SIGTERM means stop to every watcher and runner, so a hang-up is always passed on as SIGTERM.
    Ctrl+C stays SIGINT (watchers empty their group fastest on it); SIGTERM stays SIGTERM.
    """
    sighup = getattr(signal, "SIGHUP", None)
    return int(signal.SIGTERM) if sighup is not None and signum == sighup else signum


def escalation(signum: int, presses: int) -> StopStep:
    """The step for the ``presses``-th stop request by a person (1 = the first).

    The second escalates to SIGTERM, the third and later to SIGKILL, each said in one line. A hang-up
    never escalates: nobody pressed anything, the grace period applies.
    """
    if presses <= 1:
        return StopStep(first_stop(signum), "")
    if signum == getattr(signal, "SIGHUP", None):
        return StopStep(0, "")
    what = signal_name(signum)
    if presses == 2:
        return StopStep(
            int(signal.SIGTERM),
            f"{what} again: sending SIGTERM to the dev command; once more kills it "
            "(a job it holds is then retried after BullMQ's stalled-job check)",
        )
    return StopStep(
        int(getattr(signal, "SIGKILL", signal.SIGTERM)),
        f"{what} a third time: killing the dev command (SIGKILL)",
    )
