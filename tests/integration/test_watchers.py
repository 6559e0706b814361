"""`inv dev.worker` with the dev commands people run, driven through a real pseudo-terminal, with jobs
longer than 5 s (what `tsx watch` cuts): every job exactly once, never cut (no redelivery), never two
workers at once, for every exit path (Ctrl+C, SIGTERM, a closed terminal) of every dev command; Ctrl+C
escalation; a killed `inv` healed by the guardian with nothing run after it, at each phase of a session.

The watchers come from npm into tests/integration/fixtures/watchers (`npm ci --prefix` there; .ci/run
does it). Timings are measured in bench/handover.py, not here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import psutil
import pytest

from .stackenv import INV, ROOT, wait_for
from .terminal import TerminalSession

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX; Windows paths: unit tests"),
]

FIXTURE = Path(__file__).parent / "fixtures" / "watchers"
BIN = FIXTURE / "node_modules" / ".bin"
MAIN_JS = ROOT / "dist" / "apps" / "worker" / "main.js"
RUNNER = ROOT / "tasks" / "runner" / "devrun.mjs"
LONG_JOB_MS = 6000  # longer than tsx watch's 5 s


@pytest.fixture(scope="module")
def watchers_installed():
    if not (BIN / "tsx").exists():
        message = f"the watcher fixtures are not installed: npm ci --prefix {FIXTURE.relative_to(ROOT)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def running_worker(stack, watchers_installed):
    first = stack.inv("worker.up")
    if first.returncode != 0 and "healthcheck reports unhealthy" in first.stderr:
        # On a loaded machine (8 jobs on 2 cores) the worker's 1 s x 3 healthcheck can run out before
        # it is ready; that is worker.up's business (tests/integration/test_worker_tasks.py), not ours.
        stack.inv("worker.up", check=True)
    else:
        assert first.returncode == 0, first.stderr
    return stack


def session(stack, tmp_path, dev: str, **env: str) -> TerminalSession:
    return TerminalSession(
        [*INV, "dev.worker"],
        cwd=ROOT,
        env={**stack.environ, "INVOKE_APP_DEV": dev, **env},
        log=tmp_path / "terminal.log",
    )


def assert_exactly_once(stack, prefix: str, total: int) -> None:
    rows = stack.wait_rows(prefix, total, timeout=150)
    assert sorted(job for job, _ in rows) == sorted(f"{prefix}-{i}" for i in range(1, total + 1))
    facts = stack.handover_facts(prefix)
    assert facts["jobs"] == total
    assert facts["redelivered"] == 0, facts  # nothing cut and left to stalled-job recovery
    assert facts["overlaps"] == 0, facts  # never two workers processing at once


def active_jobs(stack) -> int:
    out = stack.compose("exec", "-T", "redis", "redis-cli", "LLEN", "bull:digest:active").stdout.strip()
    return int(out or 0)


def mid_job(stack) -> None:
    """Wait until a worker holds a job (after the handover: the dev worker)."""
    wait_for(lambda: active_jobs(stack) > 0, 30, interval=0.1, what="a job in progress")


# The fixes: each watcher replaced by the shipped runner around the same entry.
RUNNER_DEVS = {
    "tsx": f"devstack-run -- {BIN / 'tsx'} src/main.ts",
    "node-dist": f"devstack-run --watch {MAIN_JS.parent} -- node {MAIN_JS}",
    # concurrently + tsc --watch as people keep it (type-checking), the runner instead of nodemon/tsx watch
    "concurrently": (
        f"{BIN / 'concurrently'} --raw '{BIN / 'tsc'} --watch --noEmit --preserveWatchOutput -p tsconfig.json' "
        f"'node {RUNNER} -- {BIN / 'tsx'} src/main.ts'"
    ),
}


# Each way a person ends a session, and the task's exit code as a shell shows it.
EXITS = {"ctrl_c": 0, "sigterm": 128 + signal.SIGTERM, "close_terminal": 128 + signal.SIGHUP}


def stop_mid_job(
    stack, tmp_path, dev: str, how: str, prefix: str, *, code: int | None = None, job_ms: int = LONG_JOB_MS
) -> TerminalSession:
    """A session of `dev` ended by `how` in the middle of a job: the job finishes in the dev worker, the
    next one waits for the background worker; each runs once, never cut, never two workers at once."""
    term = session(stack, tmp_path, dev)
    term.wait_output("dev worker running with the queue")
    stack.produce(prefix, 2, duration_ms=job_ms)
    mid_job(stack)  # stopped in the middle of a job: it must finish it first
    getattr(term, how)()
    assert term.wait(120) == (EXITS[how] if code is None else code), term.output
    assert stack.ps()["worker"] == "running"
    assert_exactly_once(stack, prefix, 2)
    if how != "close_terminal":  # a closed terminal shows nothing more
        assert "background worker restored" in term.output
        assert "dev worker ended by" in term.output or "dev worker exited (code" in term.output
        assert "(code -" not in term.output
    return term


# concurrently's own code, as a shell shows it too: a command of it ended by a signal other than SIGINT
# (tsc --watch by the SIGTERM) makes it exit 1. (After a closed terminal the session exits 129 whatever
# the dev command returns: tasks/knowledge/exit_codes.py.)
RUNNER_CODES = {("concurrently", "sigterm"): 1}


@pytest.mark.parametrize("dev, how", [(dev, how) for dev in RUNNER_DEVS for how in EXITS])
def test_the_shipped_runner_never_cuts_a_long_job(running_worker, tmp_path, dev, how):
    prefix = f"run{dev.replace('-', '')}{how.replace('_', '')}"
    term = stop_mid_job(running_worker, tmp_path, RUNNER_DEVS[dev], how, prefix, code=RUNNER_CODES.get((dev, how)))
    assert "[devrun] running" in term.output


# The raw watchers, where a stop fits them: nodemon waits for its worker (10 s, then it exits and leaves
# the worker to finish, which the task waits for); `tsx watch` kills it 5 s after a stop (its own limit,
# doctor warns), so its job here is shorter than that.
RAW_WATCHERS = {
    "nodemon": (f"{BIN / 'nodemon'} --watch {{empty}} {MAIN_JS}", LONG_JOB_MS),
    "tsx-watch": (f"{BIN / 'tsx'} watch src/main.ts", 3000),
}


@pytest.mark.parametrize("dev, how", [(dev, how) for dev in RAW_WATCHERS for how in EXITS])
def test_a_raw_watcher_stopped_mid_job_within_its_limit_never_cuts_it(running_worker, tmp_path, dev, how):
    """A hang-up reaches the watcher as SIGTERM (nodemon restarts on SIGHUP) and the task waits for the
    watcher's process group to empty before the background worker comes back."""
    empty = tmp_path / "watched"
    empty.mkdir()
    command, job_ms = RAW_WATCHERS[dev]
    prefix = f"raw{dev.replace('-', '')}{how.replace('_', '')}"
    stop_mid_job(running_worker, tmp_path, command.format(empty=empty), how, prefix, job_ms=job_ms)


