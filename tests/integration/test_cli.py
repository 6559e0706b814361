"""The command line as a person types it: real `inv` processes (tasks/cli_args.py's wraps of Invoke's parser).

The help tests need no engine; chaining tasks runs them on a stack of their own.
"""

from __future__ import annotations

import subprocess

import pytest

from .stackenv import INV, ROOT


def inv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*INV, *args], cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize(
    "argv",
    [
        ("worker.up", "-h"),
        ("worker.status", "--help"),
        ("-h", "worker.logs"),
        ("dev.worker", "--help"),
        ("worker.down", "email", "--help"),
    ],
)
def test_help_after_a_task_prints_its_help_and_how_to_name_a_worker(argv):
    result = inv(*argv)
    task = next(a for a in argv if "." in a)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: inv[oke] [--core-opts] {task} [--options]")
    text = " ".join(result.stdout.split())
    assert "-n STRING, --name=STRING" in text
    assert "as a word after the task" in text and "`-n NAME` / `--name NAME`" in text
    assert "no worker named" not in result.stderr


def test_an_unknown_flag_after_a_task_is_invokes_error():
    result = inv("worker.status", "--nope")
    assert result.returncode == 1 and "No idea what '--nope' is!" in result.stderr


@pytest.mark.docker
def test_worker_up_then_worker_status_in_one_call(stack):
    result = stack.inv("worker.up", "worker.status", check=True)
    assert stack.ps()["worker"] == "running"
    assert "worker: running" in result.stdout and "no worker named" not in result.stderr


@pytest.mark.docker
def test_worker_status_then_env_check_in_one_call(stack):
    result = stack.inv("worker.status", "env.check")
    assert "no worker named" not in result.stderr, result.stderr
    assert "worker: not created" in result.stdout
    alone = stack.inv("env.check")
    assert result.returncode == alone.returncode and alone.stdout in result.stdout


@pytest.mark.docker
def test_a_named_worker_bare_and_as_a_flag(stack):
    stack.inv("worker.up", "worker", check=True)
    assert stack.ps()["worker"] == "running"
    down = stack.inv("worker.down", "-n", "worker", "worker.status", "--name", "worker", check=True)
    assert "worker: exited" in down.stdout
    unknown = stack.inv("worker.status", "mailer")
    assert unknown.returncode == 1 and "no worker named 'mailer'" in unknown.stderr
