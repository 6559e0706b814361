"""Progress lines on stderr for waits over about two seconds, and the colour decision for a stream.

A polling loop ticks its wait itself::

    with progress.Wait("the worker container to become healthy") as wait:
        while not ready():
            wait.tick()
            time.sleep(0.1)

A single blocking call (a captured command, a connect) gets a thread that ticks for it::

    with progress.ticking("the dev worker's services to answer"):
        blocking_call()

What is written, and when, is decided by `tasks.knowledge.progress_text.ProgressLine` (pure, unit
tested with a fake clock); this module only reads the clock and writes to the stream.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from ..knowledge.colour import wants_colour
from ..knowledge.progress_text import SHOW_AFTER_S, ProgressLine, healthcheck_interval_s, readiness_what

if TYPE_CHECKING:
    from ..drivers.gateway import Gateway

#: How often the ticking thread looks at the clock.
TICK_S = 0.25


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def colour_for(stream: TextIO | None = None) -> bool:
    """Colour OK/WARN/FAIL on this stream (stdout by default)? See `tasks.knowledge.colour`."""
    return wants_colour(os.environ, is_terminal(sys.stdout if stream is None else stream))


class Wait:
    """One wait's line on ``stream`` (stderr by default), shown once the wait passes ``threshold``."""

    def __init__(
        self,
        what: str,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
        threshold: float = SHOW_AFTER_S,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        if tty is None:  # rewriting in place needs a terminal that understands \r and erase-line
            tty = is_terminal(self.stream) and os.environ.get("TERM") != "dumb"
        self.line = ProgressLine(what, clock(), tty, threshold)
        self._lock = threading.Lock()

    def tick(self, what: str | None = None) -> None:
        """Update the line (``what`` changes its text); cheap enough to call on every poll."""
        with self._lock:
            self._write(self.line.update(self.clock(), what))

    def finish(self, outcome: str = "done") -> None:
        """End the line with its outcome (``ready``, ``failed``, ...); nothing for a short wait."""
        with self._lock:
            self._write(self.line.finish(self.clock(), outcome))

    def _write(self, text: str) -> None:
        if not text:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal or pipe went away: progress is not worth a failure
            pass

    def __enter__(self) -> Wait:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.finish("done")
        elif issubclass(kind, KeyboardInterrupt):
            self.finish("interrupted")
        else:
            self.finish("failed")


class ReadinessWait(Wait):
    """The wait for a started container to be ready: ``update`` it with each `docker inspect` State.

    Says what readiness means for this container (healthy, or staying up without a healthcheck);
    the healthcheck interval is asked of Docker only once the line is shown (a short wait costs nothing).
    """

    def __init__(self, service: str, container: str, gateway: Gateway, **options: Any):
        super().__init__(f"the {service} container to become ready", **options)
        self.service, self.container, self.gateway = service, container, gateway
        self._interval: float | None = None
        self._asked = False

    def update(self, state: dict[str, Any], *, watched: str = "") -> None:
        """``watched``: how the container's queue consumer is watched (see `readiness_what`)."""
        if state.get("Health") and not self._asked and self.line.due(self.clock()):
            self._asked = True
            self._interval = self._healthcheck_interval()
        self.tick(readiness_what(self.service, state, self._interval, watched=watched))

    def _healthcheck_interval(self) -> float | None:
        from ..drivers import engine
        from ..knowledge.failures import UserError

        try:
            return healthcheck_interval_s(engine.inspect(self.gateway, self.container))
        except UserError:  # gone meanwhile: the wait itself will say so
            return None


@contextmanager
def ticking(
    what: str,
    *,
    done: str = "done",
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    tty: bool | None = None,
    threshold: float = SHOW_AFTER_S,
) -> Iterator[Wait]:
    """A `Wait` ticked by a background thread while the body blocks; finished with ``done`` on success."""
    wait = Wait(what, stream=stream, clock=clock, tty=tty, threshold=threshold)
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(TICK_S):
            wait.tick()

    thread = threading.Thread(target=run, name="progress", daemon=True)
    thread.start()
    try:
        yield wait
    except KeyboardInterrupt:
        stop.set()
        wait.finish("interrupted")
        raise
    except BaseException:
        stop.set()
        wait.finish("failed")
        raise
    finally:
        stop.set()
        thread.join()
    wait.finish(done)
