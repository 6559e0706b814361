"""Every job's fate, from Redis, against a real engine: the line a stop prints about the jobs in flight,
and the queues `worker.status` shows (counts, consumers)."""

from __future__ import annotations

import json
import signal

import pytest

from .stackenv import wait_for
from .test_dev_worker import Session

pytestmark = pytest.mark.docker


def redis(stack, *words: str) -> str:
    return stack.compose("exec", "-T", "redis", "redis-cli", *words).stdout.strip()


def active(stack) -> list[str]:
    return redis(stack, "LRANGE", "bull:digest:active", "0", "-1").split()


def test_worker_down_says_the_job_in_flight_finished(stack):
    stack.inv("worker.up", check=True)
    stack.produce("fin", 1, duration_ms=4000)
    wait_for(lambda: active(stack) == ["fin-1"], timeout=60, interval=0.1, what="the 4 s job to be active")
    down = stack.inv("worker.down", check=True)
    assert "all 1 job in flight finished" in down.stdout, down.stdout + down.stderr
    assert redis(stack, "HGET", "bull:digest:fin-1", "ats") == "1"


def test_a_cut_job_is_named_and_bullmq_runs_it_again(stack):
    """A stop grace period shorter than the job: Docker kills the worker mid-job (exit 137)."""
    stack.write_env(WORKER_STOP_GRACE_PERIOD="1s")
    stack.inv("worker.up", check=True)
    stack.produce("cut", 1, duration_ms=8000)
    wait_for(lambda: active(stack) == ["cut-1"], timeout=60, interval=0.1, what="the 8 s job to be active")
    down = stack.inv("worker.down", check=True)
    line = next((x for x in down.stdout.splitlines() if " cut (ids " in x), "")
    assert line.startswith(
        "1 job cut (ids cut-1): BullMQ's stalled-job check retries them once a worker consumes the queue again"
    ), down.stdout + down.stderr
    assert active(stack) == ["cut-1"]  # still active: what the line said
    stack.inv("worker.up", check=True)
    # BullMQ's own record: started twice, found stalled once, and finished by the restarted worker
    wait_for(
        lambda: redis(stack, "HGET", "bull:digest:cut-1", "finishedOn").isdigit(),
        timeout=150,
        interval=1,
        what="the cut job to be run again by the stalled-job check",
    )
    assert redis(stack, "HGET", "bull:digest:cut-1", "ats") == "2"
    assert redis(stack, "HGET", "bull:digest:cut-1", "stc") == "1"


def test_no_job_in_flight_is_said_too(stack):
    stack.inv("worker.up", check=True)
    down = stack.inv("worker.down", check=True)
    assert "no job was in flight (`digest`)" in down.stdout, down.stdout + down.stderr


def _queue(status: dict) -> dict:
    [entry] = status["workers"]
    assert entry["queues_problem"] is None, entry
    return next(q for q in entry["queues"] if q["queue"] == "digest")


def test_worker_status_lists_the_queue_with_counts_and_the_container_as_consumer(stack):
    stack.inv("worker.up", check=True)
    stack.produce("st", 2, duration_ms=3000)
    wait_for(lambda: active(stack), timeout=60, interval=0.1, what="a job to be active")
    queue = _queue(json.loads(stack.inv("worker.status", "--json", check=True).stdout))
    container = f"{stack.project}-worker-1"
    assert {c["by"] for c in queue["consumers"]} == {container}, queue
    assert queue["active"] >= 1 and queue["prefix"] == "bull"
    assert {"waiting", "active", "delayed", "failed"} <= set(queue)
    text = stack.inv("worker.status", check=True).stdout
    line = next((x for x in text.splitlines() if x.startswith("  queue digest: ")), "")
    assert line.endswith(f"consumers: {container}") and " active, " in line, text


def test_during_a_dev_session_the_dev_worker_is_the_consumer_and_its_end_is_reported(stack):
    stack.inv("worker.up", check=True)
    session = Session(stack)
    session.ready()
    try:
        queue = _queue(json.loads(stack.inv("worker.status", "--json", check=True).stdout))
        owners = {c["by"] for c in queue["consumers"]}
        assert owners == {"dev worker"}, queue  # the container is not a consumer: never two workers
        stack.produce("dev", 1, duration_ms=3000)
        wait_for(lambda: active(stack) == ["dev-1"], timeout=60, interval=0.1, what="the dev worker's job")
    finally:
        session.proc.send_signal(signal.SIGINT)
    session.finish(90)
    out = session.output
    assert "dev worker's jobs: all 1 job in flight finished" in out, out
    assert redis(stack, "HGET", "bull:digest:dev-1", "ats") == "1"


