"""`inv dev.worker` driven as a real subprocess with real signals, against a real engine.

The dev worker is the app's real dev command (`npm run dev`: tsx watch) unless a test needs a
particular exit (normal, crash, missing command), which a one-line node command provides.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import psutil
import pytest

from .stackenv import wait_for

pytestmark = pytest.mark.docker

QUICK_EXIT = "node -e setTimeout(()=>process.exit(0),1500)"


class Session:
    """One `inv dev.worker` process and its output."""

    def __init__(self, stack, *args, env=None):
        self.log = stack.tmp / f"dev-{time.monotonic_ns()}.log"
        env = dict(env or {})
        if "INVOKE_APP_DEV" in env:
            # A stand-in dev command (`node -e ...`) has no start-gate hook and never dials Redis: the plain
            # handover (through the Redis relay the background worker would rightly never be stopped).
            env.setdefault("INVOKE_APP_START_GATE", "0")
            env.setdefault("INVOKE_APP_REDIS_RELAY", "0")
        self.proc = stack.popen_inv("dev.worker", *args, env=env, log=self.log)

    @property
    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_output(self, text: str, timeout: float = 60) -> None:
        wait_for(lambda: text in self.output or self.proc.poll() is not None, timeout, what=repr(text))
        assert text in self.output, self.output

    def ready(self) -> int:
        """Wait for the dev worker to be consuming; its node pid."""
        # `[worker] ready queue=...`: taking jobs (behind a start gate `[worker] ready (gated)` comes first)
        self.wait_output("[worker] ready queue=", timeout=90)
        return int(re.search(r"\[worker\] ready queue=.*pid=(\d+)", self.output).group(1))

    def finish(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"dev.worker did not end:\n{self.output}")


def worker_running(stack) -> bool:
    return stack.ps().get("worker") == "running"


@pytest.fixture
def running_worker(stack):
    stack.inv("worker.up", check=True)
    assert worker_running(stack)
    return stack


def test_normal_exit_restores_the_background_worker(running_worker):
    stack = running_worker
    session = Session(stack, env={"INVOKE_APP_DEV": QUICK_EXIT})
    session.wait_output("dev worker started")  # a stand-in: it never consumes, so never "running"
    assert stack.ps()["worker"] == "exited"  # stopped, not removed, while the dev worker runs
    assert session.finish() == 0
    assert "background worker restored" in session.output
    assert worker_running(stack)
    assert not (stack.state_dir / stack.project / "worker" / "handover.json").exists()


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 0), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_to_inv_stops_dev_worker_and_restores(running_worker, signum, code):
    stack = running_worker
    session = Session(stack)
    dev_pid = session.ready()
    assert stack.ps()["worker"] == "exited"
    stack.produce(f"dev{signum}", 3)
    rows = stack.wait_rows(f"dev{signum}", 3)
    assert {by for _, by in rows} == {"dev"}  # the dev worker has the queue
    session.proc.send_signal(signum)
    assert session.finish() == code, session.output
    assert "[worker] closed" in session.output  # graceful: BullMQ close() ran
    assert "background worker restored" in session.output
    assert worker_running(stack)
    assert not psutil.pid_exists(dev_pid) or psutil.Process(dev_pid).status() == psutil.STATUS_ZOMBIE
    stack.produce(f"back{signum}", 2)
    assert {by for _, by in stack.wait_rows(f"back{signum}", 2)} == {"background"}


def test_dev_worker_crash_restores_and_exits_with_its_code(running_worker):
    stack = running_worker
    session = Session(stack, env={"INVOKE_APP_DEV": "node -e process.exit(3)"})
    assert session.finish() == 3
    assert "dev worker exited (code 3)" in session.output
    assert worker_running(stack)


def test_dev_command_not_found_restores(running_worker):
    stack = running_worker
    session = Session(stack, env={"INVOKE_APP_DEV": "no-such-dev-command --watch"})
    assert session.finish() == 1
    assert "`no-such-dev-command` was not found" in session.output
    assert "Traceback" not in session.output
    assert worker_running(stack)


def test_no_restore_when_the_worker_was_not_running(stack):
    stack.compose("up", "-d", "--wait")
    session = Session(stack, env={"INVOKE_APP_DEV": QUICK_EXIT})
    assert session.finish() == 0
    assert "was not running before" in session.output
    assert "worker" not in stack.ps()


WAIT_FOR_FILE = "const fs=require('fs');setInterval(()=>{if(fs.existsSync(process.argv[2]))process.exit(0)},50)"


def file_waiting_dev(stack, name: str = "go"):
    """A dev command that runs until the test creates a file: (env for Session, the file). It never
    connects a BullMQ worker, so the session says `dev worker started` and is told not to give up on it."""
    script = stack.tmp / "wait-for-file.js"
    script.write_text(WAIT_FOR_FILE)
    go = stack.tmp / name
    return {"INVOKE_APP_DEV": f"node {script} {go}", "DEVSTACK_DEV_CONNECT_WAIT": "300"}, go


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def test_worker_down_during_session_is_respected(running_worker):
    stack = running_worker
    env, go = file_waiting_dev(stack)
    session = Session(stack, env=env)
    session.wait_output("dev worker started")
    up = stack.inv("worker.up")
    assert up.returncode == 1 and "would run two workers on it" in up.stderr, up.stderr  # never two workers
    down = stack.inv("worker.down", check=True)
    assert "will no longer restore the background worker" in down.stdout, down.stdout
    assert session.proc.poll() is None  # the dev command ends only now, after worker.down ran
    go.touch()
    assert session.finish() == 0, session.output
    assert "`inv worker.down` during this session asked to leave it down; not restoring it" in last_line(
        session.output
    ), session.output
    assert "background worker restored" not in session.output
    assert stack.ps()["worker"] == "exited"


@pytest.mark.parametrize(
    "argv",
    [("stack.up",), ("worker.restart",), ("worker.up",), ("prodlike.up",), ("prodlike.down",)],
    ids=lambda a: a[0],
)
def test_background_actions_are_refused_during_a_session(running_worker, argv):
    stack = running_worker
    env, go = file_waiting_dev(stack)
    session = Session(stack, env=env)
    session.wait_output("dev worker started")
    refused = stack.inv(*argv, timeout=120)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = refused.stderr.strip().splitlines()[-1]
    assert error.startswith("error: a dev worker") and f"pid {session.proc.pid}" in error, refused.stderr
    assert f"{argv[0]} would run two workers on it" in error and "Ctrl+C" in error, error
    assert stack.ps()["worker"] == "exited"  # nothing was started beside the dev worker
    go.touch()
    assert session.finish() == 0, session.output
    assert "background worker restored" in session.output
    assert worker_running(stack)


def test_worker_status_shows_a_live_session(running_worker):
    stack = running_worker
    env, go = file_waiting_dev(stack)
    session = Session(stack, env=env)
    session.wait_output("dev worker started")
    status = stack.inv("worker.status", check=True).stdout
    line = next((x for x in status.splitlines() if "dev worker:" in x), "")
    assert re.search(rf"dev worker: running \(pid \d+, `inv dev.worker` pid {session.proc.pid}, since ", line), status
    assert "the background worker was stopped for it and comes back when it exits" in line, status
    assert "worker: exited" in status
    go.touch()
    assert session.finish() == 0
    assert "dev worker:" not in stack.inv("worker.status", check=True).stdout


def test_dev_worker_refuses_a_missing_app_folder_and_touches_nothing(running_worker, tmp_path):
    stack = running_worker
    missing = tmp_path / "no-app-here"
    result = stack.inv("dev.worker", env={"INVOKE_APP_DIR": str(missing)}, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"error: the app folder {missing} does not exist: check `app.dir` in invoke.yaml"
    ), result.stderr
    assert "stopping" not in result.stdout
    assert worker_running(stack)


def test_dev_preflight_gives_up_on_an_address_that_never_accepts(running_worker):
    """A port whose accept queue is full drops new SYNs: the connect hangs, the preflight's timeout ends it."""
    import socket

    stack = running_worker
    server = socket.socket()
    held = []
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        # Fill the accept queue (nobody accepts): from here on a connect gets no answer at all.
        while True:
            probe = socket.socket()
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                probe.close()
                break
            held.append(probe)
            assert len(held) < 16, "the kernel keeps accepting: cannot build a silent address here"
        result = stack.inv("dev.worker", env={"REDIS_PORT": str(port), "INVOKE_APP_DEV": QUICK_EXIT}, timeout=120)
    finally:
        for sock in held:
            sock.close()
        server.close()
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0] and "'redis'" in errors[0], result.stderr
    assert "the background worker was not touched" in errors[0], errors
    assert "Traceback" not in result.stderr
    assert worker_running(stack)


