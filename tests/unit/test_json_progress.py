"""Progress lines for long waits, with a fake clock and stream (nothing sleeps, nothing is timed)."""

from __future__ import annotations

import io
import threading

import pytest

from tasks.drivers import engine, progress
from tasks.drivers.gateway import Gateway
from tasks.knowledge.progress_text import (
    ERASE_LINE,
    ProgressLine,
    elapsed_text,
    healthcheck_interval_s,
    readiness_what,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_elapsed_text():
    assert [elapsed_text(s) for s in (0, 1.9, 4, 59.99, 60, 65, 720)] == [
        "0s",
        "1s",
        "4s",
        "59s",
        "1m00s",
        "1m05s",
        "12m00s",
    ]


def test_short_waits_print_nothing():
    for tty in (True, False):
        line = ProgressLine("the worker", started=0.0, tty=tty)
        assert line.update(1.99) == "" and line.finish(1.99, "ready") == ""


def test_terminal_line_is_rewritten_in_place_once_per_second():
    line = ProgressLine("the worker container to become healthy", started=0.0, tty=True)
    assert line.update(1.0) == ""
    assert line.update(2.0) == f"\rwaiting for the worker container to become healthy ... 2s{ERASE_LINE}"
    assert line.update(2.5) == ""  # same second: nothing rewritten
    assert line.update(3.1) == f"\rwaiting for the worker container to become healthy ... 3s{ERASE_LINE}"
    assert line.update(3.2, what="the worker to start").startswith("\rwaiting for the worker to start ... 3s")
    assert line.finish(4.0, "ready") == f"\rwaiting for the worker to start ... ready after 4s{ERASE_LINE}\n"
    assert line.update(5.0) == "" and line.finish(5.0) == ""


def test_piped_line_is_printed_once_and_once_more_at_the_end():
    line = ProgressLine("the worker", started=0.0, tty=False)
    assert line.update(2.0) == "waiting for the worker ... 2s\n"
    assert [line.update(t) for t in (3.0, 4.0, 10.0)] == ["", "", ""]
    assert line.update(11.0, what="the worker") == ""  # unchanged text: still nothing
    assert line.update(12.0, what="the worker to stay up") == "waiting for the worker to stay up ... 12s\n"
    assert line.finish(75.0, "failed") == "waiting for the worker to stay up ... failed after 1m15s\n"


def test_wait_writes_through_the_stream_with_a_fake_clock():
    clock, stream = Clock(), io.StringIO()
    with progress.Wait("redis", stream=stream, clock=clock, tty=False) as wait:
        wait.tick()
        clock.now += 2.5
        wait.tick()
        wait.tick()
        clock.now += 1
    assert stream.getvalue() == "waiting for redis ... 2s\nwaiting for redis ... done after 3s\n"


def test_wait_ends_with_failed_or_interrupted():
    for error, outcome in ((RuntimeError, "failed"), (KeyboardInterrupt, "interrupted")):
        clock, stream = Clock(), io.StringIO()
        with pytest.raises(error), progress.Wait("x", stream=stream, clock=clock, tty=True) as wait:
            clock.now += 3
            wait.tick()
            raise error()
        assert stream.getvalue().endswith(f"waiting for x ... {outcome} after 3s{ERASE_LINE}\n")


def test_wait_survives_a_closed_stream():
    stream = io.StringIO()
    stream.close()
    clock = Clock()
    wait = progress.Wait("x", stream=stream, clock=clock, tty=False)
    clock.now += 5
    wait.tick()
    wait.finish()


def test_ticking_updates_from_a_thread_while_the_body_blocks():
    clock, written = Clock(), threading.Event()

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            count = super().write(text)
            written.set()
            return count

    stream = Stream()
    with progress.ticking("the addresses to answer", stream=stream, clock=clock, tty=False):
        clock.now += 3
        assert written.wait(timeout=30), "the ticking thread never wrote"
    assert stream.getvalue() == (
        "waiting for the addresses to answer ... 3s\nwaiting for the addresses to answer ... done after 3s\n"
    )


def test_ticking_marks_a_failed_body():
    clock, stream = Clock(), io.StringIO()
    with pytest.raises(ValueError), progress.ticking("x", stream=stream, clock=clock, tty=False) as wait:
        clock.now += 3
        wait.tick()
        raise ValueError
    assert stream.getvalue() == "waiting for x ... 3s\nwaiting for x ... failed after 3s\n"


def test_readiness_texts():
    assert readiness_what("worker", {"Status": "running", "Health": {"Status": "starting"}}, 30.0) == (
        "the worker container to become healthy (healthcheck every 30s)"
    )
    assert readiness_what("worker", {"Status": "running", "Health": {"Status": "starting"}}) == (
        "the worker container to become healthy"
    )
    assert readiness_what("jobs", {"Status": "running"}) == "the jobs container to stay up (it has no healthcheck)"
    assert readiness_what("jobs", {"Status": "created"}) == "the jobs container to start"
    assert readiness_what("jobs", {"Status": "running"}, watched="required") == (
        "the jobs container to consume its queue (it has no healthcheck)"
    )
    assert readiness_what("worker", {"Status": "running", "Health": {"Status": "starting"}}, 1.0, watched="either") == (
        "the worker container to consume its queue or become healthy (healthcheck every 1s)"
    )


def test_healthcheck_interval_from_docker_inspect():
    def details(check: dict | None) -> dict:
        return {"Config": {"Healthcheck": check} if check is not None else {}}

    assert healthcheck_interval_s(details({"Test": ["CMD", "true"], "Interval": 1_000_000_000})) == 1.0
    assert healthcheck_interval_s(details({"Test": ["CMD", "true"]})) == 30.0  # Docker's default
    assert healthcheck_interval_s(details({"Test": ["NONE"]})) is None
    assert healthcheck_interval_s(details(None)) is None


def test_readiness_wait_asks_docker_for_the_interval_only_once_shown(monkeypatch):
    asked: list[str] = []

    def inspect(gateway: Gateway, name: str) -> dict:
        asked.append(name)
        return {"Config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 4_000_000_000}}}

    monkeypatch.setattr(engine, "inspect", inspect)
    clock, stream = Clock(), io.StringIO()
    wait = progress.ReadinessWait("worker", "p-worker-1", Gateway(), stream=stream, clock=clock, tty=False)
    starting = {"Status": "running", "Health": {"Status": "starting"}}
    wait.update(starting)
    clock.now += 1
    wait.update(starting)
    assert asked == [] and stream.getvalue() == ""  # a short wait costs no docker call
    clock.now += 1.5
    wait.update(starting)
    wait.update(starting)
    wait.finish("ready")
    assert asked == ["p-worker-1"]
    assert stream.getvalue().splitlines() == [
        "waiting for the worker container to become healthy (healthcheck every 4s) ... 2s",
        "waiting for the worker container to become healthy (healthcheck every 4s) ... ready after 2s",
    ]
