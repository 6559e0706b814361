"""BullMQ worker connections as Redis lists them (pure: parses `CLIENT LIST`, finds Redis addresses).

BullMQ names a worker's connections `<prefix>:<base64(queue name)>` or, for a named worker,
`<prefix>:<base64(queue name)>:w:<worker name>` (`Queue#getWorkers` reads them back the same way);
QueueEvents use the suffix `:qe`, a plain Queue (a producer) sets no name. So whether a BullMQ
worker consumes, of any queue, can be read from Redis itself without a hook in the app. Some hosted
Redis forbid `CLIENT SETNAME`: then the names are empty and nothing can be told.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Consumer:
    id: str
    addr: str
    prefix: str
    queue: str
    worker: str = ""  # BullMQ's worker name (`:w:<name>`), "" when unnamed


def parse_client_list(text: str) -> list[dict[str, str]]:
    """`CLIENT LIST` output -> one dict of its `key=value` fields per connection."""
    clients = []
    for line in text.splitlines():
        fields = {}
        for part in line.split(" "):
            key, sep, value = part.partition("=")
            if sep:
                fields[key] = value
        if fields:
            clients.append(fields)
    return clients


def worker_name(name: str) -> tuple[str, str, str] | None:
    """(prefix, queue, worker name) of a BullMQ worker connection name, else None."""
    if not name:
        return None
    head, sep, worker = name.partition(":w:")
    if not sep:
        worker = ""
    prefix, colon, encoded = head.rpartition(":")
    if not colon or not prefix or not encoded or encoded == "qe":
        return None
    try:
        queue = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not queue or base64.b64encode(queue.encode("utf-8")).decode("ascii") != encoded:
        return None
    return prefix, queue, worker


def consumers(text: str) -> list[Consumer]:
    """The BullMQ worker connections in a `CLIENT LIST` output."""
    found = []
    for client in parse_client_list(text):
        parsed = worker_name(client.get("name", ""))
        if parsed is not None:
            found.append(Consumer(client.get("id", ""), client.get("addr", ""), *parsed))
    return found


def ip_of(addr: str) -> str:
    """`172.18.0.1:53422` -> `172.18.0.1`; `[::1]:6379` or `::1:6379` (Redis writes IPv6 bare) -> `::1`."""
    host = addr.rpartition(":")[0]
    return host.strip("[]")


def new_consumers(before: list[Consumer], now: list[Consumer]) -> list[Consumer]:
    """Connections that were not there before (by connection id)."""
    known = {c.id for c in before}
    return [c for c in now if c.id not in known]


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    password: str = ""
    username: str = ""


def redis_addresses(
    env: dict[str, str], host_port_vars: list[tuple[str, str]], url_vars: list[str]
) -> list[RedisAddress]:
    """Where the dev worker's Redis may be, from its environment: `redis://`/`rediss://` URLs first,
    then host/port pairs whose names say Redis, then the other pairs (the caller asks each one)."""
    found: list[RedisAddress] = []
    for var in url_vars:
        value = env.get(var, "")
        if value.startswith(("redis://", "rediss://")):
            try:
                url = urlsplit(value)
                port = url.port or 6379
            except ValueError:
                continue
            if url.hostname:
                password = unquote(url.password or "")
                found.append(RedisAddress(url.hostname, port, password, unquote(url.username or "")))
    pairs = sorted(host_port_vars, key=lambda pair: "REDIS" not in pair[0].upper())
    for host_var, port_var in pairs:
        host = env.get(host_var, "")
        port_text = env.get(port_var, "") if port_var else ""
        default = 6379 if "REDIS" in host_var.upper() else 0
        port = int(port_text) if port_text.isdigit() else default
        if host and port:
            prefix = host_var.upper().removesuffix("HOST").removesuffix("_")
            password = env.get(f"{prefix}_PASSWORD", "") if "REDIS" in prefix else ""
            found.append(RedisAddress(host, port, password))
    unique: list[RedisAddress] = []
    for address in found:
        if address not in unique:
            unique.append(address)
    return unique
