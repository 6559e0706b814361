"""The worker app's own unit tests (node's test runner), run as part of the one test command."""

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_node_unit_tests_pass():
    if not (ROOT / "node_modules").is_dir():
        pytest.fail("node_modules is missing: run `npm ci` first (the README's set-up does)")
    result = subprocess.run(
        ["npm", "test", "--workspace", "apps/worker"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = int(re.search(r"^# pass (\d+)$", output, re.M).group(1))
    failed = int(re.search(r"^# fail (\d+)$", output, re.M).group(1))
    assert failed == 0 and passed >= 40, output[-2000:]
