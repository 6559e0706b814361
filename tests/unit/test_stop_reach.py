"""Who holds the queue in a worker container and whether a stop lets its jobs finish (tasks/knowledge/stop_reach.py).

The snapshots under data/stop_reach are what `tasks/runner/consumers.cjs snapshot 6379` printed inside
real containers of tests/integration/fixtures/stop-shapes (see data/stop_reach/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.knowledge import stop_reach
from tasks.knowledge.stop_reach import SIGINT, SIGTERM, Proc, Scan, Snapshot, TcpRow

DATA = Path(__file__).parent / "data" / "stop_reach"


def recorded(name: str) -> Snapshot:
    snapshot = stop_reach.parse_snapshot((DATA / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(snapshot, Snapshot)
    return snapshot


# -- /proc/net/tcp and tcp6 ----------------------------------------------------------------------
def test_ipv4_addresses_are_little_endian_words_and_big_endian_ports():
    assert stop_reach.hex_address("0100007F:18EB") == ("127.0.0.1", 6379)
    assert stop_reach.hex_address("02C0A8C0:18EB") == ("192.168.192.2", 6379)
    assert stop_reach.hex_address("00000000:0000") == ("0.0.0.0", 0)


def test_recorded_tcp_of_a_container_gives_its_redis_connections():
    text = json.loads((DATA / "npm-run-dev.json").read_text())["tcp"]
    rows = stop_reach.parse_tcp(text)
    assert len(rows) == 4  # the header is left out
    established = [r for r in rows if r.state == "01"]
    assert [(r.remote, r.inode) for r in established] == [
        (("192.168.192.2", 6379), 216654),
        (("192.168.192.2", 6379), 216657),
    ]
    assert rows[0].state == "0A" and rows[0].local == ("127.0.0.11", 40775)  # Docker's DNS, listening
    assert rows[1].state == "06" and rows[1].remote == ("203.0.113.80", 443)  # TIME_WAIT: no inode


def test_recorded_tcp6_reads_ipv6_and_v4_mapped_addresses():
    rows = stop_reach.parse_tcp((DATA / "tcp6.txt").read_text())
    assert len(rows) == 6
    loopback = [r for r in rows if r.state == "01" and r.local[0] == "::1"]
    assert {r.remote[0] for r in loopback} == {"::1"} and len(loopback) == 2
    mapped = [r for r in rows if r.state == "01" and r.local[0] == "127.0.0.1"]
    assert len(mapped) == 2  # ::ffff:127.0.0.1 is said as the IPv4 address it carries
    assert rows[1].local == ("::", 41487) and rows[1].state == "0A"


def test_unreadable_rows_are_skipped():
    assert stop_reach.parse_tcp("garbage\n  0: XYZ:1 00:00 01 0 0 0 0 0 12\n") == []


# -- /proc/<pid>/status ----------------------------------------------------------------------------
def test_sigcgt_bits():
    assert stop_reach.signal_bit(SIGTERM) == 0x4000 and stop_reach.signal_bit(SIGINT) == 0x2
    fields = stop_reach.status_fields("Name:\tsh\nPPid:\t7\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000010002\n")
    assert fields["Name"] == "sh" and stop_reach.mask(fields) == 0x10002
    assert stop_reach.mask({"SigCgt": "zz"}) is None and stop_reach.mask({}) is None


def test_a_shell_catches_sigint_but_not_sigterm():
    sh = Proc(19, 7, "sh", ("sh", "-c", "tsx watch src/dev.ts"), sigcgt=0x10002, sigign=0)
    assert sh.handles(SIGTERM) == (False, "SigCgt: SIGTERM not caught")
    assert sh.handles(SIGINT)[0] is True


def test_node_always_catches_sigterm_so_its_code_decides():
    """Node installs its own SIGINT/SIGTERM handler (to reset the terminal), whatever the app does: the
    mask 0x4602 is on every node process here, so it cannot tell."""
    bare = recorded("bare").procs[6]
    assert bare.sigcgt is not None and bare.sigcgt & 0x4002 == 0x4002
    assert bare.handles(SIGTERM) == (False, "none found in /app/bare or the app code it loads, 1 file read")
    with_handler = Proc(
        6, 1, "MainThread", ("node", "x.mjs"), 0x100004602, scan=Scan(("/app/x.mjs",), 3, ("/app/w.mjs",))
    )
    assert with_handler.handles(SIGTERM) == (True, "a SIGTERM handler in /app/w.mjs")
    assert with_handler.handles(SIGINT)[0] is False
    unknown = Proc(6, 1, "MainThread", ("node",), 0x100004602, scan=Scan())
    assert unknown.handles(SIGTERM)[0] is None


def test_start_time_is_field_22_even_with_spaces_in_the_name():
    stat = "7 (npm run dev) S 1 7 7 0 -1 4194560 5071 0 0 0 47 9 0 0 20 0 11 0 11614 1098637312 14497"
    assert stop_reach.start_time(stat) == "11614"
    assert stop_reach.start_time("") == ""


# -- recorded containers -------------------------------------------------------------------------
def test_npm_run_dev_consumer_sits_below_the_wrapper_and_is_signalled_first():
    snapshot = recorded("npm-run-dev")
    assert [p.pid for p in stop_reach.consumers(snapshot, {6379})] == [31]  # not tsx watch (20), not npm (7)
    assert stop_reach.consumers(snapshot, {6380}) == []
    assert not stop_reach.reached_directly(snapshot, 31)
    assert stop_reach.reached_directly(snapshot, 7)  # npm: docker-init's only child
    plan = stop_reach.plan(snapshot, {6379})
    (fact,) = plan.consumers
    assert fact.sigterm is True and fact.evidence == "a SIGTERM handler in /app/src/worker.mjs"
    assert fact.signal == SIGTERM and fact.finishes is True
    argv = stop_reach.stop_argv(plan.to_signal, 30)
    assert argv[:2] == ["stop", "30000"] and argv[2].startswith("SIGTERM:31:") and argv[2] != "SIGTERM:31:"
    clause = stop_reach.stop_clause(plan)
    assert clause.startswith("it finishes its current job: its consumer (pid 31) is below a wrapper")
    assert "sent SIGTERM first" in clause
    assert any("below a wrapper or a primary" in w for w in stop_reach.doctor_warnings(plan))


def test_cluster_forks_are_the_consumers_and_the_primary_is_not():
    snapshot = recorded("cluster")
    plan = stop_reach.plan(snapshot, {6379})
    assert [c.pid for c in plan.consumers] == [13, 14]
    assert [c.pid for c in plan.to_signal] == [13, 14]
    assert stop_reach.reached_directly(snapshot, 6)  # the primary gets Docker's SIGTERM, and passes nothing on
    assert stop_reach.stop_clause(plan).startswith("they finish their current jobs: its consumers (pids 13, 14) are")
    (warning,) = stop_reach.doctor_warnings(plan)
    assert warning.startswith("consumers pid 13, 14 (`/usr/local/bin/node /app/src/cluster.mjs`) are below")


def test_a_worker_without_handler_is_reached_but_its_job_is_cut():
    snapshot = recorded("bare")
    plan = stop_reach.plan(snapshot, {6379})
    (fact,) = plan.consumers
    assert fact.reached and fact.sigterm is False and fact.signal is None and fact.finishes is False
    assert plan.to_signal == []
    assert stop_reach.stop_clause(plan) == (
        "its consumer (pid 6) has no SIGTERM handler (none found in /app/bare or the app code it loads, 1 file read): its active job is "
        "cut (retried after its lock expires by the queue's stalled-job check, where one runs)"
    )
    (warning,) = stop_reach.doctor_warnings(plan)
    assert "does not handle SIGTERM" in warning and "awaits `worker.close()`" in warning


# -- whom to signal --------------------------------------------------------------------------------
def table(*procs: Proc, tcp: tuple[TcpRow, ...] = ()) -> Snapshot:
    return Snapshot(999, {p.pid: p for p in procs}, tcp)


def node(pid: int, ppid: int, term: bool | None = True, sockets: frozenset[int] = frozenset(), sigint=False) -> Proc:
    scan = (
        None if term is None else Scan(("/app/main.js",), 2, ("/app/main.js",) if term else (), ("/app/m.js",) * sigint)
    )
    return Proc(pid, ppid, "MainThread", ("node", "main.js"), 0x100004602, sockets=sockets, scan=scan, start="5")


REDIS = (TcpRow(("172.18.0.3", 40000), ("172.18.0.2", 6379), "01", 77),)


def test_node_as_pid_1_is_reached():
    snapshot = table(node(1, 0, sockets=frozenset({77})), tcp=REDIS)
    (fact,) = stop_reach.plan(snapshot, {6379}).consumers
    assert (
        fact.reached
        and fact.signal is None
        and stop_reach.stop_clause(stop_reach.plan(snapshot, {6379})) == ("it finishes its current job")
    )


def test_pid_1_that_is_no_init_passes_nothing():
    npm = Proc(1, 0, "npm run start", ("npm", "run", "start"), 0x14602)
    snapshot = table(npm, node(8, 1, sockets=frozenset({77})), tcp=REDIS)
    assert [c.pid for c in stop_reach.plan(snapshot, {6379}).to_signal] == [8]


def test_init_with_two_children_reaches_neither():
    init = Proc(1, 0, "docker-init", ("/sbin/docker-init",), 0)
    snapshot = table(init, node(7, 1, sockets=frozenset({77})), node(8, 1), tcp=REDIS)
    assert not stop_reach.reached_directly(snapshot, 7)


def test_sigint_only_consumer_below_a_wrapper_gets_sigint():
    init = Proc(1, 0, "tini", ("tini",), 0)
    wrapper = Proc(6, 1, "sh", ("sh",), 0x10002)
    snapshot = table(init, wrapper, node(9, 6, term=False, sockets=frozenset({77}), sigint=True), tcp=REDIS)
    (fact,) = stop_reach.plan(snapshot, {6379}).consumers
    assert fact.signal == SIGINT and fact.finishes is True
    assert stop_reach.stop_argv([fact], 2.5) == ["stop", "2500", "SIGINT:9:5"]


def test_unknown_handler_below_a_wrapper_is_signalled_and_said_unknown():
    snapshot = table(
        Proc(1, 0, "docker-init", (), 0),
        Proc(6, 1, "sh", (), 0x10002),
        node(9, 6, term=None, sockets=frozenset({77})),
        tcp=REDIS,
    )
    plan = stop_reach.plan(snapshot, {6379})
    assert plan.to_signal[0].pid == 9
    assert stop_reach.stop_clause(plan).startswith("whether its consumer (pid 9) finishes its job is unknown")
    assert "is unknown" in stop_reach.doctor_warnings(plan)[0]


def test_no_consumer_and_connections_no_process_owns():
    snapshot = table(node(1, 0), tcp=REDIS)
    plan = stop_reach.plan(snapshot, {6379})
    assert plan.consumers == () and stop_reach.stop_clause(plan).startswith("no process in it is connected to Redis")
    assert stop_reach.unowned_connections(snapshot, {6379}) == 1
    assert stop_reach.unowned_connections(snapshot, {5432}) == 0


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"procs": 3}'])
def test_an_unreadable_snapshot_says_so(text):
    assert stop_reach.parse_snapshot(text) == "the process listing printed no report"


# -- the report and the lines after the stop ------------------------------------------------------
def test_stop_report_and_its_line():
    report = stop_reach.parse_stop_report(
        'noise\n{"waited_ms": 5230, "results": [{"pid": 31, "sent": true, "exited": true, "after_ms": 5200}]}\n'
    )
    assert report == stop_reach.StopReport(5230, (stop_reach.Stopped(31, True, True, 5200, ""),))
    assert stop_reach.after_signal(report, 30) == "consumer 31 exited after 5.2 s"
    left = stop_reach.StopReport(2000, (stop_reach.Stopped(13, True, False), stop_reach.Stopped(14, True, False)))
    assert stop_reach.after_signal(left, 2) == (
        "consumers 13, 14 were still running after 2 s: Docker's stop ends them, its active job is cut (retried "
        "after its lock expires by the queue's stalled-job check, where one runs)"
    )
    assert stop_reach.parse_stop_report("") is None
    assert "printed no report" in stop_reach.after_signal(None, 2)


def test_killed_line():
    line = stop_reach.killed_line("worker service", 2, consumers_gone=False)
    assert line.startswith("the worker service did not stop within its grace period (2 s): Docker killed it")
    assert "exit code 137" in line and "is cut" in line
    assert "no job was cut" in stop_reach.killed_line("worker service", 10, consumers_gone=True)
