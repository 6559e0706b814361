"""Crash loops after `up --wait` (tasks/knowledge/crash_loops.py), on `docker inspect` as dockerd 20.10
writes it (trimmed to the fields read)."""

import json

import pytest

from tasks.knowledge.crash_loops import _epoch, parse_inspect, restarted, still_settling


def container(cid, service, status="running", restarts=0, exit_code=0, health=None, started="2026-12-07T05:20:01.5Z"):
    state = {"Status": status, "ExitCode": exit_code, "StartedAt": started}
    if health:
        state["Health"] = {"Status": health}
    return {
        "Id": cid,
        "RestartCount": restarts,
        "State": state,
        "Config": {"Labels": {"com.docker.compose.service": service}},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}},
    }


def test_a_service_that_restarted_since_before_up_or_exited_non_zero_fails():
    now = parse_inspect(
        json.dumps(
            [
                container("a1", "redis"),
                container("b2", "flaky", restarts=3, exit_code=1),  # a new container already restarted
                container("c3", "api", status="restarting", exit_code=1),
                container("d4", "migrate", status="exited", exit_code=0),  # a one-shot job done: fine
                container("e5", "seed", status="exited", exit_code=2),
                container("f6", "postgres", restarts=4),  # restarted before this up, not since
            ]
        )
    )
    before = {c.id: c for c in parse_inspect(json.dumps([container("f6", "postgres", restarts=4, started="x")]))}
    failing = restarted(before, now, ["redis", "flaky", "api", "migrate", "seed", "postgres"])
    assert failing == [
        ("flaky", "restarted 3 times while starting: a crash loop"),
        ("api", "keeps restarting, last exit code 1: a crash loop"),
        ("seed", "exited with code 2"),
    ]
    assert restarted({}, now, ["redis"]) == []  # only the services asked about
    # the same container, not started since: its old exit is not this up's
    assert restarted({c.id: c for c in now}, now, ["seed"]) == []


def test_a_container_without_healthcheck_is_watched_until_up_for_the_stable_time():
    started = _epoch("2026-12-07T05:20:01.5Z")
    assert started is not None
    now = parse_inspect(json.dumps([container("a1", "worker"), container("b2", "db", health="healthy")]))
    assert still_settling(now, ["worker", "db"], started + 0.5, watched_s=0.5) == ["worker"]
    assert still_settling(now, ["worker", "db"], started + 2.5, watched_s=0.5) == []  # up long enough
    # Docker's clock behind ours (a VM): the wait never watches longer than the stable time itself
    assert still_settling(now, ["worker"], started - 60, watched_s=2.1) == []


def test_docker_timestamps_with_nanoseconds_and_the_zero_time():
    assert _epoch("2026-12-07T05:20:01.123456789Z") == pytest.approx(_epoch("2026-12-07T05:20:01Z") + 0.123456)
    assert _epoch("0001-01-01T00:00:00Z") is None and _epoch("") is None
    assert parse_inspect("not json") == [] and parse_inspect("") == []
