"""One `inv dev.worker` session: take the queue from the background worker, run the dev worker, give it back.

The order keeps the queue served and never has two workers on it:

1. Everything that can fail without side effects fails first: the dev command must be found and the
   app folder must exist (one `error:` line, the background worker untouched).
2. With a start gate (``app.start_gate``), the dev worker starts while the background worker still
   serves the queue; it connects and writes ``WORKER_READY_FILE`` but fetches no job until
   ``WORKER_START_GATE`` exists. Only then is the background worker stopped (its consumers signalled
   from inside the container where Docker's SIGTERM would not reach them, then `docker compose stop`:
   see `tasks.drivers.container_stop`), and the gate opened. A dev worker that dies while starting never
   disturbed anything. Other background services found consuming the worker's queues when the
   session began step aside with it: the same stop stops them (`docker compose stop <worker> <them>`)
   and the give-back starts them again (`restore.give_back_all`); the record names them. Without the
   hook the gate is Redis itself (``app.redis_relay``): the dev
   worker's Redis variables lead to a relay (`tasks.drivers.redis_relay`) that holds its connections;
   the first one to arrive stops the background worker, then the relay forwards. Where no variable
   carries Redis's port (the app could dial Redis around the relay), the background worker is
   stopped first, then the dev command starts.
3. When the dev command ends, for whatever reason, its whole process group is waited for (the
   background worker must not come back while the dev worker still holds a job), then the very
   container that was stopped is started again and confirmed ready.

The record on disk (`record.py`) is written before anything is stopped, so a session killed at any
point is recovered by the next command; when the worker's state cannot be read at all, the session
refuses before writing anything (it could otherwise run a second worker on the queue). The worker
comes back through the one restore of `restore.py`.
"""

from __future__ import annotations

import os
import time

from ...drivers import container_stop, dev_preflight, job_fate, process, queue_consumers, queue_owners, worker_service
from ...drivers.compose import Compose
from ...drivers.foreground import ForegroundChild, say
from ...drivers.handover import guardian
from ...drivers.handover.lock import SessionLock
from ...drivers.handover.record import (
    Record,
    new_record,
    process_started,
    read_record,
    remove_record,
    state_dir,
    write_record,
)
from ...drivers.handover.restore import (
    adopt_legacy_record,
    give_back_all,
    killed_session,
    restore,
    restore_aside,
    terminate_orphan,
)
from ...drivers.handover.watcher_gaps import WatcherGaps
from ...drivers.redis_relay import RelayProcess
from ...knowledge.command_line import split_command
from ...knowledge.compose_cli import ContainerState
from ...knowledge.durations import parse_duration
from ...knowledge.exit_codes import describe_exit
from ...knowledge.failures import UserError
from ...knowledge.naming import background
from ...knowledge.queue_owners import (
    QueueRef,
    and_aside,
    describe_sharing,
    describe_strangers,
    stepping_aside,
    strangers,
)
from ...knowledge.relay_env import RelayEnv, listen_host, relay_env
from ...knowledge.watchers import expand_runner

#: How often the task looks for the dev worker's ready file.
READY_POLL_S = 0.02
#: After this long without the ready file, say once what is awaited.
READY_HINT_AFTER_S = 15.0
#: How often the wait for the dev worker's first connection to the relay looks at the dev command,
#: and how often it asks Redis whether a worker of this machine consumes around the relay.
RELAY_POLL_S = 0.02
BYPASS_POLL_S = 0.25


