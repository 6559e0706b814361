"""Watchers (issue 16): stop escalation, exit lines, dev-command detection, BullMQ connections in Redis, the guardian."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from tasks.knowledge import bullmq_clients, exit_codes, watchers


# -- exit codes and escalation -------------------------------------------------------------------
@pytest.mark.parametrize(
    "returncode, expected",
    [
        (0, "exited (code 0)"),
        (3, "exited (code 3)"),
        (-2, "ended by SIGINT (code 130)"),
        (-15, "ended by SIGTERM (code 143)"),
        (-9, "was killed by SIGKILL (code 137)"),
        (130, "exited (code 130)"),
    ],
)
def test_exit_lines_are_as_a_shell_shows_them(returncode, expected):
    assert exit_codes.describe_exit(returncode) == expected


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signal")
def test_a_hang_up_passed_on_as_sigterm_is_still_reported_as_129():
    assert exit_codes.exit_code(-signal.SIGTERM, [signal.SIGHUP]) == 129
    assert exit_codes.exit_code(143, [signal.SIGHUP]) == 129
    assert exit_codes.exit_code(134, [signal.SIGHUP]) == 129  # Node 20 aborting on the gone terminal
    assert exit_codes.exit_code(-signal.SIGSEGV, [signal.SIGHUP]) == 129  # ... or crashing on it (139)
    assert exit_codes.exit_code(1, [signal.SIGHUP]) == 129  # concurrently's code after the SIGTERM
    assert exit_codes.exit_code(3, [signal.SIGHUP]) == 129  # whatever the dev command returns: a hang-up


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signal")
def test_escalation_steps():
    first = exit_codes.escalation(signal.SIGINT, 1)
    assert (first.send, first.line) == (signal.SIGINT, "")
    assert exit_codes.escalation(signal.SIGHUP, 1).send == signal.SIGTERM  # nodemon restarts on SIGHUP
    assert exit_codes.escalation(signal.SIGTERM, 1).send == signal.SIGTERM
    second = exit_codes.escalation(signal.SIGINT, 2)
    assert second.send == signal.SIGTERM and second.line.startswith("Ctrl+C again: sending SIGTERM")
    third = exit_codes.escalation(signal.SIGINT, 3)
    assert third.send == signal.SIGKILL and "killing the dev command (SIGKILL)" in third.line
    assert exit_codes.escalation(signal.SIGTERM, 2).line.startswith("SIGTERM again")
    assert exit_codes.escalation(signal.SIGHUP, 2) == exit_codes.StopStep(0, "")  # nobody pressed anything


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_second_and_third_ctrl_c_escalate_and_quick_repeats_do_not(monkeypatch, tmp_path, capsys):
    from tasks.drivers import foreground

    sent: list[tuple[int, int]] = []
    monkeypatch.setattr("os.killpg", lambda pgid, signum: sent.append((pgid, signum)))
    monkeypatch.setattr(foreground, "descendants", lambda pid: [pid])
    monkeypatch.setattr(foreground, "kill_all", lambda procs: sent.extend((pid, -1) for pid in procs))
    presses = [10.0, 10.05, 11.0, 12.0]  # the second 50 ms after the first: the same press by a second route
    monkeypatch.setattr(foreground, "_now", lambda: presses.pop(0))
    child = foreground.ForegroundChild(["x"], cwd=tmp_path, env={})
    child.proc = SimpleNamespace(pid=77, poll=lambda: None)  # type: ignore[assignment]
    for _ in range(4):
        child._forward(signal.SIGINT, None)
    assert sent == [(77, signal.SIGINT), (77, signal.SIGTERM), (77, signal.SIGKILL), (77, -1)]  # group first
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and "Ctrl+C again" in out and "a third time" in out
    assert child.received == [signal.SIGINT] * 4


# A runner: its worker in a process group of its own (as tasks/runner/devrun.mjs starts it), and when
# that worker dies it starts another, the way a watcher restarts a crashed worker. Each pid goes to argv[1].
RUNNER_WITH_OWN_GROUP_WORKER = """
import signal, subprocess, sys, time
def spawn(*_):
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    with open(sys.argv[1], "a") as pids:
        print(worker.pid, file=pids)
