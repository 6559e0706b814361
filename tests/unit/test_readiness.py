"""What ready means for a started worker container (tasks/knowledge/readiness.py): pure verdicts."""

from __future__ import annotations

import pytest

from tasks.knowledge.bullmq_clients import consumers
from tasks.knowledge.readiness import (
    Consumers,
    consumes,
    container_addresses,
    has_healthcheck,
    judge,
    rule_text,
    up_for_s,
)

RUNNING = {"Status": "running", "Running": True}
STARTING = {**RUNNING, "Health": {"Status": "starting"}}
HEALTHY = {**RUNNING, "Health": {"Status": "healthy"}}


def verdict(state: dict, running_for: float = 0.0, consumers: Consumers | None = None, restarts: int = 0):
    return judge(state, restarts, started_restarts=0, running_for_s=running_for, consumers=consumers)


def seen(consuming: bool, bound: float = 60.0, ends: bool = False) -> Consumers:
    return Consumers(consuming, "127.0.0.1:6379", bound, ends)


def test_without_a_healthcheck_a_consumer_makes_it_ready_at_once():
    assert verdict(RUNNING, 0.3, seen(True)).ready


def test_without_a_healthcheck_running_is_not_ready_until_it_consumes():
    waiting = verdict(RUNNING, 30.0, seen(False))
    assert waiting.waiting and waiting.reason == "it runs but consumes no queue yet"


def test_a_worker_that_runs_past_the_bound_without_consuming_fails_in_one_line():
    failed = verdict(RUNNING, 61.2, seen(False, bound=60.0))
    assert failed.failed
    assert failed.reason == (
        "it has run 61 s without consuming a queue (no BullMQ/Bull worker connection from its container in "
        "`CLIENT LIST` of the Redis at 127.0.0.1:6379; worker.consume_within is 60 s; `never` if it consumes no queue)"
    )


def test_a_crash_wins_over_a_consumer_seen_before_it():
    assert verdict({"Status": "restarting", "Restarting": True, "ExitCode": 1}, 1.0, seen(True)).failed
    assert verdict(RUNNING, 1.0, seen(True), restarts=1).failed
    assert verdict({"Status": "exited", "ExitCode": 3}, 0.0, seen(False)).reason == "it exited (exit code 3)"


def test_with_a_healthcheck_worker_up_waits_for_healthy_even_when_it_consumes():
    assert verdict(STARTING, 5.0, seen(True)).waiting
    assert verdict(HEALTHY, 5.0, seen(False)).ready
    # no bound for a worker with a healthcheck: its healthcheck decides
    assert verdict(STARTING, 500.0, seen(False)).waiting


def test_at_the_end_of_a_session_a_consumer_ends_the_wait_before_the_healthcheck_tick():
    assert verdict(STARTING, 1.0, seen(True, ends=True)).ready
    assert verdict(STARTING, 1.0, seen(False, ends=True)).waiting
    assert verdict({**RUNNING, "Health": {"Status": "unhealthy"}}, 1.0, seen(False, ends=True)).failed


def test_not_watched_is_the_container_readiness_of_before():
    assert verdict(RUNNING, 1.9).waiting
    assert verdict(RUNNING, 2.0).ready
    assert verdict(STARTING, 100.0).waiting


def test_a_container_up_for_a_minute_counts_as_up_from_its_own_start():
    state = {**RUNNING, "StartedAt": "2026-12-07T05:00:00.500000000Z"}
    started = 1796619600.5  # 2026-12-07T05:00:00.5Z
    assert up_for_s(state, started + 60) == pytest.approx(60.0)
    assert verdict(state, up_for_s(state, started + 60)).ready  # no wait to announce
    assert up_for_s({**RUNNING, "StartedAt": "2026-12-07T06:00:00+01:00"}, started + 10) == pytest.approx(10.5)
    assert up_for_s(state, started - 5) == 0.0  # a skewed clock is not negative time
    assert up_for_s({**RUNNING, "StartedAt": "0001-01-01T00:00:00Z"}, started) == 0.0
    assert up_for_s({**RUNNING, "StartedAt": "yesterday"}, started) == 0.0
    assert up_for_s(RUNNING, started) == 0.0


CLIENTS = (
    "id=7 addr=172.18.0.5:40112 laddr=172.18.0.2:6379 fd=9 name=bull:ZGlnZXN0 db=0\n"  # worker `digest`
    "id=8 addr=172.18.0.5:40114 laddr=172.18.0.2:6379 fd=10 name= db=0\n"  # a plain connection
    "id=9 addr=172.18.0.1:50000 laddr=172.18.0.2:6379 fd=11 name=bull:ZGlnZXN0:qe db=0\n"  # QueueEvents
)


def test_a_consumer_is_a_worker_connection_from_one_of_the_containers_addresses():
    found = consumers(CLIENTS)
    assert consumes(found, {"172.18.0.5"})
    assert not consumes(found, {"172.18.0.1"})  # only a QueueEvents connection from there
    assert not consumes(found, set())


def test_container_addresses_from_docker_inspect():
    details = {
        "NetworkSettings": {
            "Networks": {
                "a_default": {"IPAddress": "172.18.0.5", "GlobalIPv6Address": ""},
                "b": {"IPAddress": "10.0.3.4", "GlobalIPv6Address": "fd00::4"},
            }
        }
    }
    assert container_addresses(details) == {"172.18.0.5", "10.0.3.4", "fd00::4"}
    assert container_addresses({"NetworkSettings": {"Networks": {"host": {"IPAddress": ""}}}}) == set()
    assert container_addresses({}) == set()


def test_a_healthcheck_in_the_compose_config():
    assert has_healthcheck({"healthcheck": {"test": ["CMD", "test", "-f", "/dev/shm/worker.ready"]}})
    assert not has_healthcheck({"healthcheck": {"disable": True}})
    assert not has_healthcheck({"healthcheck": {"test": ["NONE"]}})
    assert not has_healthcheck({})


def test_doctors_line_says_what_ready_means():
    assert rule_text(None, False) == (
        "its container's readiness: up 2 s without a restart (no healthcheck); worker.consume_within is never "
        "(it consumes no queue)"
    )
    assert rule_text(None, True).startswith("its container's readiness: healthy (its healthcheck);")
    assert rule_text(60.0, False).startswith(
        "consuming its queue (a BullMQ/Bull worker connection from its container in Redis) within 60 s"
    )
    assert "at the end of a dev session, healthy or consuming its queue" in rule_text(60.0, True)
