"""Shared test set-up: the project root on sys.path, so `import tasks` finds tasks.py (the package)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
