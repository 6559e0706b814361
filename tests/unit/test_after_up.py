"""After a failed `up --wait`: a finished one-shot service is not a failure, a crashed one is."""

from __future__ import annotations

from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.stack_config import Service, StackConfig, after_up


def container(service: str, state: str, exit_code: int | None = 0, health: str = "") -> ContainerState:
    return ContainerState(f"p-{service}-1", service, state, health, "", exit_code, {})


STACK = StackConfig(
    "p",
    {
        "migrations": Service("migrations"),  # restart "no" by default
        "worker": Service("worker", restart="unless-stopped"),
        "redis": Service("redis", restart="unless-stopped", healthcheck=True),
    },
)


def test_a_migrations_job_that_exited_0_is_finished_and_the_others_are_waited_for():
    found = after_up(
        STACK,
        ["migrations", "worker", "redis"],
        [container("migrations", "exited", 0), container("worker", "running"), container("redis", "running")],
    )
    assert found.finished == ("migrations",)
    assert found.failing == ()
    assert found.waiting == ("worker", "redis")


def test_a_crashed_one_shot_and_an_unhealthy_service_are_failures_named_with_why():
    found = after_up(
        STACK,
        ["migrations", "worker", "redis"],
        [
            container("migrations", "exited", 3),
            container("worker", "running"),
            container("redis", "running", health="unhealthy"),
        ],
    )
    assert found.finished == ()
    assert found.failing == (("migrations", "exited with code 3"), ("redis", "unhealthy"))


def test_a_long_running_service_that_exited_0_is_not_a_finished_one_shot():
    found = after_up(STACK, ["worker"], [container("worker", "exited", 0)])
    assert found.finished == () and found.failing == (("worker", "exited with code 0"),)


def test_services_not_asked_for_are_ignored():
    found = after_up(STACK, ["worker"], [container("worker", "running"), container("migrations", "exited", 1)])
    assert found.failing == () and found.waiting == ("worker",)
