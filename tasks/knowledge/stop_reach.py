"""Who in a worker container holds the queue, whether a stop reaches it, and whether it finishes its job (pure).

`docker compose stop` sends SIGTERM to the container's PID 1 only; with `init: true` (tini, as
`docker-init`) it is passed on to PID 1's one child, nobody else. The processes that hold jobs are
the ones connected to Redis (`/proc/net/tcp` and `tcp6`: an ESTABLISHED row to the Redis port, its
socket inode found among `/proc/<pid>/fd`). A consumer below a wrapper (`npm run dev` -> `sh -c` ->
`tsx watch` -> node) or a `node:cluster` fork is never signalled by Docker: the wrapper dies and the
container with it, or Docker kills everything at the end of the grace period. Those consumers are
signalled from inside the container first (`tasks.drivers.container_stop`); the ones Docker's signal
reaches are left to Docker (signalling them from inside would end the container by itself, and a
`restart:` policy would start it again).

Whether a process handles a signal: `SigCgt` of `/proc/<pid>/status` (bit n-1 for signal n). Node
always catches SIGINT and SIGTERM itself (to reset the terminal before dying: checked with Node 20
and 24), so for Node the mask tells only that nothing was *ignored*; whether the app registered
`process.on('SIGTERM', ...)` is read from its code instead (the entry script's folder, scanned in the
container: `scan` of the snapshot).

The snapshot is the JSON printed by `tasks/runner/consumers.cjs` in the container.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

SIGINT = 2
SIGTERM = 15
#: PID 1 programs that pass a stop signal to their one child (and nobody else).
INITS = frozenset({"tini", "docker-init", "dumb-init", "catatonit"})
#: What Node calls its main thread (the `Name:` of /proc/<pid>/status since Node 20-ish).
NODE_NAMES = frozenset({"node", "nodejs", "MainThread"})
#: `/proc/net/tcp` state of an established connection.
ESTABLISHED = "01"


def signal_bit(signal: int) -> int:
    """The `SigCgt`/`SigIgn` bit of a signal: bit n-1 for signal n (SIGTERM 15 -> 0x4000, SIGINT 2 -> 0x2)."""
    return 1 << (signal - 1)


def status_fields(text: str) -> dict[str, str]:
    """`/proc/<pid>/status` -> {"Name": "node", "PPid": "1", "SigCgt": "0000000100004602", ...}."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def mask(fields: dict[str, str], name: str = "SigCgt") -> int | None:
    """A signal mask field as an int (None when missing or unreadable)."""
    try:
        return int(fields[name], 16)
    except (KeyError, ValueError):
        return None


def hex_address(text: str) -> tuple[str, int]:
    """A `/proc/net/tcp{,6}` address (`0100007F:18EB`, or 32 hex digits for IPv6) -> ("127.0.0.1", 6379).

    The kernel prints the address as 32-bit words in host byte order (little-endian on x86 and arm64),
    the port in network order."""
    ip_hex, _, port_hex = text.partition(":")
    raw = bytes.fromhex(ip_hex)
    # Each 32-bit word reversed: the words were printed as native (little-endian) integers.
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(ordered) == 4:
        host = str(ipaddress.IPv4Address(ordered))
    elif len(ordered) == 16:
        v6 = ipaddress.IPv6Address(ordered)
        host = str(v6.ipv4_mapped) if v6.ipv4_mapped else str(v6)
    else:
        raise ValueError(f"not an address: {text!r}")
    return host, int(port_hex, 16)


@dataclass(frozen=True)
class TcpRow:
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str  # "01" established, "0A" listen, ...
    inode: int


