"""Connections found by value in the worker service's environment, on real `config --format json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.knowledge.dev_env import (
    Connection,
    Endpoint,
    connection_clashes,
    dev_environment,
    find_connections,
    parse_exclusions,
    parse_names,
    parse_pairs,
    sibling_port_var,
    unreachable,
    unreachable_warning,
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


def test_a_service_publishing_no_port_is_a_warning_naming_variable_service_and_line():
    plan = dev_environment(
        load("by-value-s3.v5.6.1.json"), "worker", {}, scheduler=True, host_port_vars=[], url_vars=[]
    )
    # minio is no Redis: the dev worker starts without it (only the queue's Redis refuses)
    assert plan.problems == [] and len(plan.warnings) == 1
    problem = plan.warnings[0]
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
    assert '`"!SEARCH_ADDR"` (quoted: YAML reads a bare ! as a tag) to dev.host_port_vars' in search
    # the worker itself is no connection; a queue name equal to a service name is no address: left as it is
    assert "NAME" not in {c.var for c in found} and len(problems) == 1
    queue_name = next(c for c in found if c.var == "Q")
    assert (queue_name.how, queue_name.set, queue_name.problem) == ("name", (), "")
    assert queue_name.note.startswith("Q=jobs names service 'jobs' but is no address")
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


def two_postgres(**overrides):
    """A worker reaching two Postgres and a Redis; the Postgres published on one host port by mistake."""
    services = {
        "w": {
            "environment": {
                "DATABASE_URL": "postgres://u:p@main:5432/app",
                "FOLLOWERS_URL": "postgres://u:p@followers:5432/app",
                "AUDIT_URL": "postgres://u:p@main:5432/audit",
                "REDIS_URL": "redis://queue:6379",
                "MAIL_TRANSPORT": "mailpit",
                "MAIL_HOST": "mailpit",
            }
        },
        "main": {"image": "postgres:16", "ports": [{"target": 5432, "published": "5432", "host_ip": "127.0.0.1"}]},
        "followers": {"image": "postgres:16", "ports": [{"target": 5432, "published": "5432", "host_ip": "127.0.0.1"}]},
        "queue": {"image": "redis:7", "ports": [{"target": 6379, "host_ip": "127.0.0.1"}]},
        "mailpit": {"image": "axllent/mailpit", "ports": [{"target": 1025, "published": "21025"}]},
    }
    services.update(overrides)
    return parse_config({"services": services})


def test_two_services_at_one_host_address_refuse_naming_both_variables_and_services():
    plan = dev_environment(
        two_postgres(),
        "w",
        {},
        scheduler=True,
        host_port_vars=[],
        url_vars=[],
        runtime={("queue", 6379): ("127.0.0.1", 32768)},
    )
    clash = [p for p in plan.problems if p.startswith("two services at one address")]
    assert len(clash) == 1, plan.problems
    assert "AUDIT_URL (service 'main') and FOLLOWERS_URL (service 'followers')" in clash[0]
    assert "127.0.0.1:5432" in clash[0]
    # the same service through two variables (AUDIT_URL, DATABASE_URL) is no clash
    assert "DATABASE_URL" not in clash[0]


def test_a_shell_value_that_lands_on_another_services_address_refuses():
    stack = two_postgres(followers={"image": "postgres:16", "ports": [{"target": 5432, "published": "25432"}]})
    runtime = {("queue", 6379): ("127.0.0.1", 32768)}
    plan = dev_environment(stack, "w", {}, scheduler=True, host_port_vars=[], url_vars=[], runtime=runtime)
    assert plan.problems == []
    moved = dev_environment(
        stack,
        "w",
        {"REDIS_URL": "redis://localhost:5432"},  # the shell points the queue at the main Postgres
        scheduler=True,
        host_port_vars=[],
        url_vars=[],
        runtime=runtime,
    )
    assert len(moved.problems) == 1
    assert "AUDIT_URL (service 'main') and REDIS_URL (service 'queue')" in moved.problems[0], moved.problems


def test_a_service_name_that_is_no_address_is_left_as_it_is_said_once():
    stack = two_postgres(followers={"image": "postgres:16", "ports": [{"target": 5432, "published": "25432"}]})
    plan = dev_environment(
        stack, "w", {}, scheduler=True, host_port_vars=[], url_vars=[], runtime={("queue", 6379): ("127.0.0.1", 1)}
    )
    assert plan.env["MAIL_TRANSPORT"] == "mailpit" and "MAIL_TRANSPORT_PORT" not in plan.env
    assert [n for n in plan.notes if "MAIL_TRANSPORT" in n] == [
        "MAIL_TRANSPORT=mailpit names service 'mailpit' but is no address (no URL, no host:port, no host variable "
        "with its port variable): left as it is (if it is a host, add `MAIL_TRANSPORT:PORT_VARIABLE` to "
        "dev.host_port_vars)"
    ]
    # a host variable is an address: its one port is published, so it is rewritten
    assert (plan.env["MAIL_HOST"], plan.env["MAIL_PORT"]) == ("127.0.0.1", "21025")
    # configured as a pair, the same name is an address
    configured = dev_environment(
        stack,
        "w",
        {},
        scheduler=True,
        host_port_vars=[("MAIL_TRANSPORT", "MAIL_TRANSPORT_PORT")],
        url_vars=[],
        runtime={("queue", 6379): ("127.0.0.1", 1)},
    )
    assert configured.env["MAIL_TRANSPORT"] == "127.0.0.1"


def test_only_a_redis_the_dev_worker_cannot_get_refuses_the_others_warn():
    stack = two_postgres(
        followers={"image": "postgres:16"},  # publishes nothing
        main={"image": "postgres:16", "ports": [{"target": 5432, "published": "25432"}]},
    )
    plan = dev_environment(stack, "w", {}, scheduler=True, host_port_vars=[], url_vars=[], running=set())
    # queue: a Redis on a port Compose picks, not running -> refused; followers: a warning naming its variable
    assert len(plan.problems) == 1 and plan.problems[0].startswith(
        "service 'queue' publishes 6379 on a host port Compose picks at `up`, and it is not running (REDIS_URL"
    )
    assert len(plan.warnings) == 1 and "FOLLOWERS_URL" in plan.warnings[0]
    redis = {e.via: e.redis for e in plan.endpoints}
    assert redis == {"AUDIT_URL": False, "DATABASE_URL": False, "MAIL_HOST/MAIL_PORT": False}


def test_a_running_container_without_the_port_published_needs_re_creating():
    stack = two_postgres(followers={"image": "postgres:16", "ports": [{"target": 5432, "published": "25432"}]})
    # queue runs, but its container was created before the override published 6379; main runs from an
    # older configuration that published another host port: what runs is what answers
    runtime = {("main", 5432): ("127.0.0.1", 15432)}
    plan = dev_environment(
        stack, "w", {}, scheduler=True, host_port_vars=[], url_vars=[], runtime=runtime, running={"queue", "main"}
    )
    assert plan.problems == [
        "service 'queue' runs in a container created without its port 6379 published, so nothing on the host "
        "reaches it (REDIS_URL leads there): `inv stack.up` re-creates it (and says first what that means for its "
        "data)"
    ]
    assert plan.env["DATABASE_URL"] == "postgres://u:p@127.0.0.1:15432/app"
    found, problems = find_connections(stack, "w", stack.services["w"].environment, runtime=runtime, running={"queue"})
    assert problems == plan.problems and connection_clashes(found) == []


def test_unreachable_redis_is_an_error_other_services_a_warning():
    db = Endpoint("DATABASE_URL", "127.0.0.1", 25432, "main", 5432)
    assert unreachable_warning(db) == unreachable(db) + (
        " (the dev worker is started anyway: only its Redis must answer first)"
    )


@pytest.mark.parametrize(
    ("image", "command", "expected"),
    [
        ("redis:7-alpine", (), True),
        ("docker.io/bitnami/redis@sha256:abc", (), True),
        ("valkey/valkey:8", (), True),
        ("devstack-ci/redis:7-1", (), True),
        ("example/cache:1", ("redis-server", "--save", ""), True),
        ("postgres:16", (), False),
        ("example/worker:1", ("node", "redis-client.js"), False),
    ],
)
def test_a_redis_is_known_by_its_image_or_its_command(image, command, expected):
    from tasks.knowledge.stack_config import Service

    assert Service("s", image=image, command=command).runs_redis is expected
