"""`inv worker.*` and `stack.*` against a real engine, each test in its own compose project."""

from __future__ import annotations

import subprocess

import pytest

from .stackenv import ROOT, wait_for

pytestmark = pytest.mark.docker


def test_plain_compose_up_starts_only_infrastructure(stack):
    stack.compose("up", "-d", "--wait")
    assert stack.ps() == {"postgres": "running", "redis": "running"}


def test_worker_up_processes_jobs_into_postgres(stack):
    up = stack.inv("worker.up", check=True)
    assert "Traceback" not in up.stderr
    states = stack.ps()
    assert states == {"postgres": "running", "redis": "running", "worker": "running"}
    stack.produce("job", 10)
    rows = stack.wait_rows("job", 10)
    assert sorted(job for job, _ in rows) == sorted(f"job-{i}" for i in range(1, 11))
    assert {by for _, by in rows} == {"background"}


def test_worker_down_keeps_container_and_restart_brings_it_back(stack):
    stack.inv("worker.up", check=True)
    down = stack.inv("worker.down", check=True)
    assert stack.ps()["worker"] == "exited", down.stderr
    status = stack.inv("worker.status", check=True).stdout
    assert "worker: exited" in status and "restart policy: unless-stopped" in status
    stack.inv("worker.restart", check=True)
    assert stack.ps()["worker"] == "running"
    stack.produce("after-restart", 3)
    stack.wait_rows("after-restart", 3)


def test_worker_down_rm_removes_container_and_up_recreates_it(stack):
    stack.inv("worker.up", check=True)
    stack.inv("worker.down", "--rm", check=True)
    assert "worker" not in stack.ps()
    assert "not created" in stack.inv("worker.status", check=True).stdout
    restart = stack.inv("worker.restart")
    assert restart.returncode == 1 and "no worker container" in restart.stderr and "Traceback" not in restart.stderr
    stack.inv("worker.up", check=True)
    assert stack.ps()["worker"] == "running"


def test_worker_status_running_shows_state_uptime_policy_scheduler(stack):
    stack.inv("worker.up", check=True)
    status = stack.inv("worker.status", check=True).stdout
    assert "worker: running" in status
    assert "restart policy: unless-stopped" in status
    assert "scheduler:      on" in status
    uptime = next(line for line in status.splitlines() if "uptime:" in line)
    assert uptime.split(":", 1)[1].strip() not in ("", "-")


def test_worker_logs_tail_shows_the_last_lines(stack):
    stack.inv("worker.up", check=True)
    stack.produce("log", 4)
    stack.wait_rows("log", 4)

    def read_logs():
        return [line for line in stack.inv("worker.logs", check=True).stdout.splitlines() if line.strip()]

    # The scheduler's first job may still log a line: read until two reads in a row agree.
    reads = [read_logs()]

    def settled():
        reads.append(read_logs())
        return reads[-1] == reads[-2]

    wait_for(settled, timeout=60, interval=0.5, what="two reads of worker.logs that agree")
    full = reads[-1]
    assert any("[worker] ready" in line for line in full) and any("[heap] heap_size_limit=" in line for line in full)
    assert any("job log-4 done" in line for line in full)
    tail = [line for line in stack.inv("worker.logs", "--tail", "2", check=True).stdout.splitlines() if line.strip()]
    assert len(tail) == 2 and tail == full[-2:] == read_logs()[-2:], (tail, full[-3:])
    bad = stack.inv("worker.logs", "--tail", "ten")
    assert bad.returncode == 1 and "--tail" in bad.stderr and "Traceback" not in bad.stderr


