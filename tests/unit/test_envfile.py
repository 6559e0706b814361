"""Reading .env like Compose and comparing it with .env.example (values never shown)."""

from pathlib import Path

import pytest
from invoke.exceptions import Exit

from tasks.knowledge import envfile


def test_parse_values_and_malformed_line_numbers():
    env = envfile.parse('A=1\n# comment\nB="multi\nline"\nthis is bad\nC=3\n  bad two\nD=\n')
    assert env.values == {"A": "1", "B": "multi\nline", "C": "3", "D": ""}
    assert env.malformed == [5, 7]


def test_load_missing_file_says_copy_the_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exit) as info:
        envfile.load(tmp_path / ".env", tmp_path / ".env.example")
    assert "copy .env.example to .env" in info.value.message


def test_load_malformed_file_names_lines_not_values(tmp_path):
    path = tmp_path / ".env"
    path.write_text("SECRET=hunter2\nnot valid\n")
    with pytest.raises(Exit) as info:
        envfile.load(path, tmp_path / ".env.example")
    assert "line 2" in info.value.message and "hunter2" not in info.value.message


def test_process_environment_wins_over_dotenv():
    env = envfile.EnvFile(Path(".env"), {"A": "file", "B": "file"})
    assert envfile.effective(env, {"A": "shell"}) == {"A": "shell", "B": "file"}


def test_compare_reports_missing_unknown_and_malformed():
    env = envfile.parse("A=1\nTYPO=2\noops\n")
    example = envfile.parse("A=\nB=\n")
    report = envfile.compare(env, example)
    assert (report.missing, report.unknown, report.malformed, report.ok) == (["B"], ["TYPO"], [3], False)
    assert envfile.compare(envfile.parse("A=1\nB=2\n"), example).ok


def test_the_shipped_example_parses_cleanly():
    example = envfile.read(Path(__file__).resolve().parents[2] / ".env.example")
    assert not example.malformed
    assert example.values["ENABLE_SCHEDULER"] == "true"


@pytest.mark.parametrize(
    "value, expected", [("true", True), ("1", True), ("On", True), ("false", False), ("", False), (None, False)]
)
def test_truthy(value, expected):
    assert envfile.truthy(value) is expected
