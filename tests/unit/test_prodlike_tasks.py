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


def test_the_plan_fits_the_default_caps_to_the_engine_as_up_does_and_says_when_it_cannot_ask(tmp_path, capsys):
    """prodlike.plan said `cpus: 3 (the seed's default)` on a 2-CPU engine, where prodlike.up planned 2."""
    import json

    gw = fakes.FakeGateway()
    fakes.FakeStack(gw)
    gw.on(r"^docker info ", stdout=json.dumps({"ServerVersion": "20.10.24", "NCPU": 2, "MemTotal": 8 * 1024**3}))
    with fakes.installed(gw):
        prodlike.plan(fakes.context(tmp_path))
    out = capsys.readouterr().out
    assert "note: the default 3 CPUs are more than the Docker engine has: planning its 2" in out, out
    assert "cpus:              2 (all the Docker engine has)" in out, out
    down = fakes.FakeGateway()
    fakes.FakeStack(down)
    down.on(r"^docker info ", returncode=1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock")
    with fakes.installed(down):
        prodlike.plan(fakes.context(tmp_path))
    out = capsys.readouterr().out
    assert (
        out.startswith("note: planned without the Docker engine's size (")
        and "cpus:              3 (the default)" in out
    )
    assert not gw.ran(r" (up|start|stop|exec) ") and not down.ran(r" (up|start|stop|exec) ")
