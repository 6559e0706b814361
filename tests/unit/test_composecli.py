"""Pure Compose logic: argv building, `ps` JSON in both shapes, versions, files and profiles."""

import json
import os
from pathlib import Path

import pytest

from tasks.knowledge import compose_cli
from tasks.knowledge.compose_cli import compose_argv, parse_ps, parse_version

ROW = {
    "Name": "devstack-worker-1",
    "Service": "worker",
    "State": "running",
    "Health": "",
    "Status": "Up 5 minutes",
    "ExitCode": 0,
    "Labels": "com.docker.compose.service=worker,dev.devstack.scheduler=true,dev.devstack.restart-policy=unless-stopped",
}
EXITED = {
    **ROW,
    "Name": "devstack-worker-2",
    "State": "exited",
    "Status": "Exited (137) 2 seconds ago",
    "ExitCode": 137,
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5.6.1", (5, 6, 1)),
        ("v2.20.3", (2, 20, 3)),
        ("2.21", (2, 21, 0)),
        ("Docker Compose version v2.27.0-desktop.1", (2, 27, 0)),
        ("docker-compose version 1.29.2, build 5becea4c", (1, 29, 2)),
        ("", None),
        ("garbage", None),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


def test_versions_compare_against_minimum():
    assert parse_version("v2.19.1") < compose_cli.MIN_VERSION <= parse_version("5.0.0")


def test_argv_is_a_list_with_files_then_profiles_then_args():
    argv = compose_argv(["docker", "compose"], ["up", "-d", "worker"], files=["a.yml", "b y.yml"], profiles=["worker"])
    assert argv == ["docker", "compose", "-f", "a.yml", "-f", "b y.yml", "--profile", "worker", "up", "-d", "worker"]


def test_argv_keeps_hostile_text_as_one_argument():
    evil = "worker; rm -rf /"
    assert compose_argv(["docker-compose"], ["logs", evil])[-1] == evil


def test_ps_array_shape_before_2_21():
    states = parse_ps(json.dumps([ROW, EXITED]))
    assert [s.name for s in states] == ["devstack-worker-1", "devstack-worker-2"]
    assert states[0].running and not states[1].running
    assert states[1].exit_code == 137
    assert states[0].labels["dev.devstack.scheduler"] == "true"


def test_ps_line_per_object_shape_since_2_21():
    text = json.dumps(ROW) + "\n" + json.dumps(EXITED) + "\n"
    assert [s.state for s in parse_ps(text)] == ["running", "exited"]


def test_ps_single_object_and_empty_output():
    assert len(parse_ps(json.dumps(ROW))) == 1
    assert parse_ps("") == [] and parse_ps("  \n") == []
    assert parse_ps("[]") == []


def test_ps_labels_as_mapping():
    assert parse_ps(json.dumps({**ROW, "Labels": {"a": "b"}}))[0].labels == {"a": "b"}


def test_active_profiles_keeps_compose_profiles_when_adding_one():
    assert compose_cli.active_profiles({"COMPOSE_PROFILES": "debug, tools"}, ["worker"]) == ["debug", "tools", "worker"]
    assert compose_cli.active_profiles({}, ["worker"]) == ["worker"]
    assert compose_cli.active_profiles({"COMPOSE_PROFILES": "worker"}, ["worker"]) == ["worker"]


def test_compose_files_configured_then_env_then_default(monkeypatch):
    monkeypatch.setattr(os, "pathsep", ":")
    assert compose_cli.compose_files({}, "") == ["docker-compose.yml"]
    assert compose_cli.compose_files({"COMPOSE_FILE": "a.yml:b.yml"}, "") == ["a.yml", "b.yml"]
    assert compose_cli.compose_files({"COMPOSE_FILE": "a.yml;b.yml", "COMPOSE_PATH_SEPARATOR": ";"}, "") == [
        "a.yml",
        "b.yml",
    ]
    assert compose_cli.compose_files({"COMPOSE_FILE": "a.yml"}, "x.yml:y.yml") == ["x.yml", "y.yml"]


def test_project_name_normalized_like_compose():
    assert compose_cli.normalize_project_name("My Stack.v2") == "mystackv2"
    assert compose_cli.normalize_project_name("_dev-Stack") == "dev-stack"


@pytest.mark.parametrize("version", ["2.26.1", "2.40.3", "5.6.1"])
def test_ps_publishers_of_real_versions(version):
    text = (Path(__file__).parent / "data" / "ps" / f"ps.{version}.json").read_text()
    states = {c.service: c for c in compose_cli.parse_ps(text)}
    assert states["r"].publishers == (compose_cli.Published("127.0.0.1", 6379, 32769),)
    assert states["n"].publishers == (compose_cli.Published("", 6379, 0),)


def test_ps_publishers_null_in_2_26_and_array_shape():
    # 2.26.1 prints `"Publishers": null` for a container without ports; < 2.21 printed one array.
    rows = '[{"Name": "a", "Service": "a", "State": "running", "Publishers": null}]'
    assert compose_cli.parse_ps(rows)[0].publishers == ()


def test_empty_profile_is_no_profile():
    assert compose_cli.compose_argv(["docker", "compose"], ["up"], profiles=[""]) == ["docker", "compose", "up"]
    assert compose_cli.active_profiles({}, [""]) == []


def test_docker_ps_rows_read_like_compose_ps():
    """`docker ps --format '{{json .}}'` (Docker 20.10-28): health and exit code live in Status."""
    from tasks.knowledge.compose_cli import parse_docker_ps

    labels = (
        "com.docker.compose.depends_on=redis:service_healthy:false,postgres:service_healthy:false,"
        "com.docker.compose.project=p,com.docker.compose.service=worker,com.docker.compose.oneoff=False"
    )
    rows = "\n".join(
        json.dumps(row)
        for row in (
            {"Names": "p-worker-1", "State": "running", "Status": "Up 5 minutes (healthy)", "Labels": labels},
            {"Names": "p-worker-2", "State": "exited", "Status": "Exited (3) 2 seconds ago", "Labels": labels},
            {"Names": "p-worker-3", "State": "running", "Status": "Up 1 second (health: starting)", "Labels": ""},
        )
    )
    first, second, third = parse_docker_ps(rows + "\nnot json\n")
    assert (first.name, first.service, first.state, first.health, first.exit_code) == (
        "p-worker-1",
        "worker",
        "running",
        "healthy",
        0,
    )
    assert first.running and first.labels["com.docker.compose.project"] == "p"
    assert (second.state, second.health, second.exit_code) == ("exited", "", 3)
    assert third.health == "starting" and third.service == ""


def test_docker_ps_ports_column_as_compose_publishers():
    """`docker ps` (a fifth of `compose ps`'s time) tells where a running container publishes, as the
    Publishers of `compose ps` do; exposed-only ports are left out, a range is one entry per port."""
    from tasks.knowledge.compose_cli import Published, ports_column_publishers

    assert ports_column_publishers("127.0.0.1:49153->6379/tcp, :::49153->6379/tcp") == (
        Published("127.0.0.1", 6379, 49153),
        Published("::", 6379, 49153),
    )
    assert ports_column_publishers("0.0.0.0:80-81->8080-8081/tcp, 6379/tcp") == (
        Published("0.0.0.0", 8080, 80),
        Published("0.0.0.0", 8081, 81),
    )
    assert ports_column_publishers("[::]:5432->5432/udp") == (Published("::", 5432, 5432, "udp"),)
    assert ports_column_publishers("6379/tcp") == ports_column_publishers("") == ()