def test_a_crash_of_the_runners_worker_ends_the_session_and_gives_the_queue_back(running_worker, tmp_path):
    """The built entry under the runner dies (kill -9, after its job): the runner ends with its code,
    the task with it, and the background worker takes the queue again."""
    stack = running_worker
    term = session(stack, tmp_path, RUNNER_DEVS["node-dist"])
    term.wait_output("dev worker running with the queue")
    stack.produce("crashrun", 1, duration_ms=LONG_JOB_MS)
    assert stack.wait_rows("crashrun", 1, timeout=60) == [("crashrun-1", "dev")]
    ready = re.search(r"\[worker\] ready queue=.*pid=(\d+)", term.output)
    assert ready, term.output
    os.kill(int(ready.group(1)), signal.SIGKILL)  # idle: the crash itself cuts no job
    assert term.wait(120) == 128 + signal.SIGKILL, term.output
    assert "[devrun] the worker exited (SIGKILL); ending the dev session" in term.output
    assert "dev worker exited (code 137)" in term.output, term.output
    assert "background worker restored" in term.output
    assert_exactly_once(stack, "crashrun", 1)
    stack.produce("crashrunB", 2)
    assert {by for _, by in stack.wait_rows("crashrunB", 2)} == {"background"}


def test_a_change_restarts_the_worker_only_after_its_job(running_worker, tmp_path):
    """The runner restarts on a change like a watcher, but after the active job (tsx watch cuts it)."""
    stack = running_worker
    watched = tmp_path / "watched"
    watched.mkdir()
    dev = f"devstack-run --watch {watched} -- node {MAIN_JS}"
    term = session(stack, tmp_path, dev)
    term.wait_output("dev worker running with the queue")
    stack.produce("change", 2, duration_ms=LONG_JOB_MS)
    mid_job(stack)
    (watched / "x.js").write_text("// changed\n")
    term.wait_output("restarting the worker once it has stopped")
    term.wait_output("starting it again", timeout=60)
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    assert_exactly_once(stack, "change", 2)