def parse_tcp(text: str) -> list[TcpRow]:
    """The rows of `/proc/net/tcp` or `/proc/net/tcp6` (the header and unreadable lines left out)."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or not parts[0].endswith(":") or not parts[0][:-1].isdigit():
            continue
        try:
            rows.append(TcpRow(hex_address(parts[1]), hex_address(parts[2]), parts[3].upper(), int(parts[9])))
        except ValueError:
            continue
    return rows


def start_time(stat: str) -> str:
    """Field 22 of `/proc/<pid>/stat` (the start time, in clock ticks): with the pid, names one process."""
    rest = stat.rpartition(")")[2].split()
    return rest[19] if len(rest) > 19 else ""


@dataclass(frozen=True)
class Scan:
    """What the in-container scan read of a process's code: the entry files it found (none: it could
    not tell which file runs), how many files it read, and the files naming each signal next to a
    `process.on(...)`-style call."""

    entries: tuple[str, ...] = ()
    files: int = 0
    sigterm: tuple[str, ...] = ()
    sigint: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    name: str
    cmdline: tuple[str, ...] = ()
    sigcgt: int | None = None
    sigign: int | None = None
    sockets: frozenset[int] = frozenset()
    start: str = ""
    scan: Scan | None = None

    @property
    def is_node(self) -> bool:
        program = self.cmdline[0].rsplit("/", 1)[-1] if self.cmdline else ""
        return self.name in NODE_NAMES or program in ("node", "nodejs")

    @property
    def command(self) -> str:
        """The command line, shortened for a message (`node dist/main.js`)."""
        text = " ".join(arg.rsplit("/node_modules/", 1)[-1] for arg in self.cmdline) or self.name
        return text if len(text) <= 60 else text[:57] + "..."

    def handles(self, signal: int) -> tuple[bool | None, str]:
        """Does it handle ``signal`` (None: cannot tell), and the evidence, for messages."""
        name = "SIGTERM" if signal == SIGTERM else "SIGINT" if signal == SIGINT else f"signal {signal}"
        if self.sigcgt is None:
            return None, "its /proc status is unreadable"
        if not self.sigcgt & signal_bit(signal):
            ignored = self.sigign is not None and self.sigign & signal_bit(signal)
            return False, f"SigCgt: {name} {'ignored' if ignored else 'not caught'}"
        if not self.is_node:
            return True, f"SigCgt: {name} caught"
        # Node catches SIGINT/SIGTERM itself whatever the app does: the app's code tells.
        scan = self.scan
        if scan is None or not scan.entries:
            return None, "Node catches it for itself; which file it runs is unknown"
        found = scan.sigterm if signal == SIGTERM else scan.sigint
        if found:
            return True, f"a {name} handler in {found[0]}"
        folder = scan.entries[0].rpartition("/")[0] or "/"
        read = f"{scan.files} file{'' if scan.files == 1 else 's'} read"
        return False, f"none found in {folder} or the app code it loads, {read}"


@dataclass(frozen=True)
class Snapshot:
    self_pid: int
    procs: dict[int, Proc]
    tcp: tuple[TcpRow, ...]

    def children(self, pid: int) -> list[Proc]:
        return [p for p in self.procs.values() if p.ppid == pid and p.pid != self.self_pid]


def _scan(raw: object) -> Scan | None:
    if not isinstance(raw, dict):
        return None

    def strings(key: str) -> tuple[str, ...]:
        value = raw.get(key)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    files = raw.get("files")
    return Scan(strings("entries"), files if isinstance(files, int) else 0, strings("sigterm"), strings("sigint"))


def parse_snapshot(text: str) -> Snapshot | str:
    """The in-container script's JSON -> a Snapshot, or why it cannot be read (a string)."""
    try:
        data = json.loads(text.strip().splitlines()[-1]) if text.strip() else None
    except (ValueError, IndexError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("procs"), list):
        return "the process listing printed no report"
    scans = data.get("scans") if isinstance(data.get("scans"), dict) else {}
    procs: dict[int, Proc] = {}
    for raw in data["procs"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("pid"), int):
            continue
        fields = status_fields(str(raw.get("status") or ""))
        ppid = fields.get("PPid", "")
        cmdline = raw.get("cmdline")
        listed = raw.get("sockets")
        sockets: list[object] = listed if isinstance(listed, list) else []
        procs[raw["pid"]] = Proc(
            pid=raw["pid"],
            ppid=int(ppid) if ppid.isdigit() else -1,
            name=fields.get("Name", ""),
            cmdline=tuple(str(a) for a in cmdline) if isinstance(cmdline, list) else (),
            sigcgt=mask(fields, "SigCgt"),
            sigign=mask(fields, "SigIgn"),
            sockets=frozenset(int(str(s)) for s in sockets if str(s).isdigit()),
            start=start_time(str(raw.get("stat") or "")),
            scan=_scan((scans or {}).get(str(raw["pid"]))),
        )
    tcp = tuple(parse_tcp(str(data.get("tcp") or "")) + parse_tcp(str(data.get("tcp6") or "")))
    self_pid = data.get("self")
    return Snapshot(self_pid if isinstance(self_pid, int) else -1, procs, tcp)


def consumers(snapshot: Snapshot, ports: set[int] | frozenset[int]) -> list[Proc]:
    """The processes holding an ESTABLISHED TCP connection to one of ``ports`` (the Redis the service
    dials, container side), by pid."""
    inodes = {row.inode for row in snapshot.tcp if row.state == ESTABLISHED and row.remote[1] in ports and row.inode}
    return sorted(
        (p for p in snapshot.procs.values() if p.sockets & inodes and p.pid != snapshot.self_pid),
        key=lambda p: p.pid,
    )


def reached_directly(snapshot: Snapshot, pid: int) -> bool:
    """Does `docker stop`'s SIGTERM reach ``pid``: PID 1 itself, or PID 1's only child when PID 1 is an init."""
    if pid == 1:
        return True
    init = snapshot.procs.get(1)
    if init is None or init.name not in INITS:
        return False
    children = snapshot.children(1)
    return len(children) == 1 and children[0].pid == pid


