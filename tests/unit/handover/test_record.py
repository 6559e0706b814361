"""The on-disk handover record, the session lock, the guards and the recovery helpers, with real files and
real processes (Docker does not take part: see test_session.py and test_restore.py for that)."""

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import psutil
import pytest
from invoke.exceptions import Exit

from tasks.drivers import handover
from tasks.drivers.foreground import wait_group_gone
from tasks.drivers.handover import restore
from tasks.knowledge.exit_codes import exit_code


def fake_compose(tmp_path, project="p1"):
    settings = SimpleNamespace(state_dir=tmp_path, service="worker", worker_name="worker", workers=())
    return SimpleNamespace(settings=settings, project_name=project, worker_state_dir=tmp_path / project / "worker")


def test_record_round_trip_and_removal(tmp_path):
    record = handover.new_record(worker_was_running=True)
    handover.write_record(tmp_path, record)
    again = handover.read_record(tmp_path)
    assert again == record and again.pid == os.getpid()
    handover.remove_record(tmp_path)
    assert handover.read_record(tmp_path) is None
    handover.remove_record(tmp_path)  # idempotent


def test_torn_record_is_treated_as_stale_and_restoring(tmp_path):
    (tmp_path / handover.RECORD).write_text("{not json")
    record = handover.read_record(tmp_path)
    assert record is not None and record.worker_was_running and "unreadable record" in record.notes


def test_process_alive_checks_pid_and_start_time():
    me = psutil.Process()
    assert handover.process_alive(me.pid, me.create_time())
    assert not handover.process_alive(me.pid, me.create_time() - 3600)  # a reused pid
    assert not handover.process_alive(None, None)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not handover.process_alive(child.pid, None)


def test_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    first = handover.SessionLock(tmp_path)
    first.acquire()
    handover.write_record(tmp_path, handover.new_record(worker_was_running=False))
    try:
        assert handover.SessionLock(tmp_path).held_by_someone()
        with pytest.raises(Exit) as info:
            handover.SessionLock(tmp_path).acquire()
        assert f"pid {os.getpid()}" in info.value.message and "since" in info.value.message
    finally:
        first.release()
    assert not handover.SessionLock(tmp_path).held_by_someone()


def test_lock_of_a_killed_process_never_blocks(tmp_path):
    code = (
        "import sys, time; sys.path.insert(0, %r); import tasks; from tasks.drivers.handover import SessionLock; "
        "from pathlib import Path; lock = SessionLock(Path(%r)); lock.acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code % (str(handover.__file__).rsplit("/tasks/", 1)[0], str(tmp_path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert handover.SessionLock(tmp_path).held_by_someone()
    holder.kill()
    holder.wait()
    assert not handover.SessionLock(tmp_path).held_by_someone()


def test_describe_and_stale_record(tmp_path):
    compose = fake_compose(tmp_path)
    directory = handover.state_dir(compose)
    assert handover.describe(compose) is None
    record = handover.new_record(worker_was_running=True)
    record.pid = 999999  # a session that is gone: nobody holds the lock
    handover.write_record(directory, record)
    assert "was killed before restoring" in handover.describe(compose)
    record.guardian_pid, record.guardian_started = os.getpid(), handover.process_started(os.getpid())
    handover.write_record(directory, record)  # its guardian (here: this live process) is at work
    line = handover.describe(compose)
    assert f"its guardian (pid {os.getpid()}) is restoring the background worker" in line and "worker.up" not in line
    record.guardian_started = 1.0  # that pid is another process now: the guardian is gone
    handover.write_record(directory, record)
    assert "run `inv worker.up` to restore it" in handover.describe(compose)
    assert restore.stale_record(compose) is not None
    lock = handover.SessionLock(directory)
    lock.acquire()
    try:
        assert restore.stale_record(compose) is None  # a live session owns it
        assert "running" in handover.describe(compose)
        with pytest.raises(Exit, match="two workers"):
            handover.refuse_if_active(compose, "worker.up")
    finally:
        lock.release()


def test_forget_restore_clears_the_promise(tmp_path, capsys):
    compose = fake_compose(tmp_path)
    directory = handover.state_dir(compose)
    handover.write_record(directory, handover.new_record(worker_was_running=True))
    handover.forget_restore(compose, "worker.down")
    record = handover.read_record(directory)
    assert not record.restore_pending
    assert record.worker_was_running and record.cancelled_by == "inv worker.down"  # for an honest last line
    assert "no longer restore" in capsys.readouterr().out


def test_terminate_orphan_stops_the_whole_family(tmp_path):
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)",
        ]
    )
    time.sleep(0.5)
    family = [psutil.Process(parent.pid), *psutil.Process(parent.pid).children(recursive=True)]
    assert len(family) == 2
    record = handover.new_record(worker_was_running=True)
    record.dev_pid, record.dev_started = parent.pid, family[0].create_time()
    assert restore.terminate_orphan(record, timeout=5)
    parent.wait(5)
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in family)


