"""`inv -l` shows each task's first docstring line: a whole sentence that fits a 100-column terminal."""

from __future__ import annotations

import pytest
from invoke.program import Program
from invoke.util import helpline

from tasks import ns

WIDTH = 100
NAMES = sorted(ns.task_names)


def listed_width(line: str) -> int:
    """Columns `inv -l` needs for this line in one piece (Invoke's print_columns layout)."""
    name_width = max(len(name) for name in NAMES)
    return Program.leading_indent_width + name_width + Program.col_padding + len(line) + 1


@pytest.mark.parametrize("name", NAMES)
def test_the_listed_line_is_a_whole_short_sentence(name):
    doc = ns[name].__doc__ or ""
    line = helpline(ns[name])
    assert line, f"{name} has no docstring"
    paragraph = doc.strip().split("\n\n")[0]
    # The first paragraph is that one line: nothing of the sentence goes on below it.
    assert paragraph == line, f"{name}: the first sentence goes on after the line `inv -l` shows"
    assert line[0].isupper() and line.endswith(".") and not line.endswith(".."), f"{name}: {line!r}"
    assert listed_width(line) <= WIDTH, f"{name}: {len(line)} characters is too long for one line"


def test_the_list_itself(capsys):
    Program(namespace=ns, name="inv", binary="inv").run(["inv", "-l"], exit=False)
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"  {name} " in out
