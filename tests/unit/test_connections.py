"""Connections found by value in the worker service's environment, on real `config --format json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.knowledge.dev_env import (
    Connection,
    Endpoint,
    dev_environment,
    find_connections,
    parse_exclusions,
    parse_names,
    parse_pairs,
    sibling_port_var,
)
from tasks.knowledge.stack_config import parse_config

DATA = Path(__file__).parent / "data" / "compose"


def load(name: str):
    return parse_config(json.loads((DATA / name).read_text()))


@pytest.mark.parametrize("name", ["by-value.v5.6.1.json", "by-value.v2.26.1.json"])
def test_names_and_urls_of_services_are_connections_whatever_the_variable_is_called(name):
    stack = load(name)
    plan = dev_environment(stack, "worker", {}, scheduler=True, host_port_vars=[], url_vars=[])
    assert plan.problems == []
    env = plan.env
    # QUEUE_HOST: redis, its port defaulted in the app's code: the published port goes in QUEUE_PORT
    assert (env["QUEUE_HOST"], env["QUEUE_PORT"]) == ("127.0.0.1", "56379")
    assert (env["CACHE_HOST"], env["CACHE_PORT"]) == ("127.0.0.1", "56379")
    assert env["POSTGRES_URL"] == "postgresql://app:app@127.0.0.1:55432/app"
    assert env["S3_ENDPOINT"] == "" and env["WORKER_NAME"] == "dev"
    assert sorted(c.var for c in plan.connections) == ["CACHE_HOST", "POSTGRES_URL", "QUEUE_HOST"]
    assert Endpoint("QUEUE_HOST/QUEUE_PORT", "127.0.0.1", 56379, "redis", 6379) in plan.endpoints
    assert Endpoint("POSTGRES_URL", "127.0.0.1", 55432, "postgres", 5432) in plan.endpoints


def test_a_service_publishing_no_port_is_refused_naming_variable_service_and_line():
    plan = dev_environment(
        load("by-value-s3.v5.6.1.json"), "worker", {}, scheduler=True, host_port_vars=[], url_vars=[]
    )
    assert len(plan.problems) == 1
    problem = plan.problems[0]
    assert "S3_ENDPOINT" in problem and "'minio' publishes no port for 9000" in problem
    assert "run `inv adopt`: the collection's compose.devstack.yaml publishes minio:9000 on 127.0.0.1" in problem
    assert "ports:" not in problem  # never asked to edit the user's compose file


def test_excluded_variables_are_left_alone():
    stack = load("by-value-s3.v5.6.1.json")
    exclude = parse_exclusions("REDIS_HOST:REDIS_PORT,!CACHE_HOST", ["DATABASE_URL", "!S3_ENDPOINT"])
    assert exclude == ["CACHE_HOST", "S3_ENDPOINT"]
    plan = dev_environment(stack, "worker", {}, scheduler=True, host_port_vars=[], url_vars=[], exclude=exclude)
    assert plan.problems == [] and plan.env["CACHE_HOST"] == "redis" and "CACHE_PORT" not in plan.env
    assert plan.env["S3_ENDPOINT"] == "http://minio:9000"
    assert parse_names("A, !B") == ["A"] and parse_pairs(["X:Y", "!Z"]) == [("X", "Y")]


def test_override_found_by_lookup_publishes_the_ports():
    stack = load("compose-yaml.v5.6.1.json")
    assert stack.name == "composeyaml" and stack.services["migrations"].restart == "no"
    plan = dev_environment(stack, "worker", {}, scheduler=True, host_port_vars=[], url_vars=[])
    assert plan.problems == []
    assert plan.env["REDIS_URL"] == "redis://127.0.0.1:36379"
    assert plan.env["DATABASE_URL"] == "postgres://app:app@127.0.0.1:35432/app"


def test_service_port_pairs_and_shell_values():
    stack = parse_config(
        {
            "services": {
                "w": {"environment": {"BROKER": "queue:6379", "SEARCH_ADDR": "search", "NAME": "w", "Q": "jobs"}},
                "queue": {"ports": [{"target": 6379, "published": "26379", "host_ip": "127.0.0.1"}]},
                "search": {"ports": [{"target": 9200, "published": "29200"}, {"target": 9300, "published": "29300"}]},
                "jobs": {},
            }
        }
    )
    found, problems = find_connections(stack, "w", stack.services["w"].environment)
    # `queue:6379` swapped as one value; a bare name with several ports cannot be told
    assert Connection("BROKER", "queue:6379", "queue", 6379, "host:port", set=(("BROKER", "127.0.0.1:26379"),)) in found
    search = next(p for p in problems if p.startswith("SEARCH_ADDR=search: cannot tell which port of service 'search'"))
    assert "`SEARCH_PORT: \"PORT\"` to service 'w'" in search
    # the worker itself is no connection; a queue name equal to a service name can be excluded
    assert "NAME" not in {c.var for c in found}
    queue_name = next(p for p in problems if p.startswith("Q=jobs: cannot tell"))
    assert '`"!Q"` (quoted: YAML reads a bare ! as a tag) to dev.host_port_vars' in queue_name and len(problems) == 2
    plan = dev_environment(
        stack,
        "w",
        {"BROKER": "10.0.0.5:6379"},
        scheduler=True,
        host_port_vars=[],
        url_vars=[],
        exclude=["Q", "SEARCH_ADDR"],
    )
    assert plan.env["BROKER"] == "10.0.0.5:6379" and plan.problems == []
    assert plan.endpoints == [Endpoint("BROKER", "10.0.0.5", 6379, "", 6379)]


def test_configured_pairs_name_an_unusual_port_variable():
    stack = parse_config(
        {
            "services": {
                "w": {"environment": {"MQ_SERVER": "mq", "MQ_TCP": "5672"}},
                "mq": {"ports": [{"target": 5672, "published": "25672"}, {"target": 15672, "published": "35672"}]},
            }
        }
    )
    plan = dev_environment(stack, "w", {}, scheduler=True, host_port_vars=parse_pairs("MQ_SERVER:MQ_TCP"), url_vars=[])
    assert plan.problems == [] and (plan.env["MQ_SERVER"], plan.env["MQ_TCP"]) == ("127.0.0.1", "25672")
    assert (
        plan.connections[0].describe() == "MQ_SERVER=mq -> MQ_SERVER=127.0.0.1 MQ_TCP=25672 (service 'mq', port 5672)"
    )


def test_sibling_port_variable_names():
    assert sibling_port_var("QUEUE_HOST") == "QUEUE_PORT"
    assert sibling_port_var("REDIS_HOSTNAME") == "REDIS_PORT"
    assert sibling_port_var("CACHE") == "CACHE_PORT"
    assert sibling_port_var("_HOST") == "_HOST_PORT"


def production_stack():
    data = json.loads((DATA / "by-value.v5.6.1.json").read_text())
    data["services"]["worker"]["environment"]["NODE_ENV"] = "production"
    return parse_config(data)


def test_a_production_node_env_becomes_development_for_the_dev_worker_said_once():
    plan = dev_environment(production_stack(), "worker", {}, scheduler=True, host_port_vars=[], url_vars=[])
    assert plan.env["NODE_ENV"] == "development"
    assert len(plan.notes) == 1 and plan.notes[0].startswith("NODE_ENV=development for the dev worker")


@pytest.mark.parametrize("chosen", ["production", "test"])
def test_node_env_chosen_in_dev_env_or_the_shell_is_kept(chosen):
    environ = {"NODE_ENV": chosen}  # app.dev_env, then the shell: both arrive as `environ`
    plan = dev_environment(production_stack(), "worker", environ, scheduler=True, host_port_vars=[], url_vars=[])
    assert plan.env["NODE_ENV"] == chosen and plan.notes == []


def test_a_service_without_production_gets_no_note():
    plan = dev_environment(load("by-value.v5.6.1.json"), "worker", {}, scheduler=True, host_port_vars=[], url_vars=[])
    assert plan.notes == [] and plan.env.get("NODE_ENV") != "development"
