"""Giving the background worker back: the one restore, used when a session ends and when the next
command recovers a session that was killed, with one wording.

The very container that was stopped is started again, with its configuration (a prod-like worker
comes back prod-like): by `docker start` when the services it depends on are running (0.4 s here,
where `docker compose start` takes 1.0 s re-checking them), else by `compose start`. Only a
container removed in the meantime is created again with `up -d`, as the record says it was
(prod-like with its plan: `restore_files`/`restore_env`). When the worker is not back (Docker went
away), the record is kept and the next command retries.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...drivers import worker_service
from ...drivers.compose import Compose
from ...drivers.handover.lock import SessionLock
from ...drivers.handover.record import RECORD, Record, process_alive, read_record, remove_record, state_dir
from ...drivers.process import Completed, kill_all, running, wait_gone
from ...drivers.process import family as process_family
from ...knowledge.failures import UserError
from ...knowledge.naming import background
from ...knowledge.queue_owners import and_aside, back_with_it, service_names

if TYPE_CHECKING:
    import psutil

#: Where a line goes: the session prints `[dev.worker] ...`, another command `note: ...`.
Tell = Callable[[str], None]


def note(message: str) -> None:
    print(f"note: {message}", flush=True)


def give_back(compose: Compose, record: Record | None = None) -> str | None:
    """Start the stopped worker again; None, or why it is not back and ready."""
    return give_back_all(compose, record)[0]


def give_back_all(compose: Compose, record: Record | None = None) -> tuple[str | None, dict[str, str]]:
    """Start the stopped worker again, and the services that stepped aside with it (``record.aside``),
    started while the worker gets ready. (None, or why the worker is not back and ready; {service: why
    it is not back} for those services)."""
    s = compose.settings
    result = _start_in_place(compose)
    if result is None or not result.ok:
        result = compose.run("start", s.service, capture=True)
    if not result.ok:
        result = compose.run(
            "up",
            "-d",
            s.service,
            capture=True,
            profiles=[s.profile],
            files=record.restore_files if record else None,
            extra_env=record.restore_env if record else None,
        )
    aside = record.aside_pending if record else []
    if not result.ok:
        return compose.diagnose(result), start_aside(compose, aside)
    problems = start_aside(compose, aside)
    # The queue served is the end of the wait: the next healthcheck tick (30 s by Docker's default)
    # is not awaited (a worker that crashes later is its restart policy's, as after any start).
    return worker_service.wait_ready(compose, consumer_ends=True), problems


def start_aside(compose: Compose, services: list[str]) -> dict[str, str]:
    """Start the services that stepped aside with the worker, as they were (`docker start` of their
    stopped containers, else `docker compose start`); {service: why it does not run} for any not back.
    Only their containers are started: they were running before the session and nothing else changed."""
    if not services:
        return {}
    try:
        containers = [ct for ct in compose.containers() if ct.service in services]
    except UserError as error:
        return dict.fromkeys(services, error.reason)
    stopped = [ct.name for ct in containers if not ct.running]
    why = ""
    if stopped:
        result = compose.gateway.docker("start", *stopped)
        if not result.ok:
            result = compose.run("start", *services, capture=True)
            why = "" if result.ok else compose.diagnose(result)
    try:
        now = [ct for ct in compose.containers() if ct.service in services]
    except UserError as error:
        return dict.fromkeys(services, error.reason)
    problems: dict[str, str] = {}
    for service in services:
        mine = [ct for ct in now if ct.service == service]
        if not mine:
            problems[service] = f"its container was removed during the session: `docker compose up -d {service}`"
        elif not any(ct.running for ct in mine):
            problems[service] = f"{why or 'it did not start'}: `docker compose start {service}`"
    return problems


def _start_in_place(compose: Compose) -> Completed | None:
    """`docker start` of the stopped worker container when everything it depends on already runs
    (healthy where it has a healthcheck); None when that cannot be known or is not so."""
    from ...drivers import stack_facts

    s = compose.settings
    try:
        service = stack_facts.load(compose).service(s.service)
        containers = compose.containers()
    except UserError:
        return None
    mine = [ct for ct in containers if ct.service == s.service]
    if service is None or len(mine) != 1:
        return None
    ready = {ct.service for ct in containers if ct.running and ct.health in ("", "healthy")}
    if not set(service.depends_on) <= ready:
        return None
    return compose.gateway.docker("start", mine[0].name)


def not_restored(service: str, problem: str) -> str:
    """The one line for a restore that left the worker down (the record is kept)."""
    return (
        f"could not restore the {background(service)} ({problem}); run `inv worker.up` when Docker is back "
        "(the next inv command also retries)"
    )


#: Asked after the start: None once the worker serves its queue, else what is missing (the guardian's check).
Confirm = Callable[[], "str | None"]


def restore(
    compose: Compose, record: Record, tell: Tell, *, was_restarting: bool = False, confirm: Confirm | None = None
) -> str | None:
    """Bring the background worker back as ``record`` says; the record is removed once the worker is
    back (and ``confirm`` says it serves). Returns None, or the `not_restored` line when it is not back
    (the record is then kept)."""
    service = compose.settings.service
    tell(f"restoring the {background(service)}{and_aside(record.aside_pending)} ...")
    aside: dict[str, str] = {}
    try:
        problem, aside = give_back_all(compose, record)
    except UserError as error:
        problem = error.reason
    if problem and not compose.ps_running(service):
        return not_restored(service, problem)
    if confirm is not None:
        missing = confirm()
        if missing:
            return f"the {background(service)} does not serve its queue yet ({missing})"
    remove_record(state_dir(compose))
    others = back_with_it(record.aside_pending, aside)
    if problem:
        was = " (it was restarting before this session)" if was_restarting else ""
        tell(f"warning: the {background(service)} is back but not ready{was}: {problem}{others}")
    else:
        prodlike = " (prod-like, with its plan)" if record.restore_files else ""
        tell(f"{background(service)} restored{prodlike}{others}")
    return None


def restore_aside(compose: Compose, record: Record, tell: Tell) -> None:
    """The worker stays down (`worker.down` during the session), but the services that stepped aside
    with it come back: they were running before the session, and nobody asked them down."""
    aside = record.aside_pending
    if not aside:
        return
    problems = start_aside(compose, aside)
    back = [s for s in aside if s not in problems]
    if back:
        tell(f"{service_names(back)} back (stepped aside with the {background(compose.settings.service)})")
    for service, why in problems.items():
        tell(f"warning: {service_names([service])} is not back ({why})")


def killed_session(record: Record, service: str, *, orphan: bool) -> str:
    """The one line about a session that died without cleaning up."""
    line = f"a dev.worker session (pid {record.pid}, since {record.since}) was killed"
    if orphan:
        line += "; stopped its leftover dev worker"
    if record.restore_pending:
        line += f"; it ended without restoring the {background(service)}{and_aside(record.aside_pending)}"
    elif record.aside_pending:
        line += f"; it ended without restoring {service_names(record.aside_pending)}"
    return line


def terminate_orphan(record: Record, timeout: float = 35.0, tell: Tell = note) -> bool:
    """Stop a dev worker left running by a killed session (it would compete for the queue).

    As the session would have: where it recorded the addresses its dev worker dials Redis at (POSIX),
    the processes connected there (its queue consumers, every fork) get SIGTERM first, once each, and
    are waited for up to ``timeout`` (the grace period and a margin: they finish their jobs); only then
    does what wraps them (npm, `tsx watch`, nodemon ...) get SIGTERM, so no watcher's force-kill reaches a
    job (`tasks/drivers/consumer_stop.py`). Without that, the whole family gets SIGTERM at once. What is
    still alive ``ORPHAN_WRAPPERS_S`` after that is killed.
    """
    import psutil

    if not process_alive(record.dev_pid, record.dev_started) or not record.dev_pid:
        return False
    if record.redis_addresses and os.name != "nt":
        _consumers_first(record.dev_pid, record.redis_addresses, timeout, tell)
        timeout = ORPHAN_WRAPPERS_S
    family = process_family(record.dev_pid)
    for proc in family:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    kill_all(wait_gone(family, timeout))  # a zombie is gone: an orphan's waits for init to reap it
    return True


#: After a leftover dev worker's consumers have ended, how long what wrapped them may take to end.
ORPHAN_WRAPPERS_S = 5.0


def _consumers_first(pid: int, addresses: list[list[str | int]], grace: float, tell: Tell) -> None:
    """SIGTERM to the leftover dev worker's queue consumers, once each (new ones too), until they have
    exited or ``grace`` has passed; the rest of the family is the caller's."""
    import signal

    from ...drivers import consumer_procs
    from ...drivers.consumer_stop import STOP_POLL_S, ConsumerStop

    targets = consumer_procs.targets((str(host), int(port)) for host, port in addresses)
    stop = ConsumerStop(pid, targets, grace=grace, say=tell, signal_group=lambda _signum: None)
    stop.begin(signal.SIGTERM)
    while stop.waiting:
        time.sleep(STOP_POLL_S)
        stop.advance()


