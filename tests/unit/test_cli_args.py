"""The command line of tasks with an optional worker name, through Invoke's own Parser and Program.

tasks/cli_args.py wraps two methods of Invoke's private parse machine; each behaviour it promises is
pinned here, so an Invoke release that changes the parser fails these tests rather than a user's call.
"""

from __future__ import annotations

import pytest
from invoke.collection import Collection
from invoke.exceptions import ParseError
from invoke.parser import Parser
from invoke.program import Program
from invoke.tasks import task

from tasks import ns
from tasks.cli_args import optional_positional


def parse(argv: list[str], collection: Collection = ns) -> tuple[dict, dict]:
    """(task -> its arguments, core flags given) for a command line after `inv`, as `inv` parses it.

    Program parses the core flags first and hands the rest, unparsed, to a parser of the tasks whose
    initial context is its core one (where `-h` after a task is recognised).
    """
    program = Program(namespace=collection)
    core = Parser(initial=program.initial_context, ignore_unknown=True).parse_argv(argv)
    tasks = Parser(initial=program.initial_context, contexts=collection.to_contexts()).parse_argv(core.unparsed)
    core_args = {k: a.value for k, a in core[0].args.items()}
    core_args.update({k: a.value for k, a in tasks[0].args.items() if a.got_value})
    return {ctx.name: {k: a.value for k, a in ctx.args.items()} for ctx in tasks[1:]}, core_args


def tasks_of(argv: list[str]) -> dict:
    return parse(argv)[0]


def test_the_name_may_be_left_out_and_then_means_every_worker():
    assert tasks_of(["worker.up"]) == {"worker.up": {"name": "", "build": False, "recreate": False}}
    assert tasks_of(["dev.worker"]) == {"dev.worker": {"name": "", "scheduler": True, "allow-sharing": False}}


def test_a_bare_word_after_the_task_names_the_worker_before_or_after_its_flags():
    assert tasks_of(["worker.up", "email"]) == {"worker.up": {"name": "email", "build": False, "recreate": False}}
    assert tasks_of(["worker.up", "--build", "sync"]) == {
        "worker.up": {"name": "sync", "build": True, "recreate": False}
    }
    assert tasks_of(["worker.up", "sync", "-b"]) == {"worker.up": {"name": "sync", "build": True, "recreate": False}}
    assert tasks_of(["dev.worker", "sync", "--no-scheduler"]) == {
        "dev.worker": {"name": "sync", "scheduler": False, "allow-sharing": False}
    }


def test_a_flag_value_is_the_flags_even_when_it_looks_like_a_task_or_a_flag():
    assert tasks_of(["worker.logs", "--tail", "5", "email"])["worker.logs"] == {
        "name": "email",
        "follow": False,
        "tail": "5",
        "since": None,
    }
    assert tasks_of(["worker.logs", "--since", "env.check"])["worker.logs"]["since"] == "env.check"
    assert tasks_of(["worker.status", "--name", "doctor"]) == {"worker.status": {"name": "doctor", "json": False}}
    parsed, core = parse(["worker.up", "--hide", "both", "email"])
    assert core["hide"] == "both" and parsed["worker.up"]["name"] == "email"


def test_invokes_own_flag_forms_name_the_worker():
    for argv in (["--name", "email"], ["--name=email"], ["-n", "email"], ["-nemail"]):
        assert tasks_of(["worker.status", *argv]) == {"worker.status": {"name": "email", "json": False}}, argv


def test_a_task_name_after_a_task_is_the_next_task_not_a_worker():
    assert tasks_of(["worker.up", "worker.status"]) == {
        "worker.up": {"name": "", "build": False, "recreate": False},
        "worker.status": {"name": "", "json": False},
    }
    assert tasks_of(["worker.status", "env.check"]) == {
        "worker.status": {"name": "", "json": False},
        "env.check": {"json": False},
    }
    assert tasks_of(["worker.down", "email", "worker.status", "sync"]) == {
        "worker.down": {"name": "email", "rm": False},
        "worker.status": {"name": "sync", "json": False},
    }
    assert list(tasks_of(["worker.up", "--build", "doctor"])) == ["worker.up", "doctor"]