@dataclass(frozen=True)
class ConsumerFact:
    pid: int
    command: str
    reached: bool  # Docker's SIGTERM reaches it
    sigterm: bool | None
    sigint: bool | None
    evidence: str  # why we think so (for messages)
    start: str = ""

    @property
    def signal(self) -> int | None:
        """What to send it from inside before Docker's stop: None for the ones Docker reaches, and for
        the ones a signal would only kill sooner (no handler for either)."""
        if self.reached:
            return None
        if self.sigterm is not False:
            return SIGTERM
        if self.sigint:
            return SIGINT
        return None

    @property
    def finishes(self) -> bool | None:
        """Will it finish its current job on this stop (None: cannot tell)?"""
        if self.reached:
            return self.sigterm
        if self.signal == SIGTERM:
            return self.sigterm
        return bool(self.signal)


@dataclass(frozen=True)
class StopPlan:
    ports: tuple[int, ...]
    consumers: tuple[ConsumerFact, ...] = ()

    @property
    def to_signal(self) -> list[ConsumerFact]:
        return [c for c in self.consumers if c.signal is not None]


def plan(snapshot: Snapshot, ports: set[int] | frozenset[int]) -> StopPlan:
    """Each consumer: whether Docker's stop reaches it, whether it handles SIGTERM/SIGINT, what to send it."""
    facts = []
    for proc in consumers(snapshot, ports):
        term, term_why = proc.handles(SIGTERM)
        sigint, int_why = proc.handles(SIGINT)
        evidence = term_why if term is not False or not sigint else f"{term_why}; {int_why}"
        reached = reached_directly(snapshot, proc.pid)
        facts.append(ConsumerFact(proc.pid, proc.command, reached, term, sigint, evidence, proc.start))
    return StopPlan(tuple(sorted(ports)), tuple(facts))


# -- the stop's report (printed by the script's `stop` mode) -------------------------------------
@dataclass(frozen=True)
class Stopped:
    pid: int
    sent: bool
    exited: bool
    after_ms: int | None = None
    error: str = ""


@dataclass(frozen=True)
class StopReport:
    waited_ms: int
    results: tuple[Stopped, ...] = field(default_factory=tuple)