def stop_process(record: Record) -> psutil.Process | None:
    """The killed session's command stopping the background worker, if it still runs: by the pid it
    recorded, else (killed between starting it and recording the pid) by the argv it recorded."""
    import psutil

    from ...knowledge.guardian_checks import matches_stop

    if record.stop_pid:
        if not process_alive(record.stop_pid, record.stop_started):
            return None
        try:
            return psutil.Process(record.stop_pid)
        except psutil.Error:
            return None
    if not record.stop_argv or record.stop_since is None:
        return None
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        try:
            if matches_stop(proc.info["cmdline"] or [], record.stop_argv, proc.info["create_time"], record.stop_since):
                return proc
        except (psutil.Error, TypeError):
            continue
    return None


def await_stop(record: Record, service: str, bound: float, tell: Tell) -> None:
    """Wait until the killed session's stop of the background worker has finished. Waited for, not
    ended: ending the `docker compose stop` client does not end the engine's stop (the engine still
    kills the container at the grace period), and a worker started before the stop ends is stopped by
    it. Only a stop running past ``bound`` (the grace period and a margin: the client hangs) is ended."""
    import psutil

    from ...knowledge.guardian_checks import stop_action

    proc = stop_process(record)
    if proc is None:
        return
    tell(
        f"the killed session's stop of the {background(service)} (pid {proc.pid}) is still running: waiting for it "
        "to finish (the worker finishes its current job), then restoring"
    )
    begin = time.monotonic()
    while True:
        action = stop_action(running(proc), time.monotonic() - begin, bound)
        if action == "done":
            tell(f"the killed session's stop of the {background(service)} has finished")
            return
        if action == "end":
            tell(f"the killed session's stop has run {bound:g} s: ending it (pid {proc.pid})")
            try:
                family = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                family = [proc]
            for member in family:
                try:
                    member.kill()
                except psutil.Error:
                    pass
            return
        time.sleep(0.02)


