"""One line per wait, for waits long enough to notice (pure: the caller passes the clock's readings).

Nothing is shown for a wait under ``SHOW_AFTER_S``. After that, on a terminal the line
``waiting for <what> ... 4s`` is rewritten in place every second (``\\r`` and erase-to-end-of-line);
elsewhere (a pipe, a log file, CI) it is printed once, and once more when the wait ends, so a log has
a start and an end but no line per second. ``ProgressLine`` returns the text to write; the driver
(`tasks/drivers/progress.py`) writes it to stderr.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Waits shorter than this print nothing.
SHOW_AFTER_S = 2.0
#: Erase from the cursor to the end of the line (a shorter line over a longer one).
ERASE_LINE = "\x1b[K"


def elapsed_text(seconds: float) -> str:
    """``4s``, ``59s``, ``1m05s``, ``12m00s`` (whole seconds, rounded down)."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}s"


def waiting_line(what: str, seconds: float) -> str:
    return f"waiting for {what} ... {elapsed_text(seconds)}"


def final_line(what: str, seconds: float, outcome: str) -> str:
    """``waiting for the worker to become healthy ... ready after 12s``."""
    return f"waiting for {what} ... {outcome} after {elapsed_text(seconds)}"


#: Docker's healthcheck interval when the image and compose file set none.
DEFAULT_HEALTHCHECK_INTERVAL_S = 30.0


def healthcheck_interval_s(details: dict[str, Any]) -> float | None:
    """The healthcheck interval of a container from `docker inspect` (None: it has no healthcheck)."""
    check = (details.get("Config") or {}).get("Healthcheck") or {}
    test = check.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    nanoseconds = check.get("Interval") or 0
    return (
        nanoseconds / 1e9
        if isinstance(nanoseconds, (int, float)) and nanoseconds > 0
        else DEFAULT_HEALTHCHECK_INTERVAL_S
    )


def readiness_what(service: str, state: dict[str, Any], interval_s: float | None = None, *, watched: str = "") -> str:
    """What a readiness wait waits for, from the container's `docker inspect` State. ``watched``: how
    its consumer is watched ("" not watched, "required" without a healthcheck, "either" when a
    consumer or healthy ends the wait)."""
    if state.get("Health"):
        every = f" (healthcheck every {elapsed_text(interval_s)})" if interval_s else ""
        if watched == "either":
            return f"the {service} container to consume its queue or become healthy{every}"
        return f"the {service} container to become healthy{every}"
    if state.get("Status") == "running":
        if watched:
            return f"the {service} container to consume its queue (it has no healthcheck)"
        return f"the {service} container to stay up (it has no healthcheck)"
    return f"the {service} container to start"


@dataclass
class ProgressLine:
    """The state of one wait's line. ``update``/``finish`` return what to write ("" for nothing)."""

    what: str
    started: float
    tty: bool
    threshold: float = SHOW_AFTER_S
    shown: bool = False
    finished: bool = False
    _last: str = ""

    def due(self, now: float) -> bool:
        """Has the wait lasted long enough to be shown?"""
        return now - self.started >= self.threshold

    def update(self, now: float, what: str | None = None) -> str:
        """Called as often as the caller likes; at most one new line per second or change of ``what``."""
        if self.finished:
            return ""
        changed = what is not None and what != self.what
        if what is not None:
            self.what = what
        elapsed = now - self.started
        if not self.due(now):
            return ""
        line = waiting_line(self.what, elapsed)
        if self.tty:
            if line == self._last:
                return ""
            self.shown, self._last = True, line
            return f"\r{line}{ERASE_LINE}"
        if self.shown and not changed:
            return ""
        self.shown, self._last = True, line
        return f"{line}\n"

    def finish(self, now: float, outcome: str = "done") -> str:
        """The closing line, only when the wait was shown (a short wait stays silent)."""
        if self.finished:
            return ""
        self.finished = True
        if not self.shown:
            return ""
        line = final_line(self.what, now - self.started, outcome)
        return f"\r{line}{ERASE_LINE}\n" if self.tty else f"{line}\n"
