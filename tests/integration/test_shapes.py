"""Repositories shaped unlike ours, used as a user would (see shapesetup.py): a compose file in a
subfolder with its own .env, a worker naming its connections in its own words with no .env at all,
and compose.yaml + compose.override.yaml with a one-shot migrations service. Real engine."""

from __future__ import annotations

import signal

import pytest

from .shapesetup import Shape
from .stackenv import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture
def shape(request, tmp_path, engine):
    made = Shape(request.param, tmp_path)
    yield made
    made.down()


def handover_exactly_once(shape: Shape, tmp_path) -> None:
    """worker.up, jobs by the background worker, dev.worker taking over a queue full of jobs, Ctrl+C
    giving it back: every job processed exactly once, never by two workers at a time."""
    up = shape.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    status = shape.inv("worker.status")
    assert status.returncode == 0 and status.stdout.startswith("worker: running"), status.stdout + status.stderr
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


@pytest.mark.parametrize("shape", ["subfolder"], indirect=True)
def test_subfolder_project_named_by_compose_with_its_own_env(shape, tmp_path):
    handover_exactly_once(shape, tmp_path)
    # the project Compose named after the folder: the tasks' containers are in it
    labels = shape.compose("ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}').stdout.split()
    assert labels and set(labels) == {shape.project}, labels


@pytest.mark.parametrize("shape", ["by-value"], indirect=True)
def test_connections_found_by_value_without_any_env_file(shape, tmp_path):
    check = shape.inv("env.check")
    assert check.returncode == 0 and "Traceback" not in check.stderr, check.stdout + check.stderr
    assert check.stdout.strip().count("\n") == 0 and "nothing to check" in check.stdout, check.stdout
    init = shape.inv("env.init")
    assert init.returncode == 0 and "none is needed" in init.stdout and not (shape.repo / ".env").exists(), init.stdout
    handover_exactly_once(shape, tmp_path)
    doctor = shape.inv("doctor")
    out = doctor.stdout
    assert f"QUEUE_HOST=redis -> QUEUE_HOST=127.0.0.1 QUEUE_PORT={shape.redis_port}" in out, out + doctor.stderr
    assert f"CACHE_HOST=redis -> CACHE_HOST=127.0.0.1 CACHE_PORT={shape.redis_port}" in out, out
    assert (
        f"POSTGRES_URL=postgresql://app:app@postgres:5432/app -> POSTGRES_URL=postgresql://app:app@127.0.0.1:{shape.db_port}/app"
        in out
    ), out


@pytest.mark.parametrize("shape", ["by-value"], indirect=True)
def test_a_service_without_published_port_is_refused_before_the_worker_is_touched(shape):
    shape.shell["S3_ENDPOINT"] = "http://minio:9000"
    up = shape.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    refused = shape.inv("dev.worker", timeout=120)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    assert "S3_ENDPOINT" in errors[0] and "'minio'" in errors[0], errors[0]
    assert "add `ports: [\"127.0.0.1:9000:9000\"]` to service 'minio'" in errors[0], errors[0]
    assert "was not touched" in errors[0] and "Traceback" not in refused.stderr
    assert shape.states()["worker"] == "running"


@pytest.mark.parametrize("shape", ["compose-yaml"], indirect=True)
def test_stack_up_with_a_one_shot_migrations_service_and_down(shape):
    up = shape.inv("stack.up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "migrations: finished (exit code 0)" in up.stdout, up.stdout
    states = shape.states()
    assert states["migrations"] == "exited" and states["worker"] == "running", states
    assert shape.sql("select to_regclass('public.processed') is not null") == "t"
    status = shape.inv("worker.status")
    assert status.returncode == 0 and status.stdout.startswith("worker: running"), status.stdout + status.stderr
    down = shape.inv("stack.down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert shape.states() == {}


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


@pytest.mark.parametrize("shape", ["compose-yaml"], indirect=True)
def test_compose_yaml_handover_and_an_override_appearing_later(shape, tmp_path):
    override = shape.repo / "compose.override.yaml"
    kept = override.read_text()
    override.unlink()
    # without the override nothing is published: the dev worker could not reach redis (doctor says so)
    before = shape.inv("doctor")
    assert "service 'redis' publishes no port for 6379" in before.stdout, before.stdout + before.stderr
    override.write_text(kept)  # appears later: the config cache must see it
    after = shape.inv("doctor")
    assert f"REDIS_URL=redis://redis:6379 -> REDIS_URL=redis://127.0.0.1:{shape.redis_port}" in after.stdout, (
        after.stdout + after.stderr
    )
    handover_exactly_once(shape, tmp_path)