spawn()
signal.signal(signal.SIGCHLD, spawn)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_sigkill_reaches_a_worker_in_a_group_of_its_own_and_leaves_nothing_behind(tmp_path, capfd):
    """Real processes: the worker outside the dev command's process group is listed before the group dies
    (re-parented to init it could not be found any more) and killed after it, so the runner is gone
    before its worker dies and cannot start another in between."""
    import time

    import psutil

    from tasks.drivers import foreground

    pids = tmp_path / "pids"
    child = foreground.ForegroundChild(
        [sys.executable, "-c", RUNNER_WITH_OWN_GROUP_WORKER, str(pids)], cwd=tmp_path, env=dict(os.environ)
    )
    child.start()
    assert child.proc is not None
    deadline = time.monotonic() + 10
    while "ready" not in capfd.readouterr().out and time.monotonic() < deadline:
        time.sleep(0.05)
    first = psutil.Process(int(pids.read_text()))
    assert os.getpgid(first.pid) != child.proc.pid  # outside the group: killpg alone would miss it
    child._signal_group(signal.SIGKILL)
    child.proc.wait(timeout=5)
    time.sleep(0.3)  # a replacement started by a runner that outlived its worker would be there by now
    started = [psutil.Process(int(pid)) for pid in pids.read_text().split() if psutil.pid_exists(int(pid))]
    _, alive = psutil.wait_procs(started, timeout=5)
    assert pids.read_text().split() == [str(first.pid)] and not alive, (pids.read_text(), alive)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal")
def test_a_closed_terminal_sends_sigterm_once(monkeypatch, tmp_path):
    from tasks.drivers import foreground

    sent: list[int] = []
    monkeypatch.setattr("os.killpg", lambda pgid, signum: sent.append(signum))
    child = foreground.ForegroundChild(["x"], cwd=tmp_path, env={})
    child.proc = SimpleNamespace(pid=77, poll=lambda: None)  # type: ignore[assignment]
    child._forward(signal.SIGHUP, None)
    child._forward(signal.SIGHUP, None)  # the shell relaying the same hang-up
    assert sent == [signal.SIGTERM]


STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: print("SIGINT: ignored", flush=True))
signal.signal(signal.SIGTERM, lambda *_: print("SIGTERM: ignored", flush=True))
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX; Windows kills at the deadline")
@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGHUP])
def test_a_dev_command_that_outlives_the_grace_period_is_escalated_by_itself(tmp_path, capfd, first):
    """A real process that ignores SIGINT and SIGTERM (as `tsx watch` hangs once its worker already died):
    after one Ctrl+C, or a closed terminal, nobody presses again; past the grace period plus the margin
    the task sends SIGTERM, then SIGKILL, one line each, instead of waiting for ever."""
    import time

    from tasks.drivers import foreground

    child = foreground.ForegroundChild(
        [sys.executable, "-c", STUBBORN], cwd=tmp_path, env=dict(os.environ), stop_grace=0.3, escalate_margin=0.3
    )
    child.start()
    assert child.proc is not None and child.proc.stdout is None
    deadline = time.monotonic() + 10
    while "ready" not in capfd.readouterr().out and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    child._forward(first, None)
    code = child.wait(group_grace=5)
    took = time.monotonic() - started
    out = capfd.readouterr().out
    assert code == -signal.SIGKILL, out
    assert "still running 0.6 s after the stop request (grace period 0.3 s): sending SIGTERM" in out, out
    assert "SIGTERM: ignored" in out and "the dev command is still running: killing it (SIGKILL)" in out, out
    assert 0.9 <= took < 8, took  # not before grace + 2 margins; never for ever


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_dev_command_that_stops_within_the_grace_period_is_never_escalated(tmp_path, capfd):
    from tasks.drivers import foreground

    child = foreground.ForegroundChild(
        [sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path, env=dict(os.environ), stop_grace=0.3
    )
    child.start()
    child._forward(signal.SIGINT, None)  # Python's default: KeyboardInterrupt, exit at once
    assert child.wait(group_grace=5) != -signal.SIGKILL
    assert "still running" not in capfd.readouterr().out


# -- dev commands ---------------------------------------------------------------------------------
def test_detects_tsx_watch_with_its_fix():
    [finding] = watchers.detect("tsx watch src/main.ts")
    assert finding.tool == "`tsx watch`" and finding.fix == "devstack-run -- tsx src/main.ts"
    assert "SIGKILLs the worker 5 s after a stop" in finding.line("tsx watch src/main.ts")


def test_follows_npm_and_pnpm_scripts():
    scripts = {"dev": "npm run watch", "watch": "nodemon dist/index.js"}
    [finding] = watchers.detect("npm run dev", scripts)
    assert finding.tool == "nodemon" and "restarts it on SIGHUP" in finding.problem
    assert finding.fix == "devstack-run -- node dist/index.js"
    assert watchers.detect("pnpm dev", {"dev": "tsx watch src/x.ts"})[0].tool == "`tsx watch`"
    assert watchers.detect("yarn dev", {"dev": "ts-node-dev --respawn src/x.ts"})[0].tool == "ts-node-dev"


@pytest.mark.parametrize(
    "dev",
    [
        "pnpm --filter @acme/jobs dev",  # what the tasks detect for a pnpm workspace member
        "pnpm -F @acme/jobs run dev",
        "pnpm --filter=@acme/jobs dev",
        "yarn workspace @acme/jobs dev",  # ... for a yarn workspace member
        "npm --workspace packages/jobs run dev",
        "npm run dev --workspace packages/jobs",
    ],
)
def test_follows_a_workspace_members_script(dev):
    [finding] = watchers.detect(dev, {"dev": "tsx watch src/index.ts"})
    assert finding.tool == "`tsx watch`" and finding.fix == "devstack-run -- tsx src/index.ts"


def test_concurrently_with_a_compiler_in_watch_mode():
    dev = "concurrently 'tsc --watch' 'nodemon dist/index.js'"
    [finding] = watchers.detect(dev)
    assert finding.tool == "nodemon beside `tsc --watch`"
    assert "every compile" in finding.problem and finding.fix == "devstack-run -- tsx src/index.ts"
    scripts = {"dev": "concurrently npm:build:w npm:serve", "build:w": "tsc -w", "serve": "nodemon build/main.js"}
    assert watchers.detect("npm run dev", scripts)[0].tool == "nodemon beside `tsc -w`"


@pytest.mark.parametrize(
    "dev",
    [
        "devstack-run --watch src -- node --import tsx src/main.ts",
        "devstack-run -- tsx src/main.ts",
        "tsx src/main.ts",
        "npm run dev",
        "",
    ],
)
def test_nothing_to_say_about_safe_commands(dev):
    assert watchers.detect(dev, {"dev": "devstack-run -- node dist/x.js"}) == []


def test_the_runner_name_becomes_node_and_the_shipped_file():
    argv = watchers.expand_runner(["devstack-run", "--", "tsx", "src/main.ts"])
    assert argv[0] == "node" and Path(argv[1]) == watchers.RUNNER_PATH and argv[2:] == ["--", "tsx", "src/main.ts"]
    assert watchers.RUNNER_PATH.is_file()
    assert watchers.expand_runner(["npm", "run", "dev"]) == ["npm", "run", "dev"]


@pytest.mark.parametrize(
    "healthcheck, engine, expected",
    [
        ({"test": ["CMD", "true"], "interval": "1s"}, "20.10.24", ""),
        ({"test": ["CMD", "true"], "interval": "30s"}, "20.10.24", "start_interval needs Docker Engine 25+"),
        ({"test": ["CMD", "true"], "interval": "30s"}, "27.1.0", "add `start_period: 30s` and `start_interval: 1s`"),
        ({"test": ["CMD", "true"], "interval": "30s", "start_interval": "1s"}, "27.1.0", ""),
        ({"test": ["CMD", "true"]}, "27.1.0", "runs every 30 s"),  # Docker's default interval
        (None, "27.1.0", ""),
        ({"disable": True}, "27.1.0", ""),
    ],
)
def test_healthcheck_advice(healthcheck, engine, expected):
    text = watchers.healthcheck_advice("worker", healthcheck, engine)
    assert (expected in text and text != "") if expected else text == ""


# -- BullMQ connections ---------------------------------------------------------------------------
def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CLIENT_LIST = "\n".join(
    [
        f"id=3 addr=172.18.0.1:40000 laddr=172.18.0.3:6379 fd=8 name=bull:{b64('digest')} age=5 db=0",
        f"id=4 addr=172.18.0.1:40002 laddr=172.18.0.3:6379 fd=9 name=bull:{b64('digest')}:w:email age=5 db=0",
        f"id=5 addr=172.18.0.1:40004 laddr=172.18.0.3:6379 fd=10 name=bull:{b64('digest')}:qe age=5 db=0",
        "id=6 addr=172.18.0.1:40006 laddr=172.18.0.3:6379 fd=11 name= age=5 db=0",
        f"id=7 addr=172.18.0.1:40008 laddr=172.18.0.3:6379 fd=12 name=my:app:{b64('mails')} age=5 db=0",
        "id=8 addr=172.18.0.1:40010 laddr=172.18.0.3:6379 fd=13 name=bull:not base64 age=5 db=0",
    ]
)


def test_worker_connections_of_any_queue_and_prefix():
    found = bullmq_clients.consumers(CLIENT_LIST)
    assert [(c.id, c.prefix, c.queue, c.worker) for c in found] == [
        ("3", "bull", "digest", ""),
        ("4", "bull", "digest", "email"),
        ("7", "my:app", "mails", ""),
    ]
    before = found[:1]
    assert [c.id for c in bullmq_clients.new_consumers(before, found)] == ["4", "7"]


def test_redis_addresses_from_the_dev_environment():
    env = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "50001",
        "REDIS_PASSWORD": "pw",
        "PGHOST": "127.0.0.1",
        "PGPORT": "50002",
        "REDIS_URL": "redis://:s%40cret@localhost:50003/0",
    }
    pairs = [("PGHOST", "PGPORT"), ("REDIS_HOST", "REDIS_PORT")]
    found = bullmq_clients.redis_addresses(env, pairs, ["DATABASE_URL", "REDIS_URL"])
    assert found == [
        bullmq_clients.RedisAddress("localhost", 50003, "s@cret"),
        bullmq_clients.RedisAddress("127.0.0.1", 50001, "pw"),
        bullmq_clients.RedisAddress("127.0.0.1", 50002),
    ]


