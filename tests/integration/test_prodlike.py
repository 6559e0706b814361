"""`inv prodlike.*` against a real engine, with caps small enough for this 2-CPU machine."""

from __future__ import annotations

import os
import subprocess

import pytest

from .stackenv import INV, ROOT, wait_for

pytestmark = pytest.mark.docker

SMALL = ("--cpus", "1", "--memory", "512m")


def inspect_caps(stack) -> tuple[int, int]:
    name = next(c for c in stack.compose("ps", "-q", "worker").stdout.split())
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def worker_log(stack) -> str:
    return stack.compose("logs", "--no-log-prefix", "worker").stdout


def test_up_applies_caps_heap_plan_and_verifies(stack):
    up = stack.inv("prodlike.up", *SMALL)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "--max-old-space-size=384 --max-semi-space-size=16" in up.stdout
    table = up.stdout[up.stdout.index("check") :]
    # 11 OK rows and one WARN: the cluster primary's own heap limit (the same NODE_OPTIONS) beside its worker's
    assert "FAIL" not in table and table.count("OK") == 11 and table.count("\nWARN ") == 1, table
    assert inspect_caps(stack) == (1_000_000_000, 512 * 1024 * 1024)
    log = wait_for(lambda: "[worker] ready" in worker_log(stack) and worker_log(stack), 30, what="worker ready")
    assert "[heap] heap_size_limit=432 MiB container_memory=512 MiB (cgroup) ratio=84.4%" in log
    assert "WARNING" not in log
    verify = stack.inv("prodlike.verify", *SMALL)
    assert verify.returncode == 0 and "FAIL" not in verify.stdout
    stack.produce("prod", 5)
    stack.wait_rows("prod", 5)
    stats = stack.inv("prodlike.stats", check=True)
    assert "MEM USAGE" in stats.stdout and "512MiB" in stats.stdout

    # Verify catches a plan the container does not match.
    mismatch = stack.inv("prodlike.verify", "--cpus", "1", "--memory", "1g")
    assert mismatch.returncode == 1 and "FAIL" in mismatch.stdout and "Traceback" not in mismatch.stderr

    down = stack.inv("prodlike.down")
    assert down.returncode == 0, down.stderr
    assert "worker: it goes back to the normal worker: stopping it (its consumers first)" in down.stdout, down.stdout
    assert stack.ps()["worker"] == "running"
    assert inspect_caps(stack) == (0, 0)
    env = stack.compose("exec", "-T", "worker", "printenv", "NODE_ENV").stdout.strip()
    assert env == "development"


def test_explicit_heap_that_breaks_the_ratio_warns_and_the_worker_agrees(stack):
    up = stack.inv("prodlike.up", *SMALL, "--heap-mb", "440")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "warning: heap limit 488 MiB" in up.stdout
    log = wait_for(lambda: "[worker] ready" in worker_log(stack) and worker_log(stack), 30, what="worker ready")
    assert "[heap] WARNING heap limit exceeds 85% of container memory" in log


@pytest.mark.parametrize(
    "flags, needle",
    [(("--cpus", "64", "--memory", "512m"), "--cpus"), (("--cpus", "1", "--memory", "4096g"), "--memory")],
)
def test_caps_beyond_the_engine_are_refused_before_compose(stack, flags, needle):
    info = subprocess.run(["docker", "info", "--format", "{{.NCPU}}"], capture_output=True, text=True).stdout.strip()
    result = stack.inv("prodlike.up", *flags)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert f"has {info} CPUs" in error and needle in error
    assert stack.ps() == {}


def test_stale_dist_is_refused_with_how_to_rebuild(stack, tmp_path):
    dist = tmp_path / "main.js"
    dist.write_text("// old build\n")
    os.utime(dist, (1, 1))
    result = stack.inv("prodlike.up", *SMALL, env={"INVOKE_APP_DIST_MAIN": str(dist)})
    assert result.returncode == 1
    assert "older than" in result.stderr and "--build" in result.stderr
    assert stack.ps() == {}