@pytest.mark.parametrize(
    "dev, tool",
    [
        (f"{BIN / 'tsx'} watch src/main.ts", "`tsx watch`"),
        (f"{BIN / 'nodemon'} {MAIN_JS}", "nodemon"),
        (
            f"{BIN / 'concurrently'} '{BIN / 'tsc'} --watch' '{BIN / 'nodemon'} {MAIN_JS}'",
            "nodemon beside `tsc --watch`",
        ),
    ],
)
def test_doctor_names_a_raw_watcher_and_the_fix(stack, watchers_installed, dev, tool):
    result = stack.inv("doctor", env={"INVOKE_APP_DEV": dev})
    line = next((ln for ln in result.stdout.splitlines() if "dev command" in ln), "")
    assert line.startswith("WARN"), result.stdout
    assert f"runs {tool}" in line and re.search(r"dev: devstack-run (--watch \S+ )?-- ", line), line
    assert "--watch .. " not in line, line  # never the workspace's whole folder


@pytest.mark.parametrize(
    "env, status, detail",
    [
        ({}, "ok", "the app's start gate (app.start_gate)"),
        ({"INVOKE_APP_START_GATE": "0"}, "ok", "through the Redis relay (REDIS_HOST, REDIS_PORT lead to it)"),
        (
            {"INVOKE_APP_START_GATE": "0", "INVOKE_APP_REDIS_RELAY": "0"},
            "ok",
            "the background worker is stopped before the dev command starts (app.redis_relay: false)",
        ),
    ],
)
def test_doctor_says_how_dev_worker_will_take_the_queue(running_worker, env, status, detail):
    result = running_worker.inv("doctor", "--json", env=env)
    checks = [c for c in json.loads(result.stdout)["checks"] if c["check"] == "dev handover"]
    assert [(c["status"], c["detail"]) for c in checks] == [(status, detail)], result.stdout


@pytest.mark.parametrize("relay", ["1", "0"])
def test_without_the_hook_running_is_said_once_the_worker_consumes(running_worker, tmp_path, relay):
    """No start gate: `running` only once Redis shows the consumer, through the Redis relay or with the
    background worker stopped first (`app.redis_relay: false`)."""
    stack = running_worker
    term = session(
        stack, tmp_path, f"devstack-run -- node {MAIN_JS}", INVOKE_APP_START_GATE="0", INVOKE_APP_REDIS_RELAY=relay
    )
    term.wait_output("dev worker running (")
    assert "consuming `digest`" in term.output, term.output
    assert (" to a relay at 127.0.0.1:" in term.output) == (relay == "1"), term.output
    stack.produce("nohook", 2, duration_ms=LONG_JOB_MS)
    mid_job(stack)
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    assert_exactly_once(stack, "nohook", 2)


def test_through_the_relay_the_dev_worker_starts_while_the_background_worker_serves(running_worker, tmp_path):
    """The background worker holds a 6 s job when the dev command starts: the dev worker loads and
    connects meanwhile (held by the relay), the background worker finishes its job, and only then does
    the dev worker take the queue. Every job once, never two workers at once."""
    stack = running_worker
    stack.produce("relayin", 3, duration_ms=LONG_JOB_MS)
    mid_job(stack)  # the background worker is in the middle of relayin-1
    term = session(stack, tmp_path, f"devstack-run -- node {MAIN_JS}", INVOKE_APP_START_GATE="0")
    term.wait_output("dev worker running (", timeout=90)
    # the worker's own line comes through the pty on its own schedule: inv may see it consume first
    term.wait_output("[worker] ready queue=", timeout=30)
    out = term.output
    order = [
        out.index("dev worker starting ("),
        # the stop begins only once a connection reached the relay: the dev worker had loaded and dialled
        out.index("stopping the background worker (it finishes its current job)"),
        out.index("[worker] ready queue="),  # its Redis answers only once the background worker stopped
        out.index("dev worker running ("),
    ]
    assert order == sorted(order), out
    term.ctrl_c()
    assert term.wait(150) == 0, term.output
    assert_exactly_once(stack, "relayin", 3)
    assert {by for _, by in stack.wait_rows("relayin", 3)} == {"background", "dev"}


