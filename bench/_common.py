"""Shared parts of the benchmarks: an isolated compose project (tests/integration/stackenv.py), its
clean-up, a time budget and small statistics. Not a benchmark itself.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.stackenv import IMAGE_VARS, Stack  # noqa: E402

#: The venv's `inv` console script (same as `.venv/bin/python -m invoke`).
INV = str(ROOT / ".venv" / "bin" / "inv")
SHARED_WORKER_IMAGE = "devstack-worker:local"


class BenchError(Exception):
    pass


class Budget:
    """A wall-clock limit for the whole run: every wait asks it how long it may still take."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def timeout(self, wanted: float) -> float:
        left = self.left()
        if left <= 0:
            raise BenchError(f"time budget of {self.seconds:.0f}s exhausted")
        return min(wanted, left)


# Measure as on a user's machine, where Python keeps its bytecode cache: some sandboxes set
# PYTHONDONTWRITEBYTECODE, which makes every `inv` call compile all of tasks/ again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def check_images() -> None:
    missing = [var for var in IMAGE_VARS if not os.environ.get(var)]
    if missing:
        print(
            f"note: {', '.join(missing)} not set; the compose defaults (registry images) will be used. "
            'Without a registry run first: eval "$(bash .ci/local-images 2>/dev/null)"',
            flush=True,
        )


def _raise_on_term(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def isolated_stack(prefix: str):
    """A Stack of its own (own env file, state dir, free ports, own worker image tag), always torn down.

    The worker image gets a per-run tag (a `docker tag` of the shared devstack-worker:local when it
    exists, so nothing is rebuilt): another session rebuilding the shared tag mid-run would otherwise
    make `up -d` recreate our container inside a timed call.
    """
    check_images()
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    project = f"{prefix}{uuid.uuid4().hex[:8]}"
    image = f"bench-worker-{project}:local"
    stack = Stack(tmp, project=project, extra={"WORKER_IMAGE": image})
    previous = signal.signal(signal.SIGTERM, _raise_on_term)
    try:
        if subprocess.run(["docker", "image", "inspect", SHARED_WORKER_IMAGE], capture_output=True).returncode == 0:
            subprocess.run(["docker", "tag", SHARED_WORKER_IMAGE, image], capture_output=True)
        yield stack
    finally:
        signal.signal(signal.SIGTERM, previous)
        print(f"\ncleaning up: docker compose --env-file {stack.env_file} --profile '*' down -v", flush=True)
        result = subprocess.run(
            [
                "docker",
                "compose",
                "--env-file",
                str(stack.env_file),
                "--profile",
                "*",
                "down",
                "-v",
                "--remove-orphans",
                "--timeout",
                "10",
            ],
            cwd=ROOT,
            env=stack.environ,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            print(f"warning: compose down exited {result.returncode}: {result.stderr.strip()[-500:]}", flush=True)
        # Only our own tag (built by compose or tagged above); the shared tag is never touched.
        subprocess.run(["docker", "image", "rm", image], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def run_checked(argv, *, env, cwd=ROOT, timeout=300, what=None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise BenchError(
            f"{what or ' '.join(map(str, argv))} exited {result.returncode}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "p90": percentile(values, 90),
        "max": max(values),
        "n": len(values),
    }


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(
        str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    )
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def run_main(main) -> None:
    """Exit with main()'s code; a failed or interrupted run says why in one line."""
    try:
        sys.exit(main())
    except (BenchError, subprocess.TimeoutExpired) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
