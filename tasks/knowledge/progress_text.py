"""One line per wait, for waits long enough to notice (pure: the caller passes the clock's readings).

Nothing is shown for a wait under ``SHOW_AFTER_S``. After that, on a terminal the line
``waiting for <what> ... 4s`` is rewritten in place every second (``\\r`` and erase-to-end-of-line);
elsewhere (a pipe, a log file, CI) it is printed once, and once more when the wait ends, so a log has
a start and an end but no line per second. ``ProgressLine`` returns the text to write; the driver
(`tasks/drivers/progress.py`) writes it to stderr.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def update(self, now: float, what: str | None = None) -> str:
        """Called as often as the caller likes; at most one new line per second or change of ``what``."""
        if self.finished:
            return ""
        changed = what is not None and what != self.what
        if what is not None:
            self.what = what
        elapsed = now - self.started
        if elapsed < self.threshold:
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