def adopt_legacy_record(compose: Compose) -> None:
    """A session of the version before per-worker folders kept its record in `<project>/`: a killed
    one's promise to restore the worker moves to the first worker's folder, so it is not lost. A
    session still running there (its lock held) is left alone. Called on recovery paths only."""
    s = compose.settings
    directory = state_dir(compose)
    project = directory.parent
    legacy = project / RECORD
    first_worker = not s.workers or s.workers[0].name == s.worker_name
    if not first_worker or not legacy.is_file() or (directory / RECORD).exists():
        return
    if SessionLock(project).held_by_someone():
        return
    directory.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(legacy, directory / RECORD)
    except OSError:
        pass


def stale_record(compose: Compose) -> Record | None:
    """The record of a session that ended without restoring, if any (None while one is running)."""
    directory = state_dir(compose)
    record = read_record(directory)
    if record is None or SessionLock(directory).held_by_someone():
        return None
    return record


def recover_stale(compose: Compose, confirm: Confirm | None = None) -> bool:
    """Restore the background worker after a dev.worker session that was killed (the explicit recovery
    path of worker.up, stack.up, prodlike.up and doctor, and the guardian's, which passes ``confirm``).
    A stop of the worker the dead session began is waited for first (`await_stop`). Returns True if
    it acted; raises one `error:` line when the worker could not be brought back (the record is kept)."""
    from ...knowledge.durations import parse_duration

    adopt_legacy_record(compose)
    record = stale_record(compose)
    if record is None:
        return False
    service = compose.settings.service
    orphan = terminate_orphan(record)
    note(killed_session(record, service, orphan=orphan))
    if record.restore_pending:
        grace = parse_duration(compose.env.get("WORKER_STOP_GRACE_PERIOD"), 30.0)
        await_stop(record, service, grace + 10, note)
        problem = restore(compose, record, note, confirm=confirm)
        if problem:
            raise UserError(problem)
    else:
        restore_aside(compose, record, note)
        remove_record(state_dir(compose))
    return True
