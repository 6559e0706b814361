"""The handover's unit tests run against a fake gateway: no engine, so no published port answers.

The dev worker's addresses are found by value in the committed config (postgres, redis) and each must
answer a TCP connect before anything is touched; here every address is taken to answer. The refusal of
an address that does not answer is tested against real sockets (tests/unit/test_dev_env*.py) and the
real engine (tests/integration).
"""

import pytest


@pytest.fixture(autouse=True)
def every_address_answers(monkeypatch):
    monkeypatch.setattr("tasks.drivers.dev_preflight.answers", lambda host, port, *args, **kwargs: True)