def test_kill_9_then_status_reports_and_worker_up_recovers(running_worker):
    stack = running_worker
    session = Session(stack, env={"DEVSTACK_GUARDIAN": "0"})  # the next command recovers (no guardian)
    dev_pid = session.ready()
    record = json.loads((stack.state_dir / stack.project / "worker" / "handover.json").read_text())
    assert record["worker_was_running"] and record["pid"] == session.proc.pid
    session.proc.kill()  # SIGKILL: no handler, no finally
    session.proc.wait()
    assert stack.ps()["worker"] == "exited"
    status = stack.inv("worker.status", check=True).stdout
    assert "was killed before restoring" in status and "inv worker.up" in status
    assert stack.ps()["worker"] == "exited"  # status only reports
    up = stack.inv("worker.up", check=True)
    assert "ended without restoring" in up.stdout and "stopped its leftover dev worker" in up.stdout
    assert worker_running(stack)
    wait_for(lambda: not psutil.pid_exists(dev_pid), 20, what="the orphaned dev worker to stop")
    assert not (stack.state_dir / stack.project / "worker" / "handover.json").exists()


def killed_session(stack) -> Session:
    """A session whose `inv` got SIGKILL while its (never-ending) dev worker ran: nothing restored."""
    # The recovery by the next command (the guardian, which does it by itself, is tested in test_watchers.py).
    session = Session(stack, env={"INVOKE_APP_DEV": "node -e setInterval(()=>{},1000)", "DEVSTACK_GUARDIAN": "0"})
    session.wait_output("dev worker started")
    session.proc.kill()
    session.proc.wait()
    assert stack.ps()["worker"] == "exited"
    return session


