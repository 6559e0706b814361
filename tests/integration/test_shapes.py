"""Repositories shaped unlike ours, used as a user would (see shapesetup.py): a compose file in a
subfolder with its own .env, a worker naming its connections in its own words with no .env at all,
and compose.yaml + compose.override.yaml with a one-shot migrations service. Each is adopted by
`inv adopt` (no invoke.yaml by hand, no edit after it), then driven through worker.up/status, the
dev.worker handover, prodlike.up/verify and stack.up/down. Real engine."""

from __future__ import annotations

import signal
import subprocess

import pytest

from .shapesetup import Shape
from .stackenv import wait_for

pytestmark = pytest.mark.docker

SHAPES = ["subfolder", "by-value", "compose-yaml"]
#: The user's compose files adopt lists before its own (the subfolder's folder name is unique per copy).
USER_FILES = {
    "subfolder": "infra/{folder}/docker-compose.yml",
    "by-value": "docker-compose.yml",
    "compose-yaml": "compose.yaml:compose.override.yaml",
    "compose-file-var": "infra/{folder}/docker-compose.yml",
}


def adopt(shape: Shape) -> subprocess.CompletedProcess:
    done = shape.inv("adopt")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def adopted(request, tmp_path_factory, engine):
    """One adopted copy per shape, shared by the tests of this module that do not change it."""
    made = Shape(request.param, tmp_path_factory.mktemp(request.param))
    made.adoption = adopt(made)
    yield made
    made.down()


@pytest.fixture
def shape(request, tmp_path, engine):
    made = Shape(request.param, tmp_path)
    adopt(made)
    yield made
    made.down()


@pytest.mark.parametrize("adopted", [*SHAPES, "compose-file-var"], indirect=True)
def test_adopt_finds_the_worker_and_a_second_run_changes_nothing(adopted):
    assert adopted.adoption is not None
    out = adopted.adoption.stdout
    assert "worker worker: its name (runs ., bullmq in its package.json); profile workers, dir ., build_mode none" in (
        out
    ), out
    assert "invoke.yaml: written" in out and "compose.devstack.yaml: written" in out, out
    assert (adopted.repo / ".devstack" / ".gitignore").read_text().endswith("\n*\n")  # never in `git status`
    if adopted.fixture == "subfolder":
        assert f"note: no compose file here; reading infra/{adopted.compose_dir.name}/docker-compose.yml" in out, out
        # what Compose makes of them, asked: the .env it reads and the project's name
        assert f"note: with them Compose reads infra/{adopted.compose_dir.name}/.env" in out, out
        assert " and names the project " in out and ", as when run there" in out, out
    files = USER_FILES[adopted.fixture].format(folder=adopted.compose_dir.name)
    assert f"  files: {files}:compose.devstack.yaml\n" in (adopted.repo / "invoke.yaml").read_text()
    again = adopt(adopted)
    assert again.stdout.count(": unchanged") == 3 and "written" not in again.stdout, again.stdout
    dev = adopted.inv("doctor")
    assert "npm run dev" in dev.stdout, dev.stdout + dev.stderr  # the dev command adopt's settings detect


@pytest.mark.parametrize("shape", ["compose-yaml"], indirect=True)
def test_a_second_adopt_shows_what_invoke_yaml_keeps(shape):
    """The summary line says what the tasks will use: the `dir` the user edited, not adopt's proposal."""
    path = shape.repo / "invoke.yaml"
    path.write_text(path.read_text().replace("  dir: .\n", "  dir: worker\n"))
    again = adopt(shape)
    assert "profile workers, dir worker, build_mode none (kept from invoke.yaml)" in again.stdout, again.stdout
    assert "  dir: worker\n" in path.read_text()


@pytest.mark.parametrize("adopted", ["compose-file-var"], indirect=True)
def test_the_root_env_that_names_the_files_stays_the_one_compose_reads(adopted):
    """COMPOSE_FILE in the root .env: adopt lists the files with -f, which would make Compose read the
    subfolder's .env (other ports, the folder's name as project): it keeps the root one instead."""
    assert adopted.adoption is not None
    assert "note: Compose reads .env today (COMPOSE_FILE there): kept as compose.env_file" in adopted.adoption.stdout
    assert "  env_file: .env\n" in (adopted.repo / "invoke.yaml").read_text()
    up = adopted.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    # The containers the user's own `docker compose` sees (root .env: project name and ports).
    assert adopted.states()["worker"] == "running"
    port = adopted.compose("port", "redis", "6379").stdout.strip()
    assert port == f"127.0.0.1:{adopted.redis_port}", port
    status = adopted.inv("worker.status")
    assert f"container:      {adopted.project}-worker-1" in status.stdout, status.stdout + status.stderr