def test_the_order_of_the_tasks_is_kept():
    assert list(tasks_of(["env.check", "worker.up", "email", "worker.status", "doctor"])) == [
        "env.check",
        "worker.up",
        "worker.status",
        "doctor",
    ]


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize(
    "name", ["worker.up", "worker.down", "worker.logs", "worker.restart", "worker.status", "dev.worker"]
)
def test_help_after_a_task_asks_for_its_help(flag, name):
    parsed, core = parse([name, flag])
    assert core["help"] == name and parsed[name]["name"] == ""


def test_help_before_the_task_too():
    assert parse(["-h", "worker.up"])[1]["help"] == "worker.up"


def test_a_core_flag_between_the_task_and_its_worker_leaves_the_name_free():
    parsed, core = parse(["worker.up", "--echo", "email"])
    assert core["echo"] is True and parsed == {"worker.up": {"name": "email", "build": False, "recreate": False}}


def test_an_unknown_flag_is_invokes_parse_error_not_a_worker_name():
    with pytest.raises(ParseError, match="No idea what '-x' is"):
        parse(["worker.up", "-x"])
    with pytest.raises(ParseError, match="No idea what 'sync' is"):
        parse(["worker.up", "email", "sync"])


def test_every_task_with_a_worker_name_takes_it_optionally():
    with_name = [str(c.name) for c in ns.to_contexts() if "name" in c.args]
    assert set(with_name) >= {"worker.up", "worker.status", "dev.worker"}
    for task_name in with_name:
        assert tasks_of([task_name])[task_name]["name"] == "", task_name


def run_program(argv: list[str], collection: Collection, capsys) -> tuple[int, str, str]:
    code = 0
    try:
        Program(namespace=collection, name="inv", binary="inv").run(["inv", *argv])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


calls: list[tuple[str, str]] = []


@task(positional=["name"])
def first(c, name=None):
    calls.append(("first", name))


@task(positional=["name"])
def second(c, name=None):
    calls.append(("second", name))


@task
def plain(c):
    calls.append(("plain", ""))


@pytest.mark.parametrize("argv", [["demo.first", "-h"], ["demo.first", "--help"], ["-h", "demo.first"]])
def test_inv_prints_the_tasks_help(argv, capsys):
    @task(positional=["name"], help={"name": "The worker."})
    def first(c, name=None):
        calls.append(("first", name))

    optional_positional("demo.first")
    calls.clear()
    code, out, err = run_program(argv, Collection(Collection("demo", first)), capsys)
    assert (code, err, calls) == (0, "", [])
    assert out.startswith("Usage: inv [--core-opts] demo.first [--options] [other tasks here ...]")
    assert "-n STRING, --name=STRING   The worker." in out


def test_several_tasks_in_one_call_run_in_turn(capsys):
    demo = Collection("demo", first, second, plain)
    optional_positional("demo.first")
    optional_positional("demo.second")
    root = Collection(demo)
    calls.clear()
    assert (
        run_program(["demo.first", "demo.plain", "demo.second", "email", "demo.first", "-n", "x"], root, capsys)[0] == 0
    )
    assert calls == [("first", ""), ("plain", ""), ("second", "email"), ("first", "x")]


def test_a_positional_not_registered_stays_required(capsys):
    @task(positional=["name"])
    def strict(c, name=None):
        calls.append(("strict", name))

    code, _, err = run_program(["strict"], Collection(strict), capsys)
    assert code == 1 and "did not receive required positional arguments: 'name'" in err


def test_every_prodlike_task_takes_the_worker_as_a_word():
    for name in ("plan", "up", "verify", "stats", "load", "down"):
        assert tasks_of([f"prodlike.{name}", "email"])[f"prodlike.{name}"]["name"] == "email", name
    assert tasks_of(["prodlike.plan", "email", "--memory", "512m"])["prodlike.plan"]["memory"] == "512m"
    assert tasks_of(["prodlike.plan"])["prodlike.plan"]["name"] == ""
