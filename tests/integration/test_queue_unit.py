"""The queue is the unit of "never two workers", not the service (issue 23, item 6), on the shop fixture.

Against the real engine: a second background service consuming the same queue (two services built from
one app) steps aside with the background worker and comes back with it (after Ctrl+C and after a kill
-9 of `inv`), unless sharing is asked for on purpose; and two sessions side by side, one whose dev command never connects, leave the first one's
background worker serving its queue (seen before: the second session's dev worker, from the same
machine, was taken for the first one's reaching Redis around the relay, and its background worker was
stopped: a queue unserved for 44 s).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tasks.drivers.queue_consumers import Redis
from tasks.knowledge.bullmq_clients import RedisAddress, consumers, ip_of

from .shopsetup import COMPOSE_FILE, CONFIG, Shop
from .stackenv import ROOT, wait_for

pytestmark = pytest.mark.docker

EMAIL_COPY = """
services:
  email-copy:
    image: ${NODE_IMAGE:-node:20-bookworm-slim}
    working_dir: /shop
    command: ["node", "apps/email/src/main.js"]
    volumes:
      - ..:/shop:ro
    init: true
    environment:
      REDIS_URL: redis://queue:6379
      DATABASE_URL: postgres://shop:${DB_PASSWORD:-shop}@db:5432/shop
      WORKER_NAME: email-copy
      ENABLE_SCHEDULER: "false"
    depends_on:
      queue:
        condition: service_started
      db:
        condition: service_healthy
"""


def runtime_config(tmp_path: Path, *, files: list[str] | None = None, email_dev: str | None = None) -> Path:
    """The fixture's invoke.yaml with other compose files or another dev command for `email`."""
    config = yaml.safe_load(CONFIG.read_text())
    if files:
        config["compose"]["files"] = files
    if email_dev:
        next(w for w in config["workers"] if w["name"] == "email")["dev"] = email_dev
    path = tmp_path / "invoke.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def queue_consumers_of(shop: Shop, queue: str) -> int:
    return len(consumer_ips(shop, queue))


def consumer_ips(shop: Shop, queue: str) -> list[str]:
    """The address of each BullMQ worker connection of ``queue`` in Redis (`CLIENT LIST`: the name
    carries the queue)."""
    listing = Redis(RedisAddress("127.0.0.1", shop.queue_port)).query("CLIENT", "LIST")
    return sorted(ip_of(c.addr) for c in consumers(listing) if c.queue == queue and c.prefix == "bull")


def container_ips(shop: Shop, service: str, files: tuple[str, ...]) -> set[str]:
    ids = shop.compose("ps", "-q", service, files=files).stdout.split()
    if not ids:
        return set()
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    out = subprocess.run(["docker", "inspect", "-f", template, *ids], capture_output=True, text=True).stdout
    return set(out.split())


