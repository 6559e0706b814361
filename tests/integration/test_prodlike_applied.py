"""The applied plan is the truth (labels on the container), several worker processes, and a load
inside the caps: `inv prodlike.*` against a real engine, with caps small enough for 2 CPUs."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .stackenv import wait_for

pytestmark = pytest.mark.docker

SMALL = ("--cpus", "1", "--memory", "512m")
MIB = 1024 * 1024
#: Production's own definitions of the worker (prodlike.caps_from): each gives the caps a test plans with.
PROD = "tests/integration/fixtures/prod"


def caps_from(reference: str) -> dict[str, str]:
    return {"INVOKE_PRODLIKE_CAPS_FROM": f"{PROD}/{reference}"}


def container(stack) -> str:
    return stack.compose("ps", "-q", "worker").stdout.split()[0]


def inspect(stack) -> dict:
    out = subprocess.run(["docker", "inspect", container(stack)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def fail_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("FAIL ")]


def cluster_status(stack) -> dict:
    out = stack.compose("exec", "-T", "worker", "cat", "/tmp/devstack-worker-status.json").stdout
    return json.loads(out)


def test_verify_without_flags_uses_the_plan_on_the_container_and_catches_a_wrong_one(stack):
    # The caps of production's Kubernetes Deployment (1000m, 512Mi): the same as SMALL, read back from the cgroup.
    up = stack.inv("prodlike.up", env=caps_from("worker-deployment.yaml#worker"), check=True)
    origin = f"production: {PROD}/worker-deployment.yaml#worker: spec.template.spec.containers[0].resources.limits"
    assert f"cpus:              1 ({origin}.cpu 1000m)" in up.stdout, up.stdout
    assert f"memory:            512 MiB (536870912 bytes) ({origin}.memory 512Mi)" in up.stdout
    assert "instances:       2 (spec.replicas 2)" in up.stdout and "drift:" not in up.stdout
    assert re.search(r"^OK   cgroup v1 memory\s+536870912 B\s+\d+ B", up.stdout, re.M), up.stdout
    assert re.search(r"^OK   cgroup v1 CPUs\s+1\s+1\s*$", up.stdout, re.M)
    # .env says 13g and 3 CPUs: verify must compare with what prodlike.up applied, not with .env.
    verify = stack.inv("prodlike.verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "plan: the plan recorded on the container" in verify.stdout and not fail_rows(verify.stdout)
    labels = inspect(stack)["Config"]["Labels"]
    assert labels["dev.devstack.mode"] == "prodlike" and labels["dev.devstack.prodlike.old-space-mib"] == "384"
    status = stack.inv("worker.status", check=True)
    assert "mode:           prodlike (1 CPU, 512 MiB, heap 432 MiB)" in status.stdout
    stats = stack.inv("prodlike.stats", check=True)
    assert "mode: prodlike (1 CPU, 512 MiB, heap 432 MiB)" in stats.stdout
    assert re.search(r"process 1 \(pid \d+, background, scheduler\): heap used [\d.]+ MiB of 432 MiB", stats.stdout)

    # Flags still plan from the flags.
    asked = stack.inv("prodlike.verify", "--cpus", "1", "--memory", "1g")
    assert asked.returncode == 1 and "plan: the flags given" in asked.stdout

    # A container whose memory is not what its labels say: one FAIL row per wrong fact.
    subprocess.run(["docker", "update", "--memory", "768m", "--memory-swap", "768m", container(stack)], check=True,
                   capture_output=True)  # fmt: skip
    wrong = stack.inv("prodlike.verify")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert [row.split("  ")[0] for row in fail_rows(wrong.stdout)] == ["FAIL engine memory", "FAIL cgroup v1 memory"]
    assert wrong.stderr.strip().splitlines()[-1].startswith("error: the running worker does not match")

    # An app that forks by itself, one process per os.cpus() (the engine's 2 CPUs under the 1-CPU cap):
    # every Node process is counted from /proc and the sum of their heap limits checked.
    script = (
        "const c = require('node:cluster'); if (c.isPrimary) { for (const _ of require('node:os').cpus()) c.fork(); }"
        " else setInterval(() => {}, 1000);"
    )
    stack.compose("exec", "-T", "worker", "node", "-e", f"require('fs').writeFileSync('/tmp/fork.js', {script!r})")
    subprocess.run(["docker", "exec", "-d", container(stack), "node", "/tmp/fork.js"], check=True)
    forked = wait_for(
        lambda: "forks 2" in (v := stack.inv("prodlike.verify")).stdout and v, 30, what="the forks of /tmp/fork.js"
    )
    rows = fail_rows(forked.stdout)
    assert any(re.match(r"FAIL node processes in the container\s+1 worker\(s\)\s+5: 3 worker\(s\); pid \d+ "
                        r"\(`node dist/apps/worker/cluster.js`\) forks 1, pid \d+ \(`node /tmp/fork.js`\) forks 2", row)
               for row in rows), forked.stdout  # fmt: skip
    assert any(re.match(r"FAIL heap limits of the workers, share of memory\s+<= 85%\s+1.27 GiB in 3, 253.1%", row)
               for row in rows), forked.stdout  # fmt: skip
    stats = stack.inv("prodlike.stats", check=True)
    assert "node processes: 5 (3 worker(s), 2 forking)" in stats.stdout, stats.stdout
    # stats compares with the container's own cap (768m since the `docker update` above)
    assert "heap limits: workers 1.27 GiB = 168.8% of the 768 MiB cap" in stats.stdout
    assert "warning: the workers' heap limits add up to more than 85% of 768 MiB" in stats.stdout

    # worker.up leaves prodlike mode and says so in one line; verify then fails on the normal worker.
    up = stack.inv("worker.up", check=True)
    notes = [line for line in up.stdout.splitlines() if "prodlike" in line]
    assert len(notes) == 1 and "recreates it as the normal worker" in notes[0], up.stdout
    assert "mode:           normal" in stack.inv("worker.status", check=True).stdout
    normal = stack.inv("prodlike.verify")
    assert normal.returncode == 1 and "Traceback" not in normal.stderr
    assert fail_rows(normal.stdout)[0].startswith("FAIL worker mode (labels)")


def test_dev_worker_gives_back_a_prodlike_worker_with_its_plan(stack):
    # The caps of production's Compose file (deploy.resources.limits: "1", 512m): SMALL again.
    up = stack.inv("prodlike.up", env=caps_from("docker-compose.prod.yml#worker"), check=True)
    assert (
        f"(production: {PROD}/docker-compose.prod.yml#worker: services.worker.deploy.resources.limits.memory 512m)"
        in up.stdout
    )
    # A stand-in dev command has no start-gate hook and never dials Redis: the plain handover.
    session = stack.inv(
        "dev.worker",
        env={
            "INVOKE_APP_DEV": "node -e setTimeout(()=>process.exit(0),1500)",
            "INVOKE_APP_START_GATE": "0",
            "INVOKE_APP_REDIS_RELAY": "0",
        },
    )
    assert session.returncode == 0, session.stdout + session.stderr
    assert "restored (prod-like, with its plan)" in session.stdout + session.stderr
    details = inspect(stack)
    host = details["HostConfig"]
    assert (host["NanoCpus"], host["Memory"]) == (1_000_000_000, 512 * MIB)
    logs = stack.compose("logs", "--no-log-prefix", "worker").stdout
    assert details["State"]["Running"], (details["State"], logs[-2000:])
    verify = stack.inv("prodlike.verify")
    assert verify.returncode == 0, (verify.stdout + verify.stderr, stack.compose("ps", "-a").stdout, session.stdout)


def test_two_processes_each_with_the_planned_heap_one_scheduler_jobs_spread_and_replaced(stack):
    # 2 CPUs from the task-level cpu (2048 units), 768 MiB from the container's memory of an ECS task definition.
    up = stack.inv("prodlike.up", "--processes", "2", env=caps_from("task-definition.json"))
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"cpus:              2 (production: {PROD}/task-definition.json: cpu (task-level) 2048)" in up.stdout
    assert f"(production: {PROD}/task-definition.json: containerDefinitions[0].memory 768)" in up.stdout
    verify = stack.inv("prodlike.verify", check=True)
    heaps = re.findall(r"^OK   process (\d) \(pid \d+\) heap_size_limit\s+318 MiB\s+318 MiB", verify.stdout, re.M)
    assert heaps == ["1", "2"], verify.stdout
    assert re.search(r"^OK   processes running the scheduler\s+1\s+1", verify.stdout, re.M)
    # The cluster primary and its two forks, counted from /proc: the forks' limits within the share, the
    # primary's own limit (the same NODE_OPTIONS) pushing the sum past it, said as a WARN.
    assert re.search(r"^OK   node processes in the container\s+2 worker\(s\)\s+3: 2 worker\(s\); pid \d+ "
                     r"\(`node dist/apps/worker/cluster.js`\) forks 2\s*$", verify.stdout, re.M), verify.stdout  # fmt: skip
    assert re.search(
        r"^OK   heap limits of the workers, share of memory\s+<= 85%\s+636 MiB in 2, 82.8%", verify.stdout, re.M
    )
    assert re.search(
        r"^WARN heap limits of every node process \(forking ones too\)\s+<= 85%\s+954 MiB in 3", verify.stdout, re.M
    )
    assert "heap 2 x 318 MiB" in stack.inv("worker.status", check=True).stdout
    status = cluster_status(stack)
    assert [w["scheduler"] for w in status["workers"]] == [True, False]

    stack.produce("spread", 20, duration_ms=150)
    rows = stack.wait_rows("spread", 20)
    assert {by for _, by in rows} == {"background.1", "background.2"}

    # A process that dies is replaced; the other goes on.
    victim = status["workers"][1]["pid"]
    stack.compose("exec", "-T", "worker", "node", "-e", f"process.kill({victim}, 'SIGKILL')")
    replaced = wait_for(
        lambda: (s := cluster_status(stack))["restarts"] == 1 and s["workers"][1]["heap_size_limit_mib"] and s, 30,
        what="process 2 replaced",
    )  # fmt: skip
    assert replaced["workers"][1]["pid"] != victim and replaced["workers"][0]["pid"] == status["workers"][0]["pid"]
    log = stack.compose("logs", "--no-log-prefix", "worker").stdout
    assert f"worker 2 (pid {victim}) died (signal SIGKILL)" in log and "restart 1 of this process" in log
    stack.produce("after", 6, duration_ms=50)
    assert len(stack.wait_rows("after", 6)) == 6


def test_load_inside_the_caps_passes_and_beyond_them_fails(stack, tmp_path):
    stack.inv("prodlike.up", *SMALL, check=True)
    out = tmp_path / "ok"
    ok = stack.inv("prodlike.load", "--count", "12", "--mb", "16", "--hold-ms", "100", "--out", str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "jobs:          12 done, 0 failed" in ok.stdout and "OK: no OOM kill" in ok.stdout
    assert re.search(r"^\[\s*\d+s\] jobs \d+ done", ok.stdout, re.M)  # progress lines
    header, *samples = (out / "samples.csv").read_text().splitlines()
    assert header.startswith("t_s,memory_mib") and samples
    assert "<polyline" in (out / "memory.svg").read_text()

    # Every job keeps 32 MiB: 15 of them (480 MiB) pass the 432 MiB heap limit by the 14th at the latest.
    # (Not more: one at a time, each job after a heap failure waits for BullMQ's stalled-job check, 30 s.)
    over = stack.inv(
        "prodlike.load", "--count", "15", "--mb", "32", "--hold-ms", "50", "--retain-share", "1",
        "--in-flight", "1", "--drain", "5", "--out", str(tmp_path / "over"),
    )  # fmt: skip
    assert over.returncode == 1 and "Traceback" not in over.stderr
    error = over.stderr.strip().splitlines()[-1]
    assert error.startswith("error: the worker did not hold under load:")
    assert "JavaScript heap out of memory" in error or "OOM-killed" in error


def test_load_for_a_duration_at_a_rate(stack, tmp_path):
    stack.inv("prodlike.up", *SMALL, check=True)
    result = stack.inv(
        "prodlike.load", "--duration", "3", "--rate", "4", "--mb", "1", "--hold-ms", "10", "--out", str(tmp_path / "r")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("load: 3 s of jobs of 1 MiB held 10 ms"), result.stdout
    done = int(re.search(r"^jobs:\s+(\d+) done, 0 failed", result.stdout, re.M).group(1))
    # jobs are added at most 4 per second, the first at once: never more than 3 x 4 + 1 in 3 s
    assert 1 <= done <= 13, result.stdout
    assert "OK: no OOM kill" in result.stdout
