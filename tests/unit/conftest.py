"""Fixtures shared by the unit tests of the tasks."""

import pytest

from tests import fakes


@pytest.fixture(autouse=True)
def no_guardian(monkeypatch):
    """No dev session run by a unit test starts its guardian.

    The guardian is a real detached process that outlives the test: it waits for the session's pid
    (here pytest's own) to end, then restores from the record with the real Docker. Sessions here run
    on a FakeGateway, so a guardian left behind started a real worker stack in the checkout's default
    project once pytest exited (seen after every run). Its logic has unit tests of its own
    (test_watchers.py, calling guardian.guard); the kill -9 integration tests spawn real ones."""
    monkeypatch.setenv("DEVSTACK_GUARDIAN", "0")


@pytest.fixture
def gw():
    """A FakeGateway installed for every Compose the tasks build (tests/fakes.py)."""
    gateway = fakes.FakeGateway()
    with fakes.installed(gateway):
        yield gateway
