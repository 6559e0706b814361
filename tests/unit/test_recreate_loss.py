"""Before `up`: the running services Compose re-creates, why, and a Redis that would lose its keys."""

from __future__ import annotations

import json

import pytest

from tasks.drivers import recreate_loss, workers
from tasks.drivers.compose import Compose
from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.failures import UserError
from tasks.knowledge.recreate_loss import RedisData, config_value, diverged, keys_in, reason
from tasks.knowledge.stack_config import Port, Service
from tests import fakes

HASH = "com.docker.compose.config-hash"


def container(service: str, hash_: str, ports: str = "", state: str = "running") -> ContainerState:
    return ContainerState(f"p-{service}-1", service, state, "", "", None, {HASH: hash_}, ports=ports)


def test_diverged_are_the_running_containers_whose_hash_differs():
    found = [container("queue", "a"), container("db", "b"), container("old", "x", state="exited"), container("q2", "c")]
    assert diverged(found, {"queue": "a2", "db": "b", "old": "y"}) == ["queue"]  # q2: hash not known


def test_the_reason_names_the_ports_its_container_does_not_publish_yet():
    queue = Service("queue", ports=(Port(6379, None, "127.0.0.1"),))
    assert reason(queue, container("queue", "a", "6379/tcp")) == "to publish port 6379"
    published = container("queue", "a", "127.0.0.1:32768->6379/tcp")
    assert reason(queue, published) == "its configuration changed since its container was created"


def test_redis_answers_are_read():
    assert keys_in("# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=1\r\n") == 14
    assert keys_in("# Keyspace\n") == 0
    assert config_value("save\n\n") == "" and config_value("save\n3600 1 300 100\n") == "3600 1 300 100"


@pytest.mark.parametrize(
    ("data", "lost"),
    [
        (RedisData(3, "", "no", "/data", ("/data",)), True),  # keeps nothing on disk
        (RedisData(3, "3600 1", "no", "/data", ()), True),  # snapshots into the container's own layer
        (RedisData(3, "3600 1", "no", "/data", ("/data",)), False),
        (RedisData(3, "", "yes", "/var/lib/redis", ("/var/lib",)), False),
        (RedisData(0, "", "no", "/data", ()), False),  # nothing to lose
    ],
)
def test_keys_are_lost_only_when_it_holds_some_and_keeps_no_copy_on_a_volume(data, lost):
    assert bool(data.loss()) is lost


def stack_with_stale_redis(gw: fakes.FakeGateway, *, save: str = "", keys: int = 5, mounts: str = "[]") -> None:
    stack = fakes.FakeStack(gw, worker="running")
    stack.containers["redis"].labels[HASH] = "old"
    stack.containers["postgres"].labels[HASH] = "same"
    gw.on(r"^docker compose .*config --hash", stdout="redis new\npostgres same\n")
    gw.on(r"^docker exec \S+ redis-cli INFO keyspace$", stdout=f"# Keyspace\ndb0:keys={keys},expires=0\n")
    gw.on(r"^docker exec \S+ redis-cli CONFIG GET save$", stdout=f"save\n{save}\n")
    gw.on(r"^docker exec \S+ redis-cli CONFIG GET appendonly$", stdout="appendonly\nno\n")
    gw.on(r"^docker exec \S+ redis-cli CONFIG GET dir$", stdout="dir\n/data\n")
    gw.on(r"^docker inspect --format \{\{json \.Mounts\}\}", stdout=mounts)


def check(tmp_path, gw, *, accept: bool = False) -> None:
    compose = Compose(workers.one(fakes.context(tmp_path), None), gateway=gw)
    recreate_loss.check(
        compose,
        ["postgres", "redis"],
        task="stack.up",
        accept=accept,
        accept_hint="`inv stack.up --recreate`",
        profiles=["worker"],
        extra_env={},
    )