def test_a_dev_command_that_never_connects_leaves_the_queue_to_the_background_worker(running_worker, tmp_path):
    """nodemon whose worker cannot start yet (no dist/): through the relay the background worker is never
    stopped and keeps serving; said once; when a change brings the worker up, the queue changes hands then."""
    stack = running_worker
    entry = tmp_path / "dist" / "index.mjs"
    term = session(
        stack,
        tmp_path,
        f"{BIN / 'nodemon'} --watch {tmp_path} --exec 'node {entry}'",
        INVOKE_APP_START_GATE="0",
        DEVSTACK_DEV_CONNECT_WAIT="3",
    )
    term.wait_output("has not connected to Redis in 3 s; the background worker keeps the queue meanwhile")
    stack.produce("waiting", 2)
    assert {by for _, by in stack.wait_rows("waiting", 2)} == {"background"}  # the queue was served
    assert "stopping the background" not in term.output
    entry.parent.mkdir()
    entry.write_text(f"import {json.dumps(MAIN_JS.as_uri())};\n")  # the build appears: nodemon starts it
    term.wait_output("dev worker running (", timeout=90)
    stack.produce("afterbuild", 2)
    assert {by for _, by in stack.wait_rows("afterbuild", 2)} == {"dev"}
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    assert "background worker restored" in term.output
    assert stack.ps()["worker"] == "running"


def test_a_crash_under_a_watcher_gives_the_queue_back_until_the_worker_returns(running_worker, tmp_path):
    """nodemon lives on after its worker crashed (it waits for a change): through the relay the queue goes
    back to the background worker meanwhile; the change brings the dev worker back, held at the relay
    until the background worker has stopped. Every job once, never two workers at once."""
    stack = running_worker
    watched = tmp_path / "watched"
    watched.mkdir()
    term = session(stack, tmp_path, f"{BIN / 'nodemon'} --watch {watched} {MAIN_JS}", INVOKE_APP_START_GATE="0")
    term.wait_output("dev worker running (", timeout=90)
    stack.produce("gapA", 2)
    assert {by for _, by in stack.wait_rows("gapA", 2)} == {"dev"}
    ready = re.search(r"\[worker\] ready queue=.*pid=(\d+)", term.output)
    assert ready, term.output
    os.kill(int(ready.group(1)), signal.SIGKILL)  # idle: the crash itself cuts no job
    term.wait_output("app crashed")  # nodemon's own line: it waits for a change
    term.wait_output("the background worker takes it meanwhile", timeout=30)
    term.wait_output("[dev.worker] background worker back", timeout=30)
    stack.produce("gapB", 2)
    assert {by for _, by in stack.wait_rows("gapB", 2)} == {"background"}  # the queue is served meanwhile
    stack.produce("gapC", 2, duration_ms=LONG_JOB_MS)
    mid_job(stack)  # the background worker holds a 6 s job when the dev worker comes back
    (watched / "x.js").write_text("// changed\n")
    term.wait_output("dev worker consuming again", timeout=90)
    stack.produce("gapD", 2)
    assert {by for _, by in stack.wait_rows("gapD", 2)} == {"dev"}
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    assert "background worker restored" in term.output
    for prefix in ("gapA", "gapB", "gapC", "gapD"):
        assert_exactly_once(stack, prefix, 2)
    assert stack.ps()["worker"] == "running"


def test_a_dev_worker_dialling_redis_around_the_relay_is_caught(running_worker, tmp_path):
    """A dev command that sets its own REDIS_PORT (the app ignores the relay): the background worker is
    stopped the moment Redis shows the dev worker consuming, said as a warning with the way out."""
    stack = running_worker
    term = session(
        stack,
        tmp_path,
        f"env REDIS_PORT={stack.redis_port} node {RUNNER} -- node {MAIN_JS}",
        INVOKE_APP_START_GATE="0",
    )
    term.wait_output("dev worker running (", timeout=90)
    assert "warning: the dev worker consumes without going through the relay" in term.output, term.output
    assert "`app.redis_relay: false`" in term.output
    stack.produce("bypass", 2)
    assert {by for _, by in stack.wait_rows("bypass", 2)} == {"dev"}
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    assert_exactly_once(stack, "bypass", 2)