@pytest.fixture
def clean_checkout(tmp_path):
    """The committed files only (no dist), with this machine's node_modules linked in to skip `npm ci`."""
    target = tmp_path / "checkout"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        src, dst = ROOT / rel, target / rel
        if not src.is_file():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        dst.chmod(src.stat().st_mode)
    (target / "node_modules").symlink_to(ROOT / "node_modules")
    assert not (target / "dist").exists()
    return target


def test_clean_checkout_refuses_then_build_flag_builds_and_starts(stack, clean_checkout):
    image = f"devstack-worker:{stack.project}"
    stack.write_env(WORKER_IMAGE=image)

    def inv(*args):
        return subprocess.run(
            [*INV, *args],
            cwd=clean_checkout,
            env=stack.environ,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )

    try:
        refused = inv("prodlike.up", *SMALL)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        error = refused.stderr.strip().splitlines()[-1]
        assert "dist/apps/worker/main.js" in error and "missing" in error and "--build" in error
        assert stack.ps() == {}

        built = inv("prodlike.up", "--build", *SMALL)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        assert (clean_checkout / "dist/apps/worker/main.js").is_file()
        assert stack.ps()["worker"] == "running"
        assert "FAIL" not in built.stdout
    finally:
        stack.down()
        subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)


def test_plan_prints_the_readme_row_and_touches_nothing(stack):
    plan = stack.inv("prodlike.plan", "--memory", "8g", "--processes", "4", "--cpus", "2")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    # the README's 8g x 4 row, written out by hand
    assert "NODE_OPTIONS:      --max-old-space-size=1692 --max-semi-space-size=16" in plan.stdout
    assert "heap_size_limit:   1740 MiB per process" in plan.stdout
    assert "heap share:        85.0% of memory (limit 85%)" in plan.stdout
    assert "warning" not in plan.stdout + plan.stderr
    assert stack.ps() == {}  # a plan only: nothing was started


def test_plan_with_a_heap_ratio(stack):
    half = stack.inv("prodlike.plan", "--memory", "1g", "--cpus", "1", "--heap-ratio", "0.5", check=True)
    # 0.5 x 1024 MiB = 512 MiB of heap_size_limit: old space 512 - 3 x 16 = 464
    assert "NODE_OPTIONS:      --max-old-space-size=464 --max-semi-space-size=16" in half.stdout
    assert "heap share:        50.0% of memory (limit 50%)" in half.stdout
    bad = stack.inv("prodlike.plan", "--memory", "1g", "--heap-ratio", "1.5")
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: bad heap ratio 1.5: use a fraction such as 0.75 or 0.85"
    ), bad.stderr
    over = stack.inv("prodlike.plan", "--memory", "512m", "--cpus", "1", "--heap-mb", "480", check=True)
    assert "warning: heap limit 528 MiB x 1 process(es) is 103.1% of 512 MiB, above the 85% ratio" in over.stdout


def test_a_plain_prodlike_up_fits_the_seeds_caps_to_the_engine(stack):
    """No flag and nothing in .env: the seed's 3 CPUs / 13g where the engine has them, else its own, said."""
    info = subprocess.run(
        ["docker", "info", "--format", "{{.NCPU}} {{.MemTotal}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    engine_cpus, engine_memory = int(info[0]), int(info[1])
    up = stack.inv("prodlike.up")
    assert up.returncode == 0, up.stdout + up.stderr
    fitted = engine_cpus < 3
    assert (
        f"note: the default 3 CPUs are more than the Docker engine has: planning its {engine_cpus}" in up.stdout
    ) == fitted
    nano, memory = inspect_caps(stack)
    assert nano == min(engine_cpus, 3) * 1_000_000_000
    assert memory == (13 * 1024**3 if engine_memory >= 13 * 1024**3 else engine_memory // (1024 * 1024) * 1024 * 1024)
    assert "FAIL" not in up.stdout
    down = stack.inv("prodlike.down")
    assert down.returncode == 0, down.stderr
    assert "worker: it goes back to the normal worker: stopping it (its consumers first)" in down.stdout, down.stdout
