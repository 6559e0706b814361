"""Bad input and a broken environment: one clear line, non-zero exit, no traceback."""

from __future__ import annotations

import os
import stat

import pytest

pytestmark = pytest.mark.docker


def one_line_error(result, *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no error line"
    error = lines[-1]
    assert error.startswith("error: "), result.stderr
    for needle in needles:
        assert needle in error, error
    return error


def test_docker_host_pointing_at_a_dead_socket(stack, tmp_path):
    dead = {"DOCKER_HOST": f"unix://{tmp_path}/dead.sock"}
    for task in ("worker.status", "worker.up", "worker.down"):
        one_line_error(stack.inv(task, env=dead), "Docker daemon is not reachable")


def test_docker_cli_missing(stack, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = stack.inv("worker.status", env={"PATH": str(empty)})
    one_line_error(result, "Docker CLI")


def stub(tmp_path, name: str, script: str):
    """An executable shell stub: a stand-in for a program version that cannot be installed here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / name
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_compose_missing(stack, tmp_path):
    """A `docker` whose compose plugin is absent (a stub stands in for such a CLI: the real one has it)."""
    fake = stub(tmp_path, "docker", "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1")
    result = stack.inv("worker.status", env={"PATH": f"{fake.parent}{os.pathsep}/usr/bin:/bin"})
    one_line_error(result, "Docker Compose was not found")


def test_compose_too_old(stack, tmp_path):
    """Compose 2.10 (a stub answering `version --short` like it would: no old Compose can be installed here)."""
    fake = stub(tmp_path, "docker-compose-old", "echo v2.10.2")
    result = stack.inv("worker.status", env={"INVOKE_COMPOSE_COMMAND": str(fake)})
    one_line_error(result, "2.10.2 is too old", "2.20.0")


def test_unknown_service(stack):
    result = stack.inv("worker.up", env={"INVOKE_WORKER_SERVICE": "wrker"})
    one_line_error(result, "'wrker'")
    assert stack.ps() == {}


def test_missing_env_file_says_copy_the_example(stack, tmp_path):
    result = stack.inv("worker.status", env={"INVOKE_COMPOSE_ENV_FILE": str(tmp_path / "absent.env")})
    one_line_error(result, "copy .env.example")


def test_malformed_env_file_names_the_line(stack):
    stack.env_file.write_text(stack.env_file.read_text() + "this line is wrong\n")
    result = stack.inv("worker.status")
    error = one_line_error(result, "malformed", "line")
    lines = stack.env_file.read_text().splitlines()
    assert f"line {len(lines)}" in error


def test_bad_size_for_prodlike(stack):
    one_line_error(stack.inv("prodlike.plan", "--memory", "13gb"), "13gb")
    one_line_error(stack.inv("prodlike.plan", "--cpus", "lots"), "lots")
