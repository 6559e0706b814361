"""Which service consumes which queue, from Redis's `CLIENT LIST` and the containers' addresses (pure).

The queue is the unit of "never two workers", not the service: two services built from one app (or
configured with the same queue names) on one Redis are two consumers of the same queue. Redis lists
every BullMQ/Bull worker connection with its address; Docker knows each container's address on its
networks. Together they say which container consumes which queue, so a dev session can name the
services it would share its queues with, and a second session can tell its own dev worker's
connections from those of another session's dev worker (both come from this machine's address).

The services found sharing the queue step aside with the background worker for the session (stopped
with it, given back with it); the lines that say so are written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .bullmq_clients import Consumer, ip_of
from .naming import background


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


def strangers(
    consumers: Iterable[Consumer], queues: set[QueueRef], ip_service: Mapping[str, str], own_ip: str
) -> dict[str, set[QueueRef]]:
    """Consumers of ``queues`` from addresses that are no container of the project (``ip_service``) and
    not this machine (``own_ip``: other dev workers of this machine are sessions of their own):
    {address: its queues}. None can be told apart when this machine's address is unknown ("")."""
    if not own_ip:
        return {}
    found: dict[str, set[QueueRef]] = {}
    for consumer in consumers:
        ip = ip_of(consumer.addr)
        if ip and ip != own_ip and ip not in ip_service and ref(consumer) in queues:
            found.setdefault(ip, set()).add(ref(consumer))
    return found


def _queues_text(queues: set[QueueRef]) -> str:
    """`queue `digest`` or `queues `a`, `b``."""
    names = sorted(str(q) for q in queues)
    return f"{'queue' if len(names) == 1 else 'queues'} {', '.join(f'`{n}`' for n in names)}"


def describe_strangers(found: Mapping[str, set[QueueRef]]) -> str:
    """`a consumer at 10.0.0.7 (queue `digest`)`, one per address; "" for none."""
    return ", ".join(f"a consumer at {ip} ({_queues_text(found[ip])})" for ip in sorted(found))


def describe_sharing(shared: Mapping[str, set[QueueRef]]) -> str:
    """`'mailer' (queue `digest`), 'mailer-2' (queues `a`, `b`)`."""
    return ", ".join(f"'{service}' ({_queues_text(shared[service])})" for service in sorted(shared))


def service_names(services: Sequence[str]) -> str:
    """`'a'`, `'a' and 'b'`, `'a', 'b' and 'c'` (in the order given); "" for none."""
    quoted = [f"'{s}'" for s in services]
    if not quoted:
        return ""
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def stepping_aside(own_service: str, shared: Mapping[str, set[QueueRef]]) -> str:
    """The one line at the start of a session whose queue other background services consume too."""
    one = len(shared) == 1
    return (
        f"{describe_sharing(shared)} {'consumes' if one else 'consume'} the same queue: "
        f"{'it steps' if one else 'they step'} aside with the {background(own_service)} (stopped with it, "
        f"started again with it when the dev worker ends; --allow-sharing keeps {'it' if one else 'them'} consuming)"
    )


def and_aside(aside: Sequence[str]) -> str:
    """`` and 'email-copy'`` after the background worker's name in a line about both; "" without any."""
    return f" and {service_names(aside)}" if aside else ""


def back_with_it(aside: Sequence[str], problems: Mapping[str, str]) -> str:
    """The end of the restored line: the services that stepped aside back too, or which are not and why."""
    back = [s for s in aside if s not in problems]
    text = f", and {service_names(back)} with it" if back else ""
    for service in aside:
        if service in problems:
            text += f"; {service_names([service])} is not back ({problems[service]})"
    return text