def fake_redis(replies: dict[bytes, bytes]) -> tuple[int, threading.Thread]:
    """A one-connection-per-command RESP server answering from ``replies`` (by the command's first word)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        for _ in range(len(replies) * 3):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536)
                words = [w for w in data.split(b"\r\n") if w and w[:1] not in (b"*", b"$")]
                conn.sendall(replies.get(words[0].upper(), b"-ERR unknown\r\n"))
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def test_client_list_over_resp():
    from tasks.drivers import queue_consumers

    body = CLIENT_LIST.encode()
    port, _ = fake_redis({b"PING": b"+PONG\r\n", b"CLIENT": b"$%d\r\n%s\r\n" % (len(body), body)})
    redis = queue_consumers.find({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port)}, "REDIS_HOST:REDIS_PORT", "")
    assert redis is not None
    assert [c.queue for c in queue_consumers.snapshot(redis) or []] == ["digest", "digest", "mails"]


def test_no_redis_means_unknown_not_running():
    from tasks.drivers import queue_consumers

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed
    watch = queue_consumers.ConsumerWatch(
        {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port)}, "REDIS_HOST:REDIS_PORT", ""
    )
    child = SimpleNamespace(received=[], exited=lambda: False)
    state, why = watch.wait(child, 0.1, say=lambda line: None)
    assert state == "unknown" and "cannot be read" in why


# -- the guardian ---------------------------------------------------------------------------------
def test_the_guardian_does_nothing_after_a_normal_end(tmp_path):
    """The session removed its record: the guardian exits once the session's process is gone."""
    session = subprocess.Popen([sys.executable, "-c", "pass"])
    session.wait()
    from tasks.drivers.handover import guardian

    assert guardian.guard(tmp_path, session.pid, None) == 0


