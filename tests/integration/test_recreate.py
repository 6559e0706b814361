"""`worker.up` names the running services Compose re-creates, and does not re-create a Redis that
keeps nothing on disk (the stand-in's `--save "" --appendonly no`) while it holds keys, without
`--recreate`: the shop's queue, its configuration changed under it (another host port)."""

from __future__ import annotations

from .stackenv import free_port


def test_a_redis_holding_keys_without_persistence_is_re_created_only_with_the_flag(shop):
    shop.compose("up", "-d", "queue")
    shop.compose("exec", "-T", "queue", "redis-cli", "SET", "devstack-test-key", "1")
    before = shop.compose("ps", "-q", "queue").stdout.strip()
    shop.write_env(QUEUE_PORT=str(free_port()))  # the queue's configuration hash changes: up re-creates it

    refused = shop.inv("worker.up", "email")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    assert errors[0].startswith("error: worker.up would re-create the running queue (its configuration changed")
    assert "it holds 1 key" in errors[0] and 'save "", appendonly no' in errors[0], errors[0]
    assert "`inv worker.up --recreate` accepts that" in errors[0], errors[0]
    assert "note: worker.up re-creates the running queue (" in refused.stdout, refused.stdout
    # nothing was re-created, nothing lost
    assert shop.compose("ps", "-q", "queue").stdout.strip() == before
    assert shop.compose("exec", "-T", "queue", "redis-cli", "EXISTS", "devstack-test-key").stdout.strip() == "1"

    accepted = shop.inv("worker.up", "email", "--recreate")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "note: queue's 1 key is lost with its container (--recreate)" in accepted.stdout, accepted.stdout
    # what was said is what happened: a new container, the key gone
    assert shop.compose("ps", "-q", "queue").stdout.strip() != before
    assert shop.compose("exec", "-T", "queue", "redis-cli", "EXISTS", "devstack-test-key").stdout.strip() == "0"
