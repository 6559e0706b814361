"""Which service consumes which queue, from Redis's `CLIENT LIST` and the containers' addresses (pure).

The queue is the unit of "never two workers", not the service: two services built from one app (or
configured with the same queue names) on one Redis are two consumers of the same queue. Redis lists
every BullMQ/Bull worker connection with its address; Docker knows each container's address on its
networks. Together they say which container consumes which queue, so a dev session can name the
services it would share its queues with, and a second session can tell its own dev worker's
connections from those of another session's dev worker (both come from this machine's address).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .bullmq_clients import Consumer, ip_of


@dataclass(frozen=True)
class QueueRef:
    prefix: str
    queue: str

    def __str__(self) -> str:
        return self.queue if self.prefix == "bull" else f"{self.prefix}:{self.queue}"


def ref(consumer: Consumer) -> QueueRef:
    return QueueRef(consumer.prefix, consumer.queue)


def queues_from(consumers: Iterable[Consumer], ips: Iterable[str]) -> set[QueueRef]:
    """The queues consumed by connections from ``ips`` (a service's containers)."""
    wanted = set(ips)
    return {ref(c) for c in consumers if ip_of(c.addr) in wanted}


def on_queues(consumers: Iterable[Consumer], queues: set[QueueRef] | None) -> list[Consumer]:
    """The connections on ``queues``; every connection when the queues are unknown (None)."""
    return [c for c in consumers if queues is None or ref(c) in queues]


def sharing_services(
    consumers: Iterable[Consumer],
    queues: set[QueueRef],
    ip_service: Mapping[str, str],
    own_service: str,
) -> dict[str, set[QueueRef]]:
    """Other services (by container address) consuming one of ``queues``: {service: its shared queues}."""
    shared: dict[str, set[QueueRef]] = {}
    for consumer in consumers:
        service = ip_service.get(ip_of(consumer.addr), "")
        if service and service != own_service and ref(consumer) in queues:
            shared.setdefault(service, set()).add(ref(consumer))
    return shared


def describe_sharing(shared: Mapping[str, set[QueueRef]]) -> str:
    """`'mailer' (queue `digest`), 'mailer-2' (queues `a`, `b`)`."""
    parts = []
    for service in sorted(shared):
        names = sorted(str(q) for q in shared[service])
        word = "queue" if len(names) == 1 else "queues"
        parts.append(f"'{service}' ({word} {', '.join(f'`{n}`' for n in names)})")
    return ", ".join(parts)
