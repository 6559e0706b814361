"""Which of the dev worker's variables lead to the queue's Redis, and their values through the relay (pure).

`inv dev.worker` may give a dev worker without the start-gate hook its Redis through a relay that
holds its connections until the background worker has stopped (`tasks.drivers.redis_relay`). That
is safe only if the app cannot reach Redis around the relay: every variable that leads to Redis
must carry the port the dev worker dials, so that the relay's port replaces it. A URL or a
`host:port` value always does; a host variable does through its port variable (`REDIS_HOST` with
`REDIS_PORT`) when the worker service sets that variable, or when the published port differs from
the container's (then the app must read it today already). A host alone, published on the port the
app would take by default, could be dialled directly: no relay then, and the reason says what to add.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .dev_env import Connection, DevEnv, netloc


@dataclass(frozen=True)
class RelayEnv:
    changes: dict[str, str]  # variable -> its value through the relay

    @property
    def names(self) -> str:
        """`REDIS_HOST/REDIS_PORT, REDIS_URL` (for messages)."""
        return ", ".join(self.changes)

    @property
    def lead(self) -> str:
        """`REDIS_URL leads` / `REDIS_HOST, REDIS_PORT lead` (the verb agrees)."""
        return f"{self.names} {'leads' if len(self.changes) == 1 else 'lead'}"


def listen_host(redis_host: str) -> str:
    """Where the relay listens: the loopback of the family the dev worker dials."""
    return "::1" if ":" in redis_host else "127.0.0.1"


def _relayed(connection: Connection, env: dict[str, str], host: str, port: int) -> dict[str, str] | str:
    """The connection's variables pointed at the relay, or why that cannot be trusted."""
    var = connection.var
    value = env.get(var, "")
    if connection.how == "url":
        parts = urlsplit(value)
        userinfo = parts.netloc.rpartition("@")[0]
        location = netloc(f"{userinfo}@" if userinfo else "", host, port)
        return {var: urlunsplit(parts._replace(netloc=location))}
    if connection.how == "host:port":
        return {var: netloc("", host, port)}
    port_var = connection.port_var
    if port_var not in dict(connection.set):
        # The service leaves the port to the app's default, which is where Redis is published too:
        # the app could dial it around the relay.
        return (
            f"{var} carries no port (the app may dial Redis's port {connection.target} itself): add "
            f'`{port_var}: "{connection.target}"` to the worker service\'s environment'
        )
    return {var: host, port_var: str(port)}


def relay_env(plan: DevEnv, redis: tuple[str, int], relay_port: int, shell: dict[str, str]) -> RelayEnv | str:
    """The dev environment's changes that send every variable leading to the Redis at ``redis``
    (host, port as the dev worker dials it) through the relay on ``relay_port``; or, as a string,
    why the relay cannot be used (then the background worker is stopped first, as without it)."""
    leading = [e for e in plan.endpoints if (e.host, e.port) == redis]
    if not leading:
        return "no variable of the worker service's environment leads to Redis (the app dials its own default)"
    for endpoint in leading:
        if not endpoint.service or any(var in shell for var in endpoint.via.split("/")):
            return f"your shell sets {endpoint.via}"
    targets = {(e.service, e.target) for e in leading}
    host = listen_host(redis[0])
    changes: dict[str, str] = {}
    for connection in plan.connections:
        if (connection.service, connection.target) not in targets or not connection.set:
            continue
        relayed = _relayed(connection, plan.env, host, relay_port)
        if isinstance(relayed, str):
            return relayed
        changes.update(relayed)
    if not changes:
        return "no variable of the worker service's environment leads to Redis (the app dials its own default)"
    return RelayEnv(changes)
