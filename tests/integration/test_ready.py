"""Ready = consuming (issue 25): a worker without a healthcheck is ready once its container consumes.

One compose project (Redis + a worker without a healthcheck: tests/integration/fixtures/stop-shapes)
for the whole module; each test points the worker's command at `src/late.mjs`, which connects to
Redis at once but starts its BullMQ worker only after a delay, or never. The bound
(`worker.consume_within`) is made small through its `INVOKE_*` variable.
"""

from __future__ import annotations

import pytest

from . import stopsetup

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shapes(stop_shapes_image, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ready")
    first = stopsetup.ShapeStack(tmp, command="node src/late.mjs never")
    stacks = [first]

    def with_command(command: str) -> stopsetup.ShapeStack:
        """The same project (its Redis kept running), its worker's command changed."""
        stack = stopsetup.ShapeStack(tmp, command=command, project=first.project, redis_port=first.redis_port)
        stacks.append(stack)
        return stack

    yield with_command
    first.down()


def test_a_worker_that_never_consumes_fails_worker_up_with_its_logs(shapes):
    stack = shapes("node src/late.mjs never")
    up = stack.inv("worker.up", env={"INVOKE_WORKER_CONSUME_WITHIN": "6s"})
    assert up.returncode == 1, up.stdout + up.stderr
    last = up.stderr.strip().splitlines()[-1]
    assert last.startswith("error: starting the worker service: the worker container started but it has run "), last
    assert "without consuming a queue (no BullMQ/Bull worker connection from its container in `CLIENT LIST`" in last
    assert f"of the Redis at 127.0.0.1:{stack.redis_port}; worker.consume_within is 6.0 s;" in last, last
    assert last.endswith("; stopped it"), last  # not left running idle
    assert "--- last 20 log lines of worker ---" in up.stderr and "[late] connected to Redis" in up.stderr
    assert "waiting for the worker container to consume its queue (it has no healthcheck)" in up.stderr
    assert "Traceback" not in up.stderr
    assert stack.consumers() == 0
    assert stack.container_state()["Status"] == "exited"


def test_a_worker_that_consumes_late_is_ready_only_once_it_consumes(shapes):
    stack = shapes("node src/late.mjs 5000")
    up = stack.inv("worker.up", env={"INVOKE_WORKER_CONSUME_WITHIN": "40s"})
    assert up.returncode == 0, up.stdout + up.stderr
    # Asked right after worker.up returned: its BullMQ worker is already in CLIENT LIST (before this
    # change worker.up returned after 2 s up, 3 s before the app consumed).
    assert stack.consumers() == 1
    assert "[late] connected to Redis; consuming in 5000 ms" in stack.logs()
    assert "waiting for the worker container to consume its queue (it has no healthcheck) ... ready after" in up.stderr
    assert "worker: ready (it consumes its queue)" in up.stdout, up.stdout  # how it was found ready, said
    # Already up and consuming: the next worker.up says nothing of a wait.
    again = stack.inv("worker.up", env={"INVOKE_WORKER_CONSUME_WITHIN": "40s"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running with this configuration" in again.stdout
    assert "waiting for" not in again.stderr, again.stderr


def test_a_worker_consuming_no_queue_keeps_container_readiness_and_doctor_says_so(shapes):
    stack = shapes("node src/late.mjs never")
    env = {"INVOKE_WORKER_CONSUME_WITHIN": "never"}
    up = stack.inv("worker.up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "consume its queue" not in up.stderr, up.stderr
    assert stack.container_state()["Status"] == "running" and stack.consumers() == 0
    doctor = stack.inv("doctor", env=env)
    assert "worker.consume_within is never (it consumes no queue)" in doctor.stdout, doctor.stdout
    bad = stack.inv("worker.status", env={"INVOKE_WORKER_CONSUME_WITHIN": "soon"})
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: worker.consume_within: expected a duration such as 60s or 2m, or never, got 'soon'"
    ), bad.stderr