def test_the_guardian_recovers_a_killed_sessions_record_and_retries(tmp_path, monkeypatch):
    """A killed session's record stays: the guardian runs the one recovery, again while the
    background worker's stop is still finishing (the restore then fails with an exited container)."""
    import pickle

    from tasks.drivers import handover
    from tasks.drivers.handover import guardian
    from tasks.knowledge.failures import UserError

    session = subprocess.Popen([sys.executable, "-c", "pass"])
    session.wait()
    record = handover.new_record(worker_was_running=True)
    record.pid = session.pid
    handover.write_record(tmp_path, record)
    settings_file = tmp_path / guardian.SETTINGS.format(pid=session.pid)
    settings_file.write_bytes(pickle.dumps({"settings": "of the session"}))
    monkeypatch.setattr("tasks.drivers.compose.Compose", lambda s, require_env: SimpleNamespace(env={}, settings=s))
    outcomes = [UserError("restoring the background worker failed: it exited (exit code 0)"), None]
    calls = []

    def recover(compose, confirm=None):
        assert confirm is not None  # the guardian's own check that the worker consumes again
        calls.append(compose.settings)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return True

    monkeypatch.setattr("tasks.drivers.handover.restore.recover_stale", recover)
    monkeypatch.setattr(guardian, "RedisLookup", lambda compose: None)  # no Redis to look for here
    monkeypatch.setattr("time.sleep", lambda s: None)
    assert guardian.guard(tmp_path, session.pid, None) == 0
    assert calls == [{"settings": "of the session"}] * 2
    assert not settings_file.exists()