def test_kill_9_then_next_dev_worker_adopts_and_restores_on_exit(running_worker):
    stack = running_worker
    killed_session(stack)
    second = Session(stack, env={"INVOKE_APP_DEV": QUICK_EXIT})
    assert second.finish() == 0
    assert "was killed" in second.output and "stopped its leftover dev worker" in second.output
    assert worker_running(stack)


def test_kill_9_then_doctor_recovers(running_worker):
    stack = running_worker
    killed_session(stack)
    doctor = stack.inv("doctor")
    assert "recovered the background worker" in doctor.stdout, doctor.stdout
    assert worker_running(stack)


def test_second_session_is_refused_and_first_is_unharmed(running_worker):
    stack = running_worker
    first = Session(stack)
    first.ready()
    second = stack.inv("dev.worker", timeout=60)
    assert second.returncode == 1
    assert f"pid {first.proc.pid}" in second.stderr and "since" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.proc.poll() is None
    stack.produce("first", 3)
    assert {by for _, by in stack.wait_rows("first", 3)} == {"dev"}
    assert stack.ps()["worker"] == "exited"
    first.proc.send_signal(signal.SIGINT)
    assert first.finish() == 0
    assert worker_running(stack)


def test_docker_unreachable_at_start_refuses_before_touching_anything(stack, tmp_path):
    # With the engine gone nothing answers on the published ports: a dev worker would only retry.
    session = Session(stack, env={"INVOKE_APP_DEV": QUICK_EXIT, "DOCKER_HOST": f"unix://{tmp_path}/dead.sock"})
    assert session.finish() == 1, session.output
    out = session.output
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "service 'redis'" in errors[0] and "nothing answers" in errors[0], out
    assert "dev worker running" not in out and "Traceback" not in out
    assert not (stack.state_dir / stack.project / "worker" / "handover.json").exists()