def test_a_dev_command_that_never_connects_gives_the_queue_back(running_worker, tmp_path):
    """Without the relay (`app.redis_relay: false`): nodemon whose worker cannot start (no dist/ yet)
    waits for changes, alive but never consuming. Reported in bounded time, the dev command stopped,
    the background worker given back."""
    stack = running_worker
    missing = tmp_path / "dist" / "index.js"
    term = session(
        stack,
        tmp_path,
        f"{BIN / 'nodemon'} --watch {tmp_path} --exec 'node {missing}'",
        INVOKE_APP_START_GATE="0",
        INVOKE_APP_REDIS_RELAY="0",
        DEVSTACK_DEV_CONNECT_WAIT="4",
    )
    term.wait(120)
    out = term.output
    assert "did not connect to the queue in 4 s" in out, out
    assert "dev worker running" not in out
    assert "background worker restored" in out, out
    assert stack.ps()["worker"] == "running"


def test_redis_gone_then_ctrl_c_three_times_escalates(running_worker, tmp_path):
    """Redis stopped mid-session and a worker whose close never ends: the 2nd Ctrl+C sends SIGTERM,
    the 3rd SIGKILL, each said in one line; the background worker comes back. (The example app itself
    no longer hangs without Redis, so the hanging close is a fixture.)"""
    stack = running_worker
    hanging = FIXTURE / "hanging-worker.mjs"
    term = session(
        stack,
        tmp_path,
        f"devstack-run -- node {hanging}",
        INVOKE_APP_START_GATE="0",
        INVOKE_APP_REDIS_RELAY="0",  # the background worker stopped first: it must stay down while this hangs
        DEVSTACK_DEV_CONNECT_WAIT="600",
    )
    term.wait_output("waiting for the dev worker to connect")  # it never does: the session waits on
    try:
        term.ctrl_c()
        term.wait_output("[hang] SIGINT received, still closing")
        stack.compose("stop", "redis")  # also a person's pause before pressing again
        term.ctrl_c()
        term.wait_output("Ctrl+C again: sending SIGTERM to the dev command")
        term.wait_output("[hang] SIGTERM received, still closing")
        assert stack.ps()["worker"] == "exited"  # the background worker stays down while the dev command runs
        term.ctrl_c()
        term.wait_output("Ctrl+C a third time: killing the dev command (SIGKILL)")
    finally:
        stack.compose("start", "redis")  # so that the restore that follows can succeed
    assert term.wait(180) == 128 + signal.SIGKILL, term.output  # what ended it, as a shell shows it
    assert "dev worker was killed by SIGKILL (code 137)" in term.output, term.output
    assert "background worker restored" in term.output
    assert stack.ps()["worker"] == "running"


def kill_inv_when(stack, tmp_path, text: str, dev: str, **env: str):
    """`inv dev.worker` without a terminal (an IDE), killed -9 once `text` is in its output."""
    log = tmp_path / "inv.log"
    proc = stack.popen_inv("dev.worker", env={"INVOKE_APP_DEV": dev, **env}, log=log)
    wait_for(lambda: text in log.read_text(), 90, interval=0.02, what=text)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return log


def healed(stack) -> bool:
    record = stack.state_dir / stack.project / "worker" / "handover.json"
    return stack.ps().get("worker") == "running" and not record.exists()


def test_kill_9_while_the_dev_worker_runs_is_healed_without_a_command(running_worker, tmp_path):
    stack = running_worker
    kill_inv_when(stack, tmp_path, "dev worker running with the queue", f"devstack-run -- node {MAIN_JS}")
    wait_for(lambda: healed(stack), 60, what="the guardian's restore")
    stack.produce("healA", 2)
    assert {by for _, by in stack.wait_rows("healA", 2)} == {"background"}  # the dev worker is gone
    assert "recovering" in (stack.state_dir / stack.project / "worker" / "guardian.log").read_text()


def test_kill_9_during_the_background_stop_is_healed_without_a_command(running_worker, tmp_path):
    """The issue's case: the stop completes after inv died and the dev worker never gets its gate."""
    stack = running_worker
    stack.produce("healB", 1, duration_ms=LONG_JOB_MS)
    mid_job(stack)  # the background worker is mid-job: its stop takes the rest of the 6 s
    kill_inv_when(stack, tmp_path, "stopping the background worker", f"devstack-run -- node {MAIN_JS}")
    wait_for(lambda: healed(stack), 90, what="the guardian's restore")
    assert_exactly_once(stack, "healB", 1)
    stack.produce("healC", 2)
    assert {by for _, by in stack.wait_rows("healC", 2)} == {"background"}


