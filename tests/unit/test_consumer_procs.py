"""The consumer-first stop of a dev command (issue 23, item 1 on the host): which processes of its tree hold
the queue (recorded process tables of the shapes people run), the stop's order on a scripted table, and
one real tree whose wrapper force-kills its child 1 s after a signal, as `tsx watch` does after 5 s."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tasks.knowledge.consumer_procs import ProcRow, StopPlan, Target, dials, plan, same_host

REDIS = [Target("127.0.0.1", 6379)]
TSX = "/app/node_modules/tsx/dist/cli.mjs"
LOADER = (
    "--require",
    "/app/node_modules/tsx/dist/preflight.cjs",
    "--import",
    "file:///app/node_modules/tsx/dist/loader.mjs",
)
BULLMQ = ((("127.0.0.1", 6379)), ("127.0.0.1", 6379))  # BullMQ: a connection, and a blocking one
PG = (("127.0.0.1", 5432),)


def row(pid, ppid, name, *cmd, remotes=()):
    return ProcRow(pid, ppid, name, tuple(cmd), tuple(remotes))


# -- recorded tables (ps + ss on this machine, pids renumbered) --------------------------------------
TSX_WATCH = [
    row(100, 1, "node", "node", TSX, "watch", "src/main.ts"),
    row(101, 100, "node", "node", *LOADER, "src/main.ts", remotes=BULLMQ + PG),
]

NPM_SH_TSX_WATCH = [
    row(200, 1, "npm run dev", "npm run dev"),
    row(201, 200, "sh", "sh", "-c", "tsx watch src/main.ts"),
    row(202, 201, "node", "node", TSX, "watch", "src/main.ts"),
    row(203, 202, "node", "node", *LOADER, "src/main.ts", remotes=BULLMQ),
    row(204, 203, "esbuild", "/app/node_modules/@esbuild/linux-x64/bin/esbuild", "--service=0.25.0", "--ping"),
]

CLUSTER = [
    row(300, 1, "node", "node", "dist/cluster.js"),  # the primary: forks, holds no connection
    row(301, 300, "node", "/usr/bin/node", "dist/cluster.js", remotes=BULLMQ),
    row(302, 300, "node", "/usr/bin/node", "dist/cluster.js", remotes=BULLMQ),
]

PNPM_TSX = [
    row(400, 1, "node", "node", "/usr/lib/node_modules/pnpm/bin/pnpm.cjs", "--filter", "@acme/jobs", "dev"),
    row(401, 400, "sh", "sh", "-c", "tsx src/server.ts"),
    row(402, 401, "node", "node", "/repo/node_modules/.bin/../tsx/dist/cli.mjs", "src/server.ts"),
    row(403, 402, "node", "node", *LOADER, "src/server.ts", remotes=BULLMQ),
]


@pytest.mark.parametrize(
    "table, root, consumers, wrappers, others",
    [
        (TSX_WATCH, 100, [101], [100], []),
        (NPM_SH_TSX_WATCH, 200, [203], [200, 201, 202], [204]),  # esbuild's service goes with the group
        (CLUSTER, 300, [301, 302], [300], []),  # every fork, the primary after them
        (PNPM_TSX, 400, [403], [400, 401, 402], []),
    ],
    ids=["tsx-watch", "npm-sh-tsx-watch-esbuild", "cluster-primary-2-forks", "pnpm-tsx"],
)
def test_the_consumers_are_the_processes_connected_to_redis(table, root, consumers, wrappers, others):
    found = plan(table, [root], REDIS)
    assert (found.consumers, found.wrappers, found.others) == (consumers, wrappers, others)
    assert not found.unreadable


def test_through_the_relay_only_connections_to_it_count():
    relay = [Target("127.0.0.1", 41234)]
    table = [row(1, 0, "node", remotes=(("127.0.0.1", 6379),)), row(2, 1, "node", remotes=(("127.0.0.1", 41234),))]
    assert plan(table, [1], relay).consumers == [2]


def test_a_primary_holding_a_connection_is_a_consumer_beside_its_forks():
    table = [*CLUSTER[1:], row(300, 1, "node", remotes=BULLMQ)]
    assert plan(table, [300], REDIS).consumers == [300, 301, 302]


def test_orphans_of_the_group_are_searched_too():
    """`sh -c` died (dash on SIGHUP): tsx watch and the worker were reparented but are still the command's."""
    table = [row(202, 1, "node", "node", TSX, "watch"), row(203, 202, "node", remotes=BULLMQ)]
    assert plan(table, [200, 202], REDIS).consumers == [203]
    assert plan(table, [200], REDIS).consumers == []  # the root alone no longer leads to them


