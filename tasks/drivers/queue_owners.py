"""Which of the project's services consume which queue: Redis's `CLIENT LIST` matched to the
containers' network addresses (`docker inspect`). The pure part is `tasks.knowledge.queue_owners`."""

from __future__ import annotations

from ..drivers import stack_facts
from ..drivers.compose import Compose
from ..knowledge.bullmq_clients import Consumer
from ..knowledge.failures import UserError
from ..knowledge.queue_owners import QueueRef, queues_from, sharing_services


def ip_services(compose: Compose) -> dict[str, str]:
    """{container address: service} for every running container of the project; {} when Docker
    cannot tell (the checks that use it then see no other service: they only ever add a refusal)."""
    try:
        running = [ct for ct in compose.containers() if ct.running]
    except UserError:
        return {}
    if not running:
        return {}
    by_name = {ct.name: ct.service for ct in running}
    facts = stack_facts.inspect_containers(compose.gateway, list(by_name))  # {} when Docker cannot tell
    return {ip: by_name[name] for name, fact in facts.items() if name in by_name for ip in fact.addresses}


def service_queues(consumers: list[Consumer], ip_service: dict[str, str], service: str) -> set[QueueRef]:
    """The queues a service's containers consume now."""
    return queues_from(consumers, [ip for ip, name in ip_service.items() if name == service])


def sharers(consumers: list[Consumer], ip_service: dict[str, str], service: str) -> dict[str, set[QueueRef]]:
    """Other services consuming one of ``service``'s queues now."""
    return sharing_services(consumers, service_queues(consumers, ip_service, service), ip_service, service)
