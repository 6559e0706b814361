"""`inv prodlike.up/load/down` (tasks/prodlike.py) refuse during a dev session, before anything runs."""

from __future__ import annotations

import pytest

from tasks import prodlike
from tasks.knowledge.failures import UserError
from tests import fakes


@pytest.mark.parametrize("name", ["up", "load", "down"])
def test_refused_during_a_session(tmp_path, name):
    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    lock = fakes.live_session(tmp_path, gw)
    try:
        with fakes.installed(gw), pytest.raises(UserError, match=rf"prodlike\.{name} would run two workers on it"):
            getattr(prodlike, name)(fakes.context(tmp_path))
    finally:
        lock.release()
    assert not gw.ran(r" (up|start|stop|exec) ")
