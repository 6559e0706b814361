"""The tasks on a compose file unlike ours, driven by configuration only (see othersetup.py).

Nothing here relies on devstack's service names, labels, profile or `.env` variable names: restart
policy and scheduler come from Docker and Compose, the dev worker's addresses from the published
ports of `queue` and `db`.
"""

from __future__ import annotations

import re
import signal

import pytest

from .othersetup import COMPOSE_FILE, OtherStack
from .stackenv import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture
def other(tmp_path, built_app):
    s = OtherStack(tmp_path)
    yield s
    s.down()


@pytest.fixture
def running(other):
    result = other.inv("worker.up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert other.states() == {"queue": "running", "db": "running", "jobs": "running"}
    return other


def test_status_reads_restart_policy_and_scheduler_from_docker_and_compose(other):
    before = other.inv("worker.status")
    assert before.returncode == 0, before.stderr
    assert "jobs: not created" in before.stdout
    assert "restart policy: on-failure (from the compose files)" in before.stdout
    assert "scheduler:      on (from the compose files)" in before.stdout
    assert other.inv("worker.up").returncode == 0
    status = other.inv("worker.status")
    assert status.returncode == 0, status.stderr
    assert "jobs: running" in status.stdout
    assert "restart policy: on-failure\n" in status.stdout  # from docker inspect, no label involved
    assert "scheduler:      on\n" in status.stdout  # from the container's environment
    assert "health:         no healthcheck" in status.stdout
    assert "unknown" not in status.stdout


def test_dev_worker_gets_the_published_addresses_and_hands_over(running, tmp_path):
    stack = running
    log = tmp_path / "dev.log"
    proc = stack.popen_inv("dev.worker", log=log)
    try:
        wait_for(
            lambda: "[worker] ready queue=" in log.read_text() or proc.poll() is not None, 90, what="dev worker ready"
        )
        out = log.read_text()
        assert "[worker] ready queue=" in out, out
        # REDIS_URL=redis://queue:6379 became the published 127.0.0.1:<QUEUE_PORT>
        assert stack.states()["jobs"] == "exited"
        stack.produce("oth", 3)
        wait_for(lambda: len(stack.processed_by("oth")) == 3, 60, what="3 jobs processed")
        assert set(stack.processed_by("oth")) == {"dev"}
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, log.read_text()
    assert "background worker `jobs` restored" in log.read_text()
    assert stack.states()["jobs"] == "running"


def test_unreachable_queue_refuses_without_stopping_the_background_worker(running):
    stack = running
    stack.compose("stop", "queue")
    result = stack.inv("dev.worker", env={"INVOKE_APP_DEV": "node -e 0"}, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "service 'queue'" in errors[0] and f"127.0.0.1:{stack.queue_port}" in errors[0] and "REDIS_URL" in errors[0]
    assert "stopping the background" not in result.stdout
    assert stack.states()["jobs"] == "running"


def test_a_service_publishing_no_port_is_named_with_what_to_add(running):
    stack = running
    # The worker talks to a service by name that publishes nothing: the dev worker could never reach it.
    # It is no Redis, so it is a warning naming the variable (only the queue's Redis refuses a session).
    result = stack.inv("doctor", env={"INVOKE_DEV_HOST_PORT_VARS": "WORKER_NAME:PGPORT"}, timeout=60)
    # WORKER_NAME=jobs names the jobs service itself, which publishes no port
    line = next(
        (x for x in result.stdout.splitlines() if "service 'jobs' publishes no port for 5432" in x), result.stdout
    )
    assert "WARN" in line and "WORKER_NAME/PGPORT" in line, line
    assert "compose.devstack.yaml publishes jobs:5432 on 127.0.0.1" in line, line
    assert stack.states()["jobs"] == "running"


def test_port_taken_by_another_project_is_named_before_up(running, tmp_path_factory, built_app):
    first = running
    second = OtherStack(tmp_path_factory.mktemp("second"), queue_port=first.queue_port)
    try:
        result = second.inv("worker.up")
        assert result.returncode == 1, result.stdout + result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("error: port 127.0.0.1:") and f":{first.queue_port} of service 'queue'" in line
        assert "(QUEUE_PORT)" in line and f"compose project '{first.project}'" in line
        spare = int(re.search(r"set QUEUE_PORT=(\d+)", line).group(1))
        assert spare != first.queue_port
        assert second.states() == {}  # nothing half-created
        # the suggested port works
        second.write_env(QUEUE_PORT=str(spare))
        second.queue_port = spare
        assert second.inv("stack.up").returncode == 0
    finally:
        second.down()


def test_port_taken_by_a_host_process(other):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", other.db_port))
        holder.listen()
        result = other.inv("stack.up")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert f"port 127.0.0.1:{other.db_port} of service 'db' (DB_PORT)" in line
    # this test's own process holds it (same user: psutil sees it): named, with its pid
    import os

    import psutil

    assert f"the host process {psutil.Process().name()} (pid {os.getpid()})" in line, line


def test_env_check_warns_about_two_schedulers_across_services(other):
    # also shows that the cached `compose config` follows the env file
    assert "scheduler" not in other.inv("env.check").stdout
    other.write_env(MAILER_SCHEDULER="true")
    result = other.inv("env.check")
    assert "warning: services 'jobs', 'mailer' all have ENABLE_SCHEDULER on" in result.stdout, result.stdout


def test_doctor_tells_built_from_pulled_images(other):
    result = other.inv("doctor")
    lines = [line for line in result.stdout.splitlines() if " image " in line]
    jobs = next(line for line in lines if "otherapp-jobs-" in line)
    assert "not built yet: built by `inv worker.up`" in jobs, result.stdout
    assert not any("pulled on first up" in line and "otherapp-jobs-" in line for line in lines)
    assert sum("otherapp-jobs-" in line for line in lines) == 1  # two services, one image


def test_a_failed_up_is_explained_when_a_port_is_taken(other, monkeypatch):
    """After Compose's own `port is already allocated` (a port taken between the check and `up`)."""
    import socket

    from invoke.config import Config

    from tasks.drivers import ports
    from tasks.drivers.compose import Compose
    from tasks.knowledge.defaults import DEFAULTS
    from tasks.knowledge.failures import UserError
    from tasks.knowledge.settings import Settings

    for key, value in other.environ.items():
        monkeypatch.setenv(key, value)
    overrides = {
        "compose": {"files": str(COMPOSE_FILE), "env_file": str(other.env_file)},
        "worker": {"service": "jobs", "profile": ""},
        "state": {"dir": str(other.state_dir)},
    }
    compose = Compose(Settings.from_config(Config(defaults=DEFAULTS, overrides=overrides)))
    original = UserError("starting the jobs service failed: exit code 1 (see Compose's output above)")
    assert ports.explain_failed_up(compose, ["jobs"], original) is original  # nothing taken: unchanged
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", other.queue_port))
        holder.listen()
        explained = ports.explain_failed_up(compose, ["jobs"], original)
    assert f"port 127.0.0.1:{other.queue_port} of service 'queue' (QUEUE_PORT)" in explained.reason
    assert "Compose could not start it: starting the jobs service failed" in explained.reason
