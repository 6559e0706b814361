"""When OK/WARN/FAIL are coloured: a terminal, never with NO_COLOR or when piped (FORCE_COLOR aside)."""

from __future__ import annotations

import io

import pytest

from tasks.drivers import progress
from tasks.knowledge import prod_verify
from tasks.knowledge.checks import Check, check_line
from tasks.knowledge.colour import FAIL, OK, WARN, label, paint, wants_colour
from tasks.knowledge.prodlike_plan import make_plan

ESC = "\x1b["


@pytest.mark.parametrize(
    ("environ", "isatty", "expected"),
    [
        ({}, True, True),  # a terminal
        ({}, False, False),  # a pipe or a file
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": "anything"}, True, False),
        ({"NO_COLOR": ""}, True, True),  # no-color.org: an empty value is as if unset
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": ""}, False, True),
        ({"FORCE_COLOR": "0"}, True, False),
        ({"FORCE_COLOR": "false"}, True, False),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),  # NO_COLOR wins
        ({"TERM": "dumb"}, True, False),
        ({"TERM": "xterm-256color"}, True, True),
    ],
)
def test_colour_decision(environ, isatty, expected):
    assert wants_colour(environ, isatty) is expected


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_colour_for_reads_the_stream_and_the_environment(monkeypatch):
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    assert progress.colour_for(FakeStream(True)) is True
    assert progress.colour_for(FakeStream(False)) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert progress.colour_for(FakeStream(True)) is False
    closed = io.StringIO()
    closed.close()
    assert progress.is_terminal(closed) is False


def test_labels_keep_their_width_with_or_without_colour():
    assert label(OK, colour=False, width=4) == "OK  "
    assert label(WARN, colour=False) == "WARN"
    coloured = label(OK, colour=True, width=4)
    assert coloured.startswith(f"{ESC}32mOK{ESC}0m") and coloured.endswith("  ")
    assert label(FAIL, colour=True) == f"{ESC}1;31mFAIL{ESC}0m"
    assert paint("", OK, colour=True) == ""
    plain = check_line(Check.of(False, ".env", "missing"))
    assert (
        check_line(Check.of(False, ".env", "missing"), colour=True).replace(f"{ESC}1;31m", "").replace(f"{ESC}0m", "")
        == plain
    )


def test_verify_table_coloured_only_when_asked():
    plan = make_plan({}, cpus="1", memory="512m")
    table = prod_verify.rows(plan, 10**9, 0, {})
    plain = prod_verify.render(table)
    assert ESC not in plain and "FAIL" in plain and "\nOK   engine CPUs" in plain
    coloured = prod_verify.render(table, colour=True)
    assert f"{ESC}1;31mFAIL{ESC}0m" in coloured and f"{ESC}32mOK{ESC}0m" in coloured
    assert coloured.replace(f"{ESC}1;31m", "").replace(f"{ESC}32m", "").replace(f"{ESC}0m", "") == plain
