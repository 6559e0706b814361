"""The stack facts and the dev worker's environment, from real `docker compose config --format json` output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.knowledge.dev_env import (
    Endpoint,
    dev_environment,
    parse_names,
    parse_pairs,
    unreachable,
)
from tasks.knowledge.scheduler import scheduler_warnings
from tasks.knowledge.stack_config import (
    Port,
    parse_config,
    port_variable,
    published_ports,
    referenced_variables,
    unescape,
)

DATA = Path(__file__).parent / "data" / "compose"
PAIRS = parse_pairs("REDIS_HOST:REDIS_PORT, PGHOST:PGPORT")
URLS = parse_names("DATABASE_URL,REDIS_URL")


def load(name: str):
    return parse_config(json.loads((DATA / name).read_text()))


@pytest.mark.parametrize("name", ["ours.v5.6.1.json", "ours.v2.26.1.json"])
def test_our_file(name):
    stack = load(name)
    assert stack.name == "devstack" and set(stack.services) == {"postgres", "redis", "worker"}
    worker = stack.services["worker"]
    assert worker.profiles == ("worker",) and worker.build and worker.image == "devstack-worker:local"
    assert worker.restart == "unless-stopped" and not worker.healthcheck and worker.ports == ()
    assert worker.depends_on == ("postgres", "redis")
    # Compose's reading of `POSTGRES_PASSWORD=pa$word#x`: $word is unset, so blank.
    assert worker.environment["PGPASSWORD"] == "pa#x"
    assert stack.services["redis"].ports == (Port(6379, 16379, "127.0.0.1"),)
    assert stack.services["postgres"].healthcheck and not stack.services["postgres"].build
    assert stack.enabled([]) == ["postgres", "redis"]
    assert stack.with_dependencies(["worker"]) == ["postgres", "redis", "worker"]


def test_two_workers_from_one_build():
    stack = load("two-workers.v5.6.1.json")
    jobs, mailer = stack.services["jobs"], stack.services["mailer"]
    assert jobs.build and mailer.build and jobs.image == mailer.image == "otherapp-jobs:local"
    assert jobs.restart == "on-failure" and mailer.profiles == ("mail",)
    assert stack.services["queue"].ports == (Port(6379, 16379, "127.0.0.1"),)
    assert stack.services["db"].ports == (Port(5432, 15432, "127.0.0.1"),)
    assert not stack.services["queue"].healthcheck and stack.services["db"].healthcheck
    assert sorted(stack.enabled([])) == ["db", "jobs", "queue"]


def test_no_healthchecks_random_port_replicas_and_literal_dollar():
    stack = load("no-healthchecks.v5.6.1.json")
    assert not any(s.healthcheck for s in stack.services.values())
    assert stack.services["cache"].ports == (Port(6379, None, ""),)
    assert stack.services["workers"].replicas == 2 and stack.services["workers"].restart == "always"
    assert stack.services["api"].environment["LITERAL"] == "cost$5"  # printed as cost$$5
    assert stack.services["pg"].restart == "no"


def test_version_3_8_file_from_compose_2_26():
    stack = load("version-3.8.v2.26.1.json")
    worker = stack.services["worker"]
    assert worker.build and worker.restart == "always" and not worker.healthcheck  # healthcheck: disable
    assert worker.environment == {"ENABLE_SCHEDULER": "1", "REDIS_HOST": "redis", "REDIS_PORT": "6379"}
    assert stack.services["redis"].ports[0].connect_host == "127.0.0.1"  # 0.0.0.0: dial loopback


def test_environment_as_list_and_unset_values():
    stack = parse_config({"services": {"a": {"environment": ["A=1", "B=x$$y", "C"], "ports": [{"target": "x"}]}}})
    assert stack.services["a"].environment == {"A": "1", "B": "x$y"} and stack.services["a"].ports == ()
    assert parse_config({"services": {"a": {"environment": {"A": None, "B": "2"}}}}).services["a"].environment == {
        "B": "2"
    }
    assert unescape("a$$b$$$$") == "a$b$$"


def test_referenced_variables_and_port_variable():
    text = 'image: ${IMG:-x}\nports: ["$PORT:80"]\ncmd: "echo $$HOME ${A_B}"'
    assert referenced_variables(text) == {"IMG", "PORT", "A_B"}
    assert port_variable(["127.0.0.1:${REDIS_HOST_PORT:-6379}:6379"], 6379) == "REDIS_HOST_PORT"
    assert port_variable(["${BIND:-127.0.0.1}:${P}:80/tcp", "9000"], 80) == "P"
    assert port_variable([{"target": 5432, "published": "${DB_PORT:-15432}"}], 5432) == "DB_PORT"
    assert port_variable(["8080:80"], 80) is None and port_variable(["${X}:81"], 80) is None


# -- the dev worker's environment -------------------------------------------------------------------


def test_dev_env_ours_swaps_in_published_ports_and_keeps_compose_values():
    plan = dev_environment(
        load("ours.v5.6.1.json"), "worker", {"PATH": "/bin"}, scheduler=True, host_port_vars=PAIRS, url_vars=URLS
    )
    env = plan.env
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["PGHOST"], env["PGPORT"]) == (
        "127.0.0.1",
        "16379",
        "127.0.0.1",
        "15432",
    )
    assert env["PGPASSWORD"] == "pa#x" and env["WORKER_NAME"] == "dev" and env["PATH"] == "/bin"
    assert env["ENABLE_SCHEDULER"] == "true" and plan.problems == []
    assert plan.endpoints == [
        Endpoint("REDIS_HOST/REDIS_PORT", "127.0.0.1", 16379, "redis", 6379),
        Endpoint("PGHOST/PGPORT", "127.0.0.1", 15432, "postgres", 5432),
    ]


def test_dev_env_shell_wins_and_is_checked_and_no_scheduler_wins_over_all():
    plan = dev_environment(
        load("ours.v5.6.1.json"),
        "worker",
        {"REDIS_PORT": "1", "ENABLE_SCHEDULER": "true"},
        scheduler=False,
        host_port_vars=PAIRS,
        url_vars=URLS,
        dotenv_scheduler="true",
    )
    assert plan.env["REDIS_PORT"] == "1" and plan.env["ENABLE_SCHEDULER"] == "false"
    assert Endpoint("REDIS_HOST/REDIS_PORT", "127.0.0.1", 1, "redis", 6379) in plan.endpoints


def test_dev_env_env_file_scheduler_over_the_service_value():
    plan = dev_environment(
        load("ours.v5.6.1.json"),
        "worker",
        {},
        scheduler=True,
        host_port_vars=PAIRS,
        url_vars=URLS,
        dotenv_scheduler="false",
    )
    assert plan.env["ENABLE_SCHEDULER"] == "false"


def test_dev_env_urls_and_other_service_names():
    plan = dev_environment(
        load("two-workers.v5.6.1.json"), "jobs", {}, scheduler=True, host_port_vars=PAIRS, url_vars=URLS
    )
    assert plan.env["REDIS_URL"] == "redis://127.0.0.1:16379" and plan.env["PGPORT"] == "15432"
    assert {(e.service, e.port) for e in plan.endpoints} == {("queue", 16379), ("db", 15432)}


def test_dev_env_database_url_keeps_credentials_and_path():
    stack = load("no-healthchecks.v5.6.1.json")
    # pg publishes nothing: one warning (no Redis) naming the service and what to do
    plan = dev_environment(stack, "api", {}, scheduler=True, host_port_vars=PAIRS, url_vars=URLS)
    assert plan.problems == [] and len(plan.warnings) == 1
    assert "'pg' publishes no port for 5432" in plan.warnings[0]
    assert "compose.devstack.yaml publishes pg:5432 on 127.0.0.1" in plan.warnings[0]
    assert "DATABASE_URL" in plan.warnings[0]
    # a random host port is taken from the running container
    plan = dev_environment(
        stack,
        "workers",
        {},
        scheduler=True,
        host_port_vars=PAIRS,
        url_vars=URLS,
        runtime={("cache", 6379): ("127.0.0.1", 32768)},
    )
    assert plan.env["REDIS_URL"] == "redis://127.0.0.1:32768" and plan.problems == []
    not_running = dev_environment(stack, "workers", {}, scheduler=True, host_port_vars=PAIRS, url_vars=URLS)
    assert "Compose picks at `up`" in not_running.problems[0]


def test_dev_env_rewrites_database_url_with_userinfo():
    stack = parse_config(
        {
            "services": {
                "w": {"environment": {"DATABASE_URL": "postgres://u:p%40ss@db/app?sslmode=disable"}},
                "db": {"ports": [{"target": 5432, "published": "25432", "host_ip": "127.0.0.1"}]},
            }
        }
    )
    plan = dev_environment(stack, "w", {}, scheduler=True, host_port_vars=PAIRS, url_vars=URLS)
    assert plan.env["DATABASE_URL"] == "postgres://u:p%40ss@127.0.0.1:25432/app?sslmode=disable"
    assert plan.endpoints == [Endpoint("DATABASE_URL", "127.0.0.1", 25432, "db", 5432)]


def test_dev_env_leaves_external_hosts_alone_and_unchecked():
    stack = parse_config(
        {"services": {"w": {"environment": {"REDIS_HOST": "cache.example.com", "REDIS_PORT": "6379"}}}}
    )
    plan = dev_environment(stack, "w", {}, scheduler=True, host_port_vars=PAIRS, url_vars=URLS)
    assert plan.env["REDIS_HOST"] == "cache.example.com" and plan.endpoints == [] and plan.problems == []


def test_unreachable_lines():
    assert "service 'redis' at 127.0.0.1:1 (REDIS_HOST/REDIS_PORT)" in unreachable(
        Endpoint("REDIS_HOST/REDIS_PORT", "127.0.0.1", 1, "redis", 6379)
    )
    assert "from your shell" in unreachable(Endpoint("REDIS_URL", "h", 2))


def test_scheduler_warnings_across_services():
    warnings = scheduler_warnings(load("no-healthchecks.v5.6.1.json"))
    assert len(warnings) == 1 and "'workers' runs 2 replicas" in warnings[0]
    two = parse_config(
        {
            "services": {
                "a": {"environment": {"ENABLE_SCHEDULER": "true"}},
                "b": {"environment": {"ENABLE_SCHEDULER": "1"}},
                "c": {"environment": {"ENABLE_SCHEDULER": "false"}},
            }
        }
    )
    warnings = scheduler_warnings(two)
    assert len(warnings) == 1 and "'a', 'b'" in warnings[0]
    assert scheduler_warnings(load("two-workers.v5.6.1.json")) == []


def test_published_ports_of_docker_ps():
    column = "127.0.0.1:42339->5432/tcp\n0.0.0.0:8000-8001->8000-8001/tcp, :::8000-8001->8000-8001/tcp, 6379/tcp"
    assert published_ports(column) == {42339, 8000, 8001}
    assert published_ports("") == set()
