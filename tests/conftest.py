"""Shared test set-up: the project root on sys.path, so `import tasks` finds tasks.py (the package)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; fail under CI=true, where a missing tool must never hide tests."""
    import os

    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}: these tests must run in CI", pytrace=False)
    pytest.skip(reason)
