"""The readiness wait of a started worker (tasks/drivers/worker_service.py `wait_ready`) on a fake
stack. Redis is the one thing replaced beyond the gateway: a probe whose answers the test scripts
(`ConsumerProbe` asks a real Redis, which a unit test has none of; the integration tests in
tests/integration/test_ready.py run the real one)."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from tasks.drivers import ready_consumers, worker_service, workers
from tasks.drivers.compose import Compose
from tests import fakes


class ScriptedProbe:
    """Answers `consuming` from a list (the last answer repeats); ``why_not`` when it answers None."""

    answers: ClassVar[list[bool | None]] = []
    made: ClassVar[int] = 0

    def __init__(self, compose: Compose):
        type(self).made += 1
        self.where, self.why_not, self.looking = "127.0.0.1:6379", "", False
        self.asked: list[set[str]] = []

    def start(self) -> ScriptedProbe:
        return self

    def consuming(self, addresses):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is None:
            self.why_not = "no Redis answers at the addresses of its environment (127.0.0.1:6379)"
        return answer


@pytest.fixture
def probe(monkeypatch):
    ScriptedProbe.made = 0
    monkeypatch.setattr(ready_consumers, "ConsumerProbe", ScriptedProbe)
    return ScriptedProbe


def with_address(gw: fakes.FakeGateway, stack: fakes.FakeStack) -> None:
    """The fake worker container gets a network address (as a real one on a compose network)."""

    def inspect(argv):
        code, out, err = stack._inspect(argv)
        if code == 0:
            details = json.loads(out)
            details[0]["NetworkSettings"] = {"Networks": {"p_default": {"IPAddress": "172.18.0.5"}}}
            out = json.dumps(details)
        return code, out, err

    gw.on(r"^docker inspect \S+$", effect=inspect)


def compose_of(tmp_path, gw, **config) -> Compose:
    return Compose(workers.one(fakes.context(tmp_path, **config), None), gateway=gw)


def test_without_a_healthcheck_it_is_ready_once_its_container_consumes(tmp_path, gw, probe):
    stack = fakes.FakeStack(gw)
    assert stack.worker is not None
    stack.worker.health = ""
    with_address(gw, stack)
    probe.answers = [False, False, True]
    assert worker_service.wait_ready(compose_of(tmp_path, gw)) is None
    assert probe.answers == [True] and probe.made == 1


def test_where_redis_cannot_be_read_it_is_container_readiness_said_once(tmp_path, gw, probe, capsys):
    stack = fakes.FakeStack(gw)
    assert stack.worker is not None
    stack.worker.health = ""
    with_address(gw, stack)
    probe.answers = [None]
    assert worker_service.wait_ready(compose_of(tmp_path, gw)) is None  # up 2 s without a restart
    notes = [line for line in capsys.readouterr().out.splitlines() if "cannot be told" in line]
    assert notes == [
        "note: whether the worker container consumes its queue cannot be told (no Redis answers at the addresses "
        "of its environment (127.0.0.1:6379)): ready means its container stays up"
    ]


def test_with_a_healthcheck_a_restore_ends_at_a_consumer_and_worker_up_waits_for_healthy(tmp_path, gw, probe):
    stack = fakes.FakeStack(gw)
    assert stack.worker is not None
    stack.worker.health = "starting"
    with_address(gw, stack)
    probe.answers = [True]
    assert worker_service.wait_ready(compose_of(tmp_path, gw), consumer_ends=True) is None
    problem = worker_service.wait_ready(compose_of(tmp_path, gw), timeout=0.3)
    assert problem == "not ready after 0 s (its healthcheck has not passed yet)"


def test_consume_within_never_asks_no_redis(tmp_path, gw, probe, capsys):
    stack = fakes.FakeStack(gw)
    assert stack.worker is not None
    stack.worker.health = ""
    with_address(gw, stack)
    probe.answers = [False]
    compose = compose_of(tmp_path, gw)
    compose.settings.current.consume_within = None
    assert worker_service.wait_ready(compose) is None
    assert probe.made == 0 and "cannot be told" not in capsys.readouterr().out


@pytest.mark.parametrize("build", [False, True])
def test_an_image_compose_does_not_build_gets_no_staleness_note_and_no_rebuild(tmp_path, gw, capsys, build):
    """A pulled image (no `build:`) has no build to compare: no "`worker.up --build` rebuilds it" note (it
    has nothing to build), its labels not even asked. With a build section the unlabelled image is said."""
    built = {"build": {"context": str(tmp_path)}} if build else {}
    service = {"image": "registry.example.com/acme/workers:1", **built}
    gw.on(r" config --format json", stdout=json.dumps({"name": "p", "services": {"worker": service}}))
    gw.on(r"^docker image inspect --format", stdout="sha256:abc \n")
    mode = "image" if build else "none"  # what adopt proposes for each
    (tmp_path / "package.json").write_text('{"name": "w"}')  # something to fingerprint
    compose = compose_of(tmp_path, gw, worker={"service": "worker"}, app={"build_mode": mode, "dir": "."})
    rebuild, _ = worker_service.image_plan(compose, False)
    said = capsys.readouterr().out
    assert rebuild is False
    if not build:
        assert "up to date" not in said and not gw.commands("image inspect"), said
    else:
        assert "has no dev.devstack.source-fingerprint label" in said and "--build` rebuilds it" in said, said


def test_the_prod_like_note_on_compiled_output_is_true_for_each_kind_of_worker(tmp_path):
    """A pulled image is used as it was built: no talk of tsx on the sources (it may run compiled output);
    a worker without a build step that is not pulled: what runs is its command's choice."""
    from types import SimpleNamespace

    from tasks.drivers.host_app import compiled_output_note

    none = SimpleNamespace(service="jobs", build_mode="none")
    pulled = compiled_output_note(none, pulled=True)  # type: ignore[arg-type]
    assert pulled is not None and "runs a pulled image" in pulled and "tsx" not in pulled
    mounted = compiled_output_note(none)  # type: ignore[arg-type]
    assert mounted is not None and "has no build step" in mounted
    assert compiled_output_note(SimpleNamespace(service="w", build_mode="host"), pulled=False) is None  # type: ignore[arg-type]
