"""Which running services an `up` would re-create, why, and what that loses (pure).

Compose re-creates a running container when the hash of its service's configuration (`docker
compose config --hash`) differs from the one on the container (`com.docker.compose.config-hash`):
the same comparison `up` makes, for the services it starts and their dependencies. The collection's
own override publishing a port (`127.0.0.1::6379`) is such a change. Re-creating a Redis that keeps
nothing on disk empties it: the queue's waiting, delayed and active jobs are gone. Whether it keeps
anything is asked of it (`CONFIG GET save/appendonly/dir`) and of Docker (is that folder a mount,
which Compose carries over to the new container), never guessed from its command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .compose_cli import ContainerState
from .stack_config import Service
from .up_noop import CONFIG_HASH_LABEL


def diverged(containers: Sequence[ContainerState], hashes: Mapping[str, str]) -> list[str]:
    """The services with a running container whose configuration hash differs from Compose's now
    (a service whose hash is not known is left out: nothing can be said of it)."""
    found = []
    for ct in containers:
        wanted = hashes.get(ct.service)
        if ct.running and wanted and ct.labels.get(CONFIG_HASH_LABEL, "") != wanted and ct.service not in found:
            found.append(ct.service)
    return found


_PUBLISHED_TARGET = re.compile(r"->(\d+)(?:-\d+)?/")


def reason(service: Service | None, container: ContainerState) -> str:
    """Why Compose re-creates it: the ports its container does not publish yet, else a changed configuration."""
    published = {int(port) for port in _PUBLISHED_TARGET.findall(container.ports)}
    wanted = sorted({p.target for p in (service.ports if service else ()) if p.target not in published})
    if wanted:
        return f"to publish {'port' if len(wanted) == 1 else 'ports'} {', '.join(map(str, wanted))}"
    return "its configuration changed since its container was created"


def keys_in(info_keyspace: str) -> int:
    """The keys of every database in `INFO keyspace` (`db0:keys=12,expires=0,avg_ttl=0`)."""
    return sum(int(count) for count in re.findall(r"^db\d+:keys=(\d+)", info_keyspace, re.MULTILINE))


def config_value(output: str) -> str:
    """`redis-cli CONFIG GET NAME` prints the name, then the value (an empty line when empty)."""
    lines = output.splitlines()
    return lines[1].strip() if len(lines) > 1 else ""


@dataclass(frozen=True)
class RedisData:
    keys: int
    save: str  # "" = no snapshots
    appendonly: str  # "yes" / "no"
    data_dir: str
    mounts: tuple[str, ...]  # the container's mount destinations

    def kept_because(self) -> str:
        """Why its keys outlive the new container ("" when they do not)."""
        on_mount = any(self.data_dir == m or self.data_dir.startswith(m.rstrip("/") + "/") for m in self.mounts)
        writes = "a snapshot" if self.save else "its append-only file" if self.appendonly == "yes" else ""
        return f"it writes {writes} to {self.data_dir}, a volume the new container gets" if writes and on_mount else ""

    def loss(self) -> str:
        """Why its keys would be lost (`--save ""`, appendonly no: ...), "" when they would not."""
        if self.keys == 0 or self.kept_because():
            return ""
        if not self.save and self.appendonly != "yes":
            how = 'it keeps nothing on disk (save "", appendonly no)'
        else:
            how = f"its data folder {self.data_dir} is no volume (the new container starts empty)"
        return f"it holds {self.keys} key{'s' if self.keys != 1 else ''} (the queue's jobs among them) and {how}"


def _under(folder: str, mount: str) -> bool:
    return folder == mount or folder.startswith(mount.rstrip("/") + "/")


def down_loss(data: RedisData, mounts: Sequence[tuple[str, str, str]], volumes: bool) -> str:
    """Why `stack.down` loses this Redis's keys ("" when they outlive it). ``mounts``: its service's
    `volumes:` as Compose resolved them (type, source, target). The keys outlive the container only
    written to a bind mount, or to a named volume when `--volumes` is not given: an anonymous volume
    (the official image declares one for /data) is left behind, and the next container gets a new one."""
    if data.keys == 0:
        return ""
    held = f"it holds {data.keys} key{'s' if data.keys != 1 else ''} (the queues' jobs among them)"
    writes = bool(data.save) or data.appendonly == "yes"
    if not writes:
        return f'{held} and keeps nothing on disk (save "", appendonly no)'
    for kind, source, target in mounts:
        if _under(data.data_dir, target) and (kind == "bind" or (kind == "volume" and source and not volumes)):
            return ""
    named = next((s for k, s, t in mounts if k == "volume" and s and _under(data.data_dir, t)), "")
    if named:
        return f"{held} in {data.data_dir}, on the volume {named}, which --volumes deletes"
    return f"{held} in {data.data_dir}, which is on no named volume or bind mount (the next container starts empty)"


def notice(task: str, reasons: Mapping[str, str]) -> str:
    """`stack.up re-creates the running queue (to publish port 6379) and db (...)`: one line, said first."""
    listed = " and ".join(f"{name} ({why})" for name, why in reasons.items())
    return (
        f"{task} re-creates the running {listed}: Compose replaces {'its' if len(reasons) == 1 else 'each'} container"
    )


def refusal(task: str, service: str, why: str, loss: str, accept: str) -> str:
    return (
        f"{task} would re-create the running {service} ({why}), a Redis whose keys would be lost: {loss}; not "
        f"re-created: {accept} accepts that (or give it a volume or persistence first)"
    )