def test_a_second_service_on_the_same_queue_steps_aside_with_the_background_worker(shop, tmp_path):
    """`email` and `email-copy` (a second service of the same app) both consume queue `email`. A session
    on `email` stops both (one line names `email-copy`), the dev worker is the queue's only consumer,
    and both come back when it ends: after Ctrl+C, and after a kill -9 of `inv` (its guardian). Every
    job runs exactly once (BullMQ's own record: attempts started 1, stalled 0). `--allow-sharing`
    leaves `email-copy` consuming."""
    override = tmp_path / "email-copy.yaml"
    override.write_text(EMAIL_COPY)
    files = (str(COMPOSE_FILE), str(override))
    config = [str(COMPOSE_FILE.relative_to(ROOT)), str(override)]
    env = {"INVOKE_RUNTIME_CONFIG": str(runtime_config(tmp_path, files=config))}
    shop.write_env(JOB_MS="200")  # a job stream that lasts across the handover
    up = shop.inv("worker.up", "email", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    shop.compose("up", "-d", "email-copy", files=files)
    wait_for(lambda: queue_consumers_of(shop, "email") == 2, 60, what="two consumers of the email queue")
    background = container_ips(shop, "email", files) | container_ips(shop, "email-copy", files)

    def both_consume() -> bool:
        ips = consumer_ips(shop, "email")
        return len(ips) == 2 and set(ips) <= background and states().get("email") == "running"

    def states() -> dict[str, str]:
        from tasks.knowledge.compose_cli import parse_ps

        return {c.service: c.state for c in parse_ps(shop.compose("ps", "-a", "--format", "json", files=files).stdout)}

    # 1. Ctrl+C (the relay route: the dev worker's first connection stops both services)
    shop.produce("email", "into", 12, keep=True)  # served by both, then by the dev worker
    log = tmp_path / "session.log"
    session = shop.popen_inv("dev.worker", "email", env=env, log=log)
    try:
        wait_for(lambda: "[email] ready (dev" in log.read_text() or session.poll() is not None, 120, what="dev ready")
        text = log.read_text()
        assert (
            "'email-copy' (queue `email`) consumes the same queue: it steps aside with the background worker `email`"
            in text
        ), text
        assert "stopping the email-copy service (" in text, text
        assert states()["email"] == "exited" and states()["email-copy"] == "exited"
        ips = consumer_ips(shop, "email")
        assert len(ips) == 1 and not set(ips) & background, (ips, background)  # the dev worker alone
        shop.produce("email", "during", 4, keep=True)
        wait_for(lambda: len(shop.processed("during")) == 4, 60, what="4 jobs by the dev worker")
        assert {who for _, who in shop.processed("during")} == {"dev"}
        shop.produce("email", "out", 6, keep=True)  # in flight when Ctrl+C comes
    finally:
        session.send_signal(signal.SIGINT)
        code = session.wait(90)
    text = log.read_text()
    assert code == 0, text
    assert "background worker `email` restored, and 'email-copy' with it" in text, text
    wait_for(both_consume, 60, what="both services consuming again")
    assert states()["email-copy"] == "running"
    for prefix, count in (("into", 12), ("during", 4), ("out", 6)):
        wait_for(lambda p=prefix, n=count: len(shop.processed(p)) >= n, 60, what=f"{count} {prefix} jobs")
        ids = [f"{prefix}-{i:04d}" for i in range(1, count + 1)]
        assert sorted(job for job, _ in shop.processed(prefix)) == ids  # one row each
        records = {i: shop.job("email", i) for i in ids}
        assert {i: (r.get("ats"), r.get("stc", "0"), bool(r.get("finishedOn"))) for i, r in records.items()} == (
            dict.fromkeys(ids, ("1", "0", True))
        ), records

    # 2. kill -9 of inv while the dev worker runs: the guardian gives both back
    killed = tmp_path / "killed.log"
    session = shop.popen_inv("dev.worker", "email", env=env, log=killed)
    wait_for(lambda: "dev worker running (`" in killed.read_text(), 120, interval=0.05, what="dev worker running")
    assert states()["email-copy"] == "exited"
    session.send_signal(signal.SIGKILL)
    session.wait(10)
    wait_for(both_consume, 90, what="the guardian giving both back")
    log_file = next(shop.state_dir.glob("**/email/guardian.log"))
    wait_for(lambda: "[guardian] done" in log_file.read_text(), 60, what="the guardian done")
    guardian = log_file.read_text()
    assert "restoring the background worker `email` and 'email-copy' ..." in guardian, guardian
    assert "restored, and 'email-copy' with it" in guardian, guardian
    wait_for(lambda: not list(shop.state_dir.glob("**/handover.json")), 30, what="the record removed")

    # 3. sharing on purpose: email-copy keeps consuming
    shared = tmp_path / "shared.log"
    session = shop.popen_inv("dev.worker", "email", "--allow-sharing", env=env, log=shared)
    try:
        wait_for(lambda: "[email] ready (dev" in shared.read_text() or session.poll() is not None, 120, what="ready")
        text = shared.read_text()
        assert "sharing the queue on purpose (--allow-sharing): 'email-copy' (queue `email`)" in text, text
        assert states()["email"] == "exited" and states()["email-copy"] == "running"
        assert "stopping the email-copy service" not in text
    finally:
        session.send_signal(signal.SIGINT)
        code = session.wait(90)
    assert code == 0, shared.read_text()
    assert "background worker `email` restored" in shared.read_text()
    assert "'email-copy' with it" not in shared.read_text()


def test_a_session_that_never_connects_keeps_its_background_worker_while_another_session_consumes(shop, tmp_path):
    never = 'node -e "setInterval(() => {}, 1000)"'  # a dev command that never dials Redis
    env = {"INVOKE_RUNTIME_CONFIG": str(runtime_config(tmp_path, email_dev=never))}
    up = shop.inv("worker.up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    wait_for(lambda: queue_consumers_of(shop, "email") == 1, 60, what="the email worker consuming")
    wait_for(lambda: queue_consumers_of(shop, "sync") == 1, 60, what="the sync worker consuming")

    logs = {name: tmp_path / f"dev-{name}.log" for name in ("email", "sync")}
    email = shop.popen_inv("dev.worker", "email", env=env, log=logs["email"])
    try:
        wait_for(lambda: "keeps the queue until the dev worker connects" in logs["email"].read_text(), 60, what="held")
        sync = shop.popen_inv("dev.worker", "sync", env=env, log=logs["sync"])
        try:
            wait_for(lambda: "[sync] ready (dev" in logs["sync"].read_text(), 120, what="dev sync ready")
            # jobs on both queues now: email's by its background worker, sync's by the dev worker
            shop.produce("email", "side", 5)
            shop.produce("sync", "side", 5)
            wait_for(lambda: len(shop.processed("side")) == 10, 60, what="10 jobs processed")
            rows = shop.sql("select distinct queue || '|' || processed_by from processed where job_id like 'side-%'")
            assert sorted(rows.splitlines()) == ["email|email-background", "sync|dev"], rows
            assert shop.states()["email"] == "running"
            assert "around the relay" not in logs["email"].read_text()
            assert "consumes without going through the relay" not in logs["email"].read_text()
        finally:
            sync.send_signal(signal.SIGINT)
            assert sync.wait(90) == 0, logs["sync"].read_text()
    finally:
        email.send_signal(signal.SIGINT)
        email.wait(90)
    text = logs["email"].read_text()
    assert "was never stopped; it kept the queue" in text, text
    assert shop.states()["email"] == "running" and shop.states()["sync"] == "running"


HARDWIRED = """
services:
  hardwired:
    profiles: [workers]
    image: ${NODE_IMAGE:-node:20-bookworm-slim}
    working_dir: /shop/apps/email
    command: ["node", "-e", "%s"]
    volumes:
      - ..:/shop:ro
    init: true
    restart: unless-stopped
    stop_grace_period: 5s
    environment:
      DATABASE_URL: postgres://shop:${DB_PASSWORD:-shop}@db:5432/shop
      WORKER_NAME: hardwired-background
    depends_on:
      queue:
        condition: service_started
      db:
        condition: service_healthy
"""
# The app's own code names its Redis (no variable of the service's environment does).
HARDWIRED_MAIN = (
    "process.env.REDIS_URL = 'redis://queue:6379'; require('../../packages/queue-worker/index.js').run('hardwired')"
)


def test_a_dev_worker_dialling_a_hard_coded_redis_never_consumes_and_the_queue_is_given_back(shop, tmp_path):
    override = tmp_path / "hardwired.yaml"
    override.write_text(HARDWIRED % HARDWIRED_MAIN)
    config = yaml.safe_load(
        runtime_config(tmp_path, files=[str(COMPOSE_FILE.relative_to(ROOT)), str(override)]).read_text()
    )
    config["workers"] = [
        {
            "name": "hardwired",
            "profile": "workers",
            "dir": "tests/integration/fixtures/shop/apps/email",
            "build_mode": "none",
            "dev": f'node -e "{HARDWIRED_MAIN}"',
        }
    ]
    path = tmp_path / "hardwired-invoke.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"INVOKE_RUNTIME_CONFIG": str(path), "DEVSTACK_DEV_CONNECT_WAIT": "5"}
    up = shop.inv("worker.up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    wait_for(lambda: queue_consumers_of(shop, "hardwired") == 1, 60, what="the background worker consuming")

    doctor = shop.inv("doctor", env=env)
    assert "no variable of hardwired's environment leads to Redis" in doctor.stdout, doctor.stdout

    session = shop.inv("dev.worker", env=env, timeout=120)
    out = session.stdout + session.stderr
    assert "watching the stack's Redis at 127.0.0.1:" in out, out
    assert "did not connect to the queue in 5 s" in out, out
    assert "background worker `hardwired` restored" in out, out
    assert "not confirmed" not in out, out
    assert "BrokenPipeError" not in out and "Traceback" not in out, out
    wait_for(lambda: queue_consumers_of(shop, "hardwired") == 1, 60, what="the queue served again")
    shop.produce("hardwired", "after", 3)
    wait_for(lambda: len(shop.processed("after")) == 3, 60, what="3 jobs after the session")
    assert {who for _, who in shop.processed("after")} == {"hardwired-background"}