@pytest.mark.parametrize("adopted", ["by-value"], indirect=True)
def test_connections_found_by_value_without_any_env_file(adopted):
    check = adopted.inv("env.check")
    assert check.returncode == 0 and "Traceback" not in check.stderr, check.stdout + check.stderr
    assert check.stdout.strip().count("\n") == 0 and "nothing to check" in check.stdout, check.stdout
    init = adopted.inv("env.init")
    assert init.returncode == 0 and "none is needed" in init.stdout, init.stdout
    assert not (adopted.repo / ".env").exists()
    doctor = adopted.inv("doctor")
    out = doctor.stdout
    port = adopted.redis_port
    assert f"QUEUE_HOST=redis -> QUEUE_HOST=127.0.0.1 QUEUE_PORT={port}" in out, out + doctor.stderr
    assert f"CACHE_HOST=redis -> CACHE_HOST=127.0.0.1 CACHE_PORT={port}" in out, out
    local = f"postgresql://app:app@127.0.0.1:{adopted.db_port}/app"
    assert f"POSTGRES_URL=postgresql://app:app@postgres:5432/app -> POSTGRES_URL={local}" in out, out


@pytest.mark.parametrize("adopted", SHAPES, indirect=True)
def test_worker_up_and_a_handover_with_every_job_exactly_once(adopted, tmp_path):
    """worker.up, jobs by the background worker, dev.worker taking over a queue full of jobs, Ctrl+C
    giving it back: every job processed exactly once, never by two workers at a time."""
    shape = adopted
    up = shape.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    status = shape.inv("worker.status")
    assert status.returncode == 0 and status.stdout.startswith("worker: running"), status.stdout + status.stderr
    if shape.fixture == "subfolder":  # the project Compose named after the folder: the containers are in it
        labels = shape.compose("ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}').stdout.split()
        assert labels and set(labels) == {shape.project}, labels
    shape.produce("before", 5)
    wait_for(lambda: len(shape.processed("before")) == 5, 60, what="5 jobs by the background worker")
    logs = shape.inv("worker.logs", "--tail", "50")
    assert logs.returncode == 0 and "[jobs] ready (background)" in logs.stdout, logs.stdout + logs.stderr

    shape.produce("handover", 30)
    log = tmp_path / "dev.log"
    session = shape.popen_inv("dev.worker", log=log)
    try:
        wait_for(lambda: "[jobs] ready (dev)" in log.read_text() or session.poll() is not None, 90, what="dev ready")
        assert "[jobs] ready (dev)" in log.read_text(), log.read_text()
        assert shape.states()["worker"] == "exited"  # one worker on the queue, not two
        shape.produce("during", 5)
        wait_for(lambda: len(shape.processed("during")) == 5, 60, what="5 jobs by the dev worker")
        assert {by for _, by in shape.processed("during")} == {"dev"}
    finally:
        session.send_signal(signal.SIGINT)
        code = session.wait(90)
    assert code == 0, log.read_text()
    assert shape.states()["worker"] == "running"
    shape.produce("after", 5)
    wait_for(lambda: len(shape.processed("after")) == 5, 60, what="5 jobs after the restore")
    assert {by for _, by in shape.processed("after")} == {"background"}
    wait_for(lambda: len(shape.processed("handover")) >= 30, 60, what="the handover jobs")
    twice = shape.sql("select job_id, count(*) from processed group by 1 having count(*) > 1")
    assert twice == "", f"jobs processed more than once: {twice}"
    assert shape.sql("select count(distinct job_id) from processed") == "45"


@pytest.mark.parametrize("adopted", SHAPES, indirect=True)
def test_prodlike_up_and_verify_through_the_generated_overlay(adopted):
    up = adopted.inv("prodlike.up", "--cpus", "1", "--memory", "512m")
    assert up.returncode == 0, up.stdout + up.stderr
    verify = adopted.inv("prodlike.verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    checks = [line for line in verify.stdout.splitlines() if line.startswith(("OK ", "FAIL"))]
    assert checks and all(line.startswith("OK ") for line in checks), verify.stdout
    assert any("V8 heap_size_limit" in line and "432 MiB" in line for line in checks), verify.stdout
    back = adopted.inv("worker.up")
    assert back.returncode == 0 and "recreates it as the normal worker" in back.stdout, back.stdout + back.stderr


@pytest.mark.parametrize("adopted", SHAPES, indirect=True)
def test_stack_up_and_down(adopted):
    up = adopted.inv("stack.up")
    assert up.returncode == 0, up.stdout + up.stderr
    states = adopted.states()
    assert states["worker"] == "running", states
    if adopted.fixture == "compose-yaml":
        assert "migrations: finished (exit code 0)" in up.stdout, up.stdout
        assert states["migrations"] == "exited", states
        assert adopted.sql("select to_regclass('public.processed') is not null") == "t"
    status = adopted.inv("worker.status")
    assert status.returncode == 0 and status.stdout.startswith("worker: running"), status.stdout + status.stderr
    down = adopted.inv("stack.down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert adopted.states() == {}


@pytest.mark.parametrize("shape", ["by-value"], indirect=True)
def test_a_service_without_published_port_is_a_warning_and_the_dev_worker_starts(shape, tmp_path):
    """Issue 24: only the queue refuses. A connection the dev worker cannot get (an S3 endpoint whose
    container publishes no port yet) is one warning naming the variable and the fix; the dev worker
    starts, takes the queue, and gives it back."""
    shape.shell["S3_ENDPOINT"] = "http://minio:9000"
    up = shape.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    log = tmp_path / "dev.log"
    session = shape.popen_inv("dev.worker", log=log)
    try:
        wait_for(lambda: "[jobs] ready (dev)" in log.read_text() or session.poll() is not None, 90, what="dev ready")
        text = log.read_text()
        assert "[jobs] ready (dev)" in text, text
        warnings = [line for line in text.splitlines() if "warning:" in line and "S3_ENDPOINT" in line]
        assert len(warnings) == 1 and "'minio'" in warnings[0], text  # said once (not again as "no answer")
        assert "compose.devstack.yaml publishes minio:9000 on 127.0.0.1" in warnings[0], warnings[0]
        assert "Traceback" not in text
        assert shape.states()["worker"] == "exited"  # one worker on the queue
    finally:
        session.send_signal(signal.SIGINT)
        code = session.wait(90)
    assert code == 0, log.read_text()
    assert shape.states()["worker"] == "running"


@pytest.mark.parametrize("shape", ["compose-yaml"], indirect=True)
def test_stack_up_names_a_crashed_one_shot_and_shows_its_logs_not_the_workers(shape):
    compose_file = shape.repo / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace("create table if not exists", "create tabel"))
    up = shape.inv("stack.up")
    assert up.returncode == 1, up.stdout + up.stderr
    errors = [line for line in up.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "migrations exited with code" in errors[0], up.stderr
    assert "--- last 20 log lines of migrations ---" in up.stderr and "syntax error" in up.stderr, up.stderr
    assert "log lines of worker" not in up.stderr


@pytest.mark.parametrize("fixture", ["compose-yaml"])
def test_an_override_appearing_later_is_taken_by_the_next_adopt(fixture, tmp_path, engine):
    shape = Shape(fixture, tmp_path)
    try:
        override = shape.repo / "compose.override.yaml"
        kept = override.read_text()
        override.unlink()
        first = adopt(shape)
        # without the user's override nothing is published: the collection's own override publishes redis
        # on a port Compose picks at `up` (doctor says so while it is not started)
        assert "note: redis publishes no port for 6379 (through REDIS_URL)" in first.stdout, first.stdout
        before = shape.inv("doctor")
        assert "service 'redis' publishes 6379 on a host port Compose picks at `up`" in before.stdout, (
            before.stdout + before.stderr
        )
        override.write_text(kept)  # appears later: the next adopt lists it (Compose is given -f files)
        again = adopt(shape)
        assert "compose.files set to 'compose.yaml:compose.override.yaml:compose.devstack.yaml'" in again.stdout, (
            again.stdout
        )
        after = shape.inv("doctor")
        assert f"REDIS_URL=redis://redis:6379 -> REDIS_URL=redis://127.0.0.1:{shape.redis_port}" in after.stdout, (
            after.stdout + after.stderr
        )
    finally:
        shape.down()
