"""What Invoke's shell completion offers for this collection (the README's completion section says so).

The scripts `inv --print-completion-script bash|zsh|fish` prints call `invoke --complete -- <words>`;
these tests ask the same question in-process.
"""

from __future__ import annotations

import pytest
from invoke.program import Program

from tasks import ns


def complete(*words: str, capsys) -> list[str]:
    with pytest.raises(SystemExit):
        Program(namespace=ns, name="inv", binary="inv").run(["inv", "--complete", "--", "inv", *words])
    return capsys.readouterr().out.split()


def test_task_names_are_completed_also_after_a_task(capsys):
    assert set(complete(capsys=capsys)) == set(ns.task_names)
    # after a task: the next task (worker names are not offered: Invoke completes tasks and flags only)
    assert set(complete("worker.up", capsys=capsys)) == set(ns.task_names)


def test_a_tasks_flags_are_completed(capsys):
    assert sorted(complete("worker.up", "--", capsys=capsys)) == ["--build", "--name", "--recreate"]
    assert sorted(complete("dev.worker", "--", capsys=capsys)) == [
        "--allow-sharing",
        "--name",
        "--no-scheduler",
        "--scheduler",
    ]


def test_the_completion_scripts_exist(capsys):
    for shell in ("bash", "zsh", "fish"):
        Program(namespace=ns, name="inv", binary="inv").run(["inv", "--print-completion-script", shell], exit=False)
        assert "--complete" in capsys.readouterr().out, shell