class DevSession:
    def __init__(self, compose: Compose, *, scheduler: bool, share_queue: bool = False):
        self.compose = compose
        #: Let other background services that consume the dev worker's queue keep consuming (on purpose).
        self.share_queue = share_queue
        #: Other background services consuming the worker's queues when the session began: they step
        #: aside with the background worker (stopped and given back with it). Empty when sharing.
        self.aside: dict[str, set[QueueRef]] = {}
        self.s = compose.settings
        self.directory = state_dir(compose)
        self.gate = self.directory / f"start-gate-{os.getpid()}"
        self.ready_file = self.directory / f"dev-ready-{os.getpid()}"
        self.grace = parse_duration(compose.env.get("WORKER_STOP_GRACE_PERIOD"), 30.0)
        argv = self._dev_argv()
        # The environment from Compose, and every address in it answering, before anything is touched.
        plan = dev_preflight.prepare(compose, scheduler)
        self.plan = plan
        for note in plan.notes:
            say(note)
        for warning in plan.warnings:  # connections it cannot get that the queue does not need
            say(f"warning: {warning}")
        self.endpoints = [(e.host, e.port) for e in plan.endpoints]  # Redis among them answers PING
        self.relay: RelayProcess | None = None
        self.gaps: WatcherGaps | None = None  # the queue while a watcher waits (relay sessions)
        self.child = ForegroundChild(argv, cwd=self.s.run_dir, env=plan.env, stop_grace=self.grace)
        self.record: Record | None = None
        self.stale: Record | None = None
        self.consumers: queue_consumers.ConsumerWatch | None = None  # the queue's consumers (no start gate)
        self.found: list[ContainerState] = []  # the background worker's containers, as found at the start
        self.background_found = ""  # "running", "restarting" or "" (not running)

    def _dev_argv(self) -> list[str]:
        """The dev command, found before anything is touched."""
        if not self.s.app_dir.is_dir():
            raise UserError(f"the app folder {self.s.app_dir} does not exist: check `app.dir` in invoke.yaml")
        argv = expand_runner(split_command(self.s.app_dev))  # watchers: `devstack-run` = the shipped runner
        if not argv:
            raise UserError("`app.dev` is empty: set the dev command in invoke.yaml")
        return process.resolve(argv)

    # -- the session -----------------------------------------------------------------------
    def run(self) -> int:
        """The dev command's exit code (signals are in ``self.child.received``)."""
        lock = SessionLock(self.directory)
        lock.acquire()
        try:
            # Read before anything is touched: a refusal here leaves no record and stops nothing.
            self.background_found = self._background_state()
            self.consumers = self._watch_consumers()
            return self._session()
        finally:
            lock.release()

    def _session(self) -> int:
        self.child.install_handlers()
        returncode = 0
        try:
            adopted = self._adopt_stale()
            self.record = new_record(worker_was_running=adopted)
            if adopted and self.stale is not None:  # how to bring it back, as the dead session knew it
                self.record.restore_files, self.record.restore_env = self.stale.restore_files, self.stale.restore_env
                self.record.aside = self.stale.aside_pending  # and what stepped aside with it
            write_record(self.directory, self.record)
            # It restores from the record if this session is killed, and holds the dev command's terminal.
            guard = guardian.spawn(self.compose, self.directory, terminal=self.child.prepare_output())
            if guard is not None:  # `worker.status` finds it here while it restores
                self.record.guardian_pid, self.record.guardian_started = guard.pid, process_started(guard.pid)
                write_record(self.directory, self.record)
            returncode = self._run_gated() if self.s.app_start_gate else self._run_plain()
        finally:
            self._end_child()
            if self.relay is not None:  # the dev worker is gone: nothing may reach Redis through it now
                self.relay.close()
            self._give_back()
            for path in (self.gate, self.ready_file):
                path.unlink(missing_ok=True)
            self.child.restore_handlers()
        return returncode

    def _adopt_stale(self) -> bool:
        """We hold the lock, so a record here is from a session that died: adopt its promise."""
        adopt_legacy_record(self.compose)
        stale = read_record(self.directory)
        self.stale = stale
        if stale is None:
            return False
        orphan = terminate_orphan(stale, timeout=self.grace + 5, tell=say)
        adopted = stale.restore_pending
        say(
            killed_session(stale, self.s.service, orphan=orphan)
            + (f", which {'come' if stale.aside_pending else 'comes'} back when this one ends" if adopted else "")
        )
        if not adopted:
            restore_aside(self.compose, stale, say)  # the worker stays down as asked; they were not asked
        return adopted

    def _background_state(self) -> str:
        try:
            self.found = self.compose.containers(self.s.service)
        except UserError as error:
            # Unknown is not "stopped": a dev worker started now could join a running one on the queue.
            raise UserError(
                f"cannot tell whether the {background(self.s.service)} is running ({error.reason}); "
                "not starting a dev worker beside it"
            ) from None
        states = {ct.state for ct in self.found}
        # A worker in a crash loop is still a worker: it would take jobs whenever it comes up.
        return "running" if "running" in states else "restarting" if "restarting" in states else ""

    def _watch_consumers(self) -> queue_consumers.ConsumerWatch | None:
        """The queue's consumers before anything moves (the background worker's connections are in the
        snapshot), its queues, and the other background services consuming them (they step aside with
        it). With a start gate only the last is wanted (the gate tells when the dev worker is ready)."""
        consumers = queue_consumers.ConsumerWatch(
            self.child.env, self.s.host_port_vars, self.s.url_vars, self.endpoints
        )
        if consumers.redis is None and not self.s.app_start_gate:
            consumers.redis = queue_consumers.stack_redis(self.compose)
            if consumers.redis is not None:
                consumers.before = queue_consumers.snapshot(consumers.redis)
                address = consumers.redis.address
                say(
                    f"no variable of {self.s.service}'s environment leads to Redis (the app dials an address of its "
                    f"own): watching the stack's Redis at {address.host}:{address.port} for the dev worker's consumer"
                )
        self._find_sharers(consumers)
        return None if self.s.app_start_gate else consumers

    def _find_sharers(self, consumers: queue_consumers.ConsumerWatch) -> None:
        """The worker's queues (``consumers.queues``) and who else consumes them: another service of the
        project steps aside with the worker (``self.aside``, said in one line); a consumer that is no
        container of the project nor this machine cannot be stopped: the session refuses, naming it."""
        if not self.background_found or consumers.before is None:
            return
        ip_service = queue_owners.ip_services(self.compose)
        queues = queue_owners.service_queues(consumers.before, ip_service, self.s.service)
        if not queues:
            return  # not consuming right now (starting, restarting): any new worker counts
        consumers.queues = queues
        shared = queue_owners.sharers(consumers.before, ip_service, self.s.service)
        others = strangers(consumers.before, queues, ip_service, consumers.own_ip())
        if self.share_queue:
            if shared or others:
                names = ", ".join(x for x in (describe_sharing(shared), describe_strangers(others)) if x)
                say(f"sharing the queue on purpose (--allow-sharing): {names} keep consuming beside the dev worker")
            return
        if others:
            raise UserError(
                f"the queue of {self.s.service} has consumers that are no service of this project: "
                f"{describe_strangers(others)}; they cannot step aside with it (not containers of this project, "
                "nor this machine), so the dev worker would share the queue with them. Stop them first, or pass "
                "--allow-sharing to share on purpose"
            )
        if shared:
            self.aside = shared
            say(stepping_aside(self.s.service, shared))

    def _stop_background(self) -> None:
        assert self.record is not None
        if not self.background_found:
            return
        # Recorded first: a session killed during the stop still gets the worker back, and as it was
        # (a prod-like worker with its plan, should its container be removed meanwhile).
        self.record.worker_was_running = True
        self.record.restore_files, self.record.restore_env = worker_service.prodlike_restore(self.compose, self.found)
        aside = sorted(self.aside)
        self.record.aside = aside  # stopped by the same command, so given back with it on every path
        # The stop outlives a killed session: its guardian waits for it (by argv until the pid is known).
        self.record.stop_argv, self.record.stop_since = self.compose.argv("stop", self.s.service, *aside), time.time()
        self.record.stop_pid = self.record.stop_started = None
        write_record(self.directory, self.record)
        # Its consumers signalled first where Docker's SIGTERM would not reach them; the line says
        # what becomes of their jobs (container_stop), and the next one what became of them (job_fate).
        # The stop's pid goes into the record: a guardian of a killed session waits for it (guardian.py).
        with job_fate.around_stop(self.compose, say, plan=self.plan, also=aside):
            result = container_stop.stop_worker(
                self.compose,
                subject=background(self.s.service),
                say=say,
                capture=True,
                started=self._stop_started,
                also=aside,
            )
        if not result.ok:
            raise UserError(
                f"could not stop the {background(self.s.service)}{and_aside(aside)} ({self.compose.diagnose(result)}); "
                "not running a second worker on the same queue"
            )

    def _stop_started(self, pid: int) -> None:
        assert self.record is not None
        self.record.stop_pid, self.record.stop_started = pid, process_started(pid)
        write_record(self.directory, self.record)

    def _start_child(self, extra_env: dict[str, str], redis: tuple[str, int] | None = None) -> None:
        assert self.record is not None
        self.child.env.update(extra_env)
        self.record.redis_addresses = [[host, port] for host, port in self._aim_stops(redis)]
        proc = self.child.start()
        self.record.dev_pid = proc.pid
        self.record.dev_started = process_started(proc.pid)
        write_record(self.directory, self.record)

    def _aim_stops(self, redis: tuple[str, int] | None) -> list[tuple[str, int]]:
        """Where the dev worker dials Redis, for its stop (its queue consumers first): the relay, and
        Redis itself (``redis``, found by the caller, else asked here). The dev command gets the ports as
        DEVSTACK_REDIS_PORTS (the shipped runner stops its worker's consumers by them too)."""
        from ...drivers import consumer_procs

        addresses: list[tuple[str, int]] = []
        if self.relay is not None:
            addresses.append((self.relay.host, self.relay.port))
        if redis is None:
            found = queue_consumers.find(self.child.env, self.s.host_port_vars, self.s.url_vars, self.endpoints)
            redis = (found.address.host, found.address.port) if found is not None else None
        if redis is not None:
            addresses.append(redis)
        self.child.redis_targets = consumer_procs.targets(addresses)
        if addresses:
            self.child.env["DEVSTACK_REDIS_PORTS"] = ",".join(dict.fromkeys(str(port) for _, port in addresses))
        return addresses

    def _run_plain(self) -> int:
        consumers = self.consumers
        assert consumers is not None
        relayed = self._start_relay(consumers)
        if relayed is not None:
            return self._run_relayed(consumers, relayed)
        self._stop_background()
        if self.child.received:
            say("interrupted before the dev worker started")
            return 128 + int(self.child.received[0])
        redis = (consumers.redis.address.host, consumers.redis.address.port) if consumers.redis else None
        self._start_child({}, redis)
        say(f"dev worker started (`{self.s.app_dev}`, pid {self.child.pid}); waiting for it to consume")  # watchers
        return self._confirm_consuming(consumers)

    def _start_relay(self, consumers: queue_consumers.ConsumerWatch) -> RelayEnv | None:
        """The relay and the dev worker's variables through it, or None (then: stop first, then start)."""
        if not self.s.app_redis_relay or not self.background_found or consumers.redis is None:
            return None  # off, nothing to stop, or no Redis found to relay to
        redis = (consumers.redis.address.host, consumers.redis.address.port)
        host = listen_host(redis[0])
        why = relay_env(self.plan, redis, 0, dict(os.environ))  # can it be trusted? (before a process starts)
        if isinstance(why, str):
            say(f"no Redis relay ({why}): the {background(self.s.service)} is stopped before the dev command starts")
            return None
        try:
            self.relay = RelayProcess(redis, host)
        except OSError as error:
            say(f"no Redis relay ({error}): the {background(self.s.service)} is stopped before the dev command starts")
            return None
        relayed = relay_env(self.plan, redis, self.relay.port, dict(os.environ))
        assert not isinstance(relayed, str)
        return relayed

    def _run_relayed(self, consumers: queue_consumers.ConsumerWatch, relayed: RelayEnv) -> int:
        assert self.relay is not None and consumers.redis is not None
        self._start_child(relayed.changes, (consumers.redis.address.host, consumers.redis.address.port))
        say(
            f"dev worker starting (`{self.s.app_dev}`, pid {self.child.pid}); the {background(self.s.service)} "
            f"keeps the queue until the dev worker connects to Redis ({relayed.lead} to a relay at "
            f"{self.relay.host}:{self.relay.port} that holds its connections meanwhile)"
        )
        arrived = self._await_relay(consumers)
        if arrived == "ended":
            if not self.child.received:
                say(
                    f"the dev worker ended before it connected to Redis; the {background(self.s.service)} "
                    "was not touched"
                )
            return self._wait_child()
        if arrived == "bypass":
            say(
                f"warning: the dev worker consumes without going through the relay (it does not dial Redis by "
                f"{relayed.names}); stopping the {background(self.s.service)} at once. Set `app.redis_relay: "
                "false` in invoke.yaml, or have the app read those variables"
            )
        self._stop_background()
        self.relay.open()
        return self._confirm_consuming(consumers, relayed=arrived == "connected")

    def _await_relay(self, consumers: queue_consumers.ConsumerWatch) -> str:
        """ "connected" (a connection reached the relay), "ended" (the dev command ended or a stop was
        asked first), or "bypass" (a new BullMQ worker of this machine in Redis, not through the relay)."""
        assert self.relay is not None
        started = time.monotonic()
        wait = queue_consumers.connect_wait(self.child.env)
        host_ip = consumers.own_ip()
        hinted = False
        next_look = 0.0
        while not self.relay.connected.wait(RELAY_POLL_S):
            if self.child.exited() or self.child.received:
                return "ended"
            now = time.monotonic()
            if host_ip and now >= next_look:
                next_look = now + BYPASS_POLL_S
                if consumers.new_from(host_ip):
                    return "bypass"
            if not hinted and now - started > wait:
                hinted = True
                say(
                    f"the dev worker has not connected to Redis in {wait:g} s; the {background(self.s.service)} "
                    f"keeps the queue meanwhile (is `{self.s.app_dev}` waiting for a change?). Ctrl+C ends the session"
                )
        return "connected"

    def _confirm_consuming(self, consumers: queue_consumers.ConsumerWatch, *, relayed: bool = False) -> int:
        """Say `dev worker running` once Redis shows its BullMQ worker; stop a dev worker that never shows.
        Through the relay (``relayed``), the queue goes back to the background worker while a watcher
        waits with no worker; else a worker gone for a while is only said."""
        wait = queue_consumers.connect_wait(self.child.env)
        state, what = consumers.wait(self.child, wait, say)  # watchers: running = a BullMQ consumer in Redis
        if state == "timeout":
            say(f"the dev worker did not connect to the queue in {wait:g} s (no BullMQ worker in Redis); stopping it")
            say(
                f"  does `{self.s.app_dev}` start this worker? If not, set its dev command in invoke.yaml "
                f"(`dev:` of the worker; `inv doctor` shows what runs)"
            )
            self.child.stop()
        elif state in ("consuming", "unknown"):
            say(
                f"dev worker running (`{self.s.app_dev}`, pid {self.child.pid}"
                + (f", consuming {what}" if state == "consuming" else f"; not confirmed: {what}")
                + "); Ctrl+C stops it"
                + self._back_hint()
            )
        if state != "consuming":
            return self._wait_child()
        if relayed and self.relay is not None:
            self.gaps = WatcherGaps(
                self.relay,
                consumers,
                self.child,
                give_back=self._give_back_meanwhile,
                take=self._stop_background,
                say=say,
                service=self.s.service,
                aside=self.record.aside if self.record is not None else [],
            ).start()
            try:
                return self._wait_child()
            finally:
                self.gaps.stop()
        gone = queue_consumers.GoneWatch(consumers, self.child, say, what).start()
        try:
            return self._wait_child()
        finally:
            gone.stop()

    def _give_back_meanwhile(self) -> str | None:
        """The background worker back while the dev command lives on (the record stays: this session
        still answers for it)."""
        assert self.record is not None
        try:
            problem, aside = give_back_all(self.compose, self.record)
        except UserError as error:
            return error.reason
        for service, why in aside.items():  # the worker has the queue: said, not a failure of the give-back
            say(f"warning: '{service}' is not back ({why})")
        return problem

    def _run_gated(self) -> int:
        for path in (self.gate, self.ready_file):
            path.unlink(missing_ok=True)
        self._start_child({"WORKER_START_GATE": str(self.gate), "WORKER_READY_FILE": str(self.ready_file)})
        say(
            f"dev worker starting (`{self.s.app_dev}`, pid {self.child.pid}); the {background(self.s.service)} "
            "keeps the queue until it is ready"
        )
        if not self._await_ready():
            if not self.child.received:
                say(f"the dev worker ended before it was ready; the {background(self.s.service)} was not touched")
            return self._wait_child()
        self._stop_background()
        self.gate.touch()
        say(f"dev worker running with the queue (pid {self.child.pid}); Ctrl+C stops it" + self._back_hint())
        return self._wait_child()

    def _await_ready(self) -> bool:
        """Wait for the dev worker's ready file; False if it ends or is interrupted first."""
        started = time.monotonic()
        hinted = False
        while not self.ready_file.exists():
            if self.child.exited() or self.child.received:
                return False
            if not hinted and time.monotonic() - started > READY_HINT_AFTER_S:
                hinted = True
                say(
                    f"still waiting for the dev worker to write its ready file (WORKER_READY_FILE); the background "
                    f"{self.s.service} keeps the queue meanwhile. An app without that hook needs "
                    "`app.start_gate: false` in invoke.yaml"
                )
            time.sleep(READY_POLL_S)
        return True

    def _wait_child(self) -> int:
        jobs = job_fate.DevJobs(self.compose, self.plan, lambda: bool(self.child.received)).start()
        returncode = self.child.wait(group_grace=self.grace + 5)
        unfinished = self.child.unfinished_consumers
        cut = (
            f"; its queue consumer{'s' if len(unfinished) > 1 else ''} (pid {', '.join(map(str, unfinished))}) "
            "had not finished when what wraps them was stopped: a job they held may have been cut"
            if unfinished
            else ""
        )
        say(f"dev worker {describe_exit(returncode)}{cut}")  # watchers: shell-style codes
        if line := jobs.line():  # its jobs in flight when it stopped (before the background worker is back)
            say(line)
        return returncode

    def _end_child(self) -> None:
        """A session cut short by an error (the stop failed) ends its dev worker before giving back:
        it must not outlive `inv`, nor run beside the background worker."""
        proc = self.child.proc
        if proc is None or self.child.exited():
            return
        say(f"stopping the dev worker (pid {proc.pid}) ...")
        try:
            self.child.stop()  # its queue consumers first (SIGTERM), then the rest; Windows: terminate
        except (ProcessLookupError, PermissionError):
            pass
        self._wait_child()

    def _back_hint(self) -> str:
        assert self.record is not None
        if not self.record.restore_pending:
            return ""
        return f" and brings the {background(self.s.service)}{and_aside(self.record.aside)} back"

    # -- giving back -----------------------------------------------------------------------
    def _give_back(self) -> None:
        """Bring the background worker back if this session took it; keep the record if that fails."""
        record = read_record(self.directory)  # worker.down/stack.down may have changed it
        service = self.s.service
        if record is None or not record.worker_was_running:
            if self.background_found:  # the dev worker ended before it was ready: nothing was stopped
                who = f"{background(service)}{and_aside(sorted(self.aside))}"
                were, they = ("were", "they") if self.aside else ("was", "it")
                say(f"the {who} {were} never stopped; {they} kept the queue")
            else:
                say(f"the {background(service)} was not running before; leaving it stopped")
            remove_record(self.directory)
            return
        if record.cancelled_by:
            say(
                f"the {background(service)} was running before, but `{record.cancelled_by}` during this session "
                "asked to leave it down; not restoring it"
            )
            restore_aside(self.compose, record, say)
            remove_record(self.directory)
            return
        if self.gaps is not None and self.gaps.background_back:
            if record.aside_pending:
                say(
                    f"the {background(service)}{and_aside(record.aside_pending)} already have the queue (they took it "
                    "when the dev worker left)"
                )
            else:
                say(f"the {background(service)} already has the queue (it took it when the dev worker left)")
            remove_record(self.directory)
            return
        problem = restore(self.compose, record, say, was_restarting=self.background_found == "restarting")
        if problem:
            say(f"warning: {problem}")