def test_a_redis_without_persistence_holding_keys_is_not_re_created_without_the_flag(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack_with_stale_redis(gw)
    with pytest.raises(UserError) as refused:
        check(tmp_path, gw)
    reason_ = refused.value.reason
    assert "\n" not in reason_ and reason_.startswith("stack.up would re-create the running redis (")
    assert "it holds 5 keys (the queue's jobs among them)" in reason_ and 'save "", appendonly no' in reason_
    assert "`inv stack.up --recreate` accepts that" in reason_
    said = capsys.readouterr().out
    assert said.startswith("note: stack.up re-creates the running redis (") and "postgres" not in said


def test_with_the_flag_it_is_re_created_and_the_loss_said(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack_with_stale_redis(gw)
    check(tmp_path, gw, accept=True)
    assert "note: redis's 5 keys are lost with its container (--recreate)" in capsys.readouterr().out


def test_a_redis_that_snapshots_to_a_volume_is_re_created_with_a_note_only(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack_with_stale_redis(gw, save="3600 1", mounts=json.dumps([{"Destination": "/data"}]))
    check(tmp_path, gw)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("note: stack.up re-creates the running redis")


def test_nothing_is_said_or_asked_when_nothing_changed(tmp_path, capsys):
    gw = fakes.FakeGateway()
    stack_with_stale_redis(gw)
    gw.on(r"^docker compose .*config --hash", stdout="redis old\npostgres same\n")
    check(tmp_path, gw)
    assert capsys.readouterr().out == "" and not gw.ran("redis-cli")


def test_what_stack_down_loses_of_a_redis():
    """Kept only on a bind mount, or on a named volume without `--volumes`; the official image's /data
    is an anonymous volume the next container does not get."""
    from tasks.knowledge.recreate_loss import down_loss
    from tasks.knowledge.stack_config import parse_config

    saving = RedisData(12, "3600 1", "no", "/data", ("/data",))
    assert down_loss(saving, [], volumes=False) == (
        "it holds 12 keys (the queues' jobs among them) in /data, which is on no named volume or bind mount "
        "(the next container starts empty)"
    )
    named = [("volume", "redisdata", "/data")]
    assert down_loss(saving, named, volumes=False) == ""
    assert down_loss(saving, named, volumes=True) == (
        "it holds 12 keys (the queues' jobs among them) in /data, on the volume redisdata, which --volumes deletes"
    )
    assert down_loss(saving, [("bind", "/srv/redis", "/data")], volumes=True) == ""
    assert down_loss(saving, [("volume", "", "/data")], volumes=False).endswith("(the next container starts empty)")
    memory_only = RedisData(1, "", "no", "/data", ())
    assert down_loss(memory_only, named, volumes=False) == (
        'it holds 1 key (the queues\' jobs among them) and keeps nothing on disk (save "", appendonly no)'
    )
    assert down_loss(RedisData(0, "", "no", "/data", ()), [], volumes=True) == ""  # nothing to lose
    config = {
        "services": {
            "redis": {
                "image": "redis:7",
                "volumes": [
                    {"type": "volume", "source": "redisdata", "target": "/data", "volume": {}},
                    {"type": "bind", "source": "/etc/redis.conf", "target": "/usr/local/etc/redis/redis.conf"},
                ],
            }
        }
    }
    redis = parse_config(config).service("redis")
    assert redis is not None and redis.mounts == (
        ("volume", "redisdata", "/data"),
        ("bind", "/etc/redis.conf", "/usr/local/etc/redis/redis.conf"),
    )


def test_a_cut_job_before_redis_goes_is_said_lost():
    from tasks.knowledge import job_fate as jf

    q = jf.QueueRef("bull", "digest")
    snap = jf.Snapshot([q], [jf.Held(q, "7", "t")])
    cut = [jf.Fate(snap.jobs[0], jf.CUT, 0, 9000)]
    assert (
        jf.describe(snap, cut, served=True, redis_goes=True) == "1 job cut (ids 7): lost with Redis's keys, not retried"
    )
