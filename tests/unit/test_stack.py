"""`inv stack.*` (tasks/stack.py) run as task functions with a test config, Docker and Compose faked."""

from __future__ import annotations

import pytest

from tasks import stack
from tasks.drivers import workers
from tasks.drivers.compose import Compose
from tasks.drivers.handover import SessionLock, new_record, state_dir, write_record
from tasks.knowledge.failures import UserError
from tests import fakes


@pytest.fixture
def gw():
    gateway = fakes.FakeGateway()
    with fakes.installed(gateway):
        yield gateway


def test_up_waits_for_the_whole_stack_with_the_worker_profile(tmp_path, gw):
    fake = fakes.FakeStack(gw, worker="absent")
    stack.up(fakes.context(tmp_path))
    assert gw.in_order(r"^docker compose .* --profile worker up -d --wait$", r"^docker inspect devstack-worker-1$")
    assert fake.worker is not None and fake.worker.state == "running"


def test_up_refuses_during_a_session(tmp_path, gw):
    fakes.FakeStack(gw)
    directory = state_dir(Compose(workers.one(fakes.context(tmp_path), None), gateway=gw))
    write_record(directory, new_record(worker_was_running=True))
    lock = SessionLock(directory)
    lock.acquire()
    try:
        with pytest.raises(UserError, match=r"stack\.up would run two workers on it"):
            stack.up(fakes.context(tmp_path))
    finally:
        lock.release()
    assert not gw.ran(r" up ")


def test_down_takes_every_profile_down(tmp_path, gw):
    fake = fakes.FakeStack(gw)
    stack.down(fakes.context(tmp_path), volumes=True)
    assert gw.ran(r"^docker compose .* --profile \* down --remove-orphans --volumes$")
    assert fake.containers == {}
