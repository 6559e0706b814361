"""Stopping worker containers shaped as real apps (issue 23): the consumers finish their jobs, and the lines are true.

Each test runs `inv worker.up`, puts jobs longer than a watcher's patience on the queue, stops the
worker mid-job with `inv worker.down`, and reads BullMQ's own record of each job in Redis: `ats`
(attempts started) and `stc` (stalled count); a job that finished once has `ats` 1, no `stc` and a
`finishedOn`. Shapes (tests/integration/fixtures/stop-shapes, see stopsetup.py): `npm run dev` ->
`sh -c` -> `tsx watch` -> node; a node:cluster primary that neither forwards nor handles signals;
a worker without any signal handler; a stop that ends in Docker's SIGKILL.
"""

from __future__ import annotations

import signal

import pytest

from . import stopsetup
from .stackenv import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def image(stop_shapes_image):
    return stop_shapes_image  # built once per session (conftest.py): test_ready.py runs it too


def started(tmp_path, command: str, *, consumers: int = 1, grace: str = "30s") -> stopsetup.ShapeStack:
    stack = stopsetup.ShapeStack(tmp_path, command=command, grace=grace)
    result = stack.inv("worker.up")
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for(lambda: stack.logs().count("[shape] ready") >= consumers, 90, what=f"{consumers} BullMQ worker(s) ready")
    assert stack.consumers() >= consumers
    return stack


def mid_job(stack: stopsetup.ShapeStack, count: int, ms: int) -> list[str]:
    ids = stack.add_jobs(count, ms)
    wait_for(lambda: len(stack.active()) >= count, 30, what=f"{count} job(s) active")
    return ids


def finished_once(job: dict[str, str]) -> bool:
    return job.get("ats") == "1" and job.get("stc", "0") == "0" and bool(job.get("finishedOn"))


@pytest.fixture
def cleanup():
    stacks: list[stopsetup.ShapeStack] = []
    yield stacks
    for stack in stacks:
        stack.down()


def test_npm_run_dev_under_tsx_watch_finishes_its_job(image, tmp_path, cleanup):
    stack = started(tmp_path, "npm run dev")
    cleanup.append(stack)
    (job_id,) = mid_job(stack, 1, 8000)  # longer than tsx watch's 5 s before its force-kill
    down = stack.inv("worker.down")
    assert down.returncode == 0, down.stdout + down.stderr
    out = down.stdout
    assert "stopping the worker service (it finishes its current job: its consumer (pid " in out, out
    assert "is below a wrapper or a primary that does not pass the stop signal on, so it is sent SIGTERM first" in out
    assert "exited after" in out and "137" not in out
    job = stack.job(job_id)
    assert finished_once(job), job  # ats 1, stc 0: not cut and run again
    assert stack.active() == []
    assert stack.container_state()["ExitCode"] != 137


def test_cluster_forks_finish_their_jobs_well_before_the_grace_period(image, tmp_path, cleanup):
    stack = started(tmp_path, "node src/cluster.mjs", consumers=2, grace="30s")
    cleanup.append(stack)
    ids = mid_job(stack, 2, 6000)
    down = stack.inv("worker.down")
    assert down.returncode == 0, down.stdout + down.stderr
    out = down.stdout
    assert "(they finish their current jobs: its consumers (pids " in out, out
    assert "exited after" in out and "grace period" not in out
    assert all(finished_once(stack.job(i)) for i in ids), [stack.job(i) for i in ids]
    state = stack.container_state()
    assert state["ExitCode"] != 137 and not state["OOMKilled"]  # not killed at the end of the 30 s


def test_a_worker_without_a_sigterm_handler_is_warned_and_its_cut_job_said(image, tmp_path, cleanup):
    stack = started(tmp_path, "node bare/worker.mjs")
    cleanup.append(stack)
    doctor = stack.inv("doctor")
    warned = [line for line in doctor.stdout.splitlines() if line.startswith("WARN") and "SIGTERM" in line]
    assert len(warned) == 1, doctor.stdout
    assert (
        "(`node bare/worker.mjs`) does not handle SIGTERM (none found in /app/bare or the app code it loads, 1 file read)"
        in warned[0]
    )
    assert "awaits `worker.close()`" in warned[0]
    (job_id,) = mid_job(stack, 1, 8000)
    down = stack.inv("worker.down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert (
        "has no SIGTERM handler (none found in /app/bare or the app code it loads, 1 file read): its active job is cut"
        in down.stdout
    )
    job = stack.job(job_id)
    assert job.get("ats") == "1" and not job.get("finishedOn"), job  # cut: left active for BullMQ's stalled check
    assert stack.active() == [job_id]


