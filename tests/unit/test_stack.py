"""`inv stack.*` (tasks/stack.py) run as task functions with a test config, Docker and Compose faked."""

from __future__ import annotations

import pytest

from tasks import stack
from tasks.knowledge.failures import UserError
from tests import fakes


def test_up_waits_for_the_whole_stack_with_the_worker_profile(tmp_path, gw):
    fake = fakes.FakeStack(gw, worker="absent")
    stack.up(fakes.context(tmp_path))
    assert gw.in_order(r"^docker compose .* --profile worker up -d --wait$", r"^docker inspect devstack-worker-1$")
    assert fake.worker is not None and fake.worker.state == "running"


def test_up_refuses_during_a_session(tmp_path, gw):
    fakes.FakeStack(gw)
    lock = fakes.live_session(tmp_path, gw)
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
