"""Does a started worker container consume its queue? Its Redis found as `inv dev.worker` finds it,
then asked for `CLIENT LIST` on each poll of the readiness wait (`worker_service.wait_ready`).

The Redis is the one the worker service's environment points at, as seen from this machine (its
published port: `dev_preflight.environment`), every answering one of its addresses (an app may keep
its queue on one Redis and a cache on another); where no variable leads to Redis (the app dials an
address of its own) the stack's published Redis, as the dev session watches it. The look-up runs in
a thread while the container starts; a Redis that has only just been started may refuse connections
for a moment, so it is asked again for up to ``LOOKUP_S``. The verdicts are in
`tasks.knowledge.readiness`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from ..drivers import queue_consumers
from ..knowledge.readiness import consumes

if TYPE_CHECKING:
    from ..drivers.compose import Compose
    from ..drivers.queue_consumers import Redis
    from ..knowledge.bullmq_clients import RedisAddress

#: How long the look-up asks the worker's Redis addresses again before it gives up.
LOOKUP_S = 5.0
LOOKUP_POLL_S = 0.25


class ConsumerProbe:
    """The worker's Redis, looked up in a thread from ``start``; then ``consuming(addresses)``."""

    def __init__(self, compose: Compose):
        self.compose = compose
        self.redis: list[Redis] = []
        #: Why the queue's consumers cannot be watched ("" while they can, or the look-up runs).
        self.why_not = ""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._lookup, name="ready-consumers", daemon=True)

    def start(self) -> ConsumerProbe:
        self._thread.start()
        return self

    @property
    def looking(self) -> bool:
        return not self._done.is_set()

    @property
    def where(self) -> str:
        return ", ".join(f"{r.address.host}:{r.address.port}" for r in self.redis)

    def _lookup(self) -> None:
        try:
            self.redis, self.why_not = self._find()
        except Exception as error:  # a look-up that fails leaves the container's readiness
            self.redis, self.why_not = [], f"looking for it failed ({error})"
        finally:
            self._done.set()

    def _find(self) -> tuple[list[Redis], str]:
        from ..drivers import dev_preflight
        from ..knowledge.failures import UserError

        s = self.compose.settings
        try:
            # The container's environment as this machine reaches it; the shell's variables (which the
            # dev worker would get on top) are not the container's.
            plan = dev_preflight.environment(self.compose, scheduler=False, environ={})
        except UserError as error:
            return [], f"its environment cannot be read ({error.reason})"
        endpoints = [(e.host, e.port) for e in plan.endpoints]
        addresses = queue_consumers.candidates(plan.env, s.host_port_vars, s.url_vars, endpoints)
        end = time.monotonic() + LOOKUP_S
        while True:
            found = queue_consumers.all_answering(addresses)
            if found:
                return found, ""
            stack = queue_consumers.stack_redis(self.compose)  # an app that dials an address of its own
            if stack is not None:
                return [stack], ""
            if time.monotonic() > end:
                return [], f"no Redis answers at the addresses of its environment ({_listed(addresses)})"
            time.sleep(LOOKUP_POLL_S)

    def consuming(self, addresses: Collection[str]) -> bool | None:
        """Is a BullMQ/Bull worker connection from one of ``addresses`` in `CLIENT LIST`? None while the
        look-up runs or when no Redis can be read (then ``why_not`` says why)."""
        if self.looking or not self.redis:
            return None
        listings = [queue_consumers.snapshot(r) for r in self.redis]
        readable = [found for found in listings if found is not None]
        if not readable:
            self.why_not = f"`CLIENT LIST` cannot be read from the Redis at {self.where}"
            return None
        return any(consumes(found, addresses) for found in readable)


def _listed(addresses: list[RedisAddress]) -> str:
    return ", ".join(f"{a.host}:{a.port}" for a in addresses) or "none found"