def parse_stop_report(text: str) -> StopReport | None:
    try:
        data = json.loads(text.strip().splitlines()[-1]) if text.strip() else None
    except (ValueError, IndexError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return None
    results = []
    for raw in data["results"]:
        if isinstance(raw, dict) and isinstance(raw.get("pid"), int):
            after = raw.get("after_ms")
            results.append(
                Stopped(
                    raw["pid"],
                    bool(raw.get("sent")),
                    bool(raw.get("exited")),
                    after if isinstance(after, int) else None,
                    str(raw.get("error") or ""),
                )
            )
    waited = data.get("waited_ms")
    return StopReport(waited if isinstance(waited, int) else 0, tuple(results))


def stop_argv(facts: list[ConsumerFact], grace_s: float) -> list[str]:
    """The script's `stop` arguments: the wait in ms, then `<signal>:<pid>:<start time>` each."""
    names = {SIGTERM: "SIGTERM", SIGINT: "SIGINT"}
    return ["stop", str(int(grace_s * 1000)), *(f"{names[c.signal]}:{c.pid}:{c.start}" for c in facts if c.signal)]


# -- what is said ----------------------------------------------------------------------------------
RETRIED = "retried after its lock expires by the queue's stalled-job check, where one runs"
CUT = f"its active job is cut ({RETRIED})"


def _pids(facts: list[ConsumerFact]) -> str:
    pids = ", ".join(str(c.pid) for c in facts)
    return f"its consumer (pid {pids})" if len(facts) == 1 else f"its consumers (pids {pids})"


def stop_clause(stop: StopPlan) -> str:
    """What the stop does to the jobs, for `stopping the <worker> (<this>) ...`."""
    ports = "/".join(str(p) for p in stop.ports)
    facts = list(stop.consumers)
    if not facts:
        return f"no process in it is connected to Redis (port {ports}) now: no job in progress"
    clauses = []
    finish = [c for c in facts if c.finishes]
    unknown = [c for c in facts if c.finishes is None]
    cut = [c for c in facts if c.finishes is False]
    if finish:
        one = len(finish) == 1
        if len(finish) == len(facts):
            head = "it finishes its current job" if one else "they finish their current jobs"
        else:
            head = f"{_pids(finish)} finish{'es its current job' if one else ' their current jobs'}"
        signalled = [c for c in finish if c.signal]
        if signalled:
            names = sorted({"SIGTERM" if c.signal == SIGTERM else "SIGINT" for c in signalled})
            single = len(signalled) == 1
            head += (
                f": {_pids(signalled)} {'is' if single else 'are'} below a wrapper or a primary that does not pass "
                f"the stop signal on, so {'it is' if single else 'they are'} sent {'/'.join(names)} first"
            )
        clauses.append(head)
    for c in unknown:
        first = ", sent SIGTERM first" if c.signal else ""
        clauses.append(f"whether {_pids([c])} finishes its job is unknown ({c.evidence}){first}")
    for c in cut:
        if c.sigterm is False and c.sigint and c.reached:
            why = "handles SIGINT but not SIGTERM, which is what Docker sends"
        else:
            why = "has no SIGTERM handler"
        clauses.append(f"{_pids([c])} {why} ({c.evidence}): {CUT}")
    return "; ".join(clauses)


def after_signal(report: StopReport | None, grace_s: float) -> str:
    """One line once the signalled consumers were waited for."""
    if report is None:
        return "signalling the consumers inside the container printed no report; stopping it as before"
    exited = [r for r in report.results if r.exited]
    left = [r for r in report.results if not r.exited]
    parts = []
    if exited:
        pids = ", ".join(str(r.pid) for r in exited)
        times = [r.after_ms for r in exited if r.after_ms is not None]
        after_ms = max(times) if times else report.waited_ms
        parts.append(f"consumer{'s' if len(exited) > 1 else ''} {pids} exited after {after_ms / 1000:.1f} s")
    if left:
        pids = ", ".join(str(r.pid) for r in left)
        errors = "; ".join(f"{r.pid}: {r.error}" for r in left if r.error)
        still = errors or f"{'were' if len(left) > 1 else 'was'} still running after {grace_s:g} s"
        them = "them" if len(left) > 1 else "it"
        parts.append(f"consumer{'s' if len(left) > 1 else ''} {pids} {still}: Docker's stop ends {them}, {CUT}")
    return "; ".join(parts)


def killed_line(subject: str, grace_s: float, consumers_gone: bool) -> str:
    """A stop that ended in Docker's SIGKILL at the end of the grace period (exit code 137, not OOM)."""
    tail = (
        "its consumers had already exited, so no job was cut"
        if consumers_gone
        else f"a job it was running is cut ({RETRIED})"
    )
    return (
        f"the {subject} did not stop within its grace period ({grace_s:g} s): Docker killed it "
        f"(SIGKILL, exit code 137); {tail}"
    )


# -- doctor --------------------------------------------------------------------------------------
def doctor_warnings(stop: StopPlan) -> list[str]:
    """WARN lines for `inv doctor`: consumers that a stop cuts, and consumers a stop signal does not reach."""
    lines = []
    for c in stop.consumers:
        if c.sigterm is False:
            fix = (
                "add `process.on('SIGTERM', ...)` (and SIGINT) that awaits `worker.close()` before exiting"
                if c.sigint is not True
                else "handle SIGTERM too (Docker sends SIGTERM), awaiting `worker.close()`"
            )
            lines.append(
                f"consumer pid {c.pid} (`{c.command}`) does not handle SIGTERM ({c.evidence}): every stop cuts "
                f"its job in progress, which BullMQ runs again after the lock expires; {fix}"
            )
        elif c.sigterm is None:
            lines.append(
                f"consumer pid {c.pid} (`{c.command}`): whether it handles SIGTERM is unknown ({c.evidence}); "
                "a stop cuts its job unless a handler awaits `worker.close()`"
            )
    unreached = [c for c in stop.consumers if not c.reached]
    if unreached:
        pids = ", ".join(str(c.pid) for c in unreached)
        lines.append(
            f"consumer{'s' if len(unreached) > 1 else ''} pid {pids} (`{unreached[0].command}`) "
            f"{'are' if len(unreached) > 1 else 'is'} below a wrapper or a primary: Docker's stop signal reaches "
            "PID 1 (or an init's one child) only, so alone it would cut their jobs; worker.down, worker.restart, "
            "stack.down and the dev handover send them SIGTERM first from inside the container and wait for them "
            "(up to the grace period). Running the worker itself as the command (`command: "
            '["node", "dist/main.js"]`, `init: true`) needs no such help'
        )
    return lines


def unowned_connections(snapshot: Snapshot, ports: set[int] | frozenset[int]) -> int:
    """Established connections to ``ports`` that no listed process holds (their /proc/<pid>/fd could
    not be read: another user's processes)."""
    owned = set().union(*(p.sockets for p in snapshot.procs.values())) if snapshot.procs else set()
    return sum(
        1 for row in snapshot.tcp if row.state == ESTABLISHED and row.remote[1] in ports and row.inode not in owned
    )
