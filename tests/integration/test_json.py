"""`--json` through real `inv` (one document on stdout, parsed as a script would), and colour on a
real terminal against a pipe and NO_COLOR."""

from __future__ import annotations

import json
import sys

import pytest

from .stackenv import INV, ROOT, Stack
from .terminal import TerminalSession

ESC = "\x1b["


def document(result, command: str) -> dict:
    """stdout is exactly one JSON document of ``command``, whatever the exit code."""
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["command"] == command, doc
    assert doc["ok"] is (result.returncode == 0), (doc, result.returncode, result.stderr)
    assert ESC not in result.stdout + result.stderr
    return doc


@pytest.mark.docker
def test_worker_status_json_on_a_real_stack(stack):
    stack.inv("worker.up", check=True)
    running = document(stack.inv("worker.status", "--json", check=True), "worker.status")
    [worker] = running["workers"]
    assert worker["service"] == "worker" and worker["created"] is True and worker["dev_session"] is None
    assert worker["compose"] == {"restart_policy": "unless-stopped", "scheduler": True, "healthcheck": True}
    [container] = worker["containers"]
    assert container["state"] == "running" and container["running"] is True and container["exit_code"] is None
    assert container["health"] == "healthy" and container["mode"] == "normal"
    assert (container["restart_policy"], container["restart_policy_source"]) == ("unless-stopped", "container")
    assert (container["scheduler"], container["scheduler_source"]) == (True, "container")
    assert container["name"].startswith(stack.project) and container["uptime"]

    stack.inv("worker.down", check=True)
    stopped = document(stack.inv("worker.status", "--json", check=True), "worker.status")
    [container] = stopped["workers"][0]["containers"]
    assert container["state"] == "exited" and isinstance(container["exit_code"], int)
    assert container["uptime"] is None and container["health"] is None


@pytest.mark.docker
def test_doctor_json_exit_code_follows_its_checks(stack):
    result = stack.inv("doctor", "--json")
    doc = document(result, "doctor")
    assert {c["status"] for c in doc["checks"]} <= {"ok", "warn", "fail"}
    assert doc["ok"] is all(c["status"] != "fail" for c in doc["checks"])
    assert {"docker CLI", "docker engine", "compose", ".env"} <= {c["check"] for c in doc["checks"]}


def test_prodlike_plan_json_and_its_error_document(tmp_path):
    stack = Stack(tmp_path)
    plan = document(stack.inv("prodlike.plan", "--json", "--memory", "512m", "--cpus", "1.5"), "prodlike.plan")
    assert plan["plan"]["memory_bytes"] == 512 * 1024 * 1024 and plan["plan"]["cpus"] == 1.5
    assert plan["warnings"] == []
    bad = stack.inv("prodlike.plan", "--json", "--memory", "13gb")
    assert bad.returncode == 1
    error = document(bad, "prodlike.plan")["error"]
    assert "13gb" in error and bad.stderr.strip().splitlines()[-1] == f"error: {error}"


def test_env_check_json_mismatch_exits_1_with_the_findings(tmp_path):
    stack = Stack(tmp_path)
    lines = [line for line in (ROOT / ".env.example").read_text().splitlines() if not line.startswith("REDIS_HOST")]
    stack.env_file.write_text("\n".join([*lines, "REDIS_HOSTPORT=6380"]) + "\n")
    result = stack.inv("env.check", "--json")
    assert result.returncode == 1 and result.stderr.count("error:") == 1, result.stderr
    doc = document(result, "env.check")
    assert "REDIS_HOST_PORT" in doc["missing"] and doc["unknown"] == ["REDIS_HOSTPORT"]
    assert "6380" not in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX; the colour decision: unit tests")
def test_ok_is_coloured_on_a_terminal_only_without_no_color(tmp_path):
    stack = Stack(tmp_path)
    stack.env_file.write_text((ROOT / ".env.example").read_text())
    environ = {k: v for k, v in stack.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environ["TERM"] = "xterm"

    def on_terminal(extra: dict[str, str], name: str) -> str:
        session = TerminalSession([*INV, "env.check"], cwd=ROOT, env={**environ, **extra}, log=tmp_path / name)
        assert session.wait() == 0, session.output
        return session.output

    assert f"{ESC}32mOK{ESC}0m" in on_terminal({}, "tty.log")
    assert ESC not in on_terminal({"NO_COLOR": "1"}, "no-color.log")
    piped = stack.inv("env.check", env={"TERM": "xterm"})
    assert piped.returncode == 0 and "OK" in piped.stdout and ESC not in piped.stdout


@pytest.mark.docker
def test_a_readiness_wait_over_two_seconds_says_what_it_waits_for(stack, tmp_path):
    # Docker runs the first healthcheck one interval after the start: with 4 s the wait cannot be short.
    slow = tmp_path / "slow-healthcheck.yml"
    slow.write_text("services:\n  worker:\n    healthcheck:\n      interval: 4s\n")
    up = stack.inv("worker.up", env={"COMPOSE_FILE": f"{ROOT / 'docker-compose.yml'}:{slow}"}, check=True)
    waiting = [line for line in up.stderr.splitlines() if line.startswith("waiting for ")]
    # not a terminal: printed once when it shows, once when it ends; never on stdout
    assert len(waiting) == 2, up.stderr
    assert waiting[0].startswith("waiting for the worker container to become healthy (healthcheck every 4s) ... ")
    assert " ... ready after " in waiting[1] and "\r" not in up.stderr and "waiting for" not in up.stdout


@pytest.mark.docker
def test_prodlike_verify_json_same_exit_codes_as_the_table(stack):
    stack.inv("prodlike.up", "--cpus", "1", "--memory", "512m", check=True)
    doc = document(stack.inv("prodlike.verify", "--json", check=True), "prodlike.verify")
    assert (doc["mode"], doc["plan_source"]) == ("prodlike", "labels")
    assert doc["plan"]["memory_bytes"] == 512 * 1024 * 1024 and doc["plan"]["heap_limit_mib"] == 432
    assert doc["checks"] and all(row["ok"] for row in doc["checks"])
    # every row ok but one WARN: the cluster primary's own heap limit beside its worker's (ok: advice only)
    warned = [row["check"] for row in doc["checks"] if row["status"] == "warn"]
    assert warned == ["heap limits of every node process (forking ones too)"], doc["checks"]
    assert {row["status"] for row in doc["checks"]} == {"ok", "warn"}
    text = stack.inv("prodlike.verify", check=True).stdout
    assert text.count("\nOK ") + text.count("\nWARN ") == len(doc["checks"])  # one table row per check

    mismatch = stack.inv("prodlike.verify", "--json", "--cpus", "1", "--memory", "1g")
    assert mismatch.returncode == 1 and mismatch.stderr.strip().splitlines()[-1].startswith("error: ")
    doc = document(mismatch, "prodlike.verify")
    assert doc["plan_source"] == "flags"
    assert {row["check"] for row in doc["checks"] if not row["ok"]} >= {"engine memory"}
