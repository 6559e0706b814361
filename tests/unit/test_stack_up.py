"""stack.up's wait: a finished one-shot leads to a second wait for the others; a crash names it."""

from __future__ import annotations

import json

import pytest

from tasks.drivers import stack_up
from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.failures import UserError
from tasks.knowledge.stack_config import Service, StackConfig

STACK = StackConfig("p", {"migrations": Service("migrations"), "worker": Service("worker", restart="always")})


class Result:
    def __init__(self, stdout: str = "") -> None:
        self.stdout, self.stderr, self.ok = stdout, "", True


class FakeGateway:
    """`docker inspect` of the fake's containers: ids and start times as Docker writes them."""

    def __init__(self, compose: FakeCompose) -> None:
        self.compose = compose

    def docker(self, *args: str) -> Result:
        rows = [
            {
                "Id": f"id-{c.name}",
                "Name": f"/{c.name}",
                "RestartCount": 0,
                "State": {"Status": c.state, "ExitCode": c.exit_code or 0, "StartedAt": self.compose.started[c.name]},
                "Config": {"Labels": {"com.docker.compose.service": c.service}},
            }
            for c in self.compose.containers()
        ]
        return Result(json.dumps(rows))


class FakeCompose:
    def __init__(self, containers: list[ContainerState], fail: list[bool]) -> None:
        self.calls: list[tuple[str, ...]] = []
        self._containers, self._fail = containers, fail
        self.started = {c.name: "2026-12-07T12:00:00Z" for c in containers}
        self.gateway = FakeGateway(self)
        self.ok = True

    def check(self, *args: str, **_kwargs: object) -> None:
        self.calls.append(args)
        if self._fail.pop(0):
            raise UserError("starting the stack failed: container p-migrations-1 exited (0)")

    def containers(self) -> list[ContainerState]:
        return self._containers

    def run(self, *args: str, **_kwargs: object) -> Result:
        self.calls.append(args)
        return Result(f"{args[-1]}-1  | its own words")


def state(service: str, status: str, code: int | None = 0) -> ContainerState:
    return ContainerState(f"p-{service}-1", service, status, "", "", code, {})


def test_a_finished_one_shot_then_a_wait_for_the_others_alone():
    compose = FakeCompose([state("migrations", "exited"), state("worker", "running")], [True, False])
    done = stack_up.up_wait(compose, STACK, ["migrations", "worker"], [], profiles=[], extra_env={}, before={})  # type: ignore[arg-type]
    assert done is not None and done.finished == ("migrations",)
    assert compose.calls[1] == ("up", "-d", "--wait", "--no-deps", "worker")


def test_a_crash_prints_the_crashed_service_logs_and_names_it(capsys):
    compose = FakeCompose([state("migrations", "exited", 2), state("worker", "running")], [True])
    with pytest.raises(UserError) as raised:
        stack_up.up_wait(compose, STACK, ["migrations", "worker"], [], profiles=[], extra_env={}, before={})  # type: ignore[arg-type]
    assert "(migrations exited with code 2; last log lines of migrations above)" in raised.value.reason
    err = capsys.readouterr().err
    assert "log lines of migrations" in err and "log lines of worker" not in err


def test_a_container_this_up_never_started_is_not_blamed_for_its_old_exit(capsys):
    """An `up` that failed before starting anything (an image build): the worker stopped earlier by
    `worker.down` (exit 143) is the same container with the same start time, not a crash of this `up`."""
    compose = FakeCompose([state("migrations", "exited", 0), state("worker", "exited", 143)], [True])
    before = stack_up.baseline(compose)  # type: ignore[arg-type]
    with pytest.raises(UserError) as raised:
        stack_up.up_wait(compose, STACK, ["migrations", "worker"], [], profiles=[], extra_env={}, before=before)  # type: ignore[arg-type]
    assert raised.value.reason == "starting the stack failed: container p-migrations-1 exited (0)"  # Compose's, alone
    assert "log lines" not in capsys.readouterr().err
    compose = FakeCompose([state("migrations", "exited", 0), state("worker", "exited", 143)], [True])
    before = stack_up.baseline(compose)  # type: ignore[arg-type]
    compose.started["p-worker-1"] = "2026-12-07T12:00:05Z"  # started by this up, then exited
    with pytest.raises(UserError) as raised:
        stack_up.up_wait(compose, STACK, ["migrations", "worker"], [], profiles=[], extra_env={}, before=before)  # type: ignore[arg-type]
    assert "(worker exited with code 143; last log lines of worker above)" in raised.value.reason