@pytest.mark.parametrize(
    "returncode, received, expected",
    [
        (0, [], 0),
        (3, [], 3),
        (-signal.SIGINT, [signal.SIGINT], 0),  # Ctrl+C is a normal end
        (130, [signal.SIGINT], 0),
        (0, [signal.SIGINT], 0),
        (-signal.SIGTERM, [signal.SIGTERM], 143),
        (0, [signal.SIGTERM], 143),
        (0, [signal.SIGHUP], 129),
        (-signal.SIGKILL, [], 137),
        (1, [signal.SIGINT], 1),  # a crash while stopping still counts
    ],
)
def test_exit_code(returncode, received, expected):
    assert exit_code(returncode, received) == expected


@pytest.mark.skipif(os.name == "nt", reason="process groups are POSIX")
def test_wait_group_gone_kills_stragglers_after_grace():
    proc = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
        start_new_session=True,
    )
    time.sleep(0.3)
    start = time.monotonic()
    assert wait_group_gone(proc.pid, 0.5) is False
    assert proc.wait(5) == -signal.SIGKILL and time.monotonic() - start < 5


def test_a_killed_session_of_the_previous_layout_is_not_forgotten(tmp_path):
    """Before per-worker folders the record lived in `<project>/`: its promise moves to the first worker,
    on a recovery path only."""
    compose = fake_compose(tmp_path)
    legacy = tmp_path / "p1"
    handover.write_record(legacy, handover.new_record(worker_was_running=True))
    directory = handover.state_dir(compose)
    assert directory == tmp_path / "p1" / "worker"
    assert (legacy / handover.RECORD).exists() and not directory.exists()  # looking it up moved nothing
    restore.adopt_legacy_record(compose)
    assert not (legacy / handover.RECORD).exists()
    record = handover.read_record(directory)
    assert record is not None and record.restore_pending


def test_reporting_writes_nothing(tmp_path):
    """worker.status and doctor's report: no folder, no lock file, no moved record."""
    compose = fake_compose(tmp_path)
    legacy = tmp_path / "p1"
    handover.write_record(legacy, handover.new_record(worker_was_running=True))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert handover.describe(compose) is None
    handover.refuse_if_active(compose, "worker.up")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(sys.platform == "win32", reason="zombies are POSIX")
def test_a_zombie_counts_as_gone_and_a_running_process_is_waited_for_until_the_timeout():
    """An orphan's zombie waits for init to reap it (about every 2 s on some machines): the restore must
    not wait for that, it holds no job. `psutil.wait_procs` would."""
    from tasks.drivers.process import wait_gone

    exited = subprocess.Popen([sys.executable, "-c", "pass"])  # never reaped by us: a zombie once it exits
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        zombie = psutil.Process(exited.pid)
        deadline = time.monotonic() + 10
        while zombie.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert zombie.status() == psutil.STATUS_ZOMBIE
        began = time.monotonic()
        assert wait_gone([zombie], timeout=5) == []
        assert time.monotonic() - began < 1  # not the 5 s timeout
        still = psutil.Process(sleeper.pid)
        assert wait_gone([zombie, still], timeout=0.2) == [still]
    finally:
        sleeper.kill()
        sleeper.wait(5)
        exited.wait(5)


def test_a_worker_stepped_aside_by_another_workers_session_waits_for_it_and_is_not_brought_back_after_down(
    tmp_path, capsys
):
    """`sync` consumed `email`'s queue and stepped aside with it: while that session runs, `worker.up
    sync` would put two workers on the queue (refused), and `worker.down sync` means it stays down."""
    sync = fake_compose(tmp_path)  # this worker (its service: `worker`)
    email_dir = handover.state_dir(sync).parent / "email"  # the other worker's folder, beside it
    record = handover.new_record(worker_was_running=True)
    record.aside = ["worker"]
    handover.write_record(email_dir, record)
    handover.refuse_if_active(sync, "worker.up")  # no live session: nothing to refuse
    lock = handover.SessionLock(email_dir)
    lock.acquire()
    try:
        with pytest.raises(
            Exit, match=r"'worker' stepped aside for it; worker\.up would run two workers on that queue"
        ):
            handover.refuse_if_active(sync, "worker.up")
        email = fake_compose(tmp_path)
        email.worker_state_dir = email_dir
        status = handover.describe(email)
        assert "the background worker and 'worker' were stopped for it and come back when it exits" in status
        handover.forget_restore(sync, "worker.down")
        assert handover.read_record(email_dir).aside == []
        assert "for email will no longer start 'worker' again when it ends" in capsys.readouterr().out
        handover.refuse_if_active(sync, "worker.up")  # no longer promised back by that session
    finally:
        lock.release()


def test_stack_down_cancels_what_stepped_aside_too_worker_down_does_not(tmp_path, capsys):
    compose = fake_compose(tmp_path)
    directory = handover.state_dir(compose)
    for action, whole, kept in (("worker.down", False, ["mailer"]), ("stack.down", True, [])):
        record = handover.new_record(worker_was_running=True)
        record.aside = ["mailer"]
        handover.write_record(directory, record)
        handover.forget_restore(compose, action, whole_stack=whole)
        assert handover.read_record(directory).aside_pending == kept
    out = capsys.readouterr().out
    assert "('mailer', which stepped aside with it, still comes back)" in out
    assert "(nor 'mailer', which stepped aside with it)" in out
