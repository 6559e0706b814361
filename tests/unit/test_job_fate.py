"""The job-fate reading (tasks/knowledge/job_fate.py) on replies recorded from BullMQ 6 and Bull 4
(tests/unit/data/job_fate/README.md), and its driver's RESP reading on a fake socket."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tasks.knowledge import job_fate as jf
from tasks.knowledge.bullmq_clients import Consumer, consumers

DATA = Path(__file__).parent / "data" / "job_fate"
RECORDED = {"bullmq6.json": ("digest", "BullMQ"), "bull4.json": ("mail", "Bull")}


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def replies(entries: list[dict]) -> list:
    return [e["reply"] for e in entries]


def commands(entries: list[dict]) -> list[tuple[str, ...]]:
    return [tuple(e["command"]) for e in entries]


@pytest.mark.parametrize("name", RECORDED)
def test_the_recorded_commands_are_the_ones_built(name):
    """The recording was made with these builders: replaying it tests the same command shapes."""
    rec = load(name)
    queue = jf.QueueRef("bull", RECORDED[name][0])
    assert commands(rec["confirm"]) == jf.confirm_commands(queue)
    assert commands(rec["active"]) == jf.active_commands([queue])
    assert commands(rec["counts"]) == jf.count_commands([queue])


@pytest.mark.parametrize("name", RECORDED)
def test_queues_are_found_from_client_names_and_from_keys(name):
    rec = load(name)
    queue_name, _ = RECORDED[name]
    named = consumers(rec["client_list"][0]["reply"])
    assert [(c.prefix, c.queue) for c in named] == [("bull", queue_name)]  # BullMQ `:w:rec` and Bull's plain name
    assert jf.queues_of(named) == [jf.QueueRef("bull", queue_name)]
    assert jf.queues_of(named, [named[0].addr.rpartition(":")[0]]) == []  # this machine's left out
    keys = [k for e in rec["scan"] for k in jf.scan_cursor(e["reply"])[1]]
    assert jf.candidate_queues(keys) == [jf.QueueRef("bull", queue_name)]
    assert jf.confirmed(replies(rec["confirm"]))


def test_bull_has_no_meta_hash_but_its_id_counter_confirms_the_queue():
    rec = load("bull4.json")
    assert [e["reply"] for e in rec["confirm"][:2]] == ["string", "none"]
    assert jf.confirmed(replies(rec["confirm"]))


def test_an_apps_own_id_key_is_not_a_queue():
    assert not jf.confirmed(["string", "none", "0"])  # `session:abc:id` with no queue lists beside it
    assert not jf.confirmed(["hash", "none", "3"])
    assert jf.queue_of_key("{app}:jobs:q:meta") == jf.QueueRef("{app}:jobs", "q")
    assert jf.queue_of_key("bull:q:wait") is None and jf.queue_of_key("meta") is None


def _snapshot(rec: dict, queue: jf.QueueRef) -> jf.Snapshot:
    jobs, library = jf.active_ids([queue], replies(rec["active"]))
    assert commands(rec["locks"]) == jf.lock_commands(jobs)
    return jf.snapshot([queue], jobs, replies(rec["locks"]), library, consumers(rec["client_list"][0]["reply"]))


@pytest.mark.parametrize("name", RECORDED)
def test_a_killed_workers_jobs_are_cut_finished_ones_finished(name):
    rec = load(name)
    queue_name, library = RECORDED[name]
    queue = jf.QueueRef("bull", queue_name)
    snap = _snapshot(rec, queue)
    assert snap.library == library  # BullMQ writes its version in `meta`; Bull has none
    assert {j.id for j in snap.jobs} == {"held-2", "cut-3", "lock-5"}
    assert commands(rec["after"]) == jf.after_commands(snap)
    serving = jf.survivors(consumers(rec["after_client_list"][0]["reply"]), snap.before)
    assert serving == set()  # the worker's connection is gone
    fates = {f.job.id: f for f in jf.fates(snap, replies(rec["after"]), serving)}
    assert fates["held-2"].state == jf.FINISHED  # finishedOn written
    assert fates["cut-3"].state == jf.CUT and fates["cut-3"].lock_left_ms == 0  # active, no lock
    assert fates["lock-5"].state == jf.CUT and 25_000 < fates["lock-5"].lock_left_ms <= 30_000  # dead worker's lock
    line = jf.describe(snap, list(fates.values()))
    assert line.startswith("2 jobs cut (ids ")
    assert "lock-5" in line and "cut-3" in line
    assert f"{library}'s stalled-job check retries them once a worker consumes the queue again, about 30-60 s" in line
    assert "(the stopped worker's lock expires in " in line and line.endswith("; 1 finished")
    assert fates["cut-3"].retry_in_ms is None  # no stalled-job check has run (no `stalled-check` key)


def _consumer(id_: str, ip: str, queue: str = "digest") -> Consumer:
    return Consumer(id_, f"{ip}:5000", "bull", queue)


Q = jf.QueueRef("bull", "digest")


def _after(active: list[str], *jobs: tuple[list, str | None, int], check_in: str = "-2", marked: str = "0") -> list:
    out: list = [active, check_in]
    for fields, lock, pttl in jobs:
        out += [fields, lock, pttl, marked]
    return out


def test_a_lock_still_there_while_a_worker_from_before_consumes_is_not_called_cut():
    """Another background service on the same queue (or a dev worker that bypassed the relay) may hold it."""
    snap = jf.Snapshot([Q], [jf.Held(Q, "7", "tok")], before=frozenset({"1", "2"}))
    after = _after(["7"], ([None, None, "1"], "tok", 20_000))
    other = [_consumer("2", "172.18.0.5")]
    assert [f.state for f in jf.fates(snap, after, jf.survivors(other, snap.before))] == [jf.LOCKED]
    # ... but a new connection (the restarted worker) cannot hold a lock taken before the stop
    restarted = [_consumer("9", "172.18.0.3")]
    assert [f.state for f in jf.fates(snap, after, jf.survivors(restarted, snap.before))] == [jf.CUT]
    # the host's own connections are left out for the background worker's stop
    host = [_consumer("1", "172.18.0.1")]
    assert [f.state for f in jf.fates(snap, after, jf.survivors(host, snap.before, ["172.18.0.1"]))] == [jf.CUT]
    # CLIENT LIST unreadable: a lock cannot be judged
    assert [f.state for f in jf.fates(snap, after, None)] == [jf.LOCKED]


def test_every_line():
    none = jf.Snapshot([Q], [])
    assert jf.describe(none, []) == "no job was in flight (`digest`)"
    assert jf.describe(None, None) == "jobs in flight: unknown (their queue could not be read from Redis)"
    two = jf.Snapshot([Q], [jf.Held(Q, "1", "t"), jf.Held(Q, "2", "t")])
    done = [jf.Fate(two.jobs[0], jf.FINISHED), jf.Fate(two.jobs[1], jf.FINISHED)]
    assert jf.describe(two, done) == "all 2 jobs in flight finished"
    failed = [jf.Fate(two.jobs[0], jf.FINISHED), jf.Fate(two.jobs[1], jf.FAILED)]
    assert jf.describe(two, failed) == "all 2 jobs in flight finished (1 failed: 2)"
    cut = [jf.Fate(two.jobs[0], jf.CUT, 12_400), jf.Fate(two.jobs[1], jf.REQUEUED)]
    assert jf.describe(two, cut, served=True) == (
        "1 job cut (ids 1): BullMQ's stalled-job check retries them within about 30-60 s (the stopped "
        "worker's lock expires in 12 s); 1 back in the queue (ids 2)"
    )
    timed = [jf.Fate(two.jobs[0], jf.CUT, 0, 41_200), jf.Fate(two.jobs[1], jf.CUT, 0, 11_000)]
    assert jf.describe(two, timed, served=True) == (
        "2 jobs cut (ids 1, 2): BullMQ's stalled-job check retries them within about 41 s"
    )
    one = jf.Snapshot([Q], [jf.Held(Q, "1", "t")])
    assert jf.describe(one, [jf.Fate(one.jobs[0], jf.FINISHED)]) == "all 1 job in flight finished"


def test_the_retry_is_read_from_the_stalled_check_key_and_set():
    # marked by the last check and unlocked by the next one: retried at the next check
    assert jf.retry_estimate(0, True, 12_000) == 12_000
    # not marked yet (its worker renewed the lock until it died), or still locked at the next check: the one after
    assert jf.retry_estimate(0, False, 12_000) == 42_000
    assert jf.retry_estimate(20_000, True, 12_000) == 42_000
    assert jf.retry_estimate(0, True, -2) is None  # no check has run lately: no worker runs them
    snap = jf.Snapshot([Q], [jf.Held(Q, "7", "tok")], before=frozenset({"1"}))
    after = _after(["7"], ([None, None, "1"], None, -2), check_in="9000", marked="1")
    assert jf.fates(snap, after, set()) == [jf.Fate(snap.jobs[0], jf.CUT, 0, 9000)]


def test_a_hash_removed_on_completion_is_finished_and_a_retry_after_failure_is_back_in_the_queue():
    snap = jf.Snapshot([Q], [jf.Held(Q, "1", "t"), jf.Held(Q, "2", "t")])
    after = _after([], ([None, None, None], None, -2), ([None, "boom", "17"], None, -2))
    assert [f.state for f in jf.fates(snap, after, set())] == [jf.FINISHED, jf.REQUEUED]


@pytest.mark.parametrize("name", RECORDED)
def test_status_counts_and_consumers(name):
    rec = load(name)
    queue = jf.QueueRef("bull", RECORDED[name][0])
    counted = jf.counts([queue], replies(rec["counts"]))
    assert counted[queue] == {"waiting": 1, "active": 3, "delayed": 1, "failed": 1}
    named = consumers(rec["client_list"][0]["reply"])
    ip = named[0].addr.rpartition(":")[0]
    view = jf.queue_view([queue], counted, named, {}, ip, dev_session=True)
    assert view[0]["consumers"] == [
        {"by": "dev worker", "address": named[0].addr, "worker": "rec" if name == "bullmq6.json" else None}
    ]
    by_container = jf.queue_view([queue], counted, named, {ip: "proj-worker-1"}, "172.17.0.99", dev_session=False)
    assert by_container[0]["consumers"][0]["by"] == "proj-worker-1"
    text = jf.render_queues(by_container)
    assert text == [f"  queue {queue.name}: 1 waiting, 3 active, 1 delayed, 1 failed; consumers: proj-worker-1"]
    assert jf.jobs_were(1) == "1 job was" and jf.jobs_were(3) == "3 jobs were"
    assert jf.render_queues(None, "no Redis answers") == ["  queues:         unknown (no Redis answers)"]
    assert jf.render_queues([]) == [
        "  queues:         none (it consumes none now, and every queue in Redis has a consumer)"
    ]
    # consuming none (stopped): the unserved queues are listed as such, not as its own
    unserved = jf.queue_view([queue], counted, [], {}, "172.17.0.99", dev_session=False)
    assert jf.render_queues(unserved) == [
        "  queues:         it consumes none now; the queues on its Redis no one consumes:",
        f"  queue {queue.name}: 1 waiting, 3 active, 1 delayed, 1 failed; consumers: none",
    ]


def test_the_driver_reads_arrays_nils_and_errors_in_one_pipeline():
    from tasks.drivers.job_fate import _Values

    class Sock:
        def __init__(self, data: bytes):
            self.data = data

        def recv(self, n: int) -> bytes:
            chunk, self.data = self.data[:7], self.data[7:]  # a few bytes at a time
            return chunk

    reader = _Values(
        Sock(  # type: ignore[arg-type]
            b"*2\r\n$1\r\n0\r\n*2\r\n$3\r\nb:a\r\n$-1\r\n$-1\r\n-ERR no\r\n:42\r\n*-1\r\n+OK\r\n"
        )
    )
    assert [reader.value() for _ in range(6)] == [["0", ["b:a", None]], None, None, "42", None, "OK"]


def test_around_stop_never_fails_the_stop_and_says_nothing_when_the_stop_fails(monkeypatch):
    from tasks.drivers import job_fate as driver
    from tasks.drivers.queue_consumers import Redis
    from tasks.knowledge.bullmq_clients import RedisAddress
    from tasks.knowledge.failures import UserError

    said: list[str] = []
    monkeypatch.setattr(driver, "addresses_of", lambda compose, services: None)
    monkeypatch.setattr(driver, "redis_of", lambda compose, plan=None: None)
    compose = SimpleNamespace(settings=SimpleNamespace(service="worker"))
    with driver.around_stop(compose, said.append):  # type: ignore[arg-type]
        said.append("stopped")
    assert said == ["stopped", "jobs in flight: unknown (no Redis answers at the worker's addresses)"]
    # a Redis that stops answering: one line, no exception
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(driver, "redis_of", lambda compose, plan=None: Redis(RedisAddress("127.0.0.1", port)))
    said.clear()
    with driver.around_stop(compose, said.append):  # type: ignore[arg-type]
        pass
    assert len(said) == 1 and said[0].startswith("jobs in flight: unknown (Redis did not answer: ")
    said.clear()
    with pytest.raises(UserError), driver.around_stop(compose, said.append):  # type: ignore[arg-type]
        raise UserError("could not stop")
    assert said == []  # the stop's own error says what happened


def test_a_stop_tells_the_jobs_of_the_stopped_containers_queues_only():
    """Two workers on one Redis (the shop's email and sync): stopping email tells email's jobs; the key
    scan (email names no consumer) leaves out what sync serves; Docker not telling: as before."""
    email, sync = jf.QueueRef("bull", "email"), jf.QueueRef("bull", "sync")
    found = [
        _consumer("1", "172.28.0.5", "email"),
        _consumer("2", "172.28.0.6", "sync"),
        _consumer("3", "10.0.0.1", "sync"),
    ]
    assert jf.stopping_queues(found, "10.0.0.1", {"172.28.0.5"}) == ([email], [sync])
    assert jf.stopping_queues(found[1:], "10.0.0.1", {"172.28.0.5"}) == ([], [sync])
    assert jf.stopping_queues(found, "10.0.0.1", None) == ([email, sync], [])  # every container's
    assert jf.stopping_queues(found, "10.0.0.1", set()) == ([], [email, sync])  # nothing running


def test_a_worker_shows_its_own_queues_or_else_the_unserved_ones():
    email, sync, idle = jf.QueueRef("bull", "email"), jf.QueueRef("bull", "sync"), jf.QueueRef("bull", "idle")
    queues = [email, idle, sync]
    found = [
        _consumer("1", "172.28.0.5", "email"),
        _consumer("2", "172.28.0.6", "sync"),
        _consumer("3", "172.28.0.1", "sync"),
    ]
    mine = {"172.28.0.6": "shop-sync-1"}
    assert jf.its_queues(queues, found, mine, "172.28.0.1", dev_session=False) == [sync]
    view = jf.queue_view(queues, {}, found, mine, "172.28.0.1", dev_session=False)
    assert [c["by"] for c in view[0]["consumers"]] == ["shop-sync-1", "a process on this machine"]  # two workers
    # during its dev session the dev worker's queues are its own
    assert jf.its_queues(queues, found[:1] + found[2:], {}, "172.28.0.1", dev_session=True) == [sync]
    # stopped, no session: the queues nobody consumes (its own are among them)
    assert jf.its_queues(queues, found[:1], {}, "172.28.0.1", dev_session=False) == [idle, sync]


def test_a_cut_job_on_a_queue_no_stalled_check_runs_on_is_not_promised_a_retry():
    """BullMQ before 2.0 moves stalled jobs back only in a QueueScheduler: a worker without one (a real
    repository's, bullmq 1.86) left its cut jobs active for good, while the line promised a retry."""
    q2 = jf.QueueRef("bull", "mail")
    snap = jf.Snapshot([Q, q2], [jf.Held(Q, "1", "t"), jf.Held(q2, "7", "t")], unchecked=frozenset({q2}))
    cut = [jf.Fate(snap.jobs[0], jf.CUT, 0, 9000), jf.Fate(snap.jobs[1], jf.CUT)]
    assert jf.describe(snap, cut, served=True) == (
        "1 job cut (ids 1): BullMQ's stalled-job check retries them within about 9 s; "
        "1 job cut (ids 7): no stalled-job check runs on `mail` (none was running while it was consumed: "
        "BullMQ before 2.0 runs it only in a QueueScheduler), so they stay active until one runs"
    )
    bullmq, missing = jf.checks([Q, q2], ["stream", "12000", "none", "-2"])
    assert bullmq and missing == [q2]
    assert jf.checks([q2], ["none", "-2"]) == (False, [q2])  # Bull: no events stream


def test_the_driver_looks_twice_before_it_says_no_stalled_check_runs(monkeypatch):
    """The `stalled-check` key is missing a few ms every interval between its expiry and the next check:
    missing at the first look but back 50 ms later, a check runs."""
    from tasks.drivers import job_fate as driver

    monkeypatch.setattr(driver, "RECHECK_S", 0)
    q2 = jf.QueueRef("bull", "mail")
    found = [_consumer("1", "172.28.0.5", "digest"), _consumer("2", "172.28.0.5", "mail")]

    class Conn:
        def __init__(self, recheck: list[str]) -> None:
            self.sent: list[list[tuple[str, ...]]] = []
            self.recheck = recheck

        def send(self, commands):
            self.sent.append(list(commands))
            if len(self.sent) == 1:  # active lists, meta versions, events types, stalled-check PTTLs
                return [["1"], None, ["7"], None, "stream", "-2", "stream", "-2"]
            if len(self.sent) == 2:
                return self.recheck
            return ["tok"] * len(commands)  # the locks

    snap = driver.held_jobs(Conn(["-2", "29950"]), [Q, q2], found)  # type: ignore[arg-type]
    assert snap.unchecked == frozenset({Q}) and snap.library == "BullMQ" and len(snap.jobs) == 2
    conn = Conn(["30000", "29950"])
    assert driver.held_jobs(conn, [Q, q2], found).unchecked == frozenset()  # type: ignore[arg-type]
    assert conn.sent[1] == [("PTTL", "bull:digest:stalled-check"), ("PTTL", "bull:mail:stalled-check")]


def test_a_stopped_worker_that_consumed_nothing_is_not_given_another_workers_queue(monkeypatch):
    """A real repository's `worker.down` said `no job was in flight (`sla-checker`)` for a service that
    consumed no queue: the key scan gave it a queue another service consumes."""
    from contextlib import nullcontext

    from tasks.drivers import job_fate as driver

    other = _consumer("2", "172.28.0.6", "sla-checker")
    looked: list[list[jf.QueueRef]] = []
    monkeypatch.setattr(driver, "Connection", lambda redis: nullcontext(object()))
    monkeypatch.setattr(driver, "clients", lambda conn: ([other], "10.0.0.1"))
    monkeypatch.setattr(driver, "scan_queues", lambda conn: [jf.QueueRef("bull", "sla-checker")])

    def held(conn, queues, found):
        looked.append(list(queues))
        return jf.Snapshot(list(queues))

    monkeypatch.setattr(driver, "held_jobs", held)
    watch = driver.StopWatch(object(), {"172.28.0.5"}).before()  # type: ignore[arg-type]
    assert looked == [[]] and watch.line() == "no job was in flight (it consumed no queue)"
    # no consumer named at all (CLIENT SETNAME refused, or none consuming): the key scan, as before
    monkeypatch.setattr(driver, "clients", lambda conn: ([], "10.0.0.1"))
    looked.clear()
    assert driver.StopWatch(object(), {"172.28.0.5"}).before().line() == "no job was in flight (`sla-checker`)"  # type: ignore[arg-type]


def test_a_stop_of_a_worker_that_was_not_running_says_nothing_of_jobs(monkeypatch):
    """`stack.down` after `worker.down` printed `no job was in flight (...)` once per worker, naming queues."""
    from tasks.drivers import job_fate as driver

    monkeypatch.setattr(driver, "addresses_of", lambda compose, services: set())
    monkeypatch.setattr(driver, "redis_of", lambda compose, plan=None: pytest.fail("Redis asked for nothing"))
    said: list[str] = []
    with driver.around_stop(SimpleNamespace(settings=SimpleNamespace(service="worker")), said.append):  # type: ignore[arg-type]
        said.append("stopped")
    assert said == ["stopped"]


def test_the_stopped_containers_addresses_empty_when_none_runs_unknown_on_the_hosts_network(monkeypatch):
    from tasks.drivers import job_fate as driver
    from tasks.drivers import stack_facts
    from tasks.knowledge.stack_config import ContainerFacts

    def compose_with(*running: tuple[str, str]):
        listed = [SimpleNamespace(name=name, service=service, running=True) for name, service in running]
        return SimpleNamespace(containers=lambda: listed, gateway=None)

    facts = {"p-worker-1": ContainerFacts("unless-stopped", {}, ("172.28.0.5",))}
    monkeypatch.setattr(stack_facts, "inspect_containers", lambda gateway, names: {n: facts[n] for n in names})
    assert driver.addresses_of(compose_with(("p-worker-1", "worker")), {"worker"}) == {"172.28.0.5"}
    assert driver.addresses_of(compose_with(("p-api-1", "api")), {"worker"}) == set()
    facts["p-worker-1"] = ContainerFacts("unless-stopped", {}, ())  # network_mode: host
    assert driver.addresses_of(compose_with(("p-worker-1", "worker")), {"worker"}) is None
