"""A YAML error in invoke.yaml is one `error:` line with the file, line and column (no traceback).

The one-line text is checked on errors raised by the YAML parser Invoke itself uses (its vendored copy),
and the hook end to end: a real `inv` run on a project whose invoke.yaml has an unquoted `!NAME`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.vendor import yaml

from tasks.knowledge.config_errors import yaml_error_line

ROOT = Path(__file__).resolve().parents[2]


def error_of(text: str) -> BaseException:
    with pytest.raises(yaml.YAMLError) as raised:
        yaml.load(text, Loader=yaml.SafeLoader)
    return raised.value


def test_an_unquoted_tag_names_the_line_column_and_the_quoting():
    line = yaml_error_line(error_of("dev:\n  url_vars:\n    - !MAIL_TRANSPORT\n"))
    assert line is not None and line.startswith("error: <unicode string>, line 3, column 7: ")
    assert "could not determine a constructor for the tag '!MAIL_TRANSPORT'" in line
    assert '"!NAME"' in line and "\n" not in line


def test_a_broken_flow_list_is_one_line_too():
    line = yaml_error_line(error_of("dev:\n  url_vars: [A, B\n"))
    assert line is not None and line.startswith("error: <unicode string>, line 3, column 1: ") and "\n" not in line


def test_other_errors_are_left_to_the_usual_traceback():
    assert yaml_error_line(ValueError("no")) is None
    assert yaml_error_line(KeyError("dev")) is None


def test_inv_prints_one_error_line_for_a_broken_invoke_yaml(tmp_path):
    shutil.copy(ROOT / "tasks.py", tmp_path / "tasks.py")
    shutil.copytree(ROOT / "tasks", tmp_path / "tasks", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "invoke.yaml").write_text("dev:\n  url_vars:\n    - !MAIL_TRANSPORT\n")
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {tmp_path / 'invoke.yaml'}, line 3, column 7: "), lines[0]