def test_processes_outside_the_tree_are_never_chosen():
    table = [*TSX_WATCH, row(900, 1, "node", remotes=BULLMQ)]  # another worker on this machine
    assert plan(table, [100], REDIS).consumers == [101]


def test_unreadable_connections_are_told_apart_from_none():
    table = [ProcRow(1, 0, "node", (), None), ProcRow(2, 1, "node", (), None)]
    assert plan(table, [1], REDIS).unreadable
    assert not plan([row(1, 0, "node")], [1], REDIS).unreadable


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("::ffff:127.0.0.1", "127.0.0.1", True),
        ("::1", "127.0.0.1", True),  # `localhost` resolved either way
        ("127.0.0.1", "10.0.0.5", False),
        ("fe80::1%eth0", "fe80::1", True),
    ],
)
def test_same_host(a, b, same):
    assert same_host(a, b) is same


def test_a_target_without_a_host_matches_the_port_anywhere():
    assert dials([("10.1.2.3", 6379)], [Target(None, 6379)])
    assert not dials([("10.1.2.3", 6380)], [Target(None, 6379)])


# -- the stop's order, on a scripted system ------------------------------------------------------------
class Scripted:
    """A system whose consumers are `consumers` (changed by the test) and whose live processes are `alive`."""

    def __init__(self, consumers, wrappers=()):
        self.consumers = list(consumers)
        self.wrappers = list(wrappers)
        self.alive: set[int] = set(consumers) | set(wrappers)
        self.events: list[tuple[str, int, int]] = []
        self.lines: list[str] = []
        self.now = 0.0

    def stop(self, grace=30.0, targets=REDIS):
        from tasks.drivers.consumer_stop import ConsumerStop

        return ConsumerStop(
            99,
            targets,
            grace=grace,
            say=self.lines.append,
            signal_group=lambda signum: self.events.append(("group", 99, signum)),
            find=lambda root, wanted: StopPlan(consumers=list(self.consumers), wrappers=list(self.wrappers)),
            kill=lambda pid, signum: self.events.append(("kill", pid, signum)),
            alive=lambda pid, created: pid in self.alive,
            created=lambda pid: 1.0,
            clock=lambda: self.now,
        )


def test_consumers_once_each_then_the_group_once_they_have_exited():
    system = Scripted([301, 302], wrappers=[300])
    stop = system.stop()
    stop.begin(signal.SIGINT)
    assert system.events == [("kill", 301, signal.SIGINT), ("kill", 302, signal.SIGINT)]
    stop.advance()
    stop.advance()
    assert len(system.events) == 2  # nothing more while they finish their jobs
    system.alive.discard(301)
    system.consumers = [302]
    stop.advance()
    assert len(system.events) == 2
    system.alive.discard(302)
    system.consumers = []
    stop.advance()
    assert len(system.events) == 2  # what wraps them usually ends with them: a moment for it
    system.now += 0.5
    stop.advance()
    assert system.events[2:] == [("group", 99, signal.SIGINT)]
    stop.advance()
    assert len(system.events) == 3 and not stop.unfinished
    assert "pids 301, 302" in system.lines[0] and "then pid 300" in system.lines[0], system.lines
    assert "which wraps them, unless it ends with them" in system.lines[0]


def test_a_wrapper_that_ends_with_its_consumers_gets_no_signal():
    """A runner whose worker exited ends by itself: signalled meanwhile, it said `SIGINT received` a
    second time (seen once in CI under load)."""
    system = Scripted([301], wrappers=[300])
    stop = system.stop()
    stop.begin(signal.SIGINT)
    system.alive.discard(301)
    system.consumers = []
    stop.advance()
    stop.leader_exited()  # the dev command's main process ended
    assert not stop.waiting and system.events == [("kill", 301, signal.SIGINT)]


def test_a_consumer_that_appears_meanwhile_is_signalled_once_too():
    system = Scripted([301])
    stop = system.stop()
    stop.begin(signal.SIGTERM)
    system.consumers = [301, 303]  # the primary forked again
    system.alive.add(303)
    stop.advance()
    stop.advance()
    assert system.events == [("kill", 301, signal.SIGTERM), ("kill", 303, signal.SIGTERM)]
    assert "a new queue consumer appeared (pid 303)" in system.lines[1]


