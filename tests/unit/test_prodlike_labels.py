"""The plan recorded on the container as labels, read back, and the mode line of worker.status."""

import pytest

from tasks.knowledge import prod_verify
from tasks.knowledge.compose_cli import parse_labels
from tasks.knowledge.heap_plan import MIB, PlanError, parse_size, plan_heap
from tasks.knowledge.prodlike_labels import compose_env, labels, mode_text, plan_from_labels
from tasks.knowledge.status_view import render


@pytest.mark.parametrize(
    "plan",
    [
        plan_heap(parse_size("512m"), cpus=1),
        plan_heap(parse_size("13g"), cpus=3),
        plan_heap(parse_size("8g"), cpus=2, processes=4),
        plan_heap(parse_size("512m"), cpus=1.5, heap_mb=440),
        plan_heap(parse_size("1g"), cpus=1, ratio=0.7),
    ],
)
def test_labels_give_back_the_exact_plan(plan):
    assert plan_from_labels(labels(plan)) == plan
    # As `compose ps` prints them (one comma-joined string) too.
    joined = ",".join(f"{k}={v}" for k, v in labels(plan).items())
    assert plan_from_labels(parse_labels(joined)) == plan


def test_compose_env_carries_every_value_the_override_needs():
    env = compose_env(plan_heap(parse_size("512m"), cpus=1, processes=1))
    assert env == {
        "PRODLIKE_CPUS": "1",
        "PRODLIKE_MEMORY": str(512 * MIB),
        "PRODLIKE_OLD_SPACE_MIB": "384",
        "PRODLIKE_SEMI_SPACE_MIB": "16",
        "PRODLIKE_PROCESSES": "1",
        "PRODLIKE_HEAP_RATIO": "0.85",
        "PRODLIKE_EXPLICIT": "false",
    }


def test_a_normal_worker_has_no_plan_and_says_normal():
    normal = {"dev.devstack.restart-policy": "unless-stopped", "dev.devstack.scheduler": "true"}
    assert plan_from_labels(normal) is None
    assert mode_text(normal) == "normal"


def test_broken_labels_are_one_line_errors():
    broken = {**labels(plan_heap(parse_size("512m"), cpus=1)), "dev.devstack.prodlike.old-space-mib": "x"}
    with pytest.raises(PlanError) as info:
        plan_from_labels(broken)
    assert "old-space-mib" in str(info.value) and "\n" not in str(info.value)
    assert mode_text(broken).startswith("prodlike (unreadable plan")


def test_mode_text():
    assert mode_text(labels(plan_heap(parse_size("512m"), cpus=2))) == "prodlike (2 CPUs, 512 MiB, heap 432 MiB)"
    one = mode_text(labels(plan_heap(parse_size("512m"), cpus=1)))
    assert one == "prodlike (1 CPU, 512 MiB, heap 432 MiB)"
    two = plan_heap(parse_size("768m"), cpus=2, processes=2)
    assert mode_text(labels(two)) == f"prodlike (2 CPUs, 768 MiB, heap 2 x {two.heap_limit_mib} MiB)"


def test_status_shows_the_mode():
    from tasks.knowledge.compose_cli import ContainerState

    plan = plan_heap(parse_size("512m"), cpus=2)
    container = ContainerState("w-1", "worker", "running", "", "Up 3 seconds", None, labels(plan))
    assert "  mode:           prodlike (2 CPUs, 512 MiB, heap 432 MiB)" in render("worker", [container]).splitlines()


PLAN2 = plan_heap(parse_size("768m"), cpus=2, processes=2)
WORKERS2 = [
    {"index": 1, "pid": 13, "scheduler": True, "heap_size_limit_mib": PLAN2.heap_limit_mib},
    {"index": 2, "pid": 14, "scheduler": False, "heap_size_limit_mib": PLAN2.heap_limit_mib},
]
PROBE2 = {
    "heap_size_limit_mib": PLAN2.heap_limit_mib,
    "cgroup_version": 1,
    "memory_limit_bytes": 768 * MIB,
    "cpu_quota_us": 200000,
    "cpu_period_us": 100000,
    "node_env": "production",
    "cluster": {
        "workers": [
            {"index": 1, "pid": 13, "scheduler": True, "heap_size_limit_mib": PLAN2.heap_limit_mib},
            {"index": 2, "pid": 14, "scheduler": False, "heap_size_limit_mib": PLAN2.heap_limit_mib},
        ]
    },
}


def test_every_process_is_checked_and_one_scheduler():
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, PROBE2)
    assert all(r.ok for r in rows), prod_verify.render(rows)
    assert [r.item for r in rows if r.item.startswith("process ")] == [
        "process 1 (pid 13) heap_size_limit",
        "process 2 (pid 14) heap_size_limit",
    ]


def test_missing_process_wrong_heap_and_two_schedulers_fail_their_rows():
    workers = [{"index": 1, "pid": 13, "scheduler": True, "heap_size_limit_mib": 2096}]
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, {**PROBE2, "cluster": {"workers": workers}})
    failed = {r.item for r in rows if not r.ok}
    assert failed == {"node worker processes", "process 1 (pid 13) heap_size_limit", "heap share of memory"}
    both = [dict(w, scheduler=True) for w in WORKERS2]
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, {**PROBE2, "cluster": {"workers": both}})
    assert {r.item for r in rows if not r.ok} == {"processes running the scheduler"}


def test_a_normal_worker_fails_the_mode_row_and_no_cluster():
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, {**PROBE2, "cluster": None}, mode="normal")
    by_item = {r.item: r for r in rows}
    assert not by_item["worker mode (labels)"].ok
    assert by_item["node worker processes"].actual.startswith("no cluster primary")
