"""The guardian's pure decisions (tasks/knowledge/guardian_checks.py): the dead session's stop, and
whether the worker it brought back serves its queue."""

from __future__ import annotations

from tasks.knowledge.bullmq_clients import consumers
from tasks.knowledge.guardian_checks import matches_stop, restoring_line, served, stop_action

# `CLIENT LIST` with the restored container's worker (172.20.0.5), a dev worker of the host through
# the published port (172.20.0.1), a producer and a QueueEvents connection (not consumers).
LISTING = (
    "id=7 addr=172.20.0.5:40120 laddr=172.20.0.3:6379 fd=9 name=bull:ZGlnZXN0 age=1 cmd=bzpopmin\n"
    "id=8 addr=172.20.0.1:51000 laddr=172.20.0.3:6379 fd=10 name=bull:ZGlnZXN0:w:dev age=9 cmd=evalsha\n"
    "id=9 addr=172.20.0.1:51002 laddr=172.20.0.3:6379 fd=11 name= age=9 cmd=client\n"
    "id=10 addr=172.20.0.5:40122 laddr=172.20.0.3:6379 fd=12 name=bull:ZGlnZXN0:qe age=1 cmd=xread\n"
)


def test_the_stop_is_waited_for_and_ended_only_past_its_bound():
    assert stop_action(False, 0.0, 40.0) == "done"
    assert stop_action(True, 12.0, 40.0) == "wait"  # a worker finishing a 12 s job
    assert stop_action(True, 40.5, 40.0) == "end"  # past the grace period: the client hangs
    assert stop_action(False, 99.0, 40.0) == "done"


def test_a_stop_is_recognised_by_its_command_line_and_age():
    argv = ["docker", "compose", "--project-name", "p", "stop", "worker"]
    resolved = ["/usr/bin/docker", *argv[1:]]
    assert matches_stop(resolved, argv, created=100.2, since=100.0)
    assert matches_stop(["C:\\Program Files\\Docker\\docker.exe", *argv[1:]], argv, created=100.0, since=100.0)
    assert not matches_stop(resolved, argv, created=50.0, since=100.0)  # older than the session's stop
    assert not matches_stop([*resolved[:-1], "other"], argv, created=100.2, since=100.0)
    assert not matches_stop(["/usr/bin/docker-compose", *argv[1:]], argv, created=100.2, since=100.0)
    assert not matches_stop([], argv, created=100.2, since=100.0)


def test_restored_only_when_the_container_runs_and_consumes():
    found = consumers(LISTING)
    ok = served(True, found, {"172.20.0.5"})
    assert ok.restored and "consumes `digest` again" in ok.detail
    # the container runs but only the host's dev worker consumes: not restored
    waiting = served(True, found, {"172.20.0.6"})
    assert not waiting.restored and "no BullMQ worker of its container" in waiting.detail
    assert not served(True, [], {"172.20.0.5"}).restored  # started, not connected yet
    stopped = served(False, found, {"172.20.0.5"})
    assert not stopped.restored and stopped.detail == "its container is not running"


def test_without_redis_the_containers_readiness_is_taken_and_said():
    verdict = served(True, None, {"172.20.0.5"})
    assert verdict.restored and "cannot be read from Redis" in verdict.detail and "readiness" in verdict.detail
    assert not served(False, None, set()).restored


def test_a_worker_never_seen_in_redis_is_taken_on_its_readiness_after_the_wait():
    """A Bull app, or a Redis that keeps no client names: no BullMQ name ever shows."""
    verdict = served(True, [], {"172.20.0.5"}, waited=15.0)
    assert verdict.restored and "appeared in Redis in 15 s" in verdict.detail and "readiness" in verdict.detail
    assert not served(False, [], {"172.20.0.5"}, waited=15.0).restored  # not running: never


def test_without_the_containers_address_any_worker_connection_counts():
    assert served(True, consumers(LISTING), set()).restored


def test_the_status_line_while_the_guardian_restores():
    line = restoring_line(4242, "2026-01-02 03:04:05", 4343, "background worker")
    assert line.startswith("dev worker: a session (pid 4242, since 2026-01-02 03:04:05) was killed")
    assert "its guardian (pid 4343) is restoring the background worker" in line
    assert "inv worker.up" not in line