def test_unreachable_redis_refuses_and_never_stops_the_background_worker(running_worker):
    """The issue's case: `REDIS_PORT=1 inv dev.worker` used to stop the worker, then retry forever."""
    stack = running_worker
    result = stack.inv("dev.worker", env={"REDIS_PORT": "1", "INVOKE_APP_DEV": QUICK_EXIT}, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("error:") == 1 and "127.0.0.1:1" in result.stderr and "'redis'" in result.stderr
    assert "stopping the background" not in result.stdout + result.stderr
    assert worker_running(stack)


def test_dev_worker_gets_what_compose_gives_the_container(stack):
    """`POSTGRES_PASSWORD=pa$word#x` is `pa#x` for Compose; the dev worker must connect with it too."""
    stack.write_env(POSTGRES_PASSWORD="pa$word#x")
    stack.inv("worker.up", check=True)
    container_env = stack.compose("exec", "-T", "worker", "printenv", "PGPASSWORD").stdout.strip()
    assert container_env == "pa#x"
    session = Session(stack, env={"INVOKE_APP_DEV": "node -p process.env.PGPASSWORD"})
    assert session.finish() == 0, session.output
    assert "\npa#x\n" in session.output
    # and the real dev worker connects with it (it failed with 28P01 when it got `pa$word#x`)
    session = Session(stack)
    session.ready()
    stack.produce("pw", 2)
    assert {by for _, by in stack.wait_rows("pw", 2)} == {"dev"}
    session.proc.send_signal(signal.SIGINT)
    assert session.finish() == 0
    assert worker_running(stack)


def test_no_scheduler_flag_turns_it_off_for_the_session(stack):
    stack.compose("up", "-d", "--wait")
    session = Session(stack, "--no-scheduler")
    session.ready()
    assert "scheduler=off" in session.output
    session.proc.send_signal(signal.SIGINT)
    assert session.finish() == 0
    default = Session(stack)
    default.ready()
    assert "scheduler=on" in default.output  # .env's ENABLE_SCHEDULER="true", like the background worker
    default.proc.send_signal(signal.SIGINT)
    assert default.finish() == 0


def test_handover_under_steady_load_loses_and_repeats_nothing(running_worker):
    """Jobs arrive every 40 ms while the queue moves to a dev worker and back three times."""
    stack = running_worker
    total = 400
    producer = stack.produce("load", total, interval_ms=40, duration_ms=30, background=True)

    def processed_by(worker: str) -> int:
        return int(
            stack.sql(f"select count(*) from digest_results where job_id like 'load-%' and processed_by = '{worker}'")
        )

    try:
        for _round in range(3):
            # Each worker takes some jobs under load before the queue moves (a wait on the results, not a sleep).
            background = processed_by("background")
            wait_for(
                lambda b=background: processed_by("background") >= b + 10, 60, what="10 jobs by the background worker"
            )
            session = Session(stack)
            session.ready()
            dev = processed_by("dev")
            wait_for(lambda d=dev: processed_by("dev") >= d + 10, 60, what="10 jobs by the dev worker")
            session.proc.send_signal(signal.SIGINT)
            assert session.finish() == 0, session.output
            assert worker_running(stack)
        assert producer.wait(120) == 0
    finally:
        if producer.poll() is None:
            producer.kill()
    rows = stack.wait_rows("load", total, timeout=120)
    ids = [job for job, _ in rows]
    assert len(ids) == total and len(set(ids)) == total
    assert set(ids) == {f"load-{i}" for i in range(1, total + 1)}
    assert {by for _, by in rows} == {"background", "dev"}
    # Exactly once: no job was delivered a second time (a killed worker's job would be, as stalled).
    assert stack.sql("select count(*) from digest_results where job_id like 'load-%' and deliveries > 1") == "0"