def test_the_guardian_leaves_another_sessions_record_alone(tmp_path, monkeypatch):
    from tasks.drivers import handover
    from tasks.drivers.handover import guardian

    record = handover.new_record(worker_was_running=True)  # this test process: a live, other session
    handover.write_record(tmp_path, record)
    monkeypatch.setattr("tasks.drivers.handover.restore.recover_stale", lambda compose: pytest.fail("must not recover"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert guardian.guard(tmp_path, dead.pid, None) == 0


def test_doctor_reads_the_scripts_where_the_dev_command_runs(tmp_path):
    from dataclasses import dataclass

    from tasks.drivers import dev_command

    @dataclass
    class W:
        app_dir: Path
        run_dir: Path
        app_dev: str
        root: Path

    app = tmp_path / "apps" / "api"
    (app / "src").mkdir(parents=True)
    (app / "src" / "index.ts").write_text("")  # the fix names the entry and tsx only when both exist
    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / "node_modules" / ".bin" / "tsx").write_text("")
    (app / "package.json").write_text('{"scripts": {"dev": "tsx watch src/index.ts"}}')
    (tmp_path / "package.json").write_text("not json")  # a broken file is skipped, not an error
    [line] = dev_command.advice(W(app, tmp_path, "pnpm dev", tmp_path))  # type: ignore[arg-type]
    assert line.startswith("`pnpm dev` runs `tsx watch`") and line.endswith("`dev: devstack-run -- tsx src/index.ts`")
    assert dev_command.advice(W(app, app, "node dist/index.js", tmp_path)) == []  # type: ignore[arg-type]


def test_doctor_reads_a_filtered_members_script_not_the_roots(tmp_path):
    """`pnpm --filter <pkg> dev` runs at the root but runs the member's `dev`, not the root's."""
    from dataclasses import dataclass

    from tasks.drivers import dev_command

    @dataclass
    class W:
        app_dir: Path
        run_dir: Path
        app_dev: str
        root: Path

    app = tmp_path / "packages" / "jobs"
    app.mkdir(parents=True)
    (app / "package.json").write_text('{"scripts": {"dev": "tsx watch src/index.ts"}}')
    (tmp_path / "package.json").write_text('{"scripts": {"dev": "pnpm -r --parallel dev"}}')
    [line] = dev_command.advice(W(app, tmp_path, "pnpm --filter @acme/jobs dev", tmp_path))  # type: ignore[arg-type]
    assert line.startswith("`pnpm --filter @acme/jobs dev` runs `tsx watch`")


def test_doctor_warns_when_the_detected_dev_script_is_missing(tmp_path, monkeypatch):
    """`npm run dev` detected for a package without a `dev` script (seen adopting a repository whose
    workers have only `build` and `start`): said by doctor, not first by a failing dev.worker."""
    import importlib

    from invoke.config import Config

    from tasks.drivers.workers import complete
    from tasks.knowledge.defaults import DEFAULTS
    from tasks.knowledge.settings import Settings

    doctor = importlib.import_module("tasks.doctor")  # the module (the package's `doctor` is the task)
    monkeypatch.setattr(doctor, "_line", lambda ok, label, detail, warn=False: f"{label.strip()}: {detail}")
    (tmp_path / "package.json").write_text('{"name": "mailer", "scripts": {"build": "tsc", "start": "node dist"}}')
    (tmp_path / "package-lock.json").write_text("{}")

    def lines(overrides: dict) -> list:
        found: list = []
        s = complete(Settings.from_config(Config(defaults=DEFAULTS, overrides=overrides), root=tmp_path))
        doctor._missing_dev_script(s, found)
        return found

    [line] = lines({})
    assert line.startswith("dev command: package.json has no `dev` script, so `npm run dev` will fail"), line
    assert lines({"app": {"dev": "node dist/main.js"}}) == []  # configured: not ours to check
    (tmp_path / "package.json").write_text('{"name": "mailer", "scripts": {"dev:worker": "tsx src/w.ts"}}')
    assert lines({}) == []  # `npm run dev:worker`, which exists


def test_a_dev_worker_gone_while_its_watcher_runs_is_said_once_and_its_return_too():
    """`tsx watch` or nodemon after their worker crashed: the dev command lives on, the queue is unserved.
    (Redis's answers are scripted here: the parsing of real CLIENT LIST text has its own tests in this
    file, and bench/handover.py --dev tsx-watch drives it for real; this test is about timing and lines.)"""
    import time

    from tasks.drivers import queue_consumers
    from tasks.knowledge.bullmq_clients import Consumer

    dev = Consumer(id="9", addr="127.0.0.1:5", prefix="bull", queue="digest")
    again = Consumer(id="10", addr="127.0.0.1:6", prefix="bull", queue="digest")
    answers = [[dev], [], [], [], [], [], [again], [again]]

    class Scripted:
        def consumers(self):
            return answers.pop(0) if len(answers) > 1 else answers[0]

    watch = SimpleNamespace(redis=Scripted(), before=[], queues=None)
    child = SimpleNamespace(received=[], exited=lambda: False, worker_gone=False)
    lines: list[str] = []
    seen_gone: list[bool] = []
    gone = queue_consumers.GoneWatch(watch, child, lines.append, "`digest`", after=0.1, poll=0.03)  # type: ignore[arg-type]
    gone.start()
    deadline = time.monotonic() + 5
    while len(lines) < 2 and time.monotonic() < deadline:
        seen_gone.append(child.worker_gone)
        time.sleep(0.01)
    gone.stop()
    assert True in seen_gone and child.worker_gone is False  # set while gone, cleared on its return
    assert len(lines) == 2, lines
    assert lines[0].startswith("the dev worker has not been connected to `digest` for 0.1 s (it ended;"), lines
    assert lines[1] == "the dev worker consumes `digest` again"


def test_the_gone_watch_says_nothing_once_the_session_is_ending():
    import time

    from tasks.drivers import queue_consumers

    class Empty:
        def consumers(self):
            return []

    watch = SimpleNamespace(redis=Empty(), before=[])
    child = SimpleNamespace(received=[2], exited=lambda: False, worker_gone=False)  # Ctrl+C was pressed
    lines: list[str] = []
    gone = queue_consumers.GoneWatch(watch, child, lines.append, "`digest`", after=0.05, poll=0.02)  # type: ignore[arg-type]
    gone.start()
    time.sleep(0.3)
    gone.stop()
    assert lines == []
