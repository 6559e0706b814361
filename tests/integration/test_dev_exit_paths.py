"""Every way a dev session ends, driven as a person does it: through a real pseudo-terminal, under a
steady job stream. Each run asserts that every job was processed exactly once, that the two
workers never processed at the same moment, and that the background worker is back.
Timings are measured in bench/handover.py, not here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import psutil
import pytest

from .stackenv import INV, ROOT, wait_for
from .terminal import TerminalSession

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX; Windows paths: unit tests"),
]

JOBS = 120
INTERVAL_MS = 40
DURATION_MS = 30


@pytest.fixture
def running_worker(stack):
    stack.inv("worker.up", check=True)
    assert stack.ps().get("worker") == "running"
    return stack


def start_session(stack, tmp_path, env: dict[str, str] | None = None) -> TerminalSession:
    return TerminalSession(
        [*INV, "dev.worker"], cwd=ROOT, env={**stack.environ, **(env or {})}, log=tmp_path / "terminal.log"
    )


def dev_worker_pid(session: TerminalSession) -> int:
    session.wait_output("[worker] ready queue=")  # printed once the gate is open, just after inv's line
    match = re.search(r"\[worker\] ready queue=.*pid=(\d+)", session.output)
    assert match, session.output
    return int(match.group(1))


def assert_clean_handover(stack, prefix: str, total: int) -> None:
    rows = stack.wait_rows(prefix, total, timeout=120)
    assert sorted(job for job, _ in rows) == sorted(f"{prefix}-{i}" for i in range(1, total + 1))
    assert {by for _, by in rows} == {"background", "dev"}
    facts = stack.handover_facts(prefix)
    assert facts["jobs"] == total
    assert facts["redelivered"] == 0  # no job left to stalled-job recovery and run again
    assert facts["overlaps"] == 0  # never two workers processing at once


@pytest.mark.parametrize(
    "how, code",
    [("ctrl_c", 0), ("close_terminal", 128 + signal.SIGHUP), ("sigterm", 128 + signal.SIGTERM)],
)
def test_each_exit_path_hands_the_queue_back_cleanly(running_worker, tmp_path, how, code):
    stack = running_worker
    prefix = f"exit{how.replace('_', '')}"
    producer = stack.produce(prefix, JOBS, interval_ms=INTERVAL_MS, duration_ms=DURATION_MS, background=True)
    try:
        session = start_session(stack, tmp_path)
        session.wait_output("dev worker running with the queue")
        dev_pid = dev_worker_pid(session)
        wait_for(lambda: any(by == "dev" for _, by in stack.result_rows(prefix)), 30, what="a job done by dev")
        getattr(session, how)()
        assert session.wait() == code, session.output
        assert producer.wait(120) == 0
    finally:
        if producer.poll() is None:
            producer.kill()
    assert stack.ps()["worker"] == "running"
    assert not psutil.pid_exists(dev_pid) or psutil.Process(dev_pid).status() == psutil.STATUS_ZOMBIE
    assert not (stack.state_dir / stack.project / "worker" / "handover.json").exists()
    if how != "close_terminal":  # a closed terminal shows nothing more
        assert "background worker restored" in session.output
        assert session.output.count("SIGINT received") <= 1, session.output  # one signal, one line
    assert_clean_handover(stack, prefix, JOBS)


def test_dev_worker_that_crashes_gives_the_queue_back(running_worker, tmp_path):
    stack = running_worker
    session = start_session(stack, tmp_path)
    session.wait_output("dev worker running with the queue")
    stack.produce("crashA", 5)
    assert {by for _, by in stack.wait_rows("crashA", 5)} == {"dev"}
    os.kill(dev_worker_pid(session), signal.SIGKILL)  # idle: no job is lost to the crash itself
    assert session.wait() == 128 + signal.SIGKILL, session.output  # the dev worker's own end
    assert "the worker exited (SIGKILL); ending the dev session" in session.output
    assert "background worker restored" in session.output
    stack.produce("crashB", 5)
    assert {by for _, by in stack.wait_rows("crashB", 5)} == {"background"}


def started_at(stack) -> str:
    """When the background worker container last started: unchanged means never stopped."""
    container = stack.compose("ps", "-q", "worker").stdout.strip()
    return subprocess.run(
        ["docker", "inspect", "--format", "{{.State.StartedAt}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_dev_command_that_cannot_start_never_touches_the_background_worker(running_worker, tmp_path):
    stack = running_worker
    before = started_at(stack)
    session = start_session(stack, tmp_path, env={"INVOKE_APP_DEV": "no-such-dev-command --watch"})
    assert session.wait() == 1
    assert "`no-such-dev-command` was not found" in session.output
    assert "stopping the background" not in session.output and "Traceback" not in session.output
    assert stack.ps()["worker"] == "running"
    assert started_at(stack) == before


def test_dev_worker_that_dies_while_starting_never_stops_the_background_worker(running_worker, tmp_path):
    stack = running_worker
    before = started_at(stack)
    session = start_session(stack, tmp_path, env={"INVOKE_APP_DEV": "node -e process.exit(3)"})
    assert session.wait() == 3
    assert "the background worker was not touched" in session.output
    assert "the background worker was never stopped; it kept the queue" in session.output
    assert "stopping the background" not in session.output
    assert stack.ps()["worker"] == "running"
    assert started_at(stack) == before


def test_stack_down_during_a_session_is_said_truly_at_its_end(running_worker, tmp_path):
    stack = running_worker
    session = start_session(stack, tmp_path)
    session.wait_output("dev worker running with the queue")
    down = stack.inv("stack.down")
    assert down.returncode == 0, down.stderr
    assert "will no longer restore" in down.stdout
    session.ctrl_c()
    assert session.wait() == 0
    assert "was running before, but `inv stack.down` during this session asked to leave it down" in session.output
    assert "was not running before" not in session.output
    assert "worker" not in stack.ps()


def test_a_crash_looping_worker_is_stopped_like_a_running_one_and_given_back(stack, tmp_path):
    stack.write_env(WORKER_CONCURRENCY="abc")  # the background worker exits at start, again and again
    failed = stack.inv("worker.up")
    assert failed.returncode == 1 and "crashed at start" in failed.stderr, failed.stderr
    # worker.up stops a worker that crashed at start; started by hand (as Docker does at its own start
    # under `unless-stopped`), it crash-loops. Docker doubles the delay between restarts (0.1 s, 0.2 s,
    # ...): after 8 restarts the worker waits 12.8 s or more between runs of well under a second, so the
    # session finds it restarting.
    assert stack.ps()["worker"] == "exited", stack.ps()
    container = f"{stack.project}-worker-1"
    subprocess.run(["docker", "start", container], capture_output=True, check=True)

    def restarting_long():
        out = subprocess.run(
            ["docker", "inspect", "--format", "{{.RestartCount}} {{.State.Status}}", container],
            capture_output=True,
            text=True,
        ).stdout.split()
        return len(out) == 2 and int(out[0]) >= 8 and out[1] == "restarting"

    wait_for(restarting_long, 90, interval=0.1, what="a restart loop with long pauses")
    # The dev worker itself gets a valid value from the shell (the shell wins over .env).
    session = start_session(stack, tmp_path, env={"WORKER_CONCURRENCY": "1"})
    session.wait_output("dev worker running with the queue")
    assert "stopping the background worker (it was restarting)" in session.output, session.output
    assert stack.ps()["worker"] == "exited"  # not beside the dev worker on the queue
    session.ctrl_c()
    assert session.wait() == 0, session.output
    assert "the background worker is back but not ready (it was restarting before this session)" in session.output
    assert "crashed at start" in session.output
    assert stack.ps()["worker"] in {"restarting", "running"}  # given back as it was found


EIO_FIXTURE = ROOT / "tests" / "integration" / "fixtures" / "eio" / "console-error-on-uncaught.cjs"
MAIN_JS = ROOT / "dist" / "apps" / "worker" / "main.js"


@pytest.mark.parametrize("end", ["close_terminal", "kill9"])
def test_a_lost_terminal_gives_the_dev_worker_nothing_to_fail_on(running_worker, tmp_path, end):
    """The terminal closes, or `inv` itself is killed (kill -9), while the dev worker (with an
    `uncaughtException` -> `console.error` handler) holds a job of a stream. Its output goes to the
    pseudo-terminal inv owns, which inv keeps reading (and discarding) until the dev worker has stopped;
    after a kill -9 the session's guardian holds a copy of that terminal and reads it while it stops
    the dev worker. So none of its writes fails: it finishes its job and exits 0 with no exception;
    every job once; the queue given back (by the session, exit 129, or by the guardian)."""
    stack = running_worker
    uncaught = tmp_path / "uncaught.log"
    prefix = f"lost{end.replace('_', '')}"
    session = start_session(
        stack, tmp_path, {"INVOKE_APP_DEV": f"node -r {EIO_FIXTURE} {MAIN_JS}", "UNCAUGHT_LOG": str(uncaught)}
    )
    session.wait_output("dev worker running with the queue")
    dev_pid = dev_worker_pid(session)
    producer = stack.produce(prefix, 12, interval_ms=300, duration_ms=1500, background=True)
    try:
        wait_for(lambda: any(by == "dev" for _, by in stack.result_rows(prefix)), 30, what="a job done by dev")
        wait_for(lambda: active_jobs(stack) > 0, 30, interval=0.05, what="a job in progress")
        if end == "close_terminal":
            session.close_terminal()
            assert session.wait(120) == 128 + signal.SIGHUP, session.output
        else:
            os.kill(session.pid, signal.SIGKILL)
            assert session.wait(30) == -signal.SIGKILL
        assert producer.wait(120) == 0
    finally:
        if producer.poll() is None:
            producer.kill()
    record = stack.state_dir / stack.project / "worker" / "handover.json"
    wait_for(lambda: not record.exists() and stack.ps().get("worker") == "running", 90, what="the worker back")
    assert not psutil.pid_exists(dev_pid) or psutil.Process(dev_pid).status() == psutil.STATUS_ZOMBIE
    assert uncaught.read_text().splitlines() == ["exit 0"]  # no exception, no EIO: a clean stop
    assert_clean_handover(stack, prefix, 12)
    ats = [
        stack.compose("exec", "-T", "redis", "redis-cli", "HGET", f"bull:digest:{prefix}-{i}", "ats").stdout.strip()
        for i in range(1, 13)
    ]
    assert ats == ["1"] * 12  # every job started once (BullMQ's own count)
    if end == "kill9":
        guardian_log = (stack.state_dir / stack.project / "worker" / "guardian.log").read_text()
        assert "stopping the dev worker's queue consumers first" in guardian_log, guardian_log


def active_jobs(stack) -> int:
    out = stack.compose("exec", "-T", "redis", "redis-cli", "LLEN", "bull:digest:active").stdout.strip()
    return int(out or 0)
