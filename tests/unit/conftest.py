"""Fixtures shared by the unit tests of the tasks."""

import pytest

from tests import fakes


@pytest.fixture
def gw():
    """A FakeGateway installed for every Compose the tasks build (tests/fakes.py)."""
    gateway = fakes.FakeGateway()
    with fakes.installed(gateway):
        yield gateway