def job_field(stack, job: str, name: str) -> str:
    """A field of a BullMQ job's hash (`ats`: attempts started, `stc`: times found stalled)."""
    return stack.compose("exec", "-T", "redis", "redis-cli", "HGET", f"bull:digest:{job}", name).stdout.strip()


def container_consumes(stack) -> bool:
    """A BullMQ worker connection (named `bull:<base64 queue>`) from the worker container in Redis."""
    import subprocess

    container = stack.compose("ps", "-q", "worker").stdout.strip()
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    ips = subprocess.run(
        ["docker", "inspect", "-f", template, container], capture_output=True, text=True
    ).stdout.split()
    listing = stack.compose("exec", "-T", "redis", "redis-cli", "CLIENT", "LIST").stdout
    return any(f"addr={ip}:" in line and " name=bull:ZGlnZXN0" in line for line in listing.splitlines() for ip in ips)


def test_kill_9_during_a_slow_background_stop_waits_for_it_then_restores(running_worker, tmp_path):
    """The issue's case: inv killed while the background worker takes 12 s to stop (a job whose handler
    awaits worker.close()). The dead session's `compose stop` runs on; the guardian waits for it (it
    would stop a worker started before it ends), then starts the worker and takes it as restored once
    it consumes again. `worker.status` names the guardian meanwhile; every job runs once."""
    stack = running_worker
    stack.produce("slowstop", 2, duration_ms=12000)
    mid_job(stack)  # the background worker holds a 12 s job: its stop waits for it
    record = stack.state_dir / stack.project / "worker" / "handover.json"
    proc = stack.popen_inv(
        "dev.worker", env={"INVOKE_APP_DEV": f"devstack-run -- node {MAIN_JS}"}, log=tmp_path / "inv.log"
    )
    # Killed once its `docker compose stop` runs (the session records its pid when it starts it).
    wait_for(
        lambda: record.exists() and json.loads(record.read_text()).get("stop_pid"), 90, interval=0.02, what="the stop"
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    status = stack.inv("worker.status")
    assert "its guardian (pid" in status.stdout and "is restoring the background worker" in status.stdout, status
    assert "inv worker.up" not in status.stdout, status.stdout
    wait_for(lambda: healed(stack), 90, what="the guardian's restore")
    assert stack.ps()["worker"] == "running"
    assert container_consumes(stack)
    guardian_log = (stack.state_dir / stack.project / "worker" / "guardian.log").read_text()
    assert "is still running: waiting for it to finish" in guardian_log, guardian_log
    assert "it consumes `digest` again" in guardian_log, guardian_log
    assert_exactly_once(stack, "slowstop", 2)
    assert [job_field(stack, f"slowstop-{i}", "ats") for i in (1, 2)] == ["1", "1"]  # none started twice
    stack.produce("slowstopafter", 2)  # the worker stays up: the old stop ended before it started
    assert {by for _, by in stack.wait_rows("slowstopafter", 2)} == {"background"}


# The phases of a (gated) session not covered above, each with the line that marks it. Before the first
# line (lock taken, record written, guardian started) a session spends milliseconds: no line to wait on.
KILL_PHASES = {
    # the dev command started, not ready yet: the background worker keeps the queue (and its job)
    "starting": "dev worker starting (",
    # no start gate, no relay: the background worker is stopped, the dev command started, not yet consuming
    "not-yet-consuming": "waiting for it to consume",
    # no start gate, through the Redis relay: the dev command started, held while the background worker serves
    "relay-holding": "that holds its connections meanwhile",
    # the dev worker holds a 6 s job
    "running-mid-job": "dev worker running with the queue",
    # the same through the Redis relay: inv's death must not cut the dev worker's Redis in the middle of a job
    "relay-running-mid-job": "dev worker running (`",
    # after Ctrl+C, while the dev worker finishes its 6 s job
    "stopping-after-ctrl-c": "stopping the dev worker's queue consumers first",
    # the dev command has ended, the background worker is being started again
    "restoring": "restoring the background worker ...",
}


@pytest.mark.parametrize("phase", list(KILL_PHASES))
def test_kill_9_at_each_phase_is_healed_without_a_command(running_worker, tmp_path, phase):
    """kill -9 of `inv` with nothing run after it: the guardian stops a leftover dev worker (it finishes
    its job first) and gives the background worker back; every job in flight runs exactly once."""
    stack = running_worker
    prefix = f"k9{phase.replace('-', '')}"
    env = {"INVOKE_APP_DEV": f"devstack-run -- node {MAIN_JS}"}
    if phase in ("not-yet-consuming", "relay-holding", "relay-running-mid-job"):
        env["INVOKE_APP_START_GATE"] = "0"
        env["INVOKE_APP_REDIS_RELAY"] = "0" if phase == "not-yet-consuming" else "1"
    if phase in ("starting", "not-yet-consuming", "relay-holding"):  # the background worker holds a job, another waits
        stack.produce(prefix, 2, duration_ms=LONG_JOB_MS)
        mid_job(stack)
    log = tmp_path / "inv.log"
    proc = stack.popen_inv("dev.worker", env=env, log=log)
    marker = KILL_PHASES[phase]
    if phase in ("running-mid-job", "stopping-after-ctrl-c", "restoring", "relay-running-mid-job"):
        running = "dev worker running (`" if phase.startswith("relay") else "dev worker running with the queue"
        wait_for(lambda: running in log.read_text(), 90, interval=0.02, what="running")
        stack.produce(prefix, 2, duration_ms=LONG_JOB_MS)
        mid_job(stack)  # the dev worker holds a job
        if phase != "running-mid-job":
            proc.send_signal(signal.SIGINT)  # a Ctrl+C (no terminal: to inv, which forwards it)
    wait_for(lambda: marker in log.read_text(), 90, interval=0.02, what=marker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    started = re.search(r"dev worker start(?:ing|ed) \(`[^`]*`, pid (\d+)\)", log.read_text())
    assert started, log.read_text()
    dev_pid = int(started.group(1))
    wait_for(lambda: healed(stack), 90, what="the guardian's restore")
    assert "recovering" in (stack.state_dir / stack.project / "worker" / "guardian.log").read_text()
    assert not psutil.pid_exists(dev_pid) or psutil.Process(dev_pid).status() == psutil.STATUS_ZOMBIE
    assert_exactly_once(stack, prefix, 2)
    stack.produce(f"{prefix}after", 2)  # nothing left of the dev worker on the queue
    assert {by for _, by in stack.wait_rows(f"{prefix}after", 2)} == {"background"}
    assert healed(stack)


def test_runner_argument_errors_are_one_line(tmp_path):
    import subprocess

    result = subprocess.run(["node", str(RUNNER), "--bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "unknown option --bogus" in result.stdout
    assert re.search(r"no command to run", result.stdout)


# -- the consumers first (issue 23): the repository's own dev script, unchanged, loses no job ------------
CONSUMER_JOB_MS = 8000  # longer than tsx watch's 5 s patience


def job_records(stack, prefix: str, total: int) -> dict[str, dict[str, int]]:
    """BullMQ's own record of each job (its hash `bull:digest:<id>`): attempts started (ats), times found
    stalled (stc), finished (finishedOn set). A job cut and run again shows ats 2, stc 1."""
    from tasks.drivers.queue_consumers import Redis
    from tasks.knowledge.bullmq_clients import RedisAddress

    redis = Redis(RedisAddress("127.0.0.1", stack.redis_port))
    records = {}
    for i in range(1, total + 1):
        key = f"bull:digest:{prefix}-{i}"
        ats, stc, finished = redis.queries(("HGET", key, "ats"), ("HGET", key, "stc"), ("HGET", key, "finishedOn"))
        records[f"{prefix}-{i}"] = {"ats": int(ats or 0), "stc": int(stc or 0), "finished": int(bool(finished))}
    return records


def assert_never_cut(stack, prefix: str, total: int) -> None:
    """Every job finished, each started once and never found stalled (what BullMQ records)."""

    def finished():
        records = job_records(stack, prefix, total)
        return records if all(job["finished"] for job in records.values()) else None

    records = wait_for(finished, 150, interval=0.5, what=f"the {total} jobs {prefix}-* finished")
    assert {job: (r["ats"], r["stc"]) for job, r in records.items()} == dict.fromkeys(records, (1, 0)), records


@pytest.mark.parametrize("how", list(EXITS))
def test_the_raw_tsx_watch_script_through_npm_is_stopped_by_its_consumer(running_worker, tmp_path, how):
    """`npm run` -> `sh -c` -> `tsx watch` -> node, the dev script as repositories have it: a stop in the
    middle of 8 s jobs reaches the worker only, once; tsx watch (which kills its child 5 s after a stop)
    is stopped after the worker has finished its job and exited. Every job started once, never stalled."""
    stack = running_worker
    term = session(stack, tmp_path, f"npm --prefix {FIXTURE} run tsx-watch")
    term.wait_output("dev worker running with the queue", timeout=90)
    prefix = f"npmtsx{how.replace('_', '')}"
    stack.produce(prefix, 3, duration_ms=CONSUMER_JOB_MS)
    mid_job(stack)
    getattr(term, how)()
    assert term.wait(120) == EXITS[how], term.output
    assert stack.ps()["worker"] == "running"
    assert_never_cut(stack, prefix, 3)
    assert_exactly_once(stack, prefix, 3)
    if how == "close_terminal":  # a closed terminal shows nothing more
        return
    out = term.output
    assert "stopping the dev worker's queue consumers first (pid " in out, out
    assert "Force killing" not in out and "may have been cut" not in out, out
    assert len(re.findall(r"\[worker\] SIG\w+ received", out)) == 1, out  # one signal reached the worker
    assert "background worker restored" in out


CLUSTER_APP = FIXTURE / "cluster-worker.mjs"


def test_a_cluster_primary_that_forwards_nothing_has_its_forks_stopped(running_worker, tmp_path):
    """A node:cluster app whose primary neither forwards nor handles signals: Ctrl+C mid-job goes to both
    forks (the consumers), once each; they finish their 8 s jobs and exit, then the primary is ended. No job
    cut, and the session ends without waiting out the 30 s grace period (no escalation, no kill)."""
    stack = running_worker
    term = session(stack, tmp_path, f"node {CLUSTER_APP}", INVOKE_APP_START_GATE="0")
    term.wait_output("dev worker running (", timeout=90)
    wait_for(lambda: len(re.findall(r"\[cluster\] fork pid=\d+ ready", term.output)) == 2, 30, what="both forks")
    stack.produce("cluster", 4, duration_ms=CONSUMER_JOB_MS)
    wait_for(lambda: active_jobs(stack) >= 2, 30, interval=0.1, what="both forks in the middle of a job")
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    out = term.output
    line = next(ln for ln in out.splitlines() if "queue consumers first" in ln)
    primary = re.search(r"\[cluster\] primary pid=(\d+)", out)
    assert primary and re.search(
        rf"first \(pids \d+ \(node\), \d+ \(node\): Ctrl\+C, once each\); then pid {primary[1]} ", line
    ), line
    assert out.count("SIGINT received") == 2 and "received again" not in out, out  # once each
    assert out.count("closed") >= 2, out
    assert "still running" not in out and "killing" not in out and "may have been cut" not in out, out
    # the primary ends by itself once its forks are gone, or by the Ctrl+C that follows them
    assert re.search(r"dev worker (exited \(code 0\)|ended by SIGINT \(code 130\))", out), out
    assert "background worker restored" in out
    assert_never_cut(stack, "cluster", 4)


def test_the_runner_restarts_a_cluster_app_only_after_its_forks_finished(running_worker, tmp_path):
    """The shipped runner around the same cluster app, restarted by a change in the middle of 8 s jobs: it
    stops the forks holding the jobs (signalling the primary alone, as it did, let the forks die with it
    mid-job), waits for them, and only then starts the app again. No job cut."""
    stack = running_worker
    watched = tmp_path / "watched"
    watched.mkdir()
    term = session(stack, tmp_path, f"devstack-run --watch {watched} -- node {CLUSTER_APP}", INVOKE_APP_START_GATE="0")
    term.wait_output("dev worker running (", timeout=90)
    wait_for(lambda: len(re.findall(r"\[cluster\] fork pid=\d+ ready", term.output)) == 2, 30, what="both forks")
    stack.produce("clusterrestart", 2, duration_ms=CONSUMER_JOB_MS)
    wait_for(lambda: active_jobs(stack) >= 2, 30, interval=0.1, what="both forks in the middle of a job")
    (watched / "x.js").write_text("// changed\n")
    term.wait_output("restarting the worker once it has stopped")
    term.wait_output("stopping the worker's consumers first (pids ")
    assert re.search(r"consumers first \(pids \d+, \d+: SIGTERM, once each\)", term.output), term.output
    term.wait_output("starting it again", timeout=60)
    wait_for(lambda: len(re.findall(r"\[cluster\] fork pid=\d+ ready", term.output)) == 4, 60, what="new forks")
    out = term.output
    assert out.count("SIGTERM received") == 2 and "received again" not in out, out
    assert "killing it" not in out, out
    term.ctrl_c()
    assert term.wait(120) == 0, term.output
    assert_never_cut(stack, "clusterrestart", 2)