def test_past_the_grace_period_the_group_gets_the_signal_and_the_consumers_are_named():
    system = Scripted([301])
    stop = system.stop(grace=30)
    stop.begin(signal.SIGINT)
    system.now = 30.0
    stop.advance()
    assert system.events[-1] == ("group", 99, signal.SIGINT) and stop.unfinished == [301]
    assert "still running 30 s after the stop request" in system.lines[-1]


@pytest.mark.parametrize(
    "consumers, targets, why",
    [
        ([], REDIS, "none of its processes is connected to Redis at 127.0.0.1:6379"),
        ([1], [], "the address it dials Redis at is not known"),
    ],
)
def test_no_consumer_found_is_said_and_the_group_gets_the_signal(consumers, targets, why):
    system = Scripted(consumers)
    stop = system.stop(targets=targets)
    stop.begin(signal.SIGINT)
    assert system.events == [("group", 99, signal.SIGINT)]
    assert len(system.lines) == 1 and why in system.lines[0] and "sending Ctrl+C to all of it" in system.lines[0]


def test_unreadable_connections_fall_back_in_one_line():
    from tasks.drivers.consumer_stop import ConsumerStop

    lines: list[str] = []
    sent: list[int] = []
    stop = ConsumerStop(1, REDIS, grace=5, say=lines.append, signal_group=sent.append, find=lambda r, t: None)
    stop.begin(signal.SIGTERM)
    assert sent == [signal.SIGTERM] and lines == [
        "no queue consumer found in the dev command (its processes' connections cannot be read): "
        "sending SIGTERM to all of it"
    ]


# -- real processes ----------------------------------------------------------------------------------
# The wrapper: runs the consumer as its child, and on a stop signal relays it, then SIGKILLs the child
# 1 s later (what `tsx watch` does after 5 s). The consumer: connects to a local listener and takes 2 s
# to finish its "job" after SIGTERM; it records every signal it gets.
WRAPPER = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
def stop(signum, _frame):
    try:
        child.send_signal(signum)
    except ProcessLookupError:
        pass
    time.sleep(1.0)
    child.kill()
    sys.exit(1)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
sys.exit(child.wait())
"""

CONSUMER = """
import signal, socket, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
conn = socket.create_connection(("127.0.0.1", port))
stopping = []
def note(signum, _frame):
    with open(log, "a") as out:
        out.write(f"{signal.Signals(signum).name}\\n")
    stopping.append(time.monotonic())
signal.signal(signal.SIGTERM, note)
with open(log, "a") as out:
    out.write("connected\\n")
while not stopping or time.monotonic() - stopping[0] < 2.0:
    time.sleep(0.05)
with open(log, "a") as out:
    out.write("finished\\n")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and signals are POSIX")
def test_a_real_consumer_under_a_force_killing_wrapper_gets_one_sigterm_and_finishes(tmp_path, capfd):
    from tasks.drivers import consumer_procs, foreground

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    log = tmp_path / "consumer.log"
    child = foreground.ForegroundChild(
        [sys.executable, "-c", WRAPPER, CONSUMER, str(port), str(log)],
        cwd=tmp_path,
        env=dict(os.environ),
        stop_grace=10,
    )
    child.redis_targets = consumer_procs.targets([("127.0.0.1", port)])
    child.start()
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and "connected" in log.read_text()):
            assert time.monotonic() < deadline, "the consumer never connected"
            time.sleep(0.05)
        found = consumer_procs.find(child.proc.pid, child.redis_targets)
        assert found is not None and len(found.consumers) == 1 and found.wrappers == [child.proc.pid]
        child.stop()  # SIGTERM, as a closed terminal: the consumer first
        code = child.wait(group_grace=10)
    finally:
        if child.proc and child.proc.poll() is None:
            os.killpg(child.proc.pid, signal.SIGKILL)
        listener.close()
    assert log.read_text().splitlines() == ["connected", "SIGTERM", "finished"]  # once, and not force-killed
    out = capfd.readouterr().out
    assert "stopping the dev worker's queue consumers first (pid " in out, out
    assert code != -signal.SIGKILL and not child.unfinished_consumers


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and signals are POSIX")
def test_the_same_wrapper_signalled_as_a_whole_cuts_the_consumer(tmp_path):
    """What the consumer-first stop avoids (the previous behaviour: the group signal)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    log = tmp_path / "consumer.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, CONSUMER, str(listener.getsockname()[1]), str(log)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and "connected" in log.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        time.sleep(0.3)
    finally:
        listener.close()
    lines = log.read_text().splitlines()
    # from the group and relayed by the wrapper (two, or one when they arrive together), then killed
    assert lines[:2] == ["connected", "SIGTERM"] and "finished" not in lines, lines


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_a_second_and_third_ctrl_c_still_escalate_to_the_group(monkeypatch, tmp_path, capsys):
    """The first Ctrl+C goes to the consumers; a person pressing again gets today's escalation: SIGTERM to
    the dev command's group, then SIGKILL (its descendants too)."""
    from types import SimpleNamespace

    from tasks.drivers import consumer_procs, foreground

    sent: list[tuple[str, int, int]] = []
    monkeypatch.setattr("os.killpg", lambda pgid, signum: sent.append(("group", pgid, signum)))
    monkeypatch.setattr("os.kill", lambda pid, signum: sent.append(("kill", pid, signum)))
    monkeypatch.setattr(foreground, "descendants", lambda pid: [pid])
    monkeypatch.setattr(foreground, "kill_all", lambda procs: sent.extend(("descendants", pid, 9) for pid in procs))
    monkeypatch.setattr(consumer_procs, "find", lambda root, targets: StopPlan(consumers=[501, 502], wrappers=[77]))
    monkeypatch.setattr(consumer_procs, "created", lambda pid: 1.0)
    presses = [10.0, 11.0, 12.0]
    monkeypatch.setattr(foreground, "_now", lambda: presses.pop(0))
    child = foreground.ForegroundChild(["x"], cwd=tmp_path, env={})
    child.redis_targets = REDIS
    child.proc = SimpleNamespace(pid=77, poll=lambda: None)  # type: ignore[assignment]
    for _ in range(3):
        child._forward(signal.SIGINT, None)
    assert sent == [
        ("kill", 501, signal.SIGINT),
        ("kill", 502, signal.SIGINT),
        ("group", 77, signal.SIGTERM),
        ("group", 77, signal.SIGKILL),
        ("descendants", 77, 9),  # listed before the group died, killed after it: the runner cannot relay in between
    ]
    out = capsys.readouterr().out
    assert "queue consumers first (pids 501, 502: Ctrl+C, once each)" in out and "Ctrl+C again" in out, out


