"""The shop (a pnpm workspace with workers email and sync, see shopsetup.py), driven by configuration only.

Against the real engine: every worker started and handed over by name, two dev sessions for two
workers at once, a second one for the same worker refused, every job processed exactly once; the
image-built worker rebuilt when its image holds other sources, and an unlabelled image left alone.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from .stackenv import wait_for

pytestmark = pytest.mark.docker


def test_two_workers_handed_over_by_name_at_once_with_every_job_once(shop, tmp_path):
    up = shop.inv("worker.up")
    assert up.returncode == 0, up.stdout + up.stderr
    states = shop.states()
    assert states["email"] == "running" and states["sync"] == "running", states
    assert "api" not in states  # the extra service is not the tasks' business
    shop.produce("email", "before", 5)
    shop.produce("sync", "before", 5)
    wait_for(lambda: len(shop.processed("before")) == 10, 60, what="10 jobs processed by the background workers")
    assert {by for _, by in shop.processed("before")} == {"email-background", "sync-background"}

    # a queue full of jobs while the handover happens: none lost, none twice
    shop.produce("email", "handover", 20)
    shop.produce("sync", "handover", 20)
    logs = {name: tmp_path / f"dev-{name}.log" for name in ("email", "sync")}
    sessions = {name: shop.popen_inv("dev.worker", name, log=logs[name]) for name in ("email", "sync")}
    try:
        for name in ("email", "sync"):
            wait_for(
                lambda n=name: f"[{n}] ready (dev" in logs[n].read_text() or sessions[n].poll() is not None,
                90,
                what=f"dev {name} ready",
            )
            assert f"[{name}] ready (dev" in logs[name].read_text(), logs[name].read_text()
        assert "pnpm --filter @shop/email dev" in logs["email"].read_text()  # detected from pnpm-lock.yaml
        states = shop.states()
        assert states["email"] == "exited" and states["sync"] == "exited", states

        second = shop.inv("dev.worker", "email", timeout=60)
        assert second.returncode == 1, second.stdout + second.stderr
        errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "a dev worker for email is already running" in errors[0], second.stderr
        refused = shop.inv("worker.up", "sync", timeout=60)
        assert refused.returncode == 1 and "would run two workers on it" in refused.stderr, refused.stderr

        shop.produce("email", "during", 5)
        shop.produce("sync", "during", 5)
        wait_for(lambda: len(shop.processed("during")) == 10, 60, what="10 jobs processed by the dev workers")
        assert {by for _, by in shop.processed("during")} == {"dev"}
    finally:
        for proc in sessions.values():
            proc.send_signal(signal.SIGINT)
        codes = {name: proc.wait(90) for name, proc in sessions.items()}
    for name in ("email", "sync"):
        assert codes[name] == 0, logs[name].read_text()
        assert f"background worker `{name}` restored" in logs[name].read_text()
    states = shop.states()
    assert states["email"] == "running" and states["sync"] == "running", states

    shop.produce("email", "after", 5)
    shop.produce("sync", "after", 5)
    wait_for(lambda: len(shop.processed("after")) == 10, 60, what="10 jobs processed after the restore")
    assert {by for _, by in shop.processed("after")} == {"email-background", "sync-background"}
    wait_for(lambda: len(shop.processed("handover")) >= 40, 60, what="the handover jobs")
    # job ids repeat across the two queues (email's handover-0001 and sync's): count per queue
    for prefix, per_queue_count in (("before", 5), ("handover", 20), ("during", 5), ("after", 5)):
        for queue in ("email", "sync"):
            rows = shop.sql(
                f"select count(distinct job_id) from processed where queue = '{queue}' and job_id like '{prefix}-%'"
            )
            assert rows == str(per_queue_count), (prefix, queue, rows)
    per_queue = shop.sql("select queue || ':' || job_id, count(*) from processed group by 1 having count(*) > 1")
    assert per_queue == "", f"jobs processed more than once: {per_queue}"
    assert shop.sql("select count(*) from processed") == "70"
    status = shop.inv("worker.status", "sync")
    assert status.returncode == 0 and status.stdout.startswith("sync: running"), status.stdout
    assert "email" not in status.stdout


def test_image_built_worker_rebuilt_only_when_its_image_holds_other_sources(shop):
    # built the way a repository not yet adapted builds it: no fingerprint, label "unknown"
    shop.compose("--profile", "workers", "build", "sync")
    image = f"shop-sync-{shop.project}:local"
    first = shop.inv("worker.up", "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "has no dev.devstack.source-fingerprint label" in first.stdout, first.stdout
    assert "Successfully built" not in first.stdout and "rebuilding it" not in first.stdout
    assert "email" not in shop.states()  # one worker named: the other is left alone
    again = shop.inv("worker.up", "sync")
    assert again.returncode == 0 and "source-fingerprint label" not in again.stdout, again.stdout  # said once
    doctor = shop.inv("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "WARN sync" in doctor.stdout and "SOURCE_FINGERPRINT: ${SOURCE_FINGERPRINT_SYNC:-unknown}" in doctor.stdout

    rebuilt = shop.inv("worker.up", "sync", "--build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "its image builds the app; rebuilding the image only" in rebuilt.stdout
    label = subprocess.run(
        ["docker", "image", "inspect", "--format", '{{index .Config.Labels "dev.devstack.source-fingerprint"}}', image],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert len(label) == 16, label
    same = shop.inv("worker.up", "sync")
    assert same.returncode == 0 and "rebuilding it" not in same.stdout, same.stdout

    # an image holding other sources (as after a `git pull`) is rebuilt by the next worker.up
    subprocess.run(
        ["docker", "build", "-q", "-t", image, "--label", "dev.devstack.source-fingerprint=0000000000000000", "-"],
        input=f"FROM {image}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    stale = shop.inv("worker.up", "sync")
    assert stale.returncode == 0, stale.stdout + stale.stderr
    assert "the sync image holds another build than its sources; rebuilding it" in stale.stdout, stale.stdout
    wait_for(lambda: shop.states().get("sync") == "running", 30, what="sync running")


def _started_at(shop, service: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "--format", "{{.State.StartedAt}}", f"{shop.project}-{service}-1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_named_forms_of_logs_restart_and_down_act_on_that_worker_only(shop):
    shop.inv("worker.up", check=True)
    shop.produce("email", "named", 2)
    shop.produce("sync", "named", 2)
    wait_for(lambda: len(shop.processed("named")) == 4, 60, what="4 jobs processed")

    email_logs = shop.inv("worker.logs", "email", check=True).stdout
    assert "email-1" in email_logs and "sync-1" not in email_logs, email_logs
    sync_logs = shop.inv("worker.logs", "--name", "sync", check=True).stdout
    assert "sync-1" in sync_logs and "email-1" not in sync_logs, sync_logs
    both = shop.inv("worker.logs", check=True).stdout
    assert "email-1" in both and "sync-1" in both

    email_started, sync_started = _started_at(shop, "email"), _started_at(shop, "sync")
    shop.inv("worker.restart", "email", check=True)
    assert _started_at(shop, "email") != email_started  # restarted
    assert _started_at(shop, "sync") == sync_started  # left alone

    shop.inv("worker.down", "sync", check=True)
    states = shop.states()
    assert states["sync"] == "exited" and states["email"] == "running", states
    status = shop.inv("worker.status", check=True).stdout
    assert "sync: exited" in status and "email: running" in status, status

    unknown = shop.inv("worker.down", "billing")
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: ") and "billing" in unknown.stderr
    assert "email" in unknown.stderr and "sync" in unknown.stderr  # names the workers there are
    assert shop.states()["email"] == "running"


def test_doctor_prints_its_warn_lines(shop):
    # sync built the way a repository not yet adapted builds it (no fingerprint label), and both workers
    # told to run the scheduler
    shop.write_env(SYNC_SCHEDULER="true")
    shop.compose("--profile", "workers", "build", "sync")
    doctor = shop.inv("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr  # advice only: the doctor does not fail
    image = f"shop-sync-{shop.project}:local"
    warns = [line for line in doctor.stdout.splitlines() if line.startswith("WARN")]
    assert warns == [
        f"WARN sync           image {image} has no dev.devstack.source-fingerprint label, so the tasks cannot tell "
        "when it is stale (it is rebuilt only with --build): run `inv adopt` (its compose.devstack.yaml labels the "
        "image through `build.labels`), or by hand: add `ARG SOURCE_FINGERPRINT=unknown` and "
        "`LABEL dev.devstack.source-fingerprint=${SOURCE_FINGERPRINT}` to its Dockerfile's last stage, and "
        "`SOURCE_FINGERPRINT: ${SOURCE_FINGERPRINT_SYNC:-unknown}` under `services.sync.build.args`",
        "WARN scheduler      services 'email', 'sync' all have ENABLE_SCHEDULER on: only one worker may run the "
        "scheduler (turn it off in all but one)",
    ], doctor.stdout


def test_a_worker_crashing_at_start_is_stopped_and_the_others_still_start(shop, tmp_path):
    import yaml

    from .shopsetup import COMPOSE_FILE, CONFIG
    from .stackenv import ROOT

    crash = tmp_path / "email-crashes.yaml"
    crash.write_text(
        'services:\n  email:\n    command: ["node", "-e", "console.error(\'bad config\'); process.exit(3)"]\n'
    )
    config = yaml.safe_load(CONFIG.read_text())
    config["compose"]["files"] = [str(COMPOSE_FILE.relative_to(ROOT)), str(crash)]
    runtime = tmp_path / "invoke.yaml"
    runtime.write_text(yaml.safe_dump(config))
    up = shop.inv("worker.up", env={"INVOKE_RUNTIME_CONFIG": str(runtime)})
    assert up.returncode == 1, up.stdout + up.stderr
    lines = up.stderr.strip().splitlines()
    assert lines[-1] == "error: 1 of 2 workers did not start: email (lines above)", up.stderr
    assert any(
        line.startswith("email: starting the email service: ") and line.endswith("; stopped it") for line in lines
    )
    assert "bad config" in up.stderr  # its last log lines
    states = shop.states()
    assert states["email"] == "exited" and states["sync"] == "running", states  # not left restarting


def test_build_on_a_pulled_image_says_there_is_nothing_to_build(shop):
    up = shop.inv("worker.up", "email", "--build")
    assert up.returncode == 0, up.stdout + up.stderr
    assert (
        "[build] email: runs a pulled image (its service has no `build:`): nothing to build; "
        "`docker compose pull email` updates the image" in up.stdout
    ), up.stdout
    assert "rebuilding the image" not in up.stdout
    assert shop.states()["email"] == "running"


def test_stopping_one_worker_tells_the_fate_of_its_own_jobs_only(shop):
    """Two workers on one Redis: `worker.down email` says what became of email's job in flight, not of
    the job sync holds meanwhile (it is not this stop's; it was told as `still locked` before)."""
    shop.write_env(JOB_MS="4000")
    shop.inv("worker.up", check=True)
    shop.produce("email", "mine", 1, keep=True)
    wait_for(lambda: shop.job("email", "mine-0001").get("ats") == "1", 30, what="email's job started")
    shop.produce("sync", "theirs", 1, keep=True)
    wait_for(lambda: shop.job("sync", "theirs-0001").get("ats") == "1", 30, what="sync's job started")

    down = shop.inv("worker.down", "email", check=True).stdout
    assert "all 1 job in flight finished" in down, down
    assert "theirs-0001" not in down and "still locked" not in down, down
    # email's handler is in the shared package its entry loads by a relative path (consumers.cjs)
    assert "no SIGTERM handler" not in down and "it finishes its current job" in down, down
    wait_for(lambda: "finishedOn" in shop.job("sync", "theirs-0001"), 30, what="sync's job finished")
    for queue, job in (("email", "mine-0001"), ("sync", "theirs-0001")):
        record = shop.job(queue, job)
        assert (record.get("ats"), record.get("stc", "0")) == ("1", "0"), (job, record)