def test_a_handover_says_the_background_workers_job_finished(stack):
    """The handover's stop of the background worker (start gate: after the dev worker is ready) waits
    for its job and says so, from Redis."""
    stack.inv("worker.up", check=True)
    stack.produce("hand", 1, duration_ms=15000)
    wait_for(lambda: active(stack) == ["hand-1"], timeout=60, interval=0.1, what="the 15 s job to be active")
    session = Session(stack)
    try:
        session.wait_output("all 1 job in flight finished", timeout=120)
        out = session.output
        assert out.index("stopping the background worker") < out.index("all 1 job in flight finished"), out
    finally:
        session.proc.send_signal(signal.SIGINT)
    session.finish(90)
    assert redis(stack, "HGET", "bull:digest:hand-1", "ats") == "1"
    assert "dev worker's jobs: no job was in flight (`digest`)" in session.output, session.output


def test_stack_down_reads_the_fate_while_redis_still_answers(stack):
    """`stack.down` stops Redis too: each worker is stopped first, its jobs read around that stop, while Redis answers."""
    stack.inv("worker.up", check=True)
    stack.produce("sd", 1, duration_ms=4000)
    wait_for(lambda: active(stack) == ["sd-1"], timeout=60, interval=0.1, what="the 4 s job to be active")
    down = stack.inv("stack.down", check=True)
    assert "all 1 job in flight finished" in down.stdout, down.stdout + down.stderr


def test_stack_down_says_a_redis_without_a_kept_data_folder_takes_its_jobs_and_promises_no_retry(stack):
    """A Redis whose data folder is on no named volume or bind mount (the official image's /data is an
    anonymous volume the next container does not get) loses its keys with `stack.down`: said first, and
    a job the stop cuts is said lost, not retried (a real repository's line promised a retry)."""
    stack.write_env(WORKER_STOP_GRACE_PERIOD="1s")
    stack.inv("worker.up", check=True)
    stack.produce("gone", 1, duration_ms=8000)
    wait_for(lambda: active(stack) == ["gone-1"], timeout=60, interval=0.1, what="the 8 s job to be active")
    down = stack.inv("stack.down", check=True)
    out = down.stdout + down.stderr
    assert "note: stack.down removes redis with its keys, so the jobs in its queues are lost: it holds " in out, out
    assert "1 job cut (ids gone-1): lost with Redis's keys, not retried" in out, out
    assert "retries" not in out, out
    stack.compose("up", "-d", "--wait", "redis")
    assert redis(stack, "EXISTS", "bull:digest:gone-1") == "0"  # what the lines said


SLOW_WORKER = """
const { Queue, Worker } = require('bullmq');
const connection = { host: '127.0.0.1', port: Number(process.argv[1]) };
(async () => {
  const queue = new Queue('legacy', { connection });
  await queue.add('slow', {}, { jobId: 'slow-1' });
  const worker = new Worker('legacy', () => new Promise((resolve) => setTimeout(resolve, 120000)), { connection });
  worker.on('active', () => console.log('active'));
})();
"""


@pytest.mark.parametrize("bullmq", ["1.86.6", "6.7.0"])
def test_a_cut_job_is_promised_a_retry_only_where_a_stalled_job_check_runs(stack, bullmq):
    """BullMQ before 2.0 runs the stalled-job check only in a QueueScheduler, which a worker does not
    start: a job cut there stays active for good. A real repository's worker (bullmq 1.86.6) was told
    its cut jobs would be retried; they were not. Here the worker is killed mid-job on this machine."""
    import subprocess

    from tasks.drivers import job_fate as driver
    from tasks.drivers.queue_consumers import Redis
    from tasks.knowledge.bullmq_clients import RedisAddress

    from .stackenv import ROOT

    stack.compose("up", "-d", "--wait", "redis")
    where = ROOT / "tests/integration/fixtures/bullmq1" if bullmq.startswith("1.") else ROOT
    version = subprocess.run(
        ["node", "-p", "require('bullmq/package.json').version"], cwd=where, capture_output=True, text=True
    )
    assert version.stdout.strip() == bullmq, version.stderr
    worker = subprocess.Popen(
        ["node", "-e", SLOW_WORKER, str(stack.redis_port)], cwd=where, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "active"
        watch = driver.StopWatch(Redis(RedisAddress("127.0.0.1", stack.redis_port))).before()
    finally:
        worker.kill()
        worker.wait()
    line = watch.line()
    assert line.startswith("1 job cut (ids slow-1): "), line
    if bullmq.startswith("1."):
        assert "no stalled-job check runs on `legacy`" in line and "stay active until one runs" in line, line
        assert "retries" not in line
    else:
        assert "BullMQ's stalled-job check retries them once a worker consumes the queue again" in line, line
