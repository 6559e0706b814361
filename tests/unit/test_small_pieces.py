"""Pure helpers: the status view (settings: test_settings.py)."""

from typing import Any

from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.stack_config import ContainerFacts, Service
from tasks.knowledge.status_view import render, uptime


def container(**kw: object) -> ContainerState:
    base: dict[str, Any] = dict(
        name="p-worker-1",
        service="worker",
        state="running",
        health="",
        status="Up 3 minutes",
        exit_code=0,
        labels={"dev.devstack.restart-policy": "unless-stopped", "dev.devstack.scheduler": "true"},
    )
    base.update(kw)
    return ContainerState(**base)


def test_status_view_labels_only_as_a_last_resort():
    text = render("worker", [container()])
    assert "worker: running" in text and "uptime:         3 minutes" in text and "scheduler:      on" in text
    assert "restart policy: unless-stopped" in text and "no healthcheck" in text
    stopped = render("worker", [container(state="exited", status="Exited (0) 2 seconds ago", exit_code=0, labels={})])
    assert "worker: exited (exit code 0)" in stopped and "uptime:         -" in stopped and "unknown" in stopped
    assert "not created" in render("worker", [])


def test_status_view_from_docker_then_compose():
    config = Service("jobs", restart="on-failure", environment={"ENABLE_SCHEDULER": "false"}, healthcheck=True)
    inspected = {"p-worker-1": ContainerFacts("always", {"ENABLE_SCHEDULER": "true", "PATH": "/bin"})}
    text = render("jobs", [container(labels={})], config=config, inspected=inspected)
    # what Docker applied wins over the compose files (they may have changed since the container was created)
    assert "restart policy: always" in text and "scheduler:      on\n" in text + "\n"
    assert "created before the healthcheck" in text
    not_inspected = render("jobs", [container(labels={})], config=config)
    assert "restart policy: on-failure (from the compose files)" in not_inspected
    assert "scheduler:      off (from the compose files)" in not_inspected
    absent = render("jobs", [], config=config)
    assert "not created" in absent and "restart policy: on-failure (from the compose files)" in absent


def test_uptime_parsing():
    assert uptime("Up 5 minutes (healthy)") == "5 minutes"
    assert uptime("Up Less than a second") == "Less than a second"
    assert uptime("Exited (1) 3 seconds ago") == "-"


def test_messages_name_a_worker_service_as_what_it_is():
    from tasks.knowledge.naming import background

    assert background("worker") == "background worker"
    assert background("sync-worker") == "background sync-worker"
    assert background("email") == "background worker `email`"
    assert background("workers") == "background worker `workers`"  # never "the background workers was"
    assert background("networker") == "background worker `networker`"
