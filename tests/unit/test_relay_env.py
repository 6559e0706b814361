"""Which dev worker variables lead to the queue's Redis, and their values through the relay
(tasks/knowledge/relay_env.py), on environments built from Compose's own `config --format json` shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tasks.knowledge.dev_env import dev_environment
from tasks.knowledge.relay_env import RelayEnv, listen_host, relay_env
from tasks.knowledge.stack_config import parse_config

DATA = Path(__file__).parent / "data" / "compose"
RELAY_PORT = 40123


def stack_with(environment: dict[str, str], published: str = "16379") -> Any:
    """A worker beside a redis service published on 127.0.0.1:``published``, as `config --format json` prints it."""
    return parse_config(
        {
            "name": "relay",
            "services": {
                "redis": {
                    "image": "redis:7",
                    "ports": [{"host_ip": "127.0.0.1", "target": 6379, "published": published, "protocol": "tcp"}],
                },
                "worker": {"image": "worker", "environment": environment},
            },
        }
    )


def relayed(environment: dict[str, str], published: str = "16379", shell: dict[str, str] | None = None):
    plan = dev_environment(
        stack_with(environment, published), "worker", shell or {}, scheduler=True, host_port_vars=[], url_vars=[]
    )
    assert plan.problems == []
    return relay_env(plan, ("127.0.0.1", int(published)), RELAY_PORT, shell or {})


def test_a_url_keeps_its_credentials_and_path_and_gets_the_relay_port():
    result = relayed({"QUEUE_URL": "redis://:s3cret@redis:6379/2"})
    assert result == RelayEnv({"QUEUE_URL": f"redis://:s3cret@127.0.0.1:{RELAY_PORT}/2"})


def test_a_url_without_a_port_gets_one():
    assert relayed({"REDIS_URL": "redis://redis"}) == RelayEnv({"REDIS_URL": f"redis://127.0.0.1:{RELAY_PORT}"})


def test_host_and_port_variables_both_lead_to_the_relay():
    result = relayed({"REDIS_HOST": "redis", "REDIS_PORT": "6379"}, published="6379")
    assert result == RelayEnv({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(RELAY_PORT)})
    assert isinstance(result, RelayEnv) and result.names == "REDIS_HOST, REDIS_PORT"


def test_host_port_in_one_value():
    assert relayed({"BULL_REDIS": "redis:6379"}) == RelayEnv({"BULL_REDIS": f"127.0.0.1:{RELAY_PORT}"})


def test_every_variable_leading_to_that_redis_is_relayed():
    result = relayed({"REDIS_URL": "redis://redis:6379", "CACHE_HOST": "redis", "CACHE_PORT": "6379"})
    assert result == RelayEnv(
        {"REDIS_URL": f"redis://127.0.0.1:{RELAY_PORT}", "CACHE_HOST": "127.0.0.1", "CACHE_PORT": str(RELAY_PORT)}
    )


def test_a_host_whose_port_the_app_takes_by_default_is_not_trusted():
    """REDIS_HOST alone, Redis published on 6379 itself: the app may dial 127.0.0.1:6379 around the relay."""
    why = relayed({"REDIS_HOST": "redis"}, published="6379")
    assert why == (
        'REDIS_HOST carries no port (the app may dial Redis\'s port 6379 itself): add `REDIS_PORT: "6379"` '
        "to the worker service's environment"
    )


def test_a_host_published_elsewhere_carries_its_port_already():
    """Published on 16379: the dev worker must read REDIS_PORT today already (6379 answers nothing)."""
    assert relayed({"REDIS_HOST": "redis"}) == RelayEnv({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(RELAY_PORT)})


def test_the_shells_own_address_is_left_alone():
    why = relayed({"REDIS_HOST": "redis", "REDIS_PORT": "6379"}, shell={"REDIS_PORT": "16379"})
    assert why == "your shell sets REDIS_HOST/REDIS_PORT"


def test_no_variable_leading_to_redis():
    why = relayed({"PGHOST": "somewhere"})
    assert isinstance(why, str) and why.startswith("no variable of the worker service's environment leads to Redis")


def test_the_example_stack_is_relayed(tmp_path):
    """Our own compose file as Compose printed it: REDIS_HOST/REDIS_PORT, Redis published on 6379."""
    stack = parse_config(json.loads((DATA / "ours.v5.6.1.json").read_text()))
    plan = dev_environment(stack, "worker", {}, scheduler=True, host_port_vars=[], url_vars=[])
    redis = next(e for e in plan.endpoints if e.service == "redis")
    result = relay_env(plan, (redis.host, redis.port), RELAY_PORT, {})
    assert result == RelayEnv({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(RELAY_PORT)})


@pytest.mark.parametrize("host, listen", [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("::1", "::1")])
def test_the_relay_listens_on_the_loopback_of_the_family_dialled(host, listen):
    assert listen_host(host) == listen
