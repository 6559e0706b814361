"""Which service consumes which queue: `CLIENT LIST` lines as Redis 7 writes them, and the containers'
addresses as `stack_facts.inspect_containers` reads them (its `docker inspect` format, dockerd 20.10)."""

import base64

from tasks.knowledge.bullmq_clients import consumers
from tasks.knowledge.queue_owners import (
    QueueRef,
    and_aside,
    back_with_it,
    describe_sharing,
    describe_strangers,
    on_queues,
    queues_from,
    service_names,
    sharing_services,
    stepping_aside,
    strangers,
)


def name(queue: str, prefix: str = "bull", worker: str = "") -> str:
    encoded = base64.b64encode(queue.encode()).decode()
    return f"{prefix}:{encoded}" + (f":w:{worker}" if worker else "")


def client(cid: int, addr: str, client_name: str) -> str:
    return f"id={cid} addr={addr} laddr=172.20.0.2:6379 fd=9 name={client_name} age=3 idle=0 flags=b db=0 cmd=bzpopmin"


CLIENT_LIST = "\n".join(
    [
        client(3, "172.20.0.4:40112", name("digest")),  # the worker service
        client(4, "172.20.0.5:51220", name("digest")),  # a second service on the same queue
        client(5, "172.20.0.5:51222", name("mail")),
        client(6, "172.20.0.6:33000", name("other")),  # a third service, its own queue
        client(7, "172.20.0.1:60010", name("digest", worker="dev")),  # this machine (a dev worker)
        client(8, "172.20.0.4:40114", ""),  # a producer: no name
        client(9, "172.20.0.4:40116", name("digest") + ":qe"),  # QueueEvents: not a worker
    ]
)


def test_a_services_queues_are_those_its_containers_consume():
    found = consumers(CLIENT_LIST)
    assert queues_from(found, ["172.20.0.4"]) == {QueueRef("bull", "digest")}
    assert queues_from(found, ["172.20.0.5", "172.21.0.3"]) == {QueueRef("bull", "digest"), QueueRef("bull", "mail")}
    assert queues_from(found, ["172.20.0.9"]) == set()


def test_other_services_on_the_same_queue_are_named_not_those_on_their_own_queues():
    found = consumers(CLIENT_LIST)
    ip_service = {"172.20.0.4": "worker", "172.20.0.5": "mailer", "172.20.0.6": "other"}
    shared = sharing_services(found, {QueueRef("bull", "digest")}, ip_service, "worker")
    assert shared == {"mailer": {QueueRef("bull", "digest")}}
    assert describe_sharing(shared) == "'mailer' (queue `digest`)"
    # this machine's dev worker is no service: never named as one
    assert "" not in shared


def test_new_connections_counted_only_on_the_dev_workers_queues_when_known():
    found = consumers(CLIENT_LIST)
    digest = on_queues(found, {QueueRef("bull", "digest")})
    assert sorted(c.id for c in digest) == ["3", "4", "7"]
    assert on_queues(found, None) == found  # unknown queues: every connection counts
    assert on_queues(found, {QueueRef("myapp", "digest")}) == []  # the prefix is part of the queue


def test_a_prefixed_queue_is_shown_with_its_prefix():
    assert str(QueueRef("bull", "digest")) == "digest"
    assert str(QueueRef("myapp", "digest")) == "myapp:digest"
    shared = {"b": {QueueRef("bull", "x"), QueueRef("bull", "a")}, "a": {QueueRef("p", "q")}}
    assert describe_sharing(shared) == "'a' (queue `p:q`), 'b' (queues `a`, `x`)"


def test_container_addresses_on_every_network_from_the_inspect_format():
    import json

    from tasks.knowledge.stack_config import parse_inspect

    rows = [
        {
            "name": "/shop-worker-1",
            "restart": "no",
            "env": [],
            "networks": {"shop_default": {"IPAddress": "172.20.0.4"}},
        },
        {
            "name": "/shop-mailer-1",
            "restart": "no",
            "env": [],
            "networks": {
                "shop_default": {"IPAddress": "172.20.0.5", "GlobalIPv6Address": ""},
                "shop_back": {"IPAddress": "172.21.0.3"},
            },
        },
        {"name": "/shop-stopped-1", "restart": "no", "env": [], "networks": {"shop_default": {"IPAddress": ""}}},
    ]
    facts = parse_inspect("\n".join(json.dumps(row) for row in rows))
    assert {name: fact.addresses for name, fact in facts.items()} == {
        "shop-worker-1": ("172.20.0.4",),
        "shop-mailer-1": ("172.20.0.5", "172.21.0.3"),
        "shop-stopped-1": (),
    }


def test_consumers_from_no_container_of_the_project_nor_this_machine_are_strangers():
    found = [*consumers(CLIENT_LIST), *consumers(client(10, "10.0.0.7:5000", name("digest")))]
    ip_service = {"172.20.0.4": "worker", "172.20.0.5": "mailer", "172.20.0.6": "other"}
    digest = {QueueRef("bull", "digest")}
    # 172.20.0.1 is this machine (a dev worker of a session of its own): not a stranger
    assert strangers(found, digest, ip_service, "172.20.0.1") == {"10.0.0.7": digest}
    assert describe_strangers(strangers(found, digest, ip_service, "172.20.0.1")) == (
        "a consumer at 10.0.0.7 (queue `digest`)"
    )
    assert strangers(found, {QueueRef("bull", "mail")}, ip_service, "172.20.0.1") == {}  # not on those queues
    # this machine's address unknown: a dev worker of this machine could not be told from a stranger
    assert strangers(found, digest, ip_service, "") == {}


def test_the_lines_of_services_stepping_aside_name_them():
    assert service_names(["a"]) == "'a'"
    assert service_names(["a", "b"]) == "'a' and 'b'"
    assert service_names(["a", "b", "c"]) == "'a', 'b' and 'c'"
    one = stepping_aside("email", {"email-copy": {QueueRef("bull", "email")}})
    assert one == (
        "'email-copy' (queue `email`) consumes the same queue: it steps aside with the background worker `email` "
        "(stopped with it, started again with it when the dev worker ends; --allow-sharing keeps it consuming)"
    )
    two = stepping_aside("worker", {"b": {QueueRef("bull", "x")}, "a": {QueueRef("bull", "x")}})
    assert two.startswith("'a' (queue `x`), 'b' (queue `x`) consume the same queue: they step aside with the ")
    assert "background worker (stopped" in two and two.endswith("keeps them consuming)")
    assert and_aside([]) == "" and and_aside(["a", "b"]) == " and 'a' and 'b'"
    assert back_with_it([], {}) == ""
    assert back_with_it(["a", "b"], {}) == ", and 'a' and 'b' with it"
    assert back_with_it(["a", "b"], {"b": "why"}) == ", and 'a' with it; 'b' is not back (why)"
    assert back_with_it(["b"], {"b": "why"}) == "; 'b' is not back (why)"
