"""The `--json` documents: key sets and types from real Docker/Compose output, the text form drawn
from the same facts, every key documented in docs/json.md, and stdout holding only the document."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.drivers import json_out
from tasks.knowledge import envfile, json_doc, prod_verify, status_view
from tasks.knowledge.checks import Check, check_facts, check_line
from tasks.knowledge.compose_cli import parse_docker_ps
from tasks.knowledge.failures import UserError
from tasks.knowledge.prodlike_labels import labels as plan_labels
from tasks.knowledge.prodlike_plan import make_plan
from tasks.knowledge.stack_config import parse_config, parse_inspect

DATA = Path(__file__).parent / "data"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "json.md"

CONTAINER_KEYS = {
    "name": str,
    "state": str,
    "running": bool,
    "exit_code": (int, type(None)),
    "status": str,
    "uptime": (str, type(None)),
    "health": (str, type(None)),
    "healthcheck": (bool, type(None)),
    "mode": str,
    "mode_description": str,
    "restart_policy": (str, type(None)),
    "restart_policy_source": (str, type(None)),
    "scheduler": (bool, type(None)),
    "scheduler_source": (str, type(None)),
}
PLAN_KEYS = {
    "cpus": float,
    "memory_bytes": int,
    "processes": int,
    "node_options": str,
    "old_space_mib": int,
    "semi_space_mib": int,
    "heap_limit_mib": int,
    "heap_share": float,
    "heap_ratio": float,
    "within_ratio": bool,
    "explicit_heap": bool,
    "node_env": str,
}


def typed(obj: dict, keys: dict) -> None:
    assert set(obj) == set(keys), set(obj) ^ set(keys)
    for key, kind in keys.items():
        assert isinstance(obj[key], kind), (key, obj[key])


def ours():
    return parse_config(json.loads((DATA / "compose/ours.v5.6.1.json").read_text())).service("worker")


def status_case(case: str) -> dict:
    containers = parse_docker_ps((DATA / f"status/{case}.ps.json").read_text())
    inspected = parse_inspect((DATA / f"status/{case}.inspect.json").read_text())
    return status_view.facts("worker", containers, config=ours(), inspected=inspected)


def roundtrip(doc: dict) -> dict:
    return json.loads(json_doc.dumps(doc))


def test_status_running_from_real_docker_output():
    view = status_case("running")
    assert set(view) == {"service", "created", "compose", "containers"} and view["created"] is True
    # (ours.v5.6.1.json was captured before the worker had a healthcheck)
    assert view["compose"] == {"restart_policy": "unless-stopped", "scheduler": True, "healthcheck": False}
    [ct] = view["containers"]
    typed(ct, CONTAINER_KEYS)
    assert ct["name"] == "statusdata-worker-1" and ct["state"] == "running" and ct["exit_code"] is None
    assert ct["health"] == "healthy" and ct["uptime"] and ct["mode"] == "normal"
    assert (ct["restart_policy"], ct["restart_policy_source"]) == ("unless-stopped", "container")
    assert (ct["scheduler"], ct["scheduler_source"]) == (True, "container")


def test_status_exited_and_prodlike_from_real_docker_output():
    [exited] = status_case("exited")["containers"]
    typed(exited, CONTAINER_KEYS)
    assert exited["state"] == "exited" and exited["exit_code"] == 0 and exited["running"] is False
    assert exited["uptime"] is None and exited["health"] is None
    [prod] = status_case("prodlike")["containers"]
    typed(prod, CONTAINER_KEYS)
    assert prod["mode"] == "prodlike" and prod["mode_description"] == "prodlike (1 CPU, 512 MiB, heap 432 MiB)"


def test_status_without_compose_files_or_docker_inspect_says_where_values_come_from():
    containers = parse_docker_ps((DATA / "status/running.ps.json").read_text())
    [ct] = status_view.facts("worker", containers)["containers"]
    # neither inspect nor compose files: the repository's own labels are the last resort
    assert ct["restart_policy_source"] == "label" and ct["healthcheck"] is None
    bare = [dataclasses.replace(containers[0], labels={})]
    [unknown] = status_view.facts("worker", bare)["containers"]
    assert unknown["restart_policy"] is None and unknown["scheduler"] is None and unknown["scheduler_source"] is None
    assert "restart policy: unknown" in status_view.render("worker", bare)
    absent = status_view.facts("worker", [], config=ours())
    assert absent["created"] is False and absent["containers"] == []


def test_status_text_is_drawn_from_the_facts():
    view = status_case("running")
    entry = status_view.worker_facts("worker", view, ["compose files unreadable"], "dev worker: running (pid 7)")
    assert entry["dev_session"] == "running (pid 7)" and entry["notes"] == ["compose files unreadable"]
    text = status_view.render_worker(entry)
    lines = text.splitlines()
    assert lines[0] == "note: compose files unreadable" and lines[-1] == "dev worker: running (pid 7)"
    assert "\n".join(lines[1:-2]) == status_view.render_facts(view)
    assert lines[-2] == "  queues:         unknown"  # no Redis read here (queues None)
    assert "  health:         healthy" in lines and "  restart policy: unless-stopped" in lines
    doc = roundtrip(json_doc.document("worker.status", True, {"workers": [entry]}))
    assert list(doc)[:3] == ["schema_version", "command", "ok"] and doc["workers"] == [entry]


def test_plan_shape_and_types():
    plan = make_plan({}, cpus="1", memory="512m")
    typed(roundtrip(json_doc.plan_facts(plan)), PLAN_KEYS)
    facts = json_doc.plan_facts(plan)
    assert facts["heap_limit_mib"] == 432 and facts["memory_bytes"] == 512 * 2**20 and facts["within_ratio"]
    over = make_plan({}, memory="512m", heap_mb="600")
    assert json_doc.plan_facts(over)["explicit_heap"] is True and over.warnings()


def test_verify_shape_from_a_probe():
    plan = make_plan({}, cpus="1", memory="512m")
    probe = {
        "cgroup_version": 1,
        "cpu_quota_us": 100000,
        "cpu_period_us": 100000,
        "memory_limit_bytes": 512 * 2**20,
        "heap_size_limit_mib": 432,
        "node_env": "production",
        "cluster": {"workers": [{"index": 0, "pid": 9, "heap_size_limit_mib": 432, "scheduler": True}]},
    }
    table = prod_verify.rows(plan, 10**9, 512 * 2**20, probe)
    facts = roundtrip(json_doc.verify_facts("prodlike", "labels", "recorded", plan, table))
    assert set(facts) == {"mode", "plan_source", "plan_source_text", "plan", "checks"}
    typed(facts["plan"], PLAN_KEYS)
    assert len(facts["checks"]) == len(table)
    for row in facts["checks"]:
        typed(row, {"check": str, "planned": str, "actual": str, "ok": bool, "status": str})
        assert row["status"] == ("ok" if row["ok"] else "fail")
    assert all(row["ok"] for row in facts["checks"])


def test_env_check_shape_and_text_never_show_values():
    env = envfile.parse("A=1\nSECRET=hunter2\nbroken line\nTYPO=x\n", Path(".env"))
    example = envfile.parse("A=\nSECRET=\nB=\n", Path(".env.example"))
    report = envfile.compare(env, example)
    facts = roundtrip(json_doc.env_check_facts(".env", ".env.example", 3, report, ["two schedulers"], []))
    typed(
        facts,
        {
            "env_file": str,
            "example_file": str,
            "keys": int,
            "missing": list,
            "unknown": list,
            "malformed_lines": list,
            "warnings": list,
            "notes": list,
        },
    )
    assert facts["missing"] == ["B"] and facts["unknown"] == ["TYPO"] and facts["malformed_lines"] == [3]
    text = "\n".join(json_doc.env_check_lines(facts))
    assert "hunter2" not in json.dumps(facts) + text
    assert text.splitlines() == [
        ".env:3: malformed line (expected KEY=value)",
        "missing: B (documented in .env.example)",
        "unknown: TYPO (not in .env.example; a typo?)",
        "warning: two schedulers",
    ]
    assert json_doc.env_ok_line(facts) == ".env: OK (3 keys)"


def test_doctor_checks_text_and_json():
    warn = Check.of(True, "worker", "add a profile", warn=True)
    assert check_line(Check.of(True, "docker CLI", "/usr/bin/docker")) == "OK   docker CLI     /usr/bin/docker"
    assert check_line(Check.of(False, ".env", "missing")) == "FAIL .env           missing"
    assert check_line(warn) == "WARN worker         add a profile"
    assert check_facts(Check.of(True, "  app commands", "npm")) == {
        "check": "app commands",
        "status": "ok",
        "ok": True,
        "detail": "npm",
    }
    assert check_facts(warn)["ok"] is True and check_facts(Check.of(False, "x", "y"))["ok"] is False


def test_plan_labels_give_back_the_same_plan_facts():
    from tasks.knowledge.prodlike_labels import plan_from_labels

    plan = make_plan({}, cpus="2", memory="1g", processes="2")
    recorded = plan_from_labels(plan_labels(plan))
    assert recorded is not None and json_doc.plan_facts(recorded) == json_doc.plan_facts(plan)


def _documented() -> set[str]:
    text = DOCS.read_text()
    return set(re.findall(r"`([a-z_]+)`", text)) | set(re.findall(r"`[a-z_\[\]\.]*\.([a-z_]+)`", text))


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_every_key_is_documented():
    plan = make_plan({}, cpus="1", memory="512m")
    table = prod_verify.rows(plan, 10**9, 512 * 2**20, {})
    report = envfile.compare(envfile.parse("A=1\n"), envfile.parse("A=\n"))
    docs = [
        json_doc.document(
            "worker.status", True, {"workers": [status_view.worker_facts("w", status_case("running"), [], None)]}
        ),
        json_doc.document(
            "doctor", True, {"devstack_version": "0.2.0", "checks": [check_facts(Check.of(True, "x", "y"))]}
        ),
        json_doc.document("env.check", True, json_doc.env_check_facts(".env", ".env.example", 1, report, [], [])),
        json_doc.document("prodlike.plan", True, {"plan": json_doc.plan_facts(plan), "warnings": []}),
        json_doc.document("prodlike.verify", True, json_doc.verify_facts("prodlike", "labels", "x", plan, table)),
        json_doc.error_document("doctor", "boom"),
    ]
    missing = set().union(*(_keys(doc) for doc in docs)) - _documented()
    assert not missing, f"keys not in docs/json.md: {sorted(missing)}"


def test_emit_prints_only_the_document_on_stdout(capsys):
    def body():
        print("note: a driver's stray line")
        return False, {"checks": []}

    assert json_out.emit("doctor", body) is False
    out, err = capsys.readouterr()
    assert json.loads(out) == {"schema_version": 1, "command": "doctor", "ok": False, "checks": []}
    assert err == "note: a driver's stray line\n"


def test_emit_on_an_error_prints_the_error_document_and_lets_the_error_through(capsys):
    def body():
        raise UserError("the Docker daemon is not reachable")

    with pytest.raises(UserError):
        json_out.emit("worker.status", body)
    out, _ = capsys.readouterr()
    assert json.loads(out) == {
        "schema_version": 1,
        "command": "worker.status",
        "ok": False,
        "error": "the Docker daemon is not reachable",
    }


def test_emit_sends_a_child_process_output_to_stderr(capfd):
    def body():
        subprocess.run([sys.executable, "-c", "print('from a child')"], check=True)
        return True, {}

    assert json_out.emit("env.check", body) is True
    out, err = capfd.readouterr()
    assert json.loads(out)["ok"] is True and "from a child" in err and "from a child" not in out