def test_stack_down_leaves_no_container_and_no_network(stack):
    stack.inv("stack.up", check=True)
    assert set(stack.ps()) == {"postgres", "redis", "worker"}
    stack.inv("stack.down", "--volumes", check=True)
    assert stack.ps() == {}
    import subprocess

    networks = subprocess.run(
        ["docker", "network", "ls", "--filter", f"name={stack.project}", "--format", "{{.Name}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    volumes = subprocess.run(
        ["docker", "volume", "ls", "--filter", f"name={stack.project}", "--format", "{{.Name}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert networks == [] and volumes == []


def test_plain_down_would_leave_the_worker_running(stack):
    """Why stack.down uses --profile '*': a plain `down` skips the profiled worker."""
    stack.inv("worker.up", check=True)
    stack.compose("down", check=False)
    assert stack.ps().get("worker") == "running"
    stack.inv("stack.down", check=True)
    assert stack.ps() == {}


def test_worker_up_refuses_without_dist_and_starts_nothing(stack, tmp_path):
    missing = tmp_path / "nowhere" / "main.js"
    result = stack.inv("worker.up", env={"INVOKE_APP_DIST_MAIN": str(missing)})
    assert result.returncode == 1
    assert "missing" in result.stderr and "--build" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert stack.ps() == {}


def _image_id(ref: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True
    ).stdout.strip()


def test_worker_up_build_rebuilds_app_and_image(stack):
    stack.inv("worker.up", check=True)
    images = stack.compose("--profile", "*", "config", "--images").stdout.split()
    worker_image = next(i for i in images if "worker" in i)
    old_image = _image_id(worker_image)
    main = ROOT / "dist/apps/worker/main.js"
    old_mtime = main.stat().st_mtime_ns
    # A stand-in under the worker's tag with the current fingerprint label (worker.up alone would keep
    # it): only a real `--build` replaces it.
    subprocess.run(
        ["docker", "build", "-q", "-t", worker_image, "--label", "dev.devstack.test-stand-in=1", "-"],
        input=f"FROM {worker_image}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    stand_in = _image_id(worker_image)
    assert stand_in != old_image
    assert "rebuilding" not in stack.inv("worker.up", check=True).stdout  # the stand-in alone is accepted
    result = stack.inv("worker.up", "--build", check=True)
    assert "[build]" in result.stdout
    assert main.stat().st_mtime_ns > old_mtime  # the app was compiled again
    rebuilt = _image_id(worker_image)
    assert rebuilt != stand_in, "worker.up --build left the stand-in image in place"
    labels = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", worker_image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "dev.devstack.test-stand-in" not in labels  # built from the Dockerfile, not the stand-in
    container_image = subprocess.run(
        ["docker", "inspect", "--format", "{{.Image}}", f"{stack.project}-worker-1"], capture_output=True, text=True
    ).stdout.strip()
    assert container_image == rebuilt  # and the running worker uses it
    assert stack.ps()["worker"] == "running"


def test_doctor_reports_every_prerequisite(stack):
    result = stack.inv("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for what in ("docker CLI", "docker engine", "compose", ".env", "built app", "image"):
        assert any(line.startswith("OK") and what in line for line in result.stdout.splitlines()), (what, result.stdout)


def test_worker_up_rebuilds_an_image_holding_another_build(stack):
    stack.inv("worker.up", check=True)
    image = stack.compose("--profile", "*", "config", "--images").stdout.split()
    worker_image = next(i for i in image if "worker" in i)
    # Label the current image as holding some other build, as an image built before `npm run build` would.
    import subprocess

    subprocess.run(
        ["docker", "build", "-q", "-t", worker_image, "--label", "dev.devstack.dist-fingerprint=stale", "-"],
        input=f"FROM {worker_image}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    again = stack.inv("worker.up", check=True)
    assert "holds another build than dist/apps/worker/; rebuilding it" in again.stdout
    quiet = stack.inv("worker.up", check=True)
    assert "rebuilding" not in quiet.stdout  # the rebuilt image carries the current fingerprint


def test_ctrl_c_ends_logs_follow_normally(stack):
    """A terminal's Ctrl+C signals the whole foreground group: inv and the compose it runs."""
    import os
    import signal

    from .stackenv import INV

    stack.inv("worker.up", check=True)
    proc = subprocess.Popen(
        [*INV, "worker.logs", "-f"],
        cwd=ROOT,
        env=stack.environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        first = proc.stdout.readline()
        assert "worker" in first  # following: compose is streaming
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "error:" not in err


def test_worker_up_and_stack_up_fail_with_the_logs_when_the_worker_crashes_at_start(stack):
    stack.write_env(WORKER_CONCURRENCY="abc")
    result = stack.inv("worker.up")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: starting the worker service")
    assert "crashed at start" in result.stderr and "Traceback" not in result.stderr
    assert "last 20 log lines of worker" in result.stderr  # the container's own words, before the error line
    # stopped, not left restarting (and crashing) under `restart: unless-stopped`
    assert result.stderr.strip().splitlines()[-1].endswith("; stopped it"), result.stderr
    assert stack.ps()["worker"] == "exited"
    again = stack.inv("stack.up")
    assert again.returncode == 1 and "last 20 log lines of worker" in again.stderr, again.stderr


def test_worker_down_finishes_the_job_in_flight(stack):
    """`worker.down` is a graceful stop: a job taking seconds is completed, not cut and redelivered."""
    stack.inv("worker.up", check=True)
    stack.produce("long", 1, duration_ms=4000)

    def active():
        return stack.compose(
            "exec", "-T", "redis", "redis-cli", "LRANGE", "bull:digest:active", "0", "-1"
        ).stdout.split()

    wait_for(lambda: active() == ["long-1"], timeout=60, interval=0.1, what="the 4 s job to be active")
    assert stack.result_rows("long") == []  # in flight: not yet written
    stack.inv("worker.down", check=True)
    assert stack.ps()["worker"] == "exited"
    # down returned only after the job was done: its row is there, written once, and nothing is active
    assert stack.result_rows("long") == [("long-1", "background")]
    assert stack.sql("select deliveries from digest_results where job_id = 'long-1'") == "1"
    assert active() == []
    finished = stack.compose("exec", "-T", "redis", "redis-cli", "HGET", "bull:digest:long-1", "finishedOn").stdout
    assert finished.strip().isdigit()  # completed in BullMQ's eyes: never handed out again


def test_worker_logs_since_shows_only_later_lines(stack):
    from datetime import datetime, timezone

    stack.inv("worker.up", check=True)
    stack.produce("early", 1)
    wait_for(
        lambda: "job early-1 done" in stack.inv("worker.logs", check=True).stdout, 60, 0.3, "the early job's log line"
    )
    boundary = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stack.produce("late", 1)
    wait_for(
        lambda: "job late-1 done" in stack.inv("worker.logs", check=True).stdout, 60, 0.3, "the late job's log line"
    )
    since = stack.inv("worker.logs", "--since", boundary, check=True).stdout
    assert "job late-1 done" in since and "job early-1 done" not in since and "[worker] ready" not in since, since
    everything = stack.inv("worker.logs", "--since", "10m", check=True).stdout
    assert "job early-1 done" in everything and "job late-1 done" in everything and "[worker] ready" in everything


def test_an_earlier_table_gains_the_columns_and_a_second_delivery_is_counted(stack):
    """The app's schema SQL against the real Postgres (not regexes over its text)."""
    stack.compose("up", "-d", "--wait", "postgres")
    # digest_results as an earlier version of the worker created it: no deliveries/added_at/started_at
    stack.sql(
        "create table digest_results (job_id text primary key, job_name text not null, "
        "processed_by text not null, processed_at timestamptz not null default now())"
    )
    stack.sql("insert into digest_results (job_id, job_name, processed_by) values ('again-1', 'digest', 'earlier')")
    stack.inv("worker.up", check=True)
    stack.produce("again", 2)  # again-1 is delivered a second time, as a redelivered job would be
    wait_for(
        lambda: stack.sql("select count(*) from digest_results where job_id like 'again-%'") == "2",
        60,
        what="both jobs' rows",
    )
    wait_for(
        lambda: stack.sql("select deliveries from digest_results where job_id = 'again-1'") == "2",
        60,
        what="the second delivery of again-1 to be counted",
    )
    assert stack.sql("select deliveries, added_at is not null from digest_results where job_id = 'again-2'") == "1|t"


def test_worker_up_on_a_running_worker_skips_compose_until_its_configuration_changes(stack):
    stack.inv("worker.up", check=True)
    first = stack.compose("ps", "-q", "worker").stdout.strip()
    again = stack.inv("worker.up", check=True)
    assert "worker: already running with this configuration" in again.stdout, again.stdout + again.stderr
    assert stack.compose("ps", "-q", "worker").stdout.strip() == first
    # A changed value of the worker's environment: Compose's config hash differs, so `up -d` recreates it.
    stack.write_env(WORKER_CONCURRENCY="2")
    changed = stack.inv("worker.up", check=True)
    assert "already running" not in changed.stdout
    said = "worker: its configuration changed: stopping it (its consumers first) before Compose re-creates it"
    assert said in changed.stdout, changed.stdout
    recreated = stack.compose("ps", "-q", "worker").stdout.strip()
    assert recreated and recreated != first
    assert stack.ps()["worker"] == "running"
    # and a worker stopped by hand is started again, not skipped
    stack.compose("stop", "worker")
    restarted = stack.inv("worker.up", check=True)
    assert "already running" not in restarted.stdout and stack.ps()["worker"] == "running"


def flaky_service(stack, tmp_path, *, worker_depends_on_it: bool):
    """A compose file adding `flaky` (runs 0.3 s, exits 1, restarted by its policy) beside ours, as the
    INVOKE_COMPOSE_FILES the tasks get; and how to remove its container (our stack's down does not know it)."""
    import os

    flaky = tmp_path / "flaky.yaml"
    flaky.write_text(
        "services:\n  flaky:\n    image: ${NODE_IMAGE:-node:24-bookworm-slim}\n"
        '    command: ["node", "-e", "console.log(\'flaky: starting\'); setTimeout(() => process.exit(1), 300)"]\n'
        "    restart: unless-stopped\n" + ("  worker:\n    depends_on: [flaky]\n" if worker_depends_on_it else "")
    )

    def remove() -> None:
        listed = ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.project}"]
        found = subprocess.run(
            [*listed, "--filter", "label=com.docker.compose.service=flaky"], capture_output=True, text=True
        ).stdout.split()
        if found:
            subprocess.run(["docker", "rm", "-f", *found], capture_output=True)

    return {"INVOKE_COMPOSE_FILES": os.pathsep.join(["docker-compose.yml", str(flaky)])}, remove


def test_stack_up_fails_on_a_side_service_in_a_crash_loop(stack, tmp_path):
    """`up --wait` takes a container without a healthcheck as up once it runs: a service that runs 0.3 s,
    exits 1 and is restarted by its policy passed it, and stack.up said nothing."""
    env, remove = flaky_service(stack, tmp_path, worker_depends_on_it=False)
    try:
        result = stack.inv("stack.up", env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: starting the stack: flaky restarted ") and "a crash loop" in last, last
        assert "last 20 log lines of flaky" in result.stderr and "flaky: starting" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        remove()


def test_stack_up_failing_before_it_starts_anything_blames_no_old_exit(stack, tmp_path):
    """A stack.up whose image build fails starts nothing: a container that exited non-zero before it
    (here `gone`, exit 2) is not named as its failure, nor are its logs shown (they were, as `exited
    with code 2`, in a real repository's trial)."""
    import os

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text("ARG BASE\nFROM $BASE\nRUN echo broken build && exit 3\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "services:\n"
        "  gone:\n    image: ${NODE_IMAGE:-node:24-bookworm-slim}\n"
        '    command: ["node", "-e", "console.log(\'gone: ran\'); process.exit(2)"]\n    restart: "no"\n'
        f"  broken:\n    build:\n      context: {tmp_path / 'broken'}\n"
        "      args:\n        BASE: ${NODE_IMAGE:-node:24-bookworm-slim}\n"
        f"    image: broken-{stack.project}:local\n"
    )
    files = ("docker-compose.yml", str(extra))
    stack.compose("up", "gone", files=files, check=False)  # runs once, exits 2
    assert stack.compose("ps", "-a", "--format", "{{.Service}} {{.State}}", files=files).stdout.split() == [
        "gone",
        "exited",
    ]
    try:
        result = stack.inv("stack.up", env={"INVOKE_COMPOSE_FILES": os.pathsep.join(files)})
        assert result.returncode == 1, result.stdout + result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: starting the stack failed: "), last
        assert "gone" not in last and "log lines of gone" not in result.stderr, result.stderr
        assert "broken build" in result.stdout + result.stderr  # Compose's own output says what failed
    finally:
        stack.compose("rm", "-f", "-s", "gone", "broken", files=files, check=False)
        subprocess.run(["docker", "image", "rm", "-f", f"broken-{stack.project}:local"], capture_output=True)


def test_worker_up_fails_on_a_dependency_in_a_crash_loop(stack, tmp_path):
    env, remove = flaky_service(stack, tmp_path, worker_depends_on_it=True)
    try:
        result = stack.inv("worker.up", env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: starting the worker service: flaky restarted ") and "a crash loop" in last, last
    finally:
        remove()