def test_a_stop_that_ends_in_sigkill_says_so(image, tmp_path, cleanup):
    stack = started(tmp_path, "node src/worker.mjs", grace="2s")
    cleanup.append(stack)
    (job_id,) = mid_job(stack, 1, 10000)  # longer than the 2 s grace period
    down = stack.inv("worker.down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert (
        "the worker service did not stop within its grace period (2 s): Docker killed it (SIGKILL, exit code 137); "
        "a job it was running is cut" in down.stdout
    ), down.stdout
    state = stack.container_state()
    assert state["ExitCode"] == 137 and not state["OOMKilled"]
    assert not stack.job(job_id).get("finishedOn")


def test_a_handover_from_a_npm_run_dev_container_lets_its_job_finish(image, tmp_path, cleanup):
    """`inv dev.worker` takes the queue (through the Redis relay) from a container running `npm run dev`:
    the background consumer is signalled first and finishes its job, then the dev worker serves."""
    stack = started(tmp_path, "npm run dev")
    cleanup.append(stack)
    (job_id,) = mid_job(stack, 1, 8000)
    log = tmp_path / "dev.log"
    proc = stack.popen_inv("dev.worker", env={"INVOKE_APP_START_GATE": "0"}, log=log)
    try:
        wait_for(lambda: "dev worker running (" in log.read_text() or proc.poll() is not None, 120, what="dev worker")
        out = log.read_text()
        assert "stopping the background worker (it finishes its current job: its consumer (pid " in out, out
        assert finished_once(stack.job(job_id)), stack.job(job_id)
        (after,) = stack.add_jobs(1, 100)
        wait_for(lambda: finished_once(stack.job(after)), 60, what="a job done by the dev worker")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(90)
    out = log.read_text()
    assert code == 0, out
    assert "background worker restored" in out, out
    assert f"[shape] start {after} pid" in out  # run by the dev worker (its output is in the session's)


def test_forks_still_busy_at_the_end_of_the_grace_period_are_killed_once_and_it_is_said(image, tmp_path, cleanup):
    """Signalled from inside, the forks keep their 12 s jobs past the 3 s grace period: Docker's stop then
    gets what is left of it (not a second grace period), kills them, and the lines say so."""
    stack = started(tmp_path, "node src/cluster.mjs", consumers=2, grace="3s")
    cleanup.append(stack)
    ids = mid_job(stack, 2, 12000)
    down = stack.inv("worker.down")
    assert down.returncode == 0, down.stdout + down.stderr
    out = down.stdout
    assert "were still running after 3 s: Docker's stop ends them, its active job is cut" in out, out
    # With no time left Docker signals and kills at once: the container ends 137, or 143 when the
    # primary's death (SIGTERM, no handler) ended it first and the kernel killed the forks with it.
    code = stack.container_state()["ExitCode"]
    assert code in (137, 143)
    if code == 137:
        assert "did not stop within its grace period (3 s): Docker killed it (SIGKILL, exit code 137)" in out, out
    assert all(not stack.job(i).get("finishedOn") for i in ids)


def test_worker_up_re_creating_a_npm_run_dev_container_stops_its_consumer_first(image, tmp_path, cleanup):
    """A changed variable in the env file makes `worker.up` re-create the running container. Compose alone
    stops the old one by SIGTERM to PID 1 (npm), which cuts the job below `tsx watch`; the task stops it
    consumer-first before `up -d`, so the job finishes once and the new container serves."""
    stack = started(tmp_path, "npm run dev")
    cleanup.append(stack)
    (job_id,) = mid_job(stack, 1, 8000)
    stack.env_file.write_text(stack.env_file.read_text().replace("GRACE=30s\n", "GRACE=31s\n"))
    up = stack.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    out = up.stdout
    assert "worker: its configuration changed: stopping it (its consumers first) before Compose re-creates it" in out
    assert "stopping the worker service (it finishes its current job: its consumer (pid " in out, out
    job = stack.job(job_id)
    assert finished_once(job), job  # ats 1, stc 0: not cut and run again
    wait_for(lambda: stack.consumers() >= 1, 60, what="the re-created worker consuming")
    assert stack.container_state()["Running"]
    (after,) = stack.add_jobs(1, 100)
    wait_for(lambda: finished_once(stack.job(after)), 60, what="a job done by the re-created worker")
