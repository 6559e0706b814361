"""The worker app's own unit tests (node's test runner), run as part of the one test command."""

import re
import shutil
import subprocess

from tests.conftest import ROOT, skip_or_fail


def _count(name: str, output: str) -> int:
    found = re.search(rf"^# {name} (\d+)$", output, re.M)
    assert found, f"node's test runner printed no `# {name}` line:\n{output[-2000:]}"
    return int(found.group(1))


def test_node_unit_tests_pass():
    if shutil.which("npm") is None:
        skip_or_fail("npm is not installed")
    if not (ROOT / "node_modules").is_dir():
        skip_or_fail("node_modules is missing: run `npm ci` first (the README's set-up does)")
    result = subprocess.run(
        ["npm", "test", "--workspace", "apps/worker"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    tests = _count("tests", output)
    # every test the runner found passed: none failed, was cancelled, skipped or left as todo
    assert tests > 0, output[-2000:]
    assert _count("pass", output) == tests, output[-4000:]
    for name in ("fail", "cancelled", "skipped", "todo"):
        assert _count(name, output) == 0, (name, output[-4000:])