def test_the_session_names_consumers_cut_past_the_grace_period(monkeypatch, tmp_path, capsys):
    """`dev worker exited (code 0)` is never said alone when consumers were still running as their
    wrappers were stopped."""
    from types import SimpleNamespace

    from tasks.drivers.handover import session

    # The job-fate reading (tested in test_job_fate.py) needs a Redis; here it has nothing to say.
    no_jobs = SimpleNamespace(start=lambda: SimpleNamespace(line=lambda: None))
    monkeypatch.setattr("tasks.drivers.job_fate.DevJobs", lambda *args: no_jobs)
    child = SimpleNamespace(wait=lambda group_grace: 0, unfinished_consumers=[501, 502], received=[])
    fake = SimpleNamespace(child=child, grace=30.0, compose=None, plan=None)
    assert session.DevSession._wait_child(fake) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "dev worker exited (code 0); its queue consumers (pid 501, 502) had not finished" in out, out


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and signals are POSIX")
@pytest.mark.parametrize("recorded", [True, False])
def test_a_killed_sessions_leftover_dev_worker_is_stopped_by_its_consumers_first(tmp_path, recorded):
    """kill -9 of `inv`: its guardian (or the next command) stops the dev command it left running. With
    the Redis addresses the session recorded, the consumer gets one SIGTERM and finishes its job before
    the force-killing wrapper is stopped; without them (a record of an older version) the whole family
    gets SIGTERM at once, and the wrapper cuts the job: what this change is for."""
    from tasks.drivers.handover import record as handover
    from tasks.drivers.handover import restore

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    log = tmp_path / "consumer.log"
    wrapper = subprocess.Popen([sys.executable, "-c", WRAPPER, CONSUMER, str(port), str(log)], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and "connected" in log.read_text()):
            assert time.monotonic() < deadline, "the consumer never connected"
            time.sleep(0.05)
        record = handover.new_record(worker_was_running=True)
        record.dev_pid, record.dev_started = wrapper.pid, psutil.Process(wrapper.pid).create_time()
        record.redis_addresses = [["127.0.0.1", port]] if recorded else None
        lines: list[str] = []
        assert restore.terminate_orphan(record, timeout=10, tell=lines.append)
        wrapper.wait(10)
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
        listener.close()
    if recorded:
        assert log.read_text().splitlines() == ["connected", "SIGTERM", "finished"]  # once, not force-killed
        assert lines and lines[0].startswith("stopping the dev worker's queue consumers first (pid "), lines
    else:
        assert "finished" not in log.read_text().splitlines(), log.read_text()
        assert lines == []
