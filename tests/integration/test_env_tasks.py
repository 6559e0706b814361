"""`inv env.init` and `inv env.check` on real files (Compose resolves the scheduler check; no engine needed)."""

from __future__ import annotations

import subprocess

from .stackenv import INV, ROOT, Stack


def run(stack: Stack, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*INV, *args],
        cwd=ROOT,
        env={**stack.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_init_creates_from_example_and_never_overwrites(tmp_path):
    stack = Stack(tmp_path)
    stack.env_file.unlink()
    created = run(stack, "env.init")
    assert created.returncode == 0 and "created" in created.stdout
    assert stack.env_file.read_text() == (ROOT / ".env.example").read_text()
    stack.env_file.write_text("MINE=1\n")
    again = run(stack, "env.init")
    assert again.returncode == 0 and "already exists" in again.stdout
    assert stack.env_file.read_text() == "MINE=1\n"


def test_check_passes_on_a_copy_of_the_example(tmp_path):
    stack = Stack(tmp_path)
    stack.env_file.write_text((ROOT / ".env.example").read_text())
    result = run(stack, "env.check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout and "warning" not in result.stdout


def test_check_reports_missing_unknown_malformed_without_values(tmp_path):
    stack = Stack(tmp_path)
    lines = [
        line for line in (ROOT / ".env.example").read_text().splitlines() if not line.startswith("REDIS_HOST_PORT=")
    ]
    lines += ["REDIS_HOSTPORT=6380", "POSTGRES_PASSWORD too-secret-to-print"]
    stack.env_file.write_text("\n".join(lines) + "\n")
    result = run(stack, "env.check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    out = result.stdout
    assert "missing: REDIS_HOST_PORT" in out
    assert "unknown: REDIS_HOSTPORT" in out
    assert f"{stack.env_file.name}:{len(lines)}: malformed line" in out
    assert "too-secret-to-print" not in out + result.stderr and "6380" not in out


def test_check_warns_when_a_scaled_worker_runs_the_scheduler(tmp_path):
    stack = Stack(tmp_path)
    stack.env_file.write_text((ROOT / ".env.example").read_text())
    scaled = tmp_path / "scaled.yml"
    scaled.write_text("services:\n  worker:\n    deploy:\n      replicas: 2\n")
    result = run(stack, "env.check", env={"COMPOSE_FILE": f"{ROOT / 'docker-compose.yml'}:{scaled}"})
    assert "warning: service 'worker' runs 2 replicas with ENABLE_SCHEDULER on" in result.stdout, (
        result.stdout + result.stderr
    )
